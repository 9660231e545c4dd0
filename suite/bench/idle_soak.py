"""``mcp-suite bench --only idle-soak``: leave the suite idle and count every time it flaps.

The launcher's own code starts the gateway, the filesystem server (over a scratch directory) and the
database server (its embedded SQLite workspace) in a scratch data directory, on free ports, so a
running ``mcp-suite up`` is never in the way. Nobody calls anything; only the gateway's health checks
run (every ``refresh_interval_seconds``). The bench polls the gateway's ``/v1/instances`` once a
second and reads the gateway's log at the end, and reports each instance that turned unhealthy or
stopped serving, each breaker that opened (its ``times_opened`` grew) and each failed probe the
log names. An idle suite must show none: the exit status is 1 otherwise.

It runs for ``--minutes`` (default 60) or ``--seconds``; a plain ``mcp-suite bench`` (all benches)
leaves it out (:data:`ON_DEMAND`), as it takes an hour by default.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import yaml

from suite.launcher import Launcher, build_plan
from suite.launcher.plan import SERVER_HOST, pick_free_port, write_gateway_config
from suite.settings import load_suite_settings

ON_DEMAND = True
"""Run only when asked for by name: it takes ``DEFAULT_SECONDS``."""

DEFAULT_SECONDS = 3600.0
POLL_SECONDS = 1.0
STARTUP_SECONDS = 120.0
SERVERS = ("filesystem", "database")


@dataclass
class SoakReport:
    """What an idle run saw: ``events`` names every transition, with seconds since the suite served."""

    seconds: float = 0.0
    polls: int = 0
    instances: int = 0
    unhealthy: int = 0
    breaker_opens: int = 0
    failed_probes: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.instances == len(SERVERS) and not (self.unhealthy or self.breaker_opens or self.failed_probes)


def _write_config(scratch: Path) -> Path:
    files = scratch / "files"
    files.mkdir()
    (files / "README.txt").write_text("an idle workspace\n", encoding="utf-8")
    config = scratch / "mcp-suite.yaml"
    data = {
        "data_dir": str(scratch / "data"),
        "filesystem": {"port": 0, "roots": [{"path": str(files), "mode": "rw"}]},
        "gateway": {"port": 0},
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


def _plan(config: Path) -> Any:
    """The launcher's plan for the two servers and the gateway, every port a free one."""
    settings = load_suite_settings(str(config))
    plan = build_plan(settings, SERVERS, config_file=config, replicas={"database": 0})
    (filesystem,) = plan.servers
    port = pick_free_port(SERVER_HOST, {filesystem.port, plan.gateway.port})
    argv = [*filesystem.argv]
    argv[argv.index("filesystem")] = "database"
    argv[argv.index("--port") + 1] = str(port)
    database = replace(
        filesystem, name="database-1", server="database", port=port, argv=tuple(argv),
        log_path=filesystem.log_path.with_name("database-1.log"),
    )  # fmt: skip
    return replace(plan, servers=(filesystem, database))


def _observe(report: SoakReport, seen: dict[str, dict[str, Any]], body: dict[str, Any], at: float) -> None:
    for server in body.get("servers") or []:
        for instance in server.get("instances") or []:
            key = str(instance.get("id"))
            breaker = instance.get("breaker") or {}
            now = {
                "healthy": bool(instance.get("healthy")),
                "serving": bool(instance.get("serving")),
                "opened": int((breaker.get("totals") or {}).get("times_opened", 0)),
            }
            before = seen.get(key)
            seen[key] = now
            if before is None:
                continue
            if before["healthy"] and not now["healthy"]:
                report.unhealthy += 1
                report.events.append(f"{at:8.1f}s {key} unhealthy: {instance.get('last_error')}")
            elif before["serving"] and not now["serving"]:
                report.events.append(f"{at:8.1f}s {key} stopped serving (breaker {breaker.get('state')})")
            if now["opened"] > before["opened"]:
                report.breaker_opens += now["opened"] - before["opened"]
                report.events.append(f"{at:8.1f}s {key} breaker opened ({now['opened']} times in all)")
    report.instances = len(seen)


