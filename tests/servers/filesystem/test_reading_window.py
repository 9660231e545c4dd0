"""A whole-file read gives what the same file read as an explicit window of all its lines gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.filesystem.errors import FsError
from servers.filesystem.reading import read_text
from servers.filesystem.textio import count_lines, line_ending_of
from servers.kit.paths.policy import Policy

CONTENTS = [
    b"",
    b"one line, no newline",
    b"one line\n",
    b"alpha\nbeta\n\ngamma",
    b"\xef\xbb\xbfbom first\r\nthen crlf\r\n",
    b"mixed\r\nendings\n",
    b"not utf-8 \xff here\n",
]


@pytest.mark.parametrize("content", CONTENTS)
def test_a_whole_read_matches_the_window_of_every_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "f.txt").write_bytes(content)
    policy = Policy.build([(str(tmp_path), "ro")], deny=[], error=FsError)
    target = policy.resolve("f.txt", policy.operator_scope)
    whole = read_text(target, "f.txt", max_bytes=1024)
    lines = max(1, whole.total_lines)
    window = read_text(target, "f.txt", offset=1, limit=lines, max_bytes=1024)
    assert whole.content == window.content
    assert whole.model_dump(exclude={"hint", "next_offset"}) == window.model_dump(exclude={"hint", "next_offset"})
    assert whole.next_offset is None and whole.hint is None


def test_a_whole_file_over_the_budget_is_still_cut_at_a_line(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_bytes(b"0123456789\n" * 10)
    policy = Policy.build([(str(tmp_path), "ro")], deny=[], error=FsError)
    text = read_text(policy.resolve("f.txt", policy.operator_scope), "f.txt", max_bytes=50)
    assert (text.content, text.end_line, text.truncated, text.next_offset) == ("0123456789\n" * 4, 4, True, 5)


@pytest.mark.parametrize(
    ("content", "ending", "lines"),
    [
        (b"", "none", 0),
        (b"no newline", "none", 1),
        (b"a\nb\n", "lf", 2),
        (b"a\rb\nc", "lf", 2),
        (b"a\r\nb\r\n", "crlf", 2),
        (b"a\r\nb\nc", "mixed", 3),
    ],
)
def test_line_endings_and_counts_are_the_same_with_or_without_a_given_newline_count(
    content: bytes, ending: str, lines: int
) -> None:
    lf = content.count(b"\n")
    assert line_ending_of(content) == line_ending_of(content, lf) == ending
    assert count_lines(content) == count_lines(content, lf) == lines
