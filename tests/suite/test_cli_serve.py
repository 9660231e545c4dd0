"""``mcp-suite serve``: options anywhere after the server name, and a clear refusal of unknown ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from suite.cli import main, parse_arguments
from tests.support.tool_results import data


@pytest.mark.parametrize(
    "words",
    [
        ["serve", "filesystem", "--transport", "http", "--port", "8501", "/a", "/b:ro"],
        ["serve", "filesystem", "/a", "--transport", "http", "--port", "8501", "/b:ro"],
        ["serve", "filesystem", "/a", "/b:ro", "--transport", "http", "--port", "8501"],
        ["serve", "--transport", "http", "filesystem", "--port=8501", "/a", "/b:ro"],
    ],
)
def test_serve_takes_its_options_before_between_or_after_the_directories(words: list[str]) -> None:
    args = parse_arguments(words)
    assert (args.server, args.arguments, args.transport, args.port) == ("filesystem", ["/a", "/b:ro"], "http", 8501)


def test_an_unknown_option_of_serve_is_refused_by_name_and_nothing_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "filesystem", "--transport", "http", "--bogus", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err and str(tmp_path) not in err.split("unrecognized")[1]


def test_a_stray_word_after_a_command_without_words_is_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["gateway", "--transport", "http", "stray"])
    assert exit_.value.code == 2 and "unrecognized arguments: stray" in capsys.readouterr().err


@pytest.mark.anyio
async def test_a_server_started_with_options_before_its_directory_serves_that_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    words = ["-m", "suite.cli", "serve", "filesystem", "--transport", "stdio", str(tmp_path)]
    server = StdioServerParameters(command=sys.executable, args=words, env=dict(os.environ))
    async with Client(server, mode="legacy") as client:
        read = data(await client.call_tool("read_text_file", {"path": "notes.txt"}))
    assert read["total_lines"] == 1
