"""One supervised OS process: spawn, watch, signal its process group, remember why it died.

Each child starts in its own session (so its own process group): Ctrl-C in a terminal reaches only the
launcher, which then signals each group once. On Linux the child also asks the kernel for SIGTERM when
the launcher dies (``PR_SET_PDEATHSIG``), so even a launcher killed with SIGKILL leaves no server behind.
A child's stderr (its JSON log lines) goes to its log file; the tail written since its last start is what
the launcher reports when it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from suite.launcher.plan import ChildSpec
from suite.process_title import TITLE_ENV, title_for

PR_SET_PDEATHSIG = 1
TAIL_BYTES = 8192
LOG_ROTATE_BYTES = 10 * 1024 * 1024


class State(StrEnum):
    STARTING = "starting"  # spawned, /health not answering 200 yet
    READY = "ready"  # /health answers 200
    DEGRADED = "degraded"  # alive, /health answers but not 200 (a backend check fails)
    BACKOFF = "backoff"  # exited; waiting before the restart
    STOPPING = "stopping"  # SIGTERM sent by the launcher
    STOPPED = "stopped"  # exited for good
    WAITING = "waiting"  # not started yet (the gateway waits for the servers)


@dataclass
class Backoff:
    """Crash-only restarts: 0.5 s doubling to 30 s; a child that stayed up 60 s starts again from 0.5 s."""

    initial: float = 0.5
    maximum: float = 30.0
    reset_after: float = 60.0
    current: float = 0.0

    def next_delay(self, uptime: float) -> float:
        if uptime >= self.reset_after or self.current == 0.0:
            self.current = self.initial
        else:
            self.current = min(self.current * 2, self.maximum)
        return self.current


def _pdeathsig_preexec(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that ties the child's life to the launcher's (Linux only; nothing elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has prctl
        return None

    def preexec() -> None:  # runs in the child between fork and exec: no locks, no imports
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Signal a whole process group; ``False`` when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - the group id was reused by someone else's process
        return False
    return True


@dataclass
class Child:
    """The launcher's view of one child process across its restarts."""

    spec: ChildSpec
    state: State = State.WAITING
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float | None = None  # monotonic, of the current process
    last_exit: int | None = None
    next_start_at: float | None = None  # monotonic, while in BACKOFF
    backoff: Backoff = field(default_factory=Backoff)
    _log_offset: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.returncode is None else None

    def uptime(self, now: float | None = None) -> float:
        if self.started_at is None or self.pid is None:
            return 0.0
        return (now if now is not None else time.monotonic()) - self.started_at

    def spawn(self, env: Mapping[str, str]) -> int:
        """Start the process (call from the main thread: PDEATHSIG follows the thread that forks)."""
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.spec.log_path, "ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                self.spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**env, TITLE_ENV: title_for(self.spec.name)},  # `ps` shows mcp-suite filesystem-1
                start_new_session=True,
                close_fds=True,
                preexec_fn=_pdeathsig_preexec(os.getpid()),  # only prctl and getppid run there
            )
        self.started_at = time.monotonic()
        self.next_start_at = None
        self.state = State.STARTING
        return self.process.pid

    def poll(self) -> int | None:
        """The exit code once the process has exited (reaped), else ``None``."""
        if self.process is None:
            return None
        if self.process.returncode is not None:
            return self.process.returncode
        code = self.process.poll()
        if code is not None:
            self.last_exit = code
            # Anything the child left in its group (it was the leader) goes with it.
            _signal_group(self.process.pid, signal.SIGKILL)
        return code

    def signal(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the child's process group; ``False`` if there is nothing to signal."""
        if self.process is None or self.poll() is not None:
            return False
        return _signal_group(self.process.pid, sig)

    def stderr_tail(self, lines: int = 15) -> list[str]:
        """The last lines the current (or last) process wrote to its log."""
        try:
            with open(self.spec.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                end = log.tell()
                start = max(self._log_offset, end - TAIL_BYTES)
                log.seek(start)
                raw = log.read(end - start)
        except OSError:
            return []
        text = raw.decode("utf-8", errors="replace").splitlines()
        if start > self._log_offset and text:
            text = text[1:]  # the first line was cut in half
        return [line for line in text if line.strip()][-lines:]

    def snapshot(self, now: float | None = None) -> dict[str, object]:
        """The row of the status table and of the state file."""
        now = now if now is not None else time.monotonic()
        return {
            "name": self.spec.name,
            "server": self.spec.server,
            "pid": self.pid,
            "port": self.spec.port,
            "url": self.spec.mcp_url,
            "state": str(self.state),
            "restarts": self.restarts,
            "uptime_seconds": round(self.uptime(now), 1),
            "last_exit": self.last_exit,
            "restart_in_seconds": (
                round(max(0.0, self.next_start_at - now), 1) if self.next_start_at is not None else None
            ),
            "log": str(self.spec.log_path),
        }


def rotate_log(path: Path, limit: int = LOG_ROTATE_BYTES) -> None:
    """Keep one previous log (``NAME.log.1``) once a log passes ``limit`` bytes; called before a run."""
    try:
        if path.stat().st_size > limit:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def exit_description(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"
