"""Where namespaces cannot be made, the network test is skipped with the reason, and fails under CI."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support import netns


def test_a_machine_without_root_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="need root"):
        netns.require_netns()


def test_under_ci_a_machine_without_namespaces_fails_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"must run in CI: `ip` .* not installed"):
        netns.require_netns()
