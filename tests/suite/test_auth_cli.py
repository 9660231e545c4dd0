"""``mcp-suite token`` and the loopback-only default of ``gateway`` and ``serve``."""

from __future__ import annotations

import jwt
import pytest

from suite.cli import main

SECRET = "c" * 40


def test_token_mints_an_hs256_token_with_the_configured_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_SUITE_AUTH__JWT__SECRET", SECRET)
    monkeypatch.setenv("MCP_SUITE_AUTH__JWT__AUDIENCE", "mcp-suite")
    assert main(["token", "--subject", "dev", "--role", "reader", "--role", "writer", "--ttl", "60"]) == 0
    out = capsys.readouterr()
    claims = jwt.decode(out.out.strip(), SECRET, algorithms=["HS256"], audience="mcp-suite")
    assert claims["sub"] == "dev" and claims["roles"] == ["reader", "writer"]
    assert claims["exp"] - claims["iat"] == 60
    assert "no role named reader, writer" in out.err


def test_token_refuses_clearly_without_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--subject", "dev", "--role", "reader"]) == 2
    err = capsys.readouterr().err
    assert "no auth.jwt.secret is configured" in err and "Traceback" not in err


def test_the_gateway_refuses_a_public_bind_without_auth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--insecure" in capsys.readouterr().err


def test_a_server_refuses_a_public_bind_without_the_upstream_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "filesystem", "--transport", "http", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "auth.upstream_secret" in err and "--insecure" in err
