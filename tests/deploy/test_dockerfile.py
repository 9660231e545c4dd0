"""The Dockerfile builds one slim, non-root image of the suite; each checker also fails on a bad one."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.deploy import dockerfile_invariants as inv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dockerfile() -> inv.Dockerfile:
    return inv.parse((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    return (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()


def test_the_image_is_built_in_one_stage_and_run_from_another(dockerfile: inv.Dockerfile) -> None:
    assert inv.stage_problems(dockerfile) == []
    assert [s.name for s in dockerfile.stages] == ["builder", "runtime"]


def test_base_images_are_pinned_python_3_11_slim(dockerfile: inv.Dockerfile) -> None:
    assert inv.base_image_problems(dockerfile) == []
    for stage in dockerfile.stages:
        image = inv.resolve(stage.base, dockerfile.global_args)
        assert image.startswith("python:3.11.") and "-slim" in image, image


def test_the_runtime_runs_as_an_unprivileged_user_with_a_healthcheck(dockerfile: inv.Dockerfile) -> None:
    assert inv.user_problems(dockerfile) == []
    assert inv.healthcheck_problems(dockerfile) == []


def test_the_entrypoint_is_the_suite_command(dockerfile: inv.Dockerfile) -> None:
    assert inv.entrypoint_problems(dockerfile, ["mcp-suite"]) == []
    cmd = inv.exec_form(dockerfile.stages[-1].all("CMD")[-1].arguments)
    assert cmd is not None and cmd[0] == "gateway" and cmd[cmd.index("--port") + 1] == "8500"


def test_the_builder_copies_every_package_the_distribution_ships(dockerfile: inv.Dockerfile) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = inv.copied_paths(dockerfile.stages[0])
    assert packages | {"pyproject.toml", "README.md"} <= copied


def test_the_build_context_keeps_secrets_and_local_state_out(ignore_patterns: list[str]) -> None:
    for path in (".env", ".git/config", ".venv/bin/python", "tests/conftest.py", "mesh/__pycache__/config.pyc"):
        assert inv.dockerignored(path, ignore_patterns), path
    for path in ("pyproject.toml", "README.md", "mesh/config.py", "servers/runtime/serve.py", "suite/cli.py"):
        assert not inv.dockerignored(path, ignore_patterns), path


BAD = """
# syntax=docker/dockerfile:1
ARG BASE=python:latest
FROM ${BASE}
RUN pip install .
USER root
ENTRYPOINT mcp-suite
"""


def test_the_checkers_report_every_broken_invariant_of_a_bad_dockerfile() -> None:
    bad = inv.parse(BAD)
    assert inv.stage_problems(bad) == ["1 stage(s): build in one stage and copy into a slim runtime stage"]
    assert inv.base_image_problems(bad) == ["FROM python:latest: not pinned to a version"]
    assert inv.user_problems(bad) == ["the final stage runs as root"]
    assert inv.healthcheck_problems(bad) == ["the final stage has no HEALTHCHECK"]
    assert inv.entrypoint_problems(bad, ["mcp-suite"]) == ['ENTRYPOINT is mcp-suite, not the exec form ["mcp-suite"]']


def test_a_runtime_that_copies_nothing_from_the_builder_or_drops_its_user_is_caught() -> None:
    bad = inv.parse(
        """
FROM python:3.11.11-slim AS builder
RUN pip wheel .
FROM ubuntu AS runtime
ARG UID=0
USER ${UID}
HEALTHCHECK NONE
"""
    )
    assert inv.stage_problems(bad) == ["the final stage copies nothing from a build stage"]
    assert inv.base_image_problems(bad) == ["FROM ubuntu: no tag; pin an exact version"]
    assert inv.user_problems(bad) == ["the final stage runs as 0"]
    assert inv.healthcheck_problems(bad) == ["the final stage's HEALTHCHECK runs no command"]


def test_dockerignore_matching_lets_the_last_pattern_win() -> None:
    patterns = ["*", "!src/", "**/*.pyc", "!src/keep.pyc"]
    assert inv.dockerignored("notes.txt", patterns)
    assert not inv.dockerignored("src/a.py", patterns)
    assert inv.dockerignored("src/deep/a.pyc", patterns)
    assert not inv.dockerignored("src/keep.pyc", patterns)
