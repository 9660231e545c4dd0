"""Chat messages as one plain prompt, for base models without a chat template.

The transcript ends with ``Assistant:`` and generation stops at the next ``User:`` turn, so a base
model continues the conversation by one answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STOP = ("\nUser:", "\nSystem:")
ROLES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


def transcript(messages: Sequence[dict[str, Any]]) -> str:
    lines = [f"{ROLES.get(str(m.get('role')), 'User')}: {m.get('content') or ''}".rstrip() for m in messages]
    return "\n".join([*lines, "Assistant:"])
