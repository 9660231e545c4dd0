"""The database server completes connection names in its prompts and ``db://`` templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from servers.database.server import DEFINITION
from servers.runtime.protocol_features import add_protocol_features
from tests.servers.database.support import PG_URL, connection, settings_with

pytestmark = pytest.mark.anyio


async def test_connection_names_complete_in_prompts_and_templates_and_tables_get_an_empty_list(
    tmp_path: Path,
) -> None:
    server = DEFINITION.build(settings_with(tmp_path, pg=connection(PG_URL), pages=connection(PG_URL)))
    add_protocol_features(server)
    template = ResourceTemplateReference(type="ref/resource", uri="db://{connection}/tables/{table}")
    async with Client(server, mode="legacy") as client:
        prompt = await client.complete(
            PromptReference(type="ref/prompt", name="write_query"), {"name": "connection", "value": "p"}
        )
        variable = await client.complete(template, {"name": "connection", "value": "pa"})
        table = await client.complete(template, {"name": "table", "value": ""})
    assert prompt.completion.values == ["pages", "pg"]
    assert variable.completion.values == ["pages"]
    assert table.completion.values == []
