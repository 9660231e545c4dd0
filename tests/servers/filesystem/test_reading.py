"""Reading tools through the SDK client, in both protocol eras."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from tests.servers.filesystem.support import data, open_root, refused

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.anyio
async def test_read_text_file_returns_the_whole_file_with_total_lines_and_hash(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        result = data(await client.call_tool("read_text_file", {"path": "notes.txt"}))
    assert result["content"] == "alpha\nbeta\ngamma\n"
    assert result["total_lines"] == 3
    assert (result["start_line"], result["end_line"], result["truncated"]) == (1, 3, False)
    assert result["sha256"] == hashlib.sha256(b"alpha\nbeta\ngamma\n").hexdigest()


@pytest.mark.anyio
async def test_read_text_file_pages_by_offset_and_limit(root: Path, mode: str) -> None:
    (root / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 101)), encoding="utf-8")
    async with open_root(root, mode) as client:
        page = data(await client.call_tool("read_text_file", {"path": "long.txt", "offset": 10, "limit": 5}))
        head = data(await client.call_tool("read_text_file", {"path": "long.txt", "head": 2}))
        tail = data(await client.call_tool("read_text_file", {"path": "long.txt", "tail": 2}))
    assert page["content"] == "line 10\nline 11\nline 12\nline 13\nline 14\n"
    assert (page["start_line"], page["end_line"], page["next_offset"], page["total_lines"]) == (10, 14, 15, 100)
    assert head["content"] == "line 1\nline 2\n"
    assert tail["content"] == "line 99\nline 100\n"
    assert (tail["start_line"], tail["end_line"]) == (99, 100)


@pytest.mark.anyio
async def test_read_text_file_stops_at_the_byte_budget_and_says_how_to_continue(root: Path) -> None:
    (root / "big.txt").write_text("".join(f"{n:04d} {'x' * 95}\n" for n in range(1, 201)), encoding="utf-8")
    async with open_root(root) as client:
        first = data(await client.call_tool("read_text_file", {"path": "big.txt", "max_bytes": 1024}))
        resumed = data(
            await client.call_tool(
                "read_text_file", {"path": "big.txt", "offset": first["next_offset"], "max_bytes": 1024}
            )
        )
    assert first["truncated"] and first["truncated_reason"] == "max_bytes"
    assert first["end_line"] == 10 and first["next_offset"] == 11
    assert "offset=11" in first["hint"]
    assert resumed["content"].startswith("0011 ")


@pytest.mark.anyio
async def test_read_text_file_never_returns_more_than_the_operator_cap(root: Path, tmp_path: Path) -> None:
    (root / "big.txt").write_text("y" * 99 + "\n" + "z" * 5000 + "\n", encoding="utf-8")
    async with open_root(root, max_read_bytes=2048) as client:
        result = data(await client.call_tool("read_text_file", {"path": "big.txt", "max_bytes": 10_000_000}))
    assert len(result["content"].encode()) <= 2048
    assert result["truncated"]


@pytest.mark.anyio
async def test_read_text_file_refuses_head_with_tail_and_binary_files(root: Path) -> None:
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    async with open_root(root) as client:
        both = await client.call_tool("read_text_file", {"path": "notes.txt", "head": 1, "tail": 1})
        binary = await client.call_tool("read_text_file", {"path": "blob.bin"})
        missing = await client.call_tool("read_text_file", {"path": "nope.txt"})
        directory = await client.call_tool("read_text_file", {"path": "src"})
    refused(both, "invalid_argument")
    refused(binary, "binary")
    refused(missing, "not_found")
    refused(directory, "is_directory")


@pytest.mark.anyio
async def test_read_media_file_returns_an_image_block_and_structured_facts(root: Path, mode: str) -> None:
    (root / "dot.png").write_bytes(PNG)
    async with open_root(root, mode) as client:
        result = await client.call_tool("read_media_file", {"path": "dot.png"})
    info = data(result)
    assert info["mime_type"] == "image/png" and info["kind"] == "image" and info["size_bytes"] == len(PNG)
    block = result.content[0]
    assert block.type == "image"
    assert base64.b64decode(block.data) == PNG


@pytest.mark.anyio
async def test_read_media_file_refuses_a_file_over_the_media_cap(root: Path) -> None:
    (root / "huge.png").write_bytes(PNG + b"\x00" * 5000)
    async with open_root(root, max_media_bytes=1024) as client:
        refused(await client.call_tool("read_media_file", {"path": "huge.png"}), "too_large")


@pytest.mark.anyio
async def test_read_multiple_files_reports_failures_per_file_without_failing_the_batch(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        result = data(
            await client.call_tool(
                "read_multiple_files", {"paths": ["notes.txt", "missing.txt", ".env", "src/main.py"]}
            )
        )
    assert (result["succeeded"], result["failed"]) == (2, 2)
    by_path = {Path(item["path"]).name: item for item in result["files"]}
    assert by_path["notes.txt"]["content"] == "alpha\nbeta\ngamma\n"
    assert "not_found" in by_path["missing.txt"]["error"]
    assert "denied" in by_path[".env"]["error"]


@pytest.mark.anyio
async def test_get_file_info_reports_type_size_permissions_hash_and_lines(root: Path, mode: str) -> None:
    (root / "notes.txt").chmod(0o640)
    async with open_root(root, mode) as client:
        info = data(await client.call_tool("get_file_info", {"path": "notes.txt"}))
        folder = data(await client.call_tool("get_file_info", {"path": "src"}))
    assert info["type"] == "file" and info["size"] == 17 and info["line_count"] == 3
    assert info["permissions"] == "rw-r-----" and info["mode_octal"] == "0640"
    assert info["sha256"] == hashlib.sha256(b"alpha\nbeta\ngamma\n").hexdigest()
    assert info["writable"] is True
    assert folder["type"] == "directory" and folder["sha256"] is None


@pytest.mark.anyio
async def test_list_directory_hides_denied_entries_and_pages_with_a_cursor(root: Path, mode: str) -> None:
    for n in range(5):
        (root / f"file{n}.txt").write_text(str(n), encoding="utf-8")
    async with open_root(root, mode) as client:
        first = data(await client.call_tool("list_directory", {"limit": 4}))
        second = data(await client.call_tool("list_directory", {"limit": 4, "cursor": first["next_cursor"]}))
        bad = await client.call_tool("list_directory", {"cursor": "not-a-cursor"})
    names = [e["name"] for e in first["entries"] + second["entries"]]
    assert names[:2] == ["docs", "src"]
    assert set(names) == {"docs", "src", "notes.txt", *(f"file{n}.txt" for n in range(5))}
    assert first["hidden_by_policy"] == 4
    assert second["next_cursor"] is None
    assert first["total_entries"] == 8 and first["directories"] == 2
    refused(bad, "invalid_cursor")


@pytest.mark.anyio
async def test_directory_tree_respects_depth_excludes_and_the_entry_budget(root: Path, mode: str) -> None:
    (root / "src" / "pkg" / "deep").mkdir(parents=True)
    (root / "src" / "pkg" / "deep" / "x.py").write_text("x", encoding="utf-8")
    async with open_root(root, mode) as client:
        shallow = data(await client.call_tool("directory_tree", {"depth": 2, "excludePatterns": ["docs"]}))
        small = data(await client.call_tool("directory_tree", {"max_entries": 2}))
    top = {child["name"]: child for child in shallow["tree"]["children"]}
    assert set(top) == {"src", "notes.txt"}
    pkg = next(c for c in top["src"]["children"] if c["name"] == "pkg")
    assert pkg["truncated"] is True and shallow["truncated_reason"] == "depth"
    assert small["entries"] == 2 and small["truncated"] and small["truncated_reason"] == "max_entries"


@pytest.mark.anyio
async def test_list_allowed_directories_reports_mode_and_deny_globs(root: Path, tmp_path: Path) -> None:
    from tests.servers.filesystem.support import connect, settings_for

    extra = tmp_path / "extra"
    extra.mkdir()
    settings = settings_for(tmp_path / "data", (root, "rw"), (extra, "ro"))
    async with connect(settings) as client:
        result = data(await client.call_tool("list_allowed_directories", {}))
    assert [(d["path"], d["mode"]) for d in result["directories"]] == [(str(root), "rw"), (str(extra), "ro")]
    assert ".env*" in result["deny"] and result["narrowed_by_client"] is False
    assert result["relative_paths_resolve_against"] == str(root)


@pytest.mark.anyio
async def test_read_text_file_sends_the_text_verbatim_as_the_first_content_block(root: Path) -> None:
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    async with open_root(root) as client:
        result = await client.call_tool("read_text_file", {"path": "win.txt"})
    assert result.content[0].text == "one\r\ntwo\r\n"
    assert '"total_lines": 2' in result.content[1].text
    assert data(result)["line_ending"] == "crlf"
