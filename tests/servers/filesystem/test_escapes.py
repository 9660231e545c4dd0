"""The escape corpus: every attempt is refused, and neither the root nor the outside sentinel changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import ListRootsResult, Root

from tests.servers.filesystem.support import connect, refused, settings_for, snapshot

LONG = "a" * 300
DEEP = "/".join(["dd"] * 1500)

# (tool, arguments, expected error code); "{outside}" is the sentinel directory, "{root}" the root.
CORPUS: list[tuple[str, dict[str, Any], str]] = [
    ("read_text_file", {"path": "../outside/secret.txt"}, "outside_roots"),
    ("read_text_file", {"path": "../../etc/passwd"}, "outside_roots"),
    ("read_text_file", {"path": "src/../../outside/secret.txt"}, "outside_roots"),
    ("read_text_file", {"path": "/etc/passwd"}, "outside_roots"),
    ("read_text_file", {"path": "{outside}/secret.txt"}, "outside_roots"),
    ("read_text_file", {"path": "file://{outside}/secret.txt"}, "outside_roots"),
    ("read_text_file", {"path": "file://evil.example/etc/passwd"}, "invalid_path"),
    ("read_text_file", {"path": "~/.bashrc"}, "outside_roots"),
    ("read_text_file", {"path": "link_out/secret.txt"}, "outside_roots"),
    ("read_text_file", {"path": "secret_link.txt"}, "outside_roots"),
    ("read_text_file", {"path": "notes.txt\x00.png"}, "invalid_path"),
    ("read_text_file", {"path": "\x00"}, "invalid_path"),
    ("read_text_file", {"path": "..\\outside\\secret.txt"}, "invalid_path"),
    ("read_text_file", {"path": "C:\\Windows\\win.ini"}, "invalid_path"),
    ("read_text_file", {"path": "C:/Windows/win.ini"}, "invalid_path"),
    ("read_text_file", {"path": "\\\\server\\share\\file"}, "invalid_path"),
    ("read_text_file", {"path": LONG}, "path_too_long"),
    ("read_text_file", {"path": DEEP}, "path_too_long"),
    ("read_text_file", {"path": ""}, "invalid_path"),
    ("read_text_file", {"path": ".env"}, "denied"),
    ("read_text_file", {"path": ".ENV"}, "denied"),
    ("read_text_file", {"path": ".env.production"}, "denied"),
    ("read_text_file", {"path": ".git/config"}, "denied"),
    ("read_text_file", {"path": "src/../.git/config"}, "denied"),
    ("read_text_file", {"path": "id_rsa"}, "denied"),
    ("read_text_file", {"path": "server.key"}, "denied"),
    ("read_text_file", {"path": "env_link"}, "denied"),
    ("read_media_file", {"path": "server.key"}, "denied"),
    ("get_file_info", {"path": "../outside/secret.txt"}, "outside_roots"),
    ("get_file_info", {"path": ".git"}, "denied"),
    ("list_directory", {"path": ".git"}, "denied"),
    ("list_directory", {"path": ".."}, "outside_roots"),
    ("list_directory", {"path": "link_out"}, "outside_roots"),
    ("directory_tree", {"path": "{outside}"}, "outside_roots"),
    ("search_files", {"path": "..", "pattern": "*"}, "outside_roots"),
    ("grep", {"path": "..", "pattern": "secret"}, "outside_roots"),
    ("grep", {"path": ".env", "pattern": "SECRET"}, "denied"),
    ("read_multiple_files", {"paths": ["../outside/secret.txt"]}, "outside_roots"),
    ("write_file", {"path": "../outside/new.txt", "content": "x"}, "outside_roots"),
    ("write_file", {"path": "../outside/secret.txt", "content": "pwned"}, "outside_roots"),
    ("write_file", {"path": "link_out/secret.txt", "content": "pwned"}, "outside_roots"),
    ("write_file", {"path": "secret_link.txt", "content": "pwned"}, "outside_roots"),
    ("write_file", {"path": "link_out/new.txt", "content": "x"}, "outside_roots"),
    ("write_file", {"path": ".env", "content": "SECRET=0"}, "denied"),
    ("write_file", {"path": ".git/hooks/pre-commit", "content": "x", "create_parents": True}, "denied"),
    ("write_file", {"path": "keys/new.pem", "content": "x", "create_parents": True}, "denied"),
    ("write_file", {"path": "nul\x00.txt", "content": "x"}, "invalid_path"),
    ("write_file", {"path": "ok.txt\\..\\..\\x", "content": "x"}, "invalid_path"),
    ("write_file", {"path": LONG + ".txt", "content": "x"}, "path_too_long"),
    (
        "edit_file",
        {"path": "../outside/secret.txt", "edits": [{"oldText": "outside", "newText": "x"}]},
        "outside_roots",
    ),
    ("edit_file", {"path": ".env", "edits": [{"oldText": "hunter2", "newText": "x"}]}, "denied"),
    ("create_directory", {"path": "../outside/made"}, "outside_roots"),
    ("create_directory", {"path": ".git/objects/x"}, "denied"),
    ("move_file", {"source": "notes.txt", "destination": "../outside/notes.txt"}, "outside_roots"),
    ("move_file", {"source": "../outside/secret.txt", "destination": "stolen.txt"}, "outside_roots"),
    ("move_file", {"source": "notes.txt", "destination": ".env.local"}, "denied"),
    ("move_file", {"source": "id_rsa", "destination": "public.txt"}, "denied"),
    ("move_file", {"source": "notes.txt", "destination": "src/main.py"}, "exists"),
    ("delete_path", {"path": "../outside/secret.txt"}, "outside_roots"),
    ("delete_path", {"path": ".git", "recursive": True}, "denied"),
    ("delete_path", {"path": "."}, "is_root"),
    ("delete_path", {"path": "{root}", "recursive": True}, "is_root"),
    ("restore_from_trash", {"trash_id": "../../etc"}, "invalid_argument"),
    ("restore_from_trash", {"trash_id": "20240101T000000-deadbeef"}, "not_found"),
]


def _fill(value: Any, root: Path, outside: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{outside}", str(outside)).replace("{root}", str(root))
    if isinstance(value, list):
        return [_fill(item, root, outside) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, root, outside) for key, item in value.items()}
    return value


def _plant_links(root: Path, outside: Path) -> None:
    os.symlink(outside, root / "link_out")
    os.symlink(outside / "secret.txt", root / "secret_link.txt")
    os.symlink(root / ".env", root / "env_link")


def test_the_escape_corpus_has_at_least_forty_cases() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "arguments", "code"), CORPUS, ids=[f"{i:02d}-{c[0]}-{c[2]}" for i, c in enumerate(CORPUS)]
)
async def test_an_escape_attempt_is_refused_and_changes_nothing(
    tool: str, arguments: dict[str, Any], code: str, root: Path, outside: Path, tmp_path: Path
) -> None:
    _plant_links(root, outside)
    before = snapshot(root, outside)
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, "auto") as client:
        result = await client.call_tool(tool, _fill(arguments, root, outside))
    if tool == "read_multiple_files":
        batch = result.structured_content or {}
        assert batch["failed"] == 1 and code in batch["files"][0]["error"]
    else:
        refused(result, code)
    assert snapshot(root, outside) == before
    assert "hunter2" not in str(result.content)
    assert "outside secret" not in str(result.content)


WIDENING = [
    [Root(uri="file:///", name="everything")],
    [Root(uri="file:///etc", name="etc")],
    [Root(uri="file://remote-host/srv", name="remote")],
]


@pytest.mark.anyio
@pytest.mark.parametrize("client_roots", WIDENING, ids=["filesystem-root", "etc", "remote-host"])
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_client_roots_cannot_widen_the_operator_roots(
    client_roots: list[Root], mode: str, root: Path, outside: Path, tmp_path: Path
) -> None:
    async def roots_callback(_context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[*client_roots, Root(uri=outside.as_uri(), name="sentinel")])

    before = snapshot(root, outside)
    settings = settings_for(tmp_path / "data", (root, "rw"))
    async with connect(settings, mode, list_roots_callback=roots_callback) as client:
        read = await client.call_tool("read_text_file", {"path": str(outside / "secret.txt")})
        write = await client.call_tool("write_file", {"path": str(outside / "new.txt"), "content": "x"})
        passwd = await client.call_tool("read_text_file", {"path": "/etc/hostname"})
    refused(read, "outside_roots")
    refused(write, "outside_roots")
    refused(passwd, "outside_roots")
    assert snapshot(root, outside) == before


@pytest.mark.anyio
async def test_special_files_and_symlink_loops_are_refused_without_hanging(root: Path, tmp_path: Path) -> None:
    os.mkfifo(root / "pipe")
    os.symlink(root / "loop_b", root / "loop_a")
    os.symlink(root / "loop_a", root / "loop_b")
    before = snapshot(root)
    settings = settings_for(tmp_path / "data", (root, "rw"))
    with anyio.fail_after(10):
        async with connect(settings) as client:
            pipe_read = await client.call_tool("read_text_file", {"path": "pipe"})
            pipe_edit = await client.call_tool(
                "edit_file", {"path": "pipe", "edits": [{"oldText": "a", "newText": "b"}]}
            )
            pipe_write = await client.call_tool("write_file", {"path": "pipe", "content": "x"})
            loop = await client.call_tool("read_text_file", {"path": "loop_a"})
            grep = await client.call_tool("grep", {"pattern": "x"})
            with pytest.raises(MCPError):
                await client.read_resource(f"{root.as_uri()}/pipe")
    for result in (pipe_read, pipe_edit, pipe_write):
        refused(result, "not_a_file")
    assert loop.is_error and "Traceback" not in str(loop.content)
    assert not grep.is_error
    assert snapshot(root) == before
