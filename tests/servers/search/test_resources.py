"""Indexes as search:// resources, and the prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servers.search.server import DEFINITION
from suite.settings import SuiteSettings
from tests.servers.search.support import connect, suite_settings
from tests.servers.search.test_tools import make_index

pytestmark = pytest.mark.anyio


async def test_every_index_is_a_resource_with_its_mapping_and_stats(
    tmp_path: Path, fresh_schema: str, mode: str
) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema), mode) as client:
        await make_index(client, "tantivy")
        await make_index(client, "postgres")
        listed = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource("search://postgres/notes")
    assert {str(r.uri) for r in listed} == {"search://tantivy/notes", "search://postgres/notes"}
    assert [t.uri_template for t in templates] == ["search://{backend}/{index}"]
    body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert body["documents"] == 4 and body["backend_kind"] == "postgres" and body["size_bytes"] > 0


async def test_reading_an_unknown_index_resource_is_an_error_naming_it(tmp_path: Path, fresh_schema: str) -> None:
    from mcp.shared.exceptions import MCPError

    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        with pytest.raises(MCPError) as failed:
            await client.read_resource("search://tantivy/nothing")
    assert "unknown_index" in str(failed.value)


async def test_the_prompts_name_the_tools_and_the_question(tmp_path: Path, fresh_schema: str) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        sources = await client.get_prompt("find_sources", {"question": "Where do rivers run?", "index": "notes"})
        project = await client.get_prompt("search_project", {"folder": "/src", "question": "Where is the engine?"})
    assert names == {"find_sources", "search_project"}
    text = sources.messages[0].content.text  # type: ignore[union-attr]
    assert "`search`" in text and "`suggest`" in text and "Where do rivers run?" in text and "'notes'" in text
    assert "`index_directory`" in project.messages[0].content.text  # type: ignore[union-attr]


async def test_readiness_reports_every_backend(tmp_path: Path, fresh_schema: str) -> None:
    ready = await DEFINITION.readiness(suite_settings(tmp_path, fresh_schema))
    unreachable = SuiteSettings(
        data_dir=tmp_path,
        search={"backends": {"pg": {"kind": "postgres", "dsn": "postgresql://postgres@127.0.0.1:1/test"}}},
    )
    broken = await DEFINITION.readiness(unreachable)
    assert ready.ready is True
    assert ready.checks["backend tantivy"].startswith("ok (tantivy")
    assert ready.checks["backend postgres"].startswith("ok (postgresql")
    assert broken.ready is False and broken.checks["backend pg"].startswith("unavailable: backend_unavailable:")
