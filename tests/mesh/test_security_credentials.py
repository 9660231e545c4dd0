"""API keys stored hashed, the upstream secret, redaction and the JSON depth check."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from mesh.security.api_keys import ApiKeyVerifier, hash_api_key, main, new_api_key
from mesh.security.bind import refuse_unprotected_bind
from mesh.security.json_limits import json_depth_exceeds
from mesh.security.redaction import RedactionFilter, digest_arguments, redact_text
from mesh.security.settings import ApiKeyEntry
from mesh.security.upstream_auth import UPSTREAM_HEADER, UpstreamSecretMiddleware

pytestmark = pytest.mark.anyio


def test_an_api_key_verifies_by_its_hash_and_gives_its_name_and_roles() -> None:
    key = new_api_key()
    verifier = ApiKeyVerifier([ApiKeyEntry(name="ci", sha256=SecretStr(hash_api_key(key)), roles=("reader",))])
    principal = verifier.verify(key)
    assert principal is not None and (principal.subject, principal.roles, principal.method) == (
        "ci",
        ("reader",),
        "api_key",
    )
    assert verifier.verify(key + "x") is None
    assert verifier.verify("") is None
    assert verifier.verify("k" * 10_000) is None


def test_the_config_refuses_a_raw_key_where_the_hash_belongs() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        ApiKeyEntry(name="ci", sha256=SecretStr("mcps_not-a-hash"))


def test_the_hash_helper_prints_a_new_key_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = lines[0].split()[-1]
    assert lines[1].split()[-1] == hash_api_key(key)


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(b'{"a": "[[[[[[[[[[[[[[[[[[[["}', 3)
    assert json_depth_exceeds(b"[" * 65 + b"]" * 65, 64)
    assert not json_depth_exceeds(b"[" * 64 + b"]" * 64, 64)
    assert json_depth_exceeds(b'{"a":{"b":{"c":{"d":1}}}}', 3)
    assert json_depth_exceeds(b"[" * 1_000_000, 64)  # no parser recursion to exhaust


def test_tokens_keys_and_url_passwords_are_redacted() -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
    text = f"Authorization: Bearer {jwt_like} key mcps_{'a' * 40} postgresql://app:hunter2@db:5432/x"
    cleaned = redact_text(text)
    assert jwt_like not in cleaned and "hunter2" not in cleaned and "a" * 40 not in cleaned
    assert "postgresql://app:***@db" in cleaned


def test_the_log_filter_redacts_messages_and_secret_named_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "got Bearer abcdefghijklmnop", (), None)
    record.__dict__.update(api_key="mcps_secretsecretsecretsecret", detail={"password": "p", "ok": 1})
    RedactionFilter().filter(record)
    assert "abcdefghijklmnop" not in record.getMessage()
    assert record.__dict__["api_key"] == "***"
    assert record.__dict__["detail"] == {"password": "***", "ok": 1}


def test_the_argument_digest_is_canonical_and_hides_the_values() -> None:
    a = digest_arguments({"path": "/secret/plan.txt", "n": 1})
    b = digest_arguments({"n": 1, "path": "/secret/plan.txt"})
    assert a == b and len(a) == 64 and "secret" not in a


def test_binding_beyond_loopback_without_protection_is_refused_unless_insecure() -> None:
    assert refuse_unprotected_bind("gateway", "127.0.0.1", protected=False, insecure=False, how="x") is None
    assert refuse_unprotected_bind("gateway", "0.0.0.0", protected=True, insecure=False, how="x") is None
    assert refuse_unprotected_bind("gateway", "0.0.0.0", protected=False, insecure=True, how="x") is None
    message = refuse_unprotected_bind("gateway", "0.0.0.0", protected=False, insecure=False, how="auth.jwt")
    assert message is not None and "--insecure" in message and "auth.jwt" in message


async def test_a_server_with_an_upstream_secret_refuses_callers_without_it_but_health_stays_open() -> None:
    async def ok(_request: object) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = UpstreamSecretMiddleware(
        Starlette(routes=[Route("/mcp", ok, methods=["POST"]), Route("/health", ok)]), "u" * 32
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/mcp", json={})).status_code == 401
        wrong = await http.post("/mcp", json={}, headers={UPSTREAM_HEADER: "u" * 31 + "v"})
        assert wrong.status_code == 401 and json.loads(wrong.content)["error"]["code"] == "unauthorized"
        assert (await http.post("/mcp", json={}, headers={UPSTREAM_HEADER: "u" * 32})).status_code == 200
        assert (await http.get("/health")).status_code == 200
