"""Keep every child of a :class:`~suite.launcher.plan.Plan` running until SIGINT/SIGTERM, then stop them all.

Crash-only: a child that exits, for any reason, while the launcher is not stopping is started again on
the same port after a back-off (0.5 s doubling to 30 s, reset once it stayed up 60 s). Its exit code and
the tail of its stderr are logged. The gateway starts once every server answers ``/health`` (or after
``startup_timeout``), because it reads its instances at start.

Stopping: SIGTERM to every child's process group at once, SIGKILL to whatever is left after the grace
period (a second Ctrl-C skips the wait). The same happens when the launcher fails: ``run`` stops the
children in a ``finally``, and :meth:`Launcher.kill_leftovers` is the last synchronous net.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TextIO

import anyio
import anyio.abc
import httpx

from suite.launcher.children import Child, State, exit_description
from suite.launcher.plan import Plan, write_private
from suite.launcher.status_table import Events, LiveTable, screen

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.1


class Launcher:
    """Runs the children of ``plan`` with ``env``; draws the live table on ``table`` when given."""

    def __init__(
        self,
        plan: Plan,
        *,
        env: Mapping[str, str],
        grace_seconds: float,
        table: TextIO | None = None,
        startup_timeout: float = 60.0,
        probe_interval: float = 2.0,
    ) -> None:
        self.plan = plan
        self.env = dict(env)
        self.grace_seconds = grace_seconds
        self.startup_timeout = startup_timeout
        self.probe_interval = probe_interval
        self.servers = [Child(spec) for spec in plan.servers]
        self.gateway = Child(plan.gateway)
        self.children = [*self.servers, self.gateway]
        self.events = Events()
        self.stopping = False
        self._table = LiveTable(table) if table is not None else None
        self._color = table is not None
        self._announced_ready = False
        # Created in run(): anyio objects belong to the event loop.
        self._main: anyio.CancelScope
        self._hurry: anyio.Event
        self._servers_up: anyio.Event
        self._started_unix = time.time()

    # ---- the whole run -------------------------------------------------------------------
    async def run(self) -> int:
        """Supervise until a stop signal; always stop every child before returning."""
        self._main = anyio.CancelScope()
        self._hurry = anyio.Event()
        self._servers_up = anyio.Event()
        with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._on_signals, signals)
                try:
                    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as http:
                        with self._main:
                            async with anyio.create_task_group() as tg:
                                for child in self.servers:
                                    tg.start_soon(self._supervise, child, http)
                                tg.start_soon(self._start_gateway, http)
                                tg.start_soon(self._report_loop)
                finally:
                    with anyio.CancelScope(shield=True):
                        await self.stop()
                    outer.cancel_scope.cancel()
        return 0

    def request_stop(self, reason: str) -> None:
        if not self.stopping:
            self.stopping = True
            self.events.emit(logging.INFO, "stopping", reason=reason)
            self._main.cancel()

    async def _on_signals(self, signals: AsyncIterator[int]) -> None:
        async for number in signals:
            name = signal.Signals(number).name
            if not self.stopping:
                self.request_stop(name)
            else:
                self.events.emit(logging.WARNING, "second stop signal: killing every child now", signal=name)
                self._hurry.set()

    # ---- one child -----------------------------------------------------------------------
    async def _supervise(self, child: Child, http: httpx.AsyncClient) -> None:
        while True:
            pid = child.spawn(self.env)
            self.events.emit(
                logging.INFO, "started", child=child.spec.name, pid=pid, port=child.spec.port, restarts=child.restarts
            )
            self.report()  # its pid is in the state file before it can answer anyone
            await self._watch(child, http)
            started = child.started_at or time.monotonic()
            uptime = time.monotonic() - started
            code = child.last_exit if child.last_exit is not None else 0
            delay = child.backoff.next_delay(uptime)
            child.state = State.BACKOFF
            child.next_start_at = time.monotonic() + delay
            self.events.emit(
                logging.WARNING,
                f"exited ({exit_description(code)}); restarting in {delay:g}s",
                child=child.spec.name,
                exit=code,
                uptime_seconds=round(uptime, 1),
                restart_in_seconds=delay,
                stderr_tail=child.stderr_tail(),
                log=str(child.spec.log_path),
            )
            await anyio.sleep(delay)
            child.restarts += 1

    async def _watch(self, child: Child, http: httpx.AsyncClient) -> None:
        """Probe ``/health`` until the process exits; keep ``child.state`` current."""
        next_probe = 0.0
        while child.poll() is None:
            now = time.monotonic()
            if now >= next_probe:
                state = await self._probe(child, http)
                if child.poll() is not None:
                    return
                if state != child.state:
                    self._transition(child, state)
                next_probe = now + (0.2 if child.state == State.STARTING else self.probe_interval)
            await anyio.sleep(POLL_SECONDS)

    async def _probe(self, child: Child, http: httpx.AsyncClient) -> State:
        try:
            response = await http.get(child.spec.health_url)
        except httpx.HTTPError:
            return State.STARTING if child.state == State.STARTING else State.DEGRADED
        return State.READY if response.status_code == 200 else State.DEGRADED

    def _transition(self, child: Child, state: State) -> None:
        child.state = state
        if all(c.state in (State.READY, State.DEGRADED) for c in self.servers):
            self._servers_up.set()
        level = logging.INFO if state == State.READY else logging.WARNING
        self.events.emit(level, str(state), child=child.spec.name, pid=child.pid, url=child.spec.mcp_url)
        self.report()  # the state file follows every transition, not only the once-a-second refresh
        if not self._announced_ready and all(c.state == State.READY for c in self.children):
            self._announced_ready = True
            self.events.emit(
                logging.INFO,
                "suite ready",
                url=self.plan.gateway.mcp_url,
                servers=sorted({c.spec.server for c in self.servers}),
            )

    async def _start_gateway(self, http: httpx.AsyncClient) -> None:
        with anyio.move_on_after(self.startup_timeout):
            await self._servers_up.wait()
        waiting = [c.spec.name for c in self.servers if c.state not in (State.READY, State.DEGRADED)]
        if waiting:
            self.events.emit(
                logging.WARNING,
                "starting the gateway before every server is ready; it will pick them up when they answer",
                waiting=waiting,
            )
        await self._supervise(self.gateway, http)

    # ---- reporting -----------------------------------------------------------------------
    async def _report_loop(self) -> None:
        while True:
            self.report()
            await anyio.sleep(1.0)

    def report(self) -> None:
        """Write the state file; redraw the table on a terminal."""
        now = time.monotonic()
        rows = [child.snapshot(now) for child in self.children]
        state = {
            "pid": os.getpid(),
            "started_unix": round(self._started_unix, 3),
            "gateway_url": self.plan.gateway.mcp_url,
            "stopping": self.stopping,
            "children": rows,
        }
        try:
            write_private(self.plan.state_file, json.dumps(state, indent=1))
        except OSError as exc:  # the table matters more than the file
            self.events.emit(logging.WARNING, "cannot write the state file", error=str(exc))
        if self._table is not None:
            self._table.draw(
                screen(
                    rows,
                    gateway_url=self.plan.gateway.mcp_url,
                    events=list(self.events.recent),
                    stopping=self.stopping,
                    color=self._color,
                )
            )

    # ---- stopping ------------------------------------------------------------------------
    async def stop(self) -> None:
        """SIGTERM every child's group, wait up to the grace period, SIGKILL the rest, reap them all."""
        self.stopping = True
        running = [c for c in self.children if c.pid is not None]
        for child in self.children:
            if child.pid is None:
                child.state = State.STOPPED
                child.next_start_at = None
        for child in running:
            child.state = State.STOPPING
            child.signal(signal.SIGTERM)
        if running:
            self.events.emit(
                logging.INFO,
                "sent SIGTERM to every child",
                children={c.spec.name: c.pid for c in running},
                grace_seconds=self.grace_seconds,
            )
        self._safe_report()
        await _poll_until(
            lambda: self._hurry.is_set() or all(c.poll() is not None for c in running), self.grace_seconds
        )
        for child in running:
            if child.poll() is None:
                self.events.emit(logging.WARNING, "did not stop in time; SIGKILL", child=child.spec.name, pid=child.pid)
                child.signal(signal.SIGKILL)
        await _poll_until(lambda: all(c.poll() is not None for c in running), 5.0)
        for child in running:
            child.state = State.STOPPED
            code = child.poll()
            self.events.emit(
                logging.INFO,
                "stopped" if code is not None else "could not be reaped",
                child=child.spec.name,
                exit=code,
            )
        self._safe_report()
        with contextlib.suppress(OSError):
            self.plan.state_file.unlink(missing_ok=True)
        self.events.emit(logging.INFO, "every child stopped")

    def _safe_report(self) -> None:
        try:
            self.report()
        except Exception:  # reporting must never keep a child alive
            logging.getLogger("mcp_suite.launcher").exception("report failed while stopping")

    def kill_leftovers(self) -> None:
        """Synchronous last resort (the event loop itself failed): SIGKILL and reap whatever still runs."""
        for child in self.children:
            if child.process is not None and child.poll() is None:
                child.signal(signal.SIGKILL)
                with contextlib.suppress(Exception):  # nothing more can be done in a dying launcher
                    child.process.wait(timeout=5)


async def _poll_until(done: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Check ``done`` every ``interval`` until it holds (``True``) or ``timeout`` passes (``False``).

    Processes are not awaitable here, so stopping polls them with a deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        await anyio.sleep(interval)


def launcher_snapshot(state_file: os.PathLike[str]) -> dict[str, Any] | None:
    """The state a running launcher wrote, or ``None`` when no launcher is running."""
    try:
        with open(state_file, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    snapshot: dict[str, Any] = state
    return snapshot
