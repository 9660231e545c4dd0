"""``mcp-suite bench --only security``: its pieces run at tiny sizes, and the "on" gateway really is secured.

No timing is asserted: figures on a shared machine mean nothing in a test.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from suite.bench import BENCHES
from suite.bench.security import (
    SUBJECT,
    TOOL,
    Pair,
    SecurityNotEnforced,
    _call,
    check_enforced,
    check_recorded,
    measure,
    running_pair,
)
from suite.cli import build_parser


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with running_pair(tmp_path_factory.mktemp("bench-security")) as running:
        yield running


def test_the_bench_is_registered_and_selectable_from_the_command_line() -> None:
    args = build_parser().parse_args(["bench", "--only", "security", "--iterations", "5"])
    assert BENCHES["security"] == "suite.bench.security"
    assert (args.only, args.iterations) == ("security", 5)


def test_the_on_gateway_refuses_a_caller_without_the_token_and_records_one_with_it(pair: Pair) -> None:
    check_enforced(pair)  # raises SecurityNotEnforced otherwise
    refused = _call(pair.on_url, pair.arguments)
    assert refused.status_code == 401 and "no credentials" in refused.text
    last = json.loads(pair.audit.read_text().splitlines()[-1])
    assert (last["principal"], last["auth_method"], last["roles"], last["tool"]) == (SUBJECT, "jwt", ["bench"], TOOL)
    assert pair.spans.read_text().strip()


def test_the_off_gateway_needs_no_token(pair: Pair) -> None:
    answered = _call(pair.off_url, pair.arguments)
    assert answered.status_code == 200 and "small.txt" in answered.text


def test_the_check_fails_loudly_when_the_on_gateway_is_not_secured(pair: Pair) -> None:
    open_door = dataclasses.replace(pair, on_url=pair.off_url)
    with pytest.raises(SecurityNotEnforced, match="not 401"):
        check_enforced(open_door, wait_seconds=0.2)


def test_the_check_fails_loudly_when_calls_leave_no_audit_line(pair: Pair, tmp_path: Path) -> None:
    no_records = dataclasses.replace(pair, audit=tmp_path / "never-written.jsonl")
    with pytest.raises(SecurityNotEnforced, match="audit"):
        check_recorded(no_records, 0, 0, 1, wait_seconds=0.2)


def test_interleaved_blocks_time_every_call_on_both_sides_and_each_on_call_is_recorded(pair: Pair) -> None:
    audited = len(pair.audit.read_text().splitlines()) if pair.audit.exists() else 0
    traced = len(pair.spans.read_text().splitlines()) if pair.spans.exists() else 0
    comparison = measure(pair, rounds=2, calls_per_block=3)
    off, on = comparison.side("off"), comparison.side("on")
    assert [len(block.latencies_ms) for block in comparison.off + comparison.on] == [3] * 4
    assert (off.calls, on.calls, off.errors, on.errors) == (6, 6, 0, 0)
    assert off.p50_ms > 0 and on.p50_ms > 0 and len(comparison.per_block_added_ms()) == 2
    check_recorded(pair, audited, traced, comparison.measured_on())
