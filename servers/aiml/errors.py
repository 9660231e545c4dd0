"""The aiml server's errors: a stable code first, then what was wrong and what to do instead.

``provider_unavailable`` (down, timed out, a 5xx) and ``provider_busy`` (its queue is full) move a
call on to the next model of its alias; the other codes end it.
"""

from __future__ import annotations

from servers.kit.tool_errors import CodedToolError

FALLBACK_CODES = frozenset({"provider_unavailable", "provider_busy"})
"""Failures after which the next candidate of an alias is tried."""


class AimlError(CodedToolError):
    """An error of the aiml server (``code`` stable, ``str()`` is ``"<code>: <message>"``)."""


def unavailable(provider: str, why: str) -> AimlError:
    return AimlError("provider_unavailable", f"the provider {provider!r} cannot be reached: {why}")


def refused(provider: str, why: str) -> AimlError:
    return AimlError("provider_refused", f"the provider {provider!r} refused the request: {why}")


def model_not_found(provider: str, model: str) -> AimlError:
    return AimlError(
        "model_not_found", f"the provider {provider!r} has no model {model!r}; `list_models` shows the models there are"
    )


def unsupported(provider: str, what: str) -> AimlError:
    return AimlError("unsupported", f"the provider {provider!r} does not support {what}")
