"""A readable process title: ``mcp-suite filesystem-1`` in ``ps`` instead of ``python -m suite.cli ...``.

``mcp-suite serve`` and ``mcp-suite gateway`` title their own process; a child of ``mcp-suite up``
takes the name the launcher gives it in :data:`TITLE_ENV`, so replicas tell apart
(``mcp-suite filesystem-2``). The title replaces the command line the kernel shows
(``/proc/<pid>/cmdline``, ``ps -o args``) and the short name (``/proc/<pid>/comm``, ``ps -o comm``).
"""

from __future__ import annotations

import os

import setproctitle

TITLE_ENV = "MCP_SUITE_PROCESS_TITLE"
"""The title a launcher asks its child to take; read once and removed, so it is not inherited further."""


def title_for(name: str) -> str:
    """The title of the process that runs ``name`` (a server, a replica's name, ``gateway``)."""
    return f"mcp-suite {name}"


def set_process_title(name: str) -> str:
    """Title this process after ``name``, unless the launcher chose a title for it; the title set."""
    title = os.environ.pop(TITLE_ENV, "") or title_for(name)
    setproctitle.setproctitle(title)
    return title
