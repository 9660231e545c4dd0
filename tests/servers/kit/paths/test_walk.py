"""The walk of text files under a directory, on a real directory tree: what it returns, what it skips and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.kit.paths.policy import Policy
from servers.kit.paths.settings import DEFAULT_DENY_GLOBS
from servers.kit.paths.walk import WalkResult, read_bytes, read_text, walk_text_files
from servers.kit.tool_errors import CodedToolError


class IngestError(CodedToolError):
    """The error class the server injects."""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "own").mkdir()
    (root / "a.md").write_text("# A\nalpha\n")
    (root / "b.txt").write_text("beta")
    (root / "guide" / "c.md").write_text("gamma ünïcode")
    (root / ".git" / "config").write_text("[core]")
    (root / ".env").write_text("SECRET=1")
    (root / "own" / "x.txt").write_text("hidden")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "big.txt").write_text("x" * 5000)
    (tmp_path / "outside.txt").write_text("outside")
    (root / "escape.txt").symlink_to(tmp_path / "outside.txt")
    (root / "escape_dir").symlink_to(tmp_path)
    (root / "alias.md").symlink_to(root / "a.md")
    (root / "loop").symlink_to(root / "guide")
    (root / "dangling").symlink_to(root / "nothing-here")
    os.mkfifo(root / "pipe")
    return root


def policy_for(root: Path) -> Policy:
    return Policy.build([(str(root), "ro")], DEFAULT_DENY_GLOBS, hidden=[str(root / "own")], error=IngestError)


def walk(root: Path, **kwargs: object) -> WalkResult:
    policy = policy_for(root)
    start = policy.resolve(str(root), policy.operator_scope)
    options: dict[str, object] = {"max_files": 100, "max_bytes_per_file": 1000, **kwargs}
    return walk_text_files(policy, policy.operator_scope, start, **options)  # type: ignore[arg-type]


def test_the_walk_returns_the_text_files_in_name_order(tree: Path) -> None:
    result = walk(tree)
    assert [file.relative for file in result.files] == ["a.md", "b.txt", "guide/c.md"]
    assert result.files[0].path == os.path.realpath(tree / "a.md")
    assert result.files[0].size == len("# A\nalpha\n")
    assert not result.truncated


def test_every_entry_passed_over_is_reported_with_its_reason(tree: Path) -> None:
    result = walk(tree)
    reasons = {entry.relative: entry.reason for entry in result.skipped}
    assert reasons == {
        ".env": "denied",
        ".git": "denied",
        "own": "denied",
        "big.txt": "too_large",
        "dangling": "broken_symlink",
        "escape.txt": "symlink_outside",
        "escape_dir": "symlink_outside",
        "image.png": "not_text",
        "latin1.txt": "not_text",
        "loop": "symlink_loop",
        "pipe": "not_regular",
    }
    assert result.skipped_total == len(reasons)
    denied = next(entry for entry in result.skipped if entry.relative == ".env")
    assert "'.env*'" in denied.detail


def test_a_link_to_a_file_inside_is_followed_once(tree: Path) -> None:
    result = walk(tree)
    assert "alias.md" not in [file.relative for file in result.files]  # the same real file as a.md
    (tree / "a.md").rename(tree / "z.md")
    (tree / "alias.md").unlink()
    (tree / "alias.md").symlink_to(tree / "z.md")
    again = walk(tree)
    assert again.files[0].relative == "alias.md"
    assert again.files[0].path == os.path.realpath(tree / "z.md")


def test_max_files_caps_the_walk_and_says_so(tree: Path) -> None:
    result = walk(tree, max_files=2)
    assert [file.relative for file in result.files] == ["a.md", "b.txt"]
    assert result.truncated


def test_include_and_exclude_globs_choose_files_without_reporting_the_rest(tree: Path) -> None:
    result = walk(tree, include=["**/*.md"], exclude=["guide/**"])
    assert [file.relative for file in result.files] == ["a.md"]
    assert result.not_matched >= 2
    assert "b.txt" not in {entry.relative for entry in result.skipped}


def test_max_skipped_bounds_the_report_but_not_the_count(tree: Path) -> None:
    result = walk(tree, max_skipped=2)
    assert len(result.skipped) == 2
    assert result.skipped_total == 11


def test_a_start_that_is_a_file_walks_that_file_alone(tree: Path) -> None:
    policy = policy_for(tree)
    start = policy.resolve("guide/c.md", policy.operator_scope)
    result = walk_text_files(policy, policy.operator_scope, start, max_files=5, max_bytes_per_file=100)
    assert [file.relative for file in result.files] == ["c.md"]


def test_a_missing_start_is_the_policys_error(tree: Path) -> None:
    policy = policy_for(tree)
    start = policy.resolve("nope", policy.operator_scope)
    with pytest.raises(IngestError) as refused:
        walk_text_files(policy, policy.operator_scope, start, max_files=5, max_bytes_per_file=100)
    assert refused.value.code == "not_found"


def test_a_denied_or_outside_start_is_refused_by_the_policy_before_any_walk(tree: Path) -> None:
    policy = policy_for(tree)
    for raw, code in ((".git", "denied"), ("escape_dir", "outside_roots"), ("../outside.txt", "outside_roots")):
        with pytest.raises(IngestError) as refused:
            policy.resolve(raw, policy.operator_scope)
        assert refused.value.code == code


def test_bad_caps_are_refused(tree: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        walk(tree, max_files=0)


def test_read_text_reads_a_walked_file(tree: Path) -> None:
    policy = policy_for(tree)
    (first, *_rest) = walk(tree).files
    assert read_text(policy, first, 1000) == "# A\nalpha\n"


def test_read_text_refuses_a_file_that_grew_past_the_cap_or_stopped_being_text(tree: Path) -> None:
    policy = policy_for(tree)
    files = {file.relative: file for file in walk(tree).files}
    (tree / "b.txt").write_text("b" * 2000)
    with pytest.raises(IngestError) as refused:
        read_text(policy, files["b.txt"], 1000)
    assert refused.value.code == "too_large"
    (tree / "guide" / "c.md").write_bytes(b"\xff\xfe bad")
    with pytest.raises(IngestError) as refused:
        read_text(policy, files["guide/c.md"], 1000)
    assert refused.value.code == "not_text"


def test_read_bytes_gives_what_read_text_refuses_within_the_same_cap(tree: Path) -> None:
    policy = policy_for(tree)
    files = {file.relative: file for file in walk(tree).files}
    (tree / "guide" / "c.md").write_bytes(b"\xff\xfe bad")
    assert read_bytes(policy, files["guide/c.md"], 1000) == b"\xff\xfe bad"
    with pytest.raises(IngestError) as refused:
        read_bytes(policy, files["guide/c.md"], 4)
    assert refused.value.code == "too_large"


def test_read_text_refuses_a_file_swapped_for_a_link_after_the_walk(tree: Path, tmp_path: Path) -> None:
    policy = policy_for(tree)
    files = {file.relative: file for file in walk(tree).files}
    (tree / "b.txt").unlink()
    (tree / "b.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(IngestError) as refused:
        read_text(policy, files["b.txt"], 1000)
    assert refused.value.code == "path_changed"


def test_read_text_refuses_a_directory_swapped_for_a_link_after_the_walk(tree: Path, tmp_path: Path) -> None:
    policy = policy_for(tree)
    files = {file.relative: file for file in walk(tree).files}
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "c.md").write_text("not what was walked")
    (tree / "guide").rename(tmp_path / "moved-guide")
    (tree / "guide").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(IngestError) as refused:
        read_text(policy, files["guide/c.md"], 1000)
    assert refused.value.code == "path_changed"


def test_read_text_of_a_removed_file_is_not_found(tree: Path) -> None:
    policy = policy_for(tree)
    files = {file.relative: file for file in walk(tree).files}
    (tree / "b.txt").unlink()
    with pytest.raises(IngestError) as refused:
        read_text(policy, files["b.txt"], 1000)
    assert refused.value.code == "not_found"


def test_a_link_to_a_directory_outside_the_walked_one_is_not_followed(tree: Path) -> None:
    (tree / "guide" / "up").symlink_to(tree)
    policy = policy_for(tree)
    start = policy.resolve("guide", policy.operator_scope)
    result = walk_text_files(policy, policy.operator_scope, start, max_files=50, max_bytes_per_file=1000)
    assert [file.relative for file in result.files] == ["c.md"]
    assert [(entry.relative, entry.reason) for entry in result.skipped] == [("up", "symlink_outside")]
