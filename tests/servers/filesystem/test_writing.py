"""Writing tools: atomic writes, exclusive create, guards, moves, directories, read-only roots, concurrency."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import anyio
import pytest

from servers.filesystem.writing import TEMP_SUFFIX
from tests.servers.filesystem.support import connect, data, open_root, refused, settings_for, snapshot

WRITE_TOOLS = {"write_file", "edit_file", "create_directory", "move_file", "delete_path", "restore_from_trash"}


@pytest.mark.anyio
async def test_write_file_creates_and_replaces_a_file(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        created = data(await client.call_tool("write_file", {"path": "new.txt", "content": "first\n"}))
        replaced = data(await client.call_tool("write_file", {"path": "new.txt", "content": "second\n"}))
    assert (root / "new.txt").read_text(encoding="utf-8") == "second\n"
    assert created["created"] and not replaced["created"]
    assert replaced["previous_sha256"] == hashlib.sha256(b"first\n").hexdigest()
    assert replaced["sha256"] == hashlib.sha256(b"second\n").hexdigest()
    assert not [p for p in os.listdir(root) if p.endswith(TEMP_SUFFIX)]


@pytest.mark.anyio
async def test_write_file_keeps_the_permissions_of_the_file_it_replaces(root: Path) -> None:
    (root / "notes.txt").chmod(0o600)
    async with open_root(root) as client:
        data(await client.call_tool("write_file", {"path": "notes.txt", "content": "x"}))
    assert (root / "notes.txt").stat().st_mode & 0o777 == 0o600


@pytest.mark.anyio
async def test_write_file_exclusive_refuses_an_existing_file(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        taken = await client.call_tool("write_file", {"path": "notes.txt", "content": "x", "exclusive": True})
        fresh = await client.call_tool("write_file", {"path": "fresh.txt", "content": "y", "exclusive": True})
    refused(taken, "exists")
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nbeta\ngamma\n"
    assert not fresh.is_error and (root / "fresh.txt").read_text(encoding="utf-8") == "y"


@pytest.mark.anyio
async def test_write_file_rejects_a_stale_hash(root: Path) -> None:
    async with open_root(root) as client:
        result = await client.call_tool(
            "write_file", {"path": "notes.txt", "content": "x", "expected_sha256": "a" * 64}
        )
    refused(result, "stale")
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nbeta\ngamma\n"


@pytest.mark.anyio
async def test_write_file_refuses_content_over_the_write_cap(root: Path) -> None:
    async with open_root(root, max_write_bytes=1024) as client:
        result = await client.call_tool("write_file", {"path": "big.txt", "content": "x" * 2000})
    refused(result, "too_large")
    assert not (root / "big.txt").exists()


@pytest.mark.anyio
async def test_write_file_needs_create_parents_for_a_missing_directory(root: Path) -> None:
    async with open_root(root) as client:
        missing = await client.call_tool("write_file", {"path": "a/b/c.txt", "content": "x"})
        made = await client.call_tool("write_file", {"path": "a/b/c.txt", "content": "x", "create_parents": True})
    refused(missing, "not_found")
    assert not made.is_error and (root / "a" / "b" / "c.txt").read_text(encoding="utf-8") == "x"


@pytest.mark.anyio
async def test_concurrent_writes_to_one_path_leave_exactly_one_complete_content(root: Path, tmp_path: Path) -> None:
    contents = [f"writer {n}\n" * (2000 + n) for n in range(24)]
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, "auto") as first, connect(settings, "legacy") as second:

        async def write(index: int) -> None:
            client = first if index % 2 else second
            result = await client.call_tool("write_file", {"path": "race.txt", "content": contents[index]})
            assert not result.is_error

        async with anyio.create_task_group() as group:
            for index in range(len(contents)):
                group.start_soon(write, index)
    assert (root / "race.txt").read_text(encoding="utf-8") in contents
    assert not [p for p in os.listdir(root) if p.endswith(TEMP_SUFFIX)]


@pytest.mark.anyio
async def test_create_directory_makes_parents_and_is_idempotent(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        first = data(await client.call_tool("create_directory", {"path": "x/y/z"}))
        again = data(await client.call_tool("create_directory", {"path": "x/y/z"}))
        on_file = await client.call_tool("create_directory", {"path": "notes.txt"})
    assert (root / "x" / "y" / "z").is_dir()
    assert first["created"] and not again["created"]
    refused(on_file, "not_a_directory")


@pytest.mark.anyio
async def test_move_file_renames_and_never_overwrites(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        moved = data(await client.call_tool("move_file", {"source": "notes.txt", "destination": "docs/notes.md"}))
        clash = await client.call_tool("move_file", {"source": "docs/notes.md", "destination": "src/main.py"})
        folder = data(await client.call_tool("move_file", {"source": "docs", "destination": "manual"}))
    assert moved["type"] == "file" and folder["type"] == "directory"
    assert (root / "manual" / "notes.md").read_text(encoding="utf-8") == "alpha\nbeta\ngamma\n"
    refused(clash, "exists")
    assert (root / "src" / "main.py").read_text(encoding="utf-8").startswith("def main")


@pytest.mark.anyio
async def test_move_file_refuses_to_move_a_directory_into_itself(root: Path) -> None:
    async with open_root(root) as client:
        refused(await client.call_tool("move_file", {"source": "src", "destination": "src/inner"}), "invalid_argument")
    assert (root / "src" / "main.py").exists()


@pytest.mark.anyio
async def test_a_read_only_server_lists_no_write_tools(root: Path, tmp_path: Path, mode: str) -> None:
    settings = settings_for(tmp_path / "data", (root, "ro"))
    async with connect(settings, mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        write = await client.call_tool("write_file", {"path": "x.txt", "content": "x"})
        read = await client.call_tool("read_text_file", {"path": "notes.txt"})
    assert not names & WRITE_TOOLS
    assert {"read_text_file", "grep", "list_allowed_directories"} <= names
    assert write.is_error
    assert not read.is_error


@pytest.mark.anyio
async def test_writes_into_a_read_only_root_are_refused_on_a_mixed_server(root: Path, tmp_path: Path) -> None:
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    (frozen / "keep.txt").write_text("keep\n", encoding="utf-8")
    before = snapshot(root, frozen)
    settings = settings_for(tmp_path / "data", (root, "rw"), (frozen, "ro"))
    async with connect(settings) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        results = [
            await client.call_tool("write_file", {"path": str(frozen / "keep.txt"), "content": "x"}),
            await client.call_tool("write_file", {"path": str(frozen / "new.txt"), "content": "x"}),
            await client.call_tool(
                "edit_file", {"path": str(frozen / "keep.txt"), "edits": [{"oldText": "keep", "newText": "x"}]}
            ),
            await client.call_tool("delete_path", {"path": str(frozen / "keep.txt")}),
            await client.call_tool("create_directory", {"path": str(frozen / "sub")}),
            await client.call_tool("move_file", {"source": str(frozen / "keep.txt"), "destination": "stolen.txt"}),
            await client.call_tool("move_file", {"source": "notes.txt", "destination": str(frozen / "notes.txt")}),
        ]
    assert names >= WRITE_TOOLS
    for result in results:
        refused(result, "read_only")
    assert snapshot(root, frozen) == before


@pytest.mark.anyio
async def test_a_nested_read_only_root_wins_over_its_read_write_parent(root: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", (root, "rw"), (root / "docs", "ro"))
    async with connect(settings) as client:
        nested = await client.call_tool("write_file", {"path": "docs/guide.md", "content": "x"})
        parent = await client.call_tool("write_file", {"path": "notes.txt", "content": "x"})
    refused(nested, "read_only")
    assert not parent.is_error
