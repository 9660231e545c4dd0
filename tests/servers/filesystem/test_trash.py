"""delete_path moves to the trash; list_trash and restore_from_trash make the undo real."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.filesystem.support import connect, data, open_root, refused, settings_for


@pytest.mark.anyio
async def test_a_deleted_file_can_be_restored_with_its_content(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        deleted = data(await client.call_tool("delete_path", {"path": "notes.txt"}))
        assert not (root / "notes.txt").exists()
        listed = data(await client.call_tool("list_trash", {}))
        restored = data(await client.call_tool("restore_from_trash", {"trash_id": deleted["trash_id"]}))
        after = data(await client.call_tool("list_trash", {}))
    assert [entry["trash_id"] for entry in listed["entries"]] == [deleted["trash_id"]]
    assert listed["entries"][0]["original_path"] == str(root / "notes.txt")
    assert restored["restored_to"] == str(root / "notes.txt")
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nbeta\ngamma\n"
    assert after["total_entries"] == 0


@pytest.mark.anyio
async def test_the_trash_lives_under_the_data_dir_and_is_invisible_to_the_tools(root: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings) as client:
        deleted = data(await client.call_tool("delete_path", {"path": "notes.txt"}))
        item = settings.data_dir / "trash" / deleted["trash_id"] / "item"
        peek = await client.call_tool("read_text_file", {"path": str(item)})
    assert item.read_text(encoding="utf-8").startswith("alpha")
    refused(peek, "outside_roots")


@pytest.mark.anyio
async def test_a_trash_inside_an_allowed_directory_is_still_hidden(root: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", (root, "rw"), trash_dir=root / "trash")
    async with connect(settings) as client:
        deleted = data(await client.call_tool("delete_path", {"path": "notes.txt"}))
        peek = await client.call_tool("read_text_file", {"path": f"trash/{deleted['trash_id']}/item"})
        listing = data(await client.call_tool("list_directory", {}))
    refused(peek, "denied")
    assert "trash" not in [entry["name"] for entry in listing["entries"]]


@pytest.mark.anyio
async def test_deleting_a_non_empty_directory_needs_recursive(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        refused(await client.call_tool("delete_path", {"path": "src"}), "not_empty")
        assert (root / "src" / "main.py").exists()
        deleted = data(await client.call_tool("delete_path", {"path": "src", "recursive": True}))
        assert not (root / "src").exists()
        data(await client.call_tool("restore_from_trash", {"trash_id": deleted["trash_id"]}))
    assert (root / "src" / "main.py").read_text(encoding="utf-8").startswith("def main")


@pytest.mark.anyio
async def test_restore_never_overwrites_and_can_restore_elsewhere(root: Path) -> None:
    async with open_root(root) as client:
        deleted = data(await client.call_tool("delete_path", {"path": "notes.txt"}))
        data(await client.call_tool("write_file", {"path": "notes.txt", "content": "new\n"}))
        clash = await client.call_tool("restore_from_trash", {"trash_id": deleted["trash_id"]})
        moved = data(
            await client.call_tool("restore_from_trash", {"trash_id": deleted["trash_id"], "destination": "old.txt"})
        )
    refused(clash, "exists")
    assert (root / "notes.txt").read_text(encoding="utf-8") == "new\n"
    assert moved["restored_to"] == str(root / "old.txt")
    assert (root / "old.txt").read_text(encoding="utf-8") == "alpha\nbeta\ngamma\n"


@pytest.mark.anyio
async def test_deleting_a_symlink_trashes_the_link_not_its_target(root: Path) -> None:
    (root / "link.txt").symlink_to(root / "notes.txt")
    async with open_root(root) as client:
        data(await client.call_tool("delete_path", {"path": "link.txt"}))
    assert not (root / "link.txt").is_symlink()
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nbeta\ngamma\n"
