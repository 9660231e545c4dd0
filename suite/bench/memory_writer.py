"""One writer process of the memory concurrency scenario and bench: ``python -m suite.bench.memory_writer``.

It writes ``--writes`` observations, ``--per-call`` to an ``add_observations`` call (one
transaction), ``--in-flight`` calls at a time: every other one to its own entity ``writer-<id>``, the rest round-robin to the ``--shared``
entities ``shared-<k>`` that every writer also writes (contention on the same rows). Each text
names the writer and its number, so a reader can tell a lost write from a duplicate. With ``--url``
it calls a server with stateless (2026-07-28) JSON-RPC over HTTP on the benches' lean client; with ``--sqlite`` it writes straight into that file's
store. It prints one JSON line: the writes it made, the errors, the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from suite.bench.lean_client import LeanCaller


def text_of(writer: str, number: int) -> str:
    return f"writer {writer} observation {number}"


def target_of(writer: str, number: int, shared: int) -> str:
    return f"writer-{writer}" if number % 2 == 0 or shared == 0 else f"shared-{number % shared}"


def calls_of(writer: str, writes: int, shared: int, per_call: int) -> list[list[tuple[str, str]]]:
    """The writer's calls: ``per_call`` consecutive writes each, as (entity, text)."""
    pairs = [(target_of(writer, n, shared), text_of(writer, n)) for n in range(writes)]
    return [pairs[i : i + per_call] for i in range(0, writes, per_call)]


def grouped(call: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """One call's writes by entity, in the order the entities first appear."""
    by_entity: dict[str, list[str]] = {}
    for entity, text in call:
        by_entity.setdefault(entity, []).append(text)
    return list(by_entity.items())


async def _drive(
    write: Callable[[list[tuple[str, str]]], Awaitable[bool]],
    calls: list[list[tuple[str, str]]],
    in_flight: int,
) -> dict[str, float]:
    errors = 0
    next_call = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal next_call, errors
        while next_call < len(calls):
            call = calls[next_call]
            next_call += 1
            errors += len(call) * int(not await write(call))

    async with anyio.create_task_group() as group:
        for _ in range(in_flight):
            group.start_soon(worker)
    return {"writes": sum(len(c) for c in calls), "errors": errors, "seconds": time.perf_counter() - started}


async def succeeded(caller: LeanCaller, tool: str, arguments: dict[str, Any]) -> bool:
    """One stateless (2026-07-28) ``tools/call`` on the lean client; ``True`` when it succeeded."""
    try:
        await caller.call(tool, arguments)
    except RuntimeError:  # an error answer; a broken connection still raises
        return False
    return True


async def through_server(
    url: str, namespace: str, writer: str, writes: int, shared: int, in_flight: int, per_call: int
) -> dict[str, float]:
    # The writers share two cores with the server and PostgreSQL: a lean client leaves them the CPU.
    caller = LeanCaller(url, in_flight, read_timeout=60.0)
    try:

        async def write(call: list[tuple[str, str]]) -> bool:
            observations = [{"entityName": entity, "contents": texts} for entity, texts in grouped(call)]
            return await succeeded(caller, "add_observations", {"observations": observations, "namespace": namespace})

        entity = {"name": f"writer-{writer}", "entityType": "writer", "observations": []}
        if not await succeeded(caller, "create_entities", {"entities": [entity], "namespace": namespace}):
            raise RuntimeError(f"create_entities failed for writer {writer}")
        return await _drive(write, calls_of(writer, writes, shared, per_call), in_flight)
    finally:
        await caller.aclose()


async def into_sqlite(
    path: Path, namespace: str, writer: str, writes: int, shared: int, in_flight: int, per_call: int
) -> dict[str, float]:
    from servers.memory.store.base import NewEntity, Provenance
    from servers.memory.store.sqlite.store import SqliteGraphStore

    store = SqliteGraphStore(path)
    await store.open()
    try:
        await store.create_entities(
            namespace, [NewEntity(f"writer-{writer}", "writer", ())], Provenance(writer, "bench", time.time())
        )

        async def write(call: list[tuple[str, str]]) -> bool:
            await store.add_observations(namespace, grouped(call), Provenance(writer, "add_observations", time.time()))
            return True

        return await _drive(write, calls_of(writer, writes, shared, per_call), in_flight)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    place = parser.add_mutually_exclusive_group(required=True)
    place.add_argument("--url")
    place.add_argument("--sqlite", type=Path)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--writer", required=True)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--shared", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--per-call", type=int, default=1, help="writes per add_observations call")
    args = parser.parse_args()
    if args.url:
        report = anyio.run(
            through_server,
            args.url,
            args.namespace,
            args.writer,
            args.writes,
            args.shared,
            args.in_flight,
            args.per_call,
        )
    else:
        report = anyio.run(
            into_sqlite,
            args.sqlite,
            args.namespace,
            args.writer,
            args.writes,
            args.shared,
            args.in_flight,
            args.per_call,
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
