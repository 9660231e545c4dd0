"""file:// resources (roots, template, per-file MIME, the same policy) and the prompts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from tests.servers.filesystem.support import data, open_root

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.anyio
async def test_each_root_is_a_resource_with_a_template_for_its_files(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
    assert [str(r.uri) for r in resources] == [root.as_uri()]
    assert [t.uri_template for t in templates] == [f"{root.as_uri()}/{{+path}}"]


@pytest.mark.anyio
async def test_reading_file_resources_gives_text_or_blob_with_the_files_mime_type(root: Path, mode: str) -> None:
    (root / "dot.png").write_bytes(PNG)
    async with open_root(root, mode) as client:
        text = (await client.read_resource(f"{root.as_uri()}/docs/guide.md")).contents[0]
        image = (await client.read_resource(f"{root.as_uri()}/dot.png")).contents[0]
        folder = (await client.read_resource(root.as_uri())).contents[0]
    assert text.mime_type == "text/markdown" and text.text == "# Guide\n\nUse the tools.\n"
    assert image.mime_type == "image/png" and base64.b64decode(image.blob) == PNG
    listing = json.loads(folder.text)
    assert folder.mime_type == "application/json"
    assert {entry["name"] for entry in listing["entries"]} == {"docs", "src", "notes.txt", "dot.png"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "uri", ["{root}/.env", "{root}/../outside/secret.txt", "file:///etc/passwd", "{root}/missing.txt"]
)
async def test_resources_obey_the_same_policy_as_the_tools(root: Path, outside: Path, uri: str) -> None:
    async with open_root(root) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri.replace("{root}", root.as_uri()))
    assert "hunter2" not in str(refused.value) and "outside secret" not in str(refused.value)


@pytest.mark.anyio
async def test_changes_made_through_tools_reach_listen_subscribers(root: Path) -> None:
    uri = (root / "notes.txt").as_uri()
    async with open_root(root, "auto") as client, client.listen(resource_subscriptions=[uri]) as events:
        data(await client.call_tool("write_file", {"path": "notes.txt", "content": "changed\n"}))
        event = await events.__anext__()
    assert getattr(event, "uri", None) == uri


@pytest.mark.anyio
async def test_review_file_prompt_embeds_the_numbered_file(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        prompt = await client.get_prompt("review_file", {"path": "src/main.py", "focus": "error handling"})
    embedded = prompt.messages[0].content
    assert embedded.type == "resource"
    assert "    1  def main():" in embedded.resource.text
    assert "error handling" in prompt.messages[1].content.text


@pytest.mark.anyio
async def test_summarize_directory_prompt_shows_the_tree_without_denied_entries(root: Path, mode: str) -> None:
    async with open_root(root, mode) as client:
        prompt = await client.get_prompt("summarize_directory", {"path": ".", "depth": "2"})
        names = [p.name for p in (await client.list_prompts()).prompts]
    text = prompt.messages[0].content.text
    assert "src/" in text and "main.py" in text
    assert ".env" not in text and "id_rsa" not in text
    assert {"review_file", "summarize_directory", "plan_safe_edit"} <= set(names)


@pytest.mark.anyio
async def test_prompts_refuse_paths_outside_the_roots(root: Path) -> None:
    async with open_root(root) as client:
        with pytest.raises(MCPError):
            await client.get_prompt("review_file", {"path": "/etc/passwd"})
