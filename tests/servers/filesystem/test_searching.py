"""search_files (names) and grep (contents): globs, budgets, cursors, and the deny globs."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.servers.filesystem.support import data, open_root, refused


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "src" / "pkg").mkdir()
    (root / "src" / "pkg" / "util.py").write_text("import os\n\ndef helper():\n    return os.sep\n", encoding="utf-8")
    (root / "src" / "pkg" / "test_util.py").write_text("from pkg.util import helper\n", encoding="utf-8")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("def main():\n    pass\n", encoding="utf-8")
    (root / "data.bin").write_bytes(b"\x00def main\x00")
    (root / ".env.local").write_text("def main = secret\n", encoding="utf-8")
    return root


@pytest.mark.anyio
async def test_search_files_finds_names_by_glob_and_skips_excludes_and_denied(tree: Path, mode: str) -> None:
    async with open_root(tree, mode) as client:
        python = data(await client.call_tool("search_files", {"pattern": "*.py", "excludePatterns": ["build"]}))
        tests = data(await client.call_tool("search_files", {"pattern": "src/**/test_*.py"}))
        plain = data(await client.call_tool("search_files", {"pattern": "env", "kind": "files"}))
    names = sorted(Path(m["path"]).name for m in python["matches"])
    assert names == ["main.py", "test_util.py", "util.py"]
    assert [Path(m["path"]).name for m in tests["matches"]] == ["test_util.py"]
    assert plain["matches"] == []


@pytest.mark.anyio
async def test_search_files_pages_with_a_cursor(tree: Path) -> None:
    async with open_root(tree) as client:
        first = data(await client.call_tool("search_files", {"pattern": "*", "kind": "files", "max_results": 3}))
        second = data(
            await client.call_tool(
                "search_files", {"pattern": "*", "kind": "files", "max_results": 3, "cursor": first["next_cursor"]}
            )
        )
    assert first["truncated"] and first["truncated_reason"] == "max_results"
    seen = [m["path"] for m in first["matches"] + second["matches"]]
    assert len(seen) == len(set(seen)) == 6


@pytest.mark.anyio
async def test_grep_finds_content_with_context_and_skips_binary_and_denied_files(tree: Path, mode: str) -> None:
    async with open_root(tree, mode) as client:
        result = data(await client.call_tool("grep", {"pattern": r"def \w+\(", "context_lines": 1}))
    found = {(Path(m["path"]).name, m["line"]) for m in result["matches"]}
    assert found == {("main.py", 1), ("util.py", 3), ("out.py", 1)}
    util = next(m for m in result["matches"] if m["path"].endswith("util.py"))
    assert util["before"] == [""] and util["after"] == ["    return os.sep"]
    assert util["column"] == 1
    assert result["skipped_binary"] == 1
    assert "secret" not in str(result)


@pytest.mark.anyio
async def test_grep_literal_case_and_include_filters(tree: Path) -> None:
    async with open_root(tree) as client:
        literal = data(await client.call_tool("grep", {"pattern": "os.sep", "literal": True}))
        smart = data(await client.call_tool("grep", {"pattern": "IMPORT"}))
        insensitive = data(await client.call_tool("grep", {"pattern": "IMPORT", "case": "insensitive"}))
        only_tests = data(await client.call_tool("grep", {"pattern": "import", "include": ["test_*.py"]}))
        bad = await client.call_tool("grep", {"pattern": "("})
    assert [m["line"] for m in literal["matches"]] == [4]
    assert smart["matches"] == []
    assert len(insensitive["matches"]) == 2
    assert [Path(m["path"]).name for m in only_tests["matches"]] == ["test_util.py"]
    refused(bad, "invalid_argument")


@pytest.mark.anyio
async def test_grep_stops_at_max_results_and_resumes_with_the_cursor(root: Path) -> None:
    (root / "many.txt").write_text("".join(f"hit {n}\n" for n in range(25)), encoding="utf-8")
    async with open_root(root) as client:
        first = data(await client.call_tool("grep", {"pattern": "hit", "max_results": 10}))
        second = data(
            await client.call_tool("grep", {"pattern": "hit", "max_results": 10, "cursor": first["next_cursor"]})
        )
        third = data(
            await client.call_tool("grep", {"pattern": "hit", "max_results": 10, "cursor": second["next_cursor"]})
        )
    lines = [m["line"] for m in first["matches"] + second["matches"] + third["matches"]]
    assert lines == list(range(1, 26))
    assert first["truncated_reason"] == "max_results" and third["next_cursor"] is None


@pytest.mark.anyio
async def test_grep_respects_the_byte_budget(root: Path) -> None:
    (root / "wide.txt").write_text("".join(f"hit {'w' * 300} {n}\n" for n in range(50)), encoding="utf-8")
    async with open_root(root) as client:
        result = data(await client.call_tool("grep", {"pattern": "hit", "max_bytes": 2048}))
    assert result["truncated"] and result["truncated_reason"] == "max_bytes"
    assert 1 <= len(result["matches"]) < 10


@pytest.mark.anyio
async def test_a_catastrophic_regex_is_abandoned_at_the_deadline_with_a_clear_error(root: Path) -> None:
    (root / "evil.txt").write_text("a" * 40 + "!\n", encoding="utf-8")
    async with open_root(root, search_timeout_seconds=0.01) as client:
        with anyio.fail_after(30):
            result = await client.call_tool("grep", {"pattern": "(a+)+$", "path": "evil.txt"})
            after = await client.call_tool("grep", {"pattern": "a+!", "path": "evil.txt"})
    refused(result, "timeout")
    assert [m["line"] for m in data(after)["matches"]] == [1]
