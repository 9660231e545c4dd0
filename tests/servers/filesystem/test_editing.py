"""edit_file: exact and tolerant matching, line endings, indentation, unicode, guards and diffs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.servers.filesystem.support import data, open_root, refused


def _edit(old: str, new: str) -> dict[str, str]:
    return {"oldText": old, "newText": new}


@pytest.mark.anyio
async def test_edit_file_replaces_text_and_returns_a_git_style_diff(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        result = data(await client.call_tool("edit_file", {"path": "notes.txt", "edits": [_edit("beta", "BETA")]}))
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nBETA\ngamma\n"
    assert result["applied"] and result["edits"][0]["match"] == "exact"
    assert result["diff"].startswith("diff --git a/notes.txt b/notes.txt\n--- a/notes.txt\n+++ b/notes.txt\n")
    assert "-beta\n+BETA\n" in result["diff"]


@pytest.mark.anyio
async def test_edit_file_dry_run_writes_nothing_under_either_spelling(root: Path) -> None:
    before = (root / "notes.txt").read_bytes()
    async with open_root(root) as client:
        snake = data(
            await client.call_tool("edit_file", {"path": "notes.txt", "edits": [_edit("beta", "b")], "dry_run": True})
        )
        camel = data(
            await client.call_tool("edit_file", {"path": "notes.txt", "edits": [_edit("beta", "b")], "dryRun": True})
        )
    assert (root / "notes.txt").read_bytes() == before
    assert not snake["applied"] and not camel["applied"]
    assert "+b\n" in camel["diff"]


@pytest.mark.anyio
async def test_edit_file_accepts_snake_case_edit_keys_too(root: Path) -> None:
    async with open_root(root) as client:
        data(
            await client.call_tool(
                "edit_file", {"path": "notes.txt", "edits": [{"old_text": "gamma", "new_text": "G"}]}
            )
        )
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nbeta\nG\n"


@pytest.mark.anyio
async def test_edit_file_rejects_a_stale_hash_and_names_the_current_one(root: Path, mode: str) -> None:
    current = hashlib.sha256((root / "notes.txt").read_bytes()).hexdigest()
    async with open_root(root, mode) as client:
        stale = await client.call_tool(
            "edit_file", {"path": "notes.txt", "edits": [_edit("beta", "x")], "expected_sha256": "0" * 64}
        )
        fresh = await client.call_tool(
            "edit_file", {"path": "notes.txt", "edits": [_edit("beta", "x")], "expected_sha256": current}
        )
    refused(stale, "stale")
    assert current in str(stale.content)
    assert not fresh.is_error
    assert (root / "notes.txt").read_text(encoding="utf-8") == "alpha\nx\ngamma\n"


@pytest.mark.anyio
async def test_edit_file_refuses_an_ambiguous_match_and_counts_the_matches(root: Path) -> None:
    (root / "dup.txt").write_text("x = 1\ny = 2\nx = 1\nx = 1\n", encoding="utf-8")
    async with open_root(root) as client:
        result = await client.call_tool("edit_file", {"path": "dup.txt", "edits": [_edit("x = 1", "x = 3")]})
    refused(result, "ambiguous")
    assert "3 places" in str(result.content)
    assert (root / "dup.txt").read_text(encoding="utf-8") == "x = 1\ny = 2\nx = 1\nx = 1\n"


@pytest.mark.anyio
async def test_edit_file_refuses_text_that_is_not_there_and_shows_the_closest_line(root: Path) -> None:
    async with open_root(root) as client:
        result = await client.call_tool("edit_file", {"path": "src/main.py", "edits": [_edit("return 43", "return 0")]})
    refused(result, "no_match")
    assert "closest line is 2" in str(result.content)


@pytest.mark.anyio
async def test_edit_file_applies_every_edit_or_none(root: Path) -> None:
    before = (root / "notes.txt").read_bytes()
    async with open_root(root) as client:
        result = await client.call_tool(
            "edit_file", {"path": "notes.txt", "edits": [_edit("alpha", "A"), _edit("missing", "M")]}
        )
    refused(result, "no_match")
    assert (root / "notes.txt").read_bytes() == before


@pytest.mark.anyio
async def test_edit_file_round_trips_a_crlf_file(root: Path, mode: str) -> None:
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    async with open_root(root, mode) as client:
        result = data(
            await client.call_tool("edit_file", {"path": "win.txt", "edits": [_edit("two\nthree\n", "2\n3\n")]})
        )
    assert (root / "win.txt").read_bytes() == b"one\r\n2\r\n3\r\n"
    assert result["line_ending"] == "crlf"


@pytest.mark.anyio
async def test_edit_file_matches_crlf_old_text_against_an_lf_file(root: Path) -> None:
    async with open_root(root) as client:
        result = data(
            await client.call_tool("edit_file", {"path": "notes.txt", "edits": [_edit("alpha\r\nbeta", "ab")]})
        )
    assert (root / "notes.txt").read_bytes() == b"ab\ngamma\n"
    assert result["edits"][0]["match"] == "line_endings"


@pytest.mark.anyio
async def test_edit_file_keeps_tab_indentation_when_the_edit_uses_spaces(root: Path) -> None:
    (root / "tabs.go").write_text("func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n", encoding="utf-8")
    async with open_root(root) as client:
        result = data(
            await client.call_tool(
                "edit_file",
                {
                    "path": "tabs.go",
                    "edits": [_edit("    if x {\n        return 1\n    }", "    if y {\n        return 2\n    }")],
                },
            )
        )
    assert (root / "tabs.go").read_text(encoding="utf-8") == "func f() {\n\tif y {\n\t\treturn 2\n\t}\n}\n"
    assert result["edits"][0]["match"] == "whitespace"


@pytest.mark.anyio
async def test_edit_file_keeps_the_files_space_indentation_when_the_edit_is_unindented(root: Path) -> None:
    (root / "deep.py").write_text("class A:\n    def f(self):\n        if ok:\n            go()\n", encoding="utf-8")
    async with open_root(root) as client:
        data(
            await client.call_tool(
                "edit_file",
                {"path": "deep.py", "edits": [_edit("if ok:\n    go()", "if ok:\n    go()\n    stop()")]},
            )
        )
    expected = "class A:\n    def f(self):\n        if ok:\n            go()\n            stop()\n"
    assert (root / "deep.py").read_text(encoding="utf-8") == expected


@pytest.mark.anyio
async def test_edit_file_handles_unicode_and_normalisation_differences(root: Path) -> None:
    (root / "uni.txt").write_text("caf\u0065\u0301 = 'naïve'\nπ ≈ 3.14 🚀\n", encoding="utf-8")
    async with open_root(root) as client:
        data(
            await client.call_tool(
                "edit_file", {"path": "uni.txt", "edits": [_edit("café  =  'naïve'", "café = 'ok'")]}
            )
        )
        data(await client.call_tool("edit_file", {"path": "uni.txt", "edits": [_edit("π ≈ 3.14 🚀", "π ≈ 3.1416 🚀")]}))
    assert (root / "uni.txt").read_text(encoding="utf-8") == "café = 'ok'\nπ ≈ 3.1416 🚀\n"


@pytest.mark.anyio
async def test_edit_file_preserves_a_bom_and_the_file_mode(root: Path) -> None:
    path = root / "bom.txt"
    path.write_bytes("\ufeffhello\nworld\n".encode())
    path.chmod(0o600)
    async with open_root(root) as client:
        data(await client.call_tool("edit_file", {"path": "bom.txt", "edits": [_edit("world", "there")]}))
    assert path.read_bytes() == "\ufeffhello\nthere\n".encode()
    assert path.stat().st_mode & 0o777 == 0o600
