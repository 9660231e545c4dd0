"""The resolver that opens beneath a root: links and ``..`` refused, a swap after the check caught."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from servers.filesystem import beneath
from servers.filesystem.errors import FsError
from servers.filesystem.listing import list_directory
from servers.filesystem.reading import file_info, read_text
from servers.filesystem.searching import GrepQuery, grep, search_files
from servers.filesystem.trash import Trash
from servers.filesystem.writing import create_directory, move, write_file
from servers.kit.paths.policy import Policy, Resolved
from tests.servers.filesystem.support import snapshot

SEARCH: dict[str, Any] = {
    "pattern": "*",
    "exclude_patterns": None,
    "kinds": "all",
    "case_sensitive": False,
    "max_results": 10,
    "cursor": None,
    "max_entries": 100,
    "timeout": 10.0,
}
GREP = GrepQuery("secret", True, "smart", 0, None, None, 10, 4096)
GREP_LIMITS: dict[str, Any] = {"cursor": None, "max_entries": 100, "max_file_bytes": 4096, "timeout": 10.0}


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every case runs against the kernel's ``openat2`` and against the per-component walk."""
    monkeypatch.setattr(beneath, "use_openat2", False if request.param == "walk" else None)
    return str(request.param)


@pytest.fixture
def policy(root: Path) -> Policy:
    return Policy.build([(str(root), "rw")], deny=[".env*"], error=FsError)


def _resolve(policy: Policy, path: str, *, follow: bool = True) -> Resolved:
    return policy.resolve(path, policy.operator_scope, write=True, follow=follow)


def _swap_for_link(directory: Path, outside: Path) -> None:
    """What a concurrent process does after the check: the directory goes, a link to ``outside`` comes."""
    directory.rename(directory.with_name(directory.name + ".moved"))
    directory.symlink_to(outside)


def _code(error: pytest.ExceptionInfo[FsError]) -> str:
    return error.value.code


def test_the_kernel_walk_is_used_where_the_kernel_has_openat2(root: Path, resolver: str) -> None:
    fd = beneath.open_beneath(str(root), str(root / "notes.txt"), os.O_RDONLY, shown="notes.txt")
    os.close(fd)
    assert beneath.use_openat2 is (resolver == "openat2")


def test_a_symlink_component_is_refused_even_when_it_points_inside(root: Path, resolver: str) -> None:
    (root / "alias").symlink_to(root / "src")
    with pytest.raises(FsError) as refused:
        beneath.open_beneath(str(root), str(root / "alias" / "main.py"), os.O_RDONLY, shown="alias/main.py")
    assert _code(refused) == "path_changed"
    assert "alias/main.py" in str(refused.value)


def test_a_symlink_as_the_last_component_is_not_followed(root: Path, outside: Path, resolver: str) -> None:
    (root / "link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(FsError) as refused:
        beneath.open_beneath(str(root), str(root / "link.txt"), os.O_RDONLY, shown="link.txt")
    assert _code(refused) == "path_changed"


def test_dot_dot_and_paths_outside_the_anchor_are_refused_before_any_open(root: Path, outside: Path) -> None:
    for path in (f"{root}/src/../../outside/secret.txt", str(outside / "secret.txt"), f"{root}-other/x"):
        with pytest.raises(FsError) as refused:
            beneath.open_beneath(str(root), path, os.O_RDONLY, shown=path)
        assert _code(refused) == "outside_roots"


def test_a_symlink_loop_keeps_its_own_code(root: Path, resolver: str) -> None:
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    with pytest.raises(FsError) as refused:
        beneath.open_beneath(str(root), str(root / "loop_a"), os.O_RDONLY, shown="loop_a")
    assert _code(refused) == "symlink_loop"


def test_an_in_root_symlink_is_followed_as_before_through_the_policy(root: Path, policy: Policy, resolver: str) -> None:
    (root / "alias").symlink_to(root / "src")
    (root / "alias.py").symlink_to(root / "src" / "main.py")
    for path in ("alias/main.py", "alias.py"):
        target = _resolve(policy, path)
        assert target.path == str(root / "src" / "main.py")
        assert read_text(target, path, max_bytes=1024).content == "def main():\n    return 42\n"


def test_a_read_checked_before_its_directory_became_an_outside_link_returns_nothing(
    root: Path, outside: Path, policy: Policy, resolver: str
) -> None:
    (outside / "main.py").write_text("outside secret\n", encoding="utf-8")
    target = _resolve(policy, "src/main.py")
    _swap_for_link(root / "src", outside)
    for read in (
        lambda: read_text(target, "src/main.py", max_bytes=1024),
        lambda: file_info(target, "src/main.py", writable=True),
    ):
        with pytest.raises(FsError) as refused:
            read()
        assert _code(refused) == "path_changed"


def test_a_write_checked_before_its_directory_became_an_outside_link_lands_nowhere(
    root: Path, outside: Path, policy: Policy, resolver: str
) -> None:
    before = snapshot(outside)
    new = _resolve(policy, "src/new.txt")
    old = _resolve(policy, "src/main.py")
    folder = _resolve(policy, "src/made")
    _swap_for_link(root / "src", outside)
    calls = (
        lambda: write_file(
            new, "src/new.txt", "x", exclusive=False, expected_sha256=None, max_bytes=100, create_parents=True
        ),
        lambda: write_file(
            old, "src/main.py", "x", exclusive=False, expected_sha256=None, max_bytes=100, create_parents=False
        ),
        lambda: create_directory(folder, "src/made"),
    )
    for call in calls:
        with pytest.raises(FsError) as refused:
            call()
        assert _code(refused) == "path_changed"
    assert snapshot(outside) == before


def test_a_write_never_follows_a_link_put_at_the_target_name_after_the_check(
    root: Path, outside: Path, policy: Policy, resolver: str
) -> None:
    before = snapshot(outside)
    target = _resolve(policy, "notes.txt")
    (root / "notes.txt").unlink()
    (root / "notes.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(FsError) as refused:
        write_file(target, "notes.txt", "x", exclusive=False, expected_sha256=None, max_bytes=100, create_parents=False)
    assert _code(refused) == "path_changed"
    assert snapshot(outside) == before
    assert os.readlink(root / "notes.txt") == str(outside / "secret.txt")


def test_moves_deletes_and_listings_checked_before_a_swap_touch_nothing_outside(
    root: Path, outside: Path, policy: Policy, tmp_path: Path, resolver: str
) -> None:
    (outside / "main.py").write_text("outside secret\n", encoding="utf-8")
    before = snapshot(outside)
    source = _resolve(policy, "src/main.py", follow=False)
    destination = _resolve(policy, "moved.py", follow=False)
    listed = _resolve(policy, "src")
    swapped_file = _resolve(policy, "src/main.py")
    _swap_for_link(root / "src", outside)
    trash = Trash(str(tmp_path / "trash"))
    calls = (
        lambda: move(source, destination, "src/main.py", "moved.py"),
        lambda: trash.delete(source, "src/main.py", recursive=False),
        lambda: list_directory(policy, listed, "src", cursor=None, limit=10, sort_by="name"),
        lambda: search_files(policy, listed, "src", **SEARCH),
        lambda: grep(policy, listed, "src", GREP, **GREP_LIMITS),
        lambda: grep(policy, swapped_file, "src/main.py", GREP, **GREP_LIMITS),
    )
    for call in calls:
        with pytest.raises(FsError) as refused:
            call()
        assert _code(refused) == "path_changed"
    assert snapshot(outside) == before
    assert not (root / "moved.py").exists()
