"""Checks of the Dockerfile's invariants, as functions that return the problems they find.

A small parser: continuation lines joined, comments and parser directives dropped, one
``Instruction`` per line, grouped into stages at each ``FROM``. ``ARG`` defaults declared before
the first ``FROM`` resolve ``${NAME}`` in base images, as Docker does.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field

ROOT_USERS = {"root", "0", "0:0", "root:root"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]


def parse(text: str) -> Dockerfile:
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comments inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0] if words else "", name=name))
        elif not stages:
            if keyword == "ARG":
                key, _, value = arguments.partition("=")
                global_args[key.strip()] = value.strip().strip("\"'")
        else:
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return Dockerfile(global_args, stages)


def resolve(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m[1], m[0]), text)


def exec_form(arguments: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, else None (shell form)."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


# ---------------------------------------------------------------- the checks


def stage_problems(dockerfile: Dockerfile) -> list[str]:
    """At least a builder and a runtime stage, and the runtime takes its artefacts from an earlier stage."""
    if len(dockerfile.stages) < 2:
        return [f"{len(dockerfile.stages)} stage(s): build in one stage and copy into a slim runtime stage"]
    earlier = {s.name for s in dockerfile.stages[:-1] if s.name}
    final = dockerfile.stages[-1]
    takes = [
        i
        for i in final.instructions
        if (i.keyword == "COPY" and any(f"--from={n}" in i.arguments for n in earlier))
        or (i.keyword == "RUN" and any(f"from={n}" in i.arguments for n in earlier))
    ]
    return [] if takes else ["the final stage copies nothing from a build stage"]


def base_image_problems(dockerfile: Dockerfile) -> list[str]:
    problems = []
    names = set()
    for stage in dockerfile.stages:
        image = resolve(stage.base, dockerfile.global_args)
        if image not in names and "@sha256:" not in image:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag:
                problems.append(f"FROM {image}: no tag; pin an exact version")
            elif tag == "latest" or "$" in tag:
                problems.append(f"FROM {image}: not pinned to a version")
        if stage.name:
            names.add(stage.name)
    return problems


def user_problems(dockerfile: Dockerfile) -> list[str]:
    if not dockerfile.stages:
        return ["no stage"]
    final = dockerfile.stages[-1]
    args = dict(dockerfile.global_args)
    for instruction in final.all("ARG"):
        key, _, value = instruction.arguments.partition("=")
        args[key.strip()] = value.strip().strip("\"'")
    users = final.all("USER")
    if not users:
        return ["the final stage runs as root (no USER)"]
    user = resolve(users[-1].arguments, args).strip()
    return [f"the final stage runs as {user}"] if user in ROOT_USERS or user.split(":")[0] in ROOT_USERS else []


def healthcheck_problems(dockerfile: Dockerfile) -> list[str]:
    checks = dockerfile.stages[-1].all("HEALTHCHECK") if dockerfile.stages else []
    if not checks:
        return ["the final stage has no HEALTHCHECK"]
    if checks[-1].arguments.upper().startswith("NONE") or " CMD " not in f" {checks[-1].arguments} ":
        return ["the final stage's HEALTHCHECK runs no command"]
    return []


def entrypoint_problems(dockerfile: Dockerfile, expected: list[str]) -> list[str]:
    entrypoints = dockerfile.stages[-1].all("ENTRYPOINT") if dockerfile.stages else []
    if not entrypoints:
        return ["no ENTRYPOINT"]
    form = exec_form(entrypoints[-1].arguments)
    if form != expected:
        return [f"ENTRYPOINT is {entrypoints[-1].arguments}, not the exec form {json.dumps(expected)}"]
    return []


def copied_paths(stage: Stage) -> set[str]:
    """Source paths of the plain ``COPY`` instructions of ``stage`` (not ``--from`` copies)."""
    paths: set[str] = set()
    for instruction in stage.all("COPY"):
        words = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
        if "--from=" not in instruction.arguments:
            paths.update(w.rstrip("/") for w in words[:-1])
    return paths


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves ``path`` out (last matching pattern wins; ``!`` re-includes)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            candidates = [p for prefix in prefixes for p in _suffixes(prefix)]
            pattern = pattern[3:]
        else:
            candidates = prefixes
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            excluded = not negate
    return excluded


def _suffixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[i:]) for i in range(len(parts))]
