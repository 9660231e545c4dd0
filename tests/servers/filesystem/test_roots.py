"""Client roots (roots/list) narrow the operator's directories in both eras, and never widen them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp.types import ListRootsResult, Root

from tests.servers.filesystem.support import connect, data, refused, settings_for


class RootsClient:
    """A client-side roots callback whose answer the test can change, counting the calls."""

    def __init__(self, *paths: Path | str) -> None:
        self.uris = [p.as_uri() if isinstance(p, Path) else p for p in paths]
        self.calls = 0

    async def __call__(self, _context: Any) -> ListRootsResult:
        self.calls += 1
        return ListRootsResult(roots=[Root(uri=uri, name=f"root {n}") for n, uri in enumerate(self.uris)])


@pytest.mark.anyio
async def test_a_client_root_inside_the_operator_root_narrows_access_to_it(
    root: Path, tmp_path: Path, mode: str
) -> None:
    roots = RootsClient(root / "src")
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, mode, list_roots_callback=roots) as client:
        inside = await client.call_tool("read_text_file", {"path": str(root / "src" / "main.py")})
        relative = await client.call_tool("read_text_file", {"path": "main.py"})
        sibling = await client.call_tool("read_text_file", {"path": str(root / "notes.txt")})
        allowed = data(await client.call_tool("list_allowed_directories", {}))
    assert not inside.is_error and not relative.is_error
    refused(sibling, "outside_roots")
    assert allowed["narrowed_by_client"] is True
    assert [(d["path"], d["mode"], d["source"]) for d in allowed["directories"]] == [
        (str(root / "src"), "rw", "client")
    ]
    assert roots.calls >= 1


@pytest.mark.anyio
async def test_a_narrowed_root_keeps_the_operators_read_only_mode(root: Path, tmp_path: Path, mode: str) -> None:
    roots = RootsClient(root / "docs")
    settings = settings_for(tmp_path / "data", (root, "ro"), (tmp_path / "data", "rw"))
    (tmp_path / "data").mkdir(exist_ok=True)
    async with connect(settings, mode, list_roots_callback=roots) as client:
        write = await client.call_tool("write_file", {"path": str(root / "docs" / "x.md"), "content": "x"})
    refused(write, "read_only")
    assert not (root / "docs" / "x.md").exists()


@pytest.mark.anyio
async def test_client_roots_that_overlap_nothing_leave_the_operator_roots_in_force(
    root: Path, tmp_path: Path, mode: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    roots = RootsClient(elsewhere)
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, mode, list_roots_callback=roots) as client:
        allowed = data(await client.call_tool("list_allowed_directories", {}))
        escaped = await client.call_tool("list_directory", {"path": str(elsewhere)})
    assert [d["path"] for d in allowed["directories"]] == [str(root)]
    assert allowed["client_roots"][0]["status"] == "ignored"
    refused(escaped, "outside_roots")


@pytest.mark.anyio
async def test_a_client_root_above_the_operator_root_keeps_only_the_operator_root(root: Path, tmp_path: Path) -> None:
    roots = RootsClient(tmp_path)
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, "legacy", list_roots_callback=roots) as client:
        allowed = data(await client.call_tool("list_allowed_directories", {}))
        outside = await client.call_tool("list_directory", {"path": str(tmp_path)})
    assert [d["path"] for d in allowed["directories"]] == [str(root)]
    refused(outside, "outside_roots")


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:The roots capability is deprecated")
async def test_legacy_roots_are_asked_once_and_asked_again_after_list_changed(root: Path, tmp_path: Path) -> None:
    roots = RootsClient(root / "src")
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, "legacy", list_roots_callback=roots) as client:
        for _ in range(3):
            assert not (await client.call_tool("get_file_info", {"path": "main.py"})).is_error
        assert roots.calls == 1
        roots.uris = [(root / "docs").as_uri()]
        await client.session.send_roots_list_changed()
        after = data(await client.call_tool("list_allowed_directories", {}))
    assert roots.calls == 2
    assert [d["path"] for d in after["directories"]] == [str(root / "docs")]


@pytest.mark.anyio
async def test_modern_clients_are_asked_for_roots_through_input_required(root: Path, tmp_path: Path) -> None:
    roots = RootsClient(root / "src")
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, "auto", list_roots_callback=roots) as client:
        assert client.protocol_version == "2026-07-28"
        first = await client.call_tool("read_text_file", {"path": "main.py"})
        second = await client.call_tool("read_text_file", {"path": str(root / "notes.txt")})
    assert not first.is_error
    refused(second, "outside_roots")
    assert roots.calls == 2


@pytest.mark.anyio
async def test_a_client_without_the_roots_capability_is_never_asked(root: Path, tmp_path: Path, mode: str) -> None:
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, mode) as client:
        allowed = data(await client.call_tool("list_allowed_directories", {}))
    assert allowed["narrowed_by_client"] is False and allowed["client_roots"] == []
