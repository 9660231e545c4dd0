"""index_directory: the kit's path policy, an incremental second run, and files that are gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.servers.search.support import connect, data, suite_settings, text_of

pytestmark = pytest.mark.anyio


def project(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("How to configure the harbor lantern service.\n")
    (root / "src").mkdir()
    (root / "src" / "engine.py").write_text("def start_engine():\n    return 'river'\n")
    (root / ".env").write_text("SECRET_TOKEN=lantern\n")
    (root / "logo.bin").write_bytes(b"\x00\x01\x02lantern")
    return root


async def test_index_directory_indexes_text_files_and_skips_secrets_and_binaries(
    tmp_path: Path, fresh_schema: str, backend_name: str, mode: str
) -> None:
    root = project(tmp_path / "project")
    settings = suite_settings(tmp_path / "data", fresh_schema, directory_roots=[{"path": str(root)}])
    async with connect(settings, mode) as client:
        first = data(
            await client.call_tool("index_directory", {"index": "proj", "path": str(root), "backend": backend_name})
        )
        found = data(
            await client.call_tool(
                "search", {"index": "proj", "text": "lantern", "backend": backend_name, "return_fields": ["relative"]}
            )
        )
    assert first["indexed"] == 2 and first["files_seen"] == 2 and first["unchanged"] == 0
    assert any(".env" in s and "denied" in s for s in first["skipped"])
    assert any("logo.bin" in s and "not_text" in s for s in first["skipped"])
    assert [h["fields"]["relative"] for h in found["hits"]] == ["docs/guide.md"]


async def test_a_second_run_reads_only_changed_files_and_drops_removed_ones(
    tmp_path: Path, fresh_schema: str, backend_name: str
) -> None:
    root = project(tmp_path / "project")
    settings = suite_settings(tmp_path / "data", fresh_schema, directory_roots=[{"path": str(root)}])
    arguments = {"index": "proj", "path": str(root), "backend": backend_name}
    async with connect(settings) as client:
        data(await client.call_tool("index_directory", arguments))
        again = data(await client.call_tool("index_directory", arguments))
        guide = root / "docs" / "guide.md"
        guide.write_text("The harbor now has a glacier section.\n")
        os.utime(guide, ns=(guide.stat().st_atime_ns, guide.stat().st_mtime_ns + 5_000_000_000))
        (root / "src" / "engine.py").unlink()
        third = data(await client.call_tool("index_directory", arguments))
        counted = data(await client.call_tool("count", {"index": "proj", "backend": backend_name, "text": "glacier"}))
        total = data(await client.call_tool("count", {"index": "proj", "backend": backend_name}))
    assert again["indexed"] == 0 and again["unchanged"] == 2 and again["removed"] == 0
    assert third["indexed"] == 1 and third["unchanged"] == 0 and third["removed"] == 1
    assert counted["count"] == 1 and total["count"] == 1


async def test_index_directory_refuses_paths_outside_the_roots_and_servers_without_roots(
    tmp_path: Path, fresh_schema: str
) -> None:
    root = project(tmp_path / "project")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    allowed = suite_settings(tmp_path / "data", fresh_schema, directory_roots=[{"path": str(root)}])
    async with connect(allowed) as client:
        refused = await client.call_tool("index_directory", {"index": "proj", "path": str(outside)})
        listed = data(await client.call_tool("list_indexes", {}))
    async with connect(suite_settings(tmp_path / "data2", fresh_schema)) as client:
        no_roots = await client.call_tool("index_directory", {"index": "proj", "path": str(root)})
    assert text_of(refused).startswith("outside_roots:")
    assert listed["indexes"] == []  # nothing was created
    assert text_of(no_roots).startswith("no_directory_roots:")
