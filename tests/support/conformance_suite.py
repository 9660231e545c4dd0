"""Running the official conformance suite against a URL and reading its verdict, scenario by scenario.

The suite writes one folder per scenario (``server-<scenario>-<timestamp>/checks.json``) under the
``-o`` directory. A scenario *fails* when any of its checks failed, *passes* when none failed and at
least one succeeded (a warning is a SHOULD the suite reports, not a failure), and is *skipped* when
every check was skipped or untestable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import anyio

from tests.support.node_tools import conformance_command, node_env

Outcome = Literal["pass", "fail", "skip"]
ERAS = ("2025-11-25", "2026-07-28")
SCENARIO_TIMEOUT_MS = 20_000
_FOLDER = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


def outcome_of(checks: list[dict[str, object]]) -> Outcome:
    statuses = {str(check.get("status")) for check in checks}
    if "FAILURE" in statuses:
        return "fail"
    if statuses & {"SUCCESS", "WARNING"}:
        return "pass"
    return "skip"


def read_outcomes(out: Path) -> dict[str, Outcome]:
    """Each scenario's outcome from the suite's output directory ``out``."""
    outcomes: dict[str, Outcome] = {}
    for folder in sorted(out.iterdir()) if out.exists() else ():
        match = _FOLDER.match(folder.name)
        checks = folder / "checks.json"
        if match is None or not checks.exists():
            continue
        outcomes[match["scenario"]] = outcome_of(json.loads(checks.read_text(encoding="utf-8")))
    return outcomes


def warnings_of(out: Path) -> set[str]:
    """Every ``<scenario> <check id>`` that ended in a warning (a SHOULD not met)."""
    found = set()
    for folder in out.iterdir() if out.exists() else ():
        match = _FOLDER.match(folder.name)
        if match is None or not (folder / "checks.json").exists():
            continue
        for check in json.loads((folder / "checks.json").read_text(encoding="utf-8")):
            if check.get("status") == "WARNING":
                found.add(f"{match['scenario']} {check.get('id')}")
    return found


def failures_of(out: Path, scenario: str) -> list[str]:
    """The failed checks of one scenario, as ``id: message`` lines, to explain an unexpected failure."""
    lines = []
    for folder in out.glob(f"server-{scenario}-*"):
        for check in json.loads((folder / "checks.json").read_text(encoding="utf-8")):
            if check.get("status") == "FAILURE":
                lines.append(f"{check.get('id')}: {check.get('errorMessage')}")
    return lines


async def run_conformance(url: str, era: str, out: Path, scenario: str | None = None) -> dict[str, Outcome]:
    """Run the scenarios spec revision ``era`` requires (or one ``scenario``) against ``url``.

    The suite runs as a child process, so servers started by the test on this event loop keep serving.
    """
    command = [*conformance_command(), "server", "--url", url, "-o", str(out), "--timeout", str(SCENARIO_TIMEOUT_MS)]
    command += ["--scenario", scenario, "--spec-version", era] if scenario else ["--requirements", era]
    result = await anyio.run_process(command, env=node_env(), check=False)
    outcomes = read_outcomes(out)
    if not outcomes:
        raise AssertionError(f"the conformance suite ran no scenario: {result.stderr.decode(errors='replace')[-2000:]}")
    return outcomes