def _utc(moment: float) -> str:
    """``moment`` (``time.time()``) as the log's ``ts``: ISO 8601 UTC with milliseconds, which sorts as text."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"


def _log_events(report: SoakReport, log: Path, since: str, until: str) -> None:
    """Failed probes and unhealthy transitions the gateway logged while idle, even between two polls.

    Lines before ``since`` (start-up: the gateway may probe a server before it listens) and after
    ``until`` (the stop) do not count.
    """
    if not log.exists():
        return
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("msg") if isinstance(entry, dict) else None
        if not since <= str(entry.get("ts", "")) <= until:
            continue
        if message in ("probe failed", "instance unhealthy"):
            report.failed_probes += 1
            report.events.append(f"gateway log: {message} {entry.get('instance')}: {entry.get('reason')}")


async def _soak(seconds: float, say: Callable[[str], None]) -> SoakReport:
    report = SoakReport()
    with tempfile.TemporaryDirectory(prefix="mcp-idle-soak-") as tmp:
        plan = _plan(_write_config(Path(tmp)))
        write_gateway_config(plan)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MCP_SUITE_CONFIG", None)
        launcher = Launcher(plan, env=env, grace_seconds=12.0)
        seen: dict[str, dict[str, Any]] = {}
        window = ["~", ""]  # the soak's first and last moment, as log timestamps (none yet: nothing counts)
        try:
            async with anyio.create_task_group() as tg, httpx.AsyncClient(timeout=3.0, trust_env=False) as http:
                tg.start_soon(launcher.run)
                url = f"{plan.gateway.base_url}/v1/instances"
                deadline = time.monotonic() + STARTUP_SECONDS
                while True:
                    body = await _instances(http, url)
                    if body is not None and _serving(body) == len(SERVERS):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the suite did not serve within {STARTUP_SECONDS:.0f}s; see {plan.run_dir}")
                    await anyio.sleep(0.2)
                say(f"idle soak: {', '.join(SERVERS)} behind the gateway at {plan.gateway.base_url}, {seconds:.0f} s")
                started = time.monotonic()
                window[0] = _utc(time.time())
                _observe(report, seen, body, 0.0)
                while (elapsed := time.monotonic() - started) < seconds:
                    await anyio.sleep(min(POLL_SECONDS, max(0.0, seconds - elapsed)))
                    body = await _instances(http, url)
                    at = time.monotonic() - started
                    if body is None:
                        report.events.append(f"{at:8.1f}s the gateway did not answer {url}")
                        continue
                    report.polls += 1
                    _observe(report, seen, body, at)
                report.seconds = time.monotonic() - started
                window[1] = _utc(time.time())
                launcher.request_stop("idle soak over")
        finally:
            launcher.kill_leftovers()
            _log_events(report, plan.gateway.log_path, *window)
    return report


async def _instances(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    try:
        response = await http.get(url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body = response.json()
    return body if isinstance(body, dict) else None


def _serving(body: dict[str, Any]) -> int:
    return sum(
        1 for server in body.get("servers") or [] for i in server.get("instances") or [] if i.get("serving")
    )  # fmt: skip


def soak(seconds: float = DEFAULT_SECONDS, say: Callable[[str], None] = print) -> SoakReport:
    """Start the suite, leave it idle for ``seconds``, stop it; what the gateway showed meanwhile."""
    return anyio.run(_soak, seconds, say)


def run(iterations: int, *, seconds: float = DEFAULT_SECONDS) -> bool:
    """The bench table's entry: ``iterations`` does not apply (nothing is called)."""
    del iterations
    report = soak(seconds)
    for event in report.events:
        print(f"  {event}")
    print(
        f"idle soak: {report.seconds:.0f} s, {report.polls} polls of {report.instances} instances: "
        f"{report.unhealthy} unhealthy transitions, {report.breaker_opens} breaker opens, "
        f"{report.failed_probes} failed probes logged -> {'ok' if report.clean else 'FLAPPED'}"
    )
    return report.clean
