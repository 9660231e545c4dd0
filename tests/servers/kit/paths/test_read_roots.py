"""The walk under an operator's read-only roots as a reading tool reports it, on a real directory tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.kit.paths.policy import Policy
from servers.kit.paths.read_roots import ListedFiles, Reader, list_text_files, read_only_policy
from servers.kit.paths.settings import DEFAULT_DENY_GLOBS, PathRoot
from servers.kit.tool_errors import CodedToolError


class ReaderError(CodedToolError):
    """The error class the server injects."""


READER = Reader(ReaderError, "read_folder", "reader.folder_roots", "use `read_text` instead")


def policy_over(*roots: Path) -> Policy:
    return read_only_policy([PathRoot(path=root, mode="rw") for root in roots], DEFAULT_DENY_GLOBS, READER)


def listing(root: Path, path: Path, max_files: int = 10, patterns: tuple[str, ...] = ()) -> ListedFiles:
    return list_text_files(
        policy_over(root),
        str(path),
        max_files=max_files,
        max_bytes_per_file=1024,
        patterns=patterns,
        max_files_setting="reader.max_files",
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("alpha")
    (root / "b.md").write_text("beta")
    (root / "sub" / "c.txt").write_text("gamma")
    (root / ".env").write_text("SECRET=1")
    (root / "blob.bin").write_bytes(b"\x00\x01")
    return root


def test_no_roots_is_refused_with_the_tools_code_setting_and_alternative() -> None:
    with pytest.raises(ReaderError) as refused:
        policy_over()
    assert refused.value.code == "no_folder_roots"
    assert "reader.folder_roots" in refused.value.detail and "`read_text`" in refused.value.detail


def test_the_policy_is_read_only_whatever_the_roots_mode(tree: Path) -> None:
    policy = policy_over(tree)
    assert [root.mode for root in policy.roots] == ["ro"]


def test_the_listing_names_the_files_and_a_line_per_skipped_entry(tree: Path) -> None:
    listed = listing(tree, tree)
    assert listed.start == str(tree.resolve())
    assert [file.relative for file in listed.files] == ["a.md", "b.md", "sub/c.txt"]
    assert listed.skipped_total == 2 and not listed.truncated
    assert any(line.startswith(".env: denied (") for line in listed.skipped)
    assert any(line.startswith("blob.bin: not_text (") for line in listed.skipped)


def test_a_listing_cut_at_max_files_says_which_setting_stopped_it(tree: Path) -> None:
    listed = listing(tree, tree, max_files=1, patterns=("*.md",))
    assert [file.relative for file in listed.files] == ["a.md"]
    assert listed.truncated and listed.skipped[-1] == "more files: stopped at reader.max_files = 1"


def test_a_path_outside_the_roots_is_refused_with_the_roots_setting(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ReaderError) as refused:
        listing(tree, tmp_path / "elsewhere")
    assert refused.value.code == "outside_roots" and "reader.folder_roots" in refused.value.detail
