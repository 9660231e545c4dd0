"""The path policy on its own: resolution, containment, deny globs, modes, and narrowing by client roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.kit.paths.policy import Policy
from servers.kit.tool_errors import CodedToolError


class Refused(CodedToolError):
    """The error class a server injects (the filesystem's is ``FsError``)."""


DENY = (".env*", ".git/", "*.pem", "*.key", "id_*", "secrets/*.json")


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    rw = tmp_path / "rw"
    ro = tmp_path / "ro"
    (rw / "sub").mkdir(parents=True)
    (rw / "vendor").mkdir()
    ro.mkdir()
    (tmp_path / "out").mkdir()
    return {"rw": rw, "ro": ro, "out": tmp_path / "out", "base": tmp_path}


def _policy(layout: dict[str, Path]) -> Policy:
    return Policy.build(
        [(str(layout["rw"]), "rw"), (str(layout["ro"]), "ro"), (str(layout["rw"] / "vendor"), "ro")],
        DENY,
        hidden=[str(layout["base"] / "trash")],
        error=Refused,
    )


def _code(policy: Policy, raw: str, **kwargs: bool) -> str:
    with pytest.raises(Refused) as refused:
        policy.resolve(raw, policy.operator_scope, **kwargs)
    return refused.value.code


def test_relative_paths_resolve_against_the_first_root(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    resolved = policy.resolve("sub/file.txt", policy.operator_scope)
    assert resolved.path == str(layout["rw"] / "sub" / "file.txt")
    assert resolved.relative == "sub/file.txt" and not resolved.exists


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("../out/x", "outside_roots"),
        ("sub/../../out/x", "outside_roots"),
        ("/", "outside_roots"),
        ("x\x00y", "invalid_path"),
        ("a\\b", "invalid_path"),
        ("D:stuff", "invalid_path"),
        ("a" * 256, "path_too_long"),
        ("/".join(["ab"] * 2100), "path_too_long"),
        ("", "invalid_path"),
        ("file://host/x", "invalid_path"),
        ("sub/.Env.local", "denied"),
        (".git/HEAD", "denied"),
        ("sub/.git", "denied"),
        ("deploy/cert.PEM", "denied"),
        ("id_ed25519.pub", "denied"),
        ("secrets/db.json", "denied"),
    ],
)
def test_bad_paths_are_refused_with_their_code(layout: dict[str, Path], raw: str, code: str) -> None:
    assert _code(_policy(layout), raw) == code


def test_anchored_deny_globs_only_match_from_the_root(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    assert policy.denied_by("secrets/a.json") == "secrets/*.json"
    assert policy.denied_by("docs/secrets/a.json") is None
    assert policy.denied_by("docs/secrets.md") is None


def test_symlinks_are_judged_by_where_they_lead(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    os.symlink(layout["out"], layout["rw"] / "escape")
    os.symlink(layout["rw"] / "sub", layout["rw"] / "inside")
    (layout["rw"] / ".env").write_text("x")
    os.symlink(layout["rw"] / ".env", layout["rw"] / "innocent")
    assert _code(policy, "escape/x") == "outside_roots"
    assert _code(policy, "innocent") == "denied"
    assert policy.resolve("inside/new.txt", policy.operator_scope).path == str(layout["rw"] / "sub" / "new.txt")


def test_follow_false_keeps_the_link_itself(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    os.symlink(layout["out"], layout["rw"] / "escape")
    resolved = policy.resolve("escape", policy.operator_scope, follow=False)
    assert resolved.path == str(layout["rw"] / "escape")


def test_the_most_specific_root_decides_the_mode(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    assert _code(policy, str(layout["ro"] / "x"), write=True) == "read_only"
    assert _code(policy, "vendor/lib.py", write=True) == "read_only"
    assert policy.resolve("sub/x", policy.operator_scope, write=True).root.path == str(layout["rw"])


def test_the_hidden_trash_is_refused_even_inside_a_root(tmp_path: Path) -> None:
    policy = Policy.build([(str(tmp_path), "rw")], DENY, hidden=[str(tmp_path / "trash")], error=Refused)
    assert _code(policy, "trash/x/item") == "denied"
    assert not policy.child_allowed("", "trash", str(tmp_path / "trash"))


def test_narrowing_intersects_and_never_widens(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    inner = policy.narrow([((layout["rw"] / "sub").as_uri(), None)])
    assert [(r.path, r.mode) for r in inner.roots] == [(str(layout["rw"] / "sub"), "rw")]
    above = policy.narrow([(layout["base"].as_uri(), None)])
    assert {r.path for r in above.roots} == {str(layout["rw"]), str(layout["ro"]), str(layout["rw"] / "vendor")}
    nothing = policy.narrow([(layout["out"].as_uri(), None), ("file://other/x", None), ("http://x/", None)])
    assert nothing.roots == policy.roots and not nothing.narrowed
    assert [note.status for note in nothing.client_roots] == ["ignored", "ignored", "ignored"]
    with pytest.raises(Refused):
        policy.resolve(str(layout["out"] / "x"), nothing)


def test_a_narrowed_root_inside_a_read_only_root_stays_read_only(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    scope = policy.narrow([((layout["rw"] / "vendor" / "pkg").as_uri(), None)])
    assert [(r.path, r.mode) for r in scope.roots] == [(str(layout["rw"] / "vendor" / "pkg"), "ro")]
    with pytest.raises(Refused) as refused:
        policy.resolve("x.py", scope, write=True)
    assert refused.value.code == "read_only"


def test_a_client_root_hidden_behind_a_symlink_is_resolved_before_it_narrows(layout: dict[str, Path]) -> None:
    policy = _policy(layout)
    os.symlink(layout["out"], layout["rw"] / "door")
    scope = policy.narrow([((layout["rw"] / "door").as_uri(), None)])
    assert not scope.narrowed
    assert all(root.path != str(layout["out"]) for root in scope.roots)


def test_a_policy_raises_the_error_class_it_was_given_and_the_hints_it_was_given(tmp_path: Path) -> None:
    plain = Policy.build([(str(tmp_path / "root"), "rw")], DENY, hidden=[str(tmp_path / "root" / "own")])
    with pytest.raises(CodedToolError) as refused:
        plain.resolve("/etc/passwd", plain.operator_scope)
    assert type(refused.value) is CodedToolError
    assert str(refused.value).endswith("relative paths resolve against " + os.path.realpath(tmp_path / "root") + ").")
    hinted = Policy.build(
        [(str(tmp_path / "root"), "ro")],
        DENY,
        hidden=[str(tmp_path / "root" / "own")],
        error=Refused,
        roots_hint="call `describe` to see them",
        hidden_hint="is the server's own; use another",
    )
    with pytest.raises(Refused) as refused_again:
        hinted.resolve("/etc/passwd", hinted.operator_scope)
    assert str(refused_again.value).endswith("; call `describe` to see them.")
    with pytest.raises(Refused) as hidden:
        hinted.resolve("own/x", hinted.operator_scope)
    assert str(hidden.value) == "denied: 'own/x' is the server's own; use another."
    with pytest.raises(Refused) as empty:
        hinted.resolve("", hinted.operator_scope)
    assert empty.value.code == "invalid_path"
