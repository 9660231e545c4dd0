"""How ``mcp-suite up`` shows what it runs: a live table on a terminal, JSON log lines everywhere else.

On a terminal the table (name, pid, port, state, restarts, uptime) is redrawn in place about once a
second with the latest events under it, and the launcher's JSON log goes to ``<data_dir>/logs/launcher.log``.
Without a terminal (CI, a service manager, a pipe) every event is one JSON line on stderr.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

log = logging.getLogger("mcp_suite.launcher")

_COLORS = {
    "ready": "\x1b[32m",
    "starting": "\x1b[33m",
    "waiting": "\x1b[33m",
    "degraded": "\x1b[33m",
    "backoff": "\x1b[31m",
    "stopping": "\x1b[35m",
    "stopped": "\x1b[2m",
}
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"


class Events:
    """Every launcher event: a JSON log line (``logging``) and a short human line kept for the table."""

    def __init__(self, keep: int = 6) -> None:
        self.recent: deque[str] = deque(maxlen=keep)

    def emit(self, level: int, message: str, **fields: Any) -> None:
        log.log(level, message, extra=fields)
        child = fields.get("child")
        stamp = time.strftime("%H:%M:%S")
        self.recent.append(f"{stamp} {child + ': ' if child else ''}{message}{_detail(fields)}")


def _detail(fields: Mapping[str, Any]) -> str:
    parts = []
    for key in ("pid", "port", "exit", "restart_in_seconds", "url"):
        if fields.get(key) is not None:
            parts.append(f"{key.replace('_seconds', '')}={fields[key]}")
    return f" ({', '.join(parts)})" if parts else ""


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{(total % 3600) // 60:02d}m"


def render_rows(rows: Sequence[Mapping[str, Any]], *, color: bool) -> list[str]:
    """The process table: NAME PID PORT STATE RESTARTS UPTIME."""
    header = ("NAME", "PID", "PORT", "STATE", "RESTARTS", "UPTIME")
    cells = []
    for row in rows:
        state = str(row["state"])
        if state == "backoff" and row.get("restart_in_seconds") is not None:
            state = f"backoff {row['restart_in_seconds']}s"
        cells.append(
            (
                str(row["name"]),
                str(row["pid"] or "-"),
                str(row["port"]),
                state,
                str(row["restarts"]),
                format_duration(float(row["uptime_seconds"])) if row["pid"] else "-",
            )
        )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    if color:
        lines[0] = f"{_BOLD}{lines[0]}{_RESET}"
    for row, cell in zip(rows, cells, strict=True):
        parts = [c.ljust(w) for c, w in zip(cell, widths, strict=True)]
        if color:
            parts[3] = f"{_COLORS.get(str(row['state']), '')}{parts[3]}{_RESET}"
        lines.append("  ".join(parts).rstrip())
    return lines


class LiveTable:
    """Redraws a block of lines in place on a terminal (cursor up, clear to the end, print)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._drawn = 0

    def draw(self, lines: Sequence[str]) -> None:
        width = max(20, shutil.get_terminal_size((100, 24)).columns)
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F\x1b[J")
        # Lines longer than the terminal would wrap and break the count of lines to move up.
        out.extend(_clip(line, width - 1) + "\n" for line in lines)
        self.stream.write("".join(out))
        self.stream.flush()
        self._drawn = len(lines)


def _clip(line: str, width: int) -> str:
    visible = 0
    result = []
    index = 0
    while index < len(line):
        if line[index] == "\x1b":
            end = line.find("m", index)
            if end != -1:
                result.append(line[index : end + 1])
                index = end + 1
                continue
        if visible >= width:
            break
        result.append(line[index])
        visible += 1
        index += 1
    text = "".join(result)
    return text + _RESET if "\x1b[" in text and not text.endswith(_RESET) else text


def screen(
    rows: Sequence[Mapping[str, Any]],
    *,
    gateway_url: str,
    events: Sequence[str],
    stopping: bool,
    color: bool = True,
) -> list[str]:
    """Everything the terminal shows: a title, the table, the latest events."""
    title = f"mcp-suite up  gateway {gateway_url}  " + ("stopping..." if stopping else "(Ctrl-C stops everything)")
    lines = [f"{_BOLD}{title}{_RESET}" if color else title, ""]
    lines += render_rows(rows, color=color)
    if events:
        lines += ["", "recent events:"]
        lines += [f"  {event}" for event in events]
    return lines
