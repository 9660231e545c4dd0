"""``mcp-suite bench idle-soak``: an idle suite reports no flap, and a flap would be reported.

The smoke run starts the real suite (gateway, filesystem, database) for a few seconds; the flap
detection is checked on the gateway's own status shapes and log lines. No timing is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suite.bench import BENCHES
from suite.bench.idle_soak import ON_DEMAND, SoakReport, _log_events, _observe, soak
from suite.cli import build_parser


def _status(*, healthy: bool = True, serving: bool = True, opened: int = 0) -> dict[str, Any]:
    instance = {
        "id": "filesystem-1",
        "healthy": healthy,
        "serving": serving,
        "last_error": None if healthy else "the upstream closed the connection before answering",
        "breaker": {"state": "open" if opened else "closed", "totals": {"times_opened": opened}},
    }
    return {"servers": [{"server": "filesystem", "instances": [instance]}]}


def test_the_soak_is_a_bench_run_only_by_name_for_minutes_or_seconds() -> None:
    assert BENCHES["idle-soak"] == "suite.bench.idle_soak" and ON_DEMAND
    args = build_parser().parse_args(["bench", "idle-soak", "--seconds", "5"])
    assert (args.name, args.seconds, args.minutes) == ("idle-soak", 5.0, None)
    args = build_parser().parse_args(["bench", "--only", "idle-soak", "--minutes", "2"])
    assert (args.only, args.minutes) == ("idle-soak", 2.0)


def test_an_instance_turning_unhealthy_and_a_breaker_opening_are_each_reported() -> None:
    report = SoakReport()
    seen: dict[str, dict[str, Any]] = {}
    for at, body in enumerate([_status(), _status(healthy=False, serving=False), _status(), _status(opened=1)]):
        _observe(report, seen, body, float(at))
    assert (report.unhealthy, report.breaker_opens, report.instances) == (1, 1, 1)
    assert "filesystem-1 unhealthy: the upstream closed the connection" in report.events[0]
    assert not report.clean


def test_failed_probes_in_the_gateway_log_count_only_while_idle(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    lines = [
        {"ts": "2026-01-01T00:00:00.000Z", "msg": "probe failed", "instance": "a", "reason": "start-up"},
        {"ts": "2026-01-01T00:00:05.000Z", "msg": "probe failed", "instance": "b", "reason": "closed"},
        {"ts": "2026-01-01T00:00:06.000Z", "msg": "instance healthy", "instance": "b"},
        {"ts": "2026-01-01T00:00:09.000Z", "msg": "instance unhealthy", "instance": "c", "reason": "stopping"},
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n", encoding="utf-8")
    report = SoakReport()
    _log_events(report, log, "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:08.000Z")
    assert report.failed_probes == 1
    assert report.events == ["gateway log: probe failed b: closed"]


def test_an_idle_suite_shows_no_unhealthy_instance_and_no_breaker_open_for_a_few_seconds() -> None:
    said: list[str] = []
    report = soak(seconds=6, say=said.append)
    assert report.instances == 2, report
    assert report.polls >= 3, report
    assert report.events == [] and report.clean, report.events
    assert "filesystem, database behind the gateway" in said[0]
