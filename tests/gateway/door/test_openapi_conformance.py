"""The gateway's /openapi.json against the live gateway: schemathesis, every check, finds nothing.

schemathesis reads the document, sends bodies the schemas allow (each must be taken) and bodies they
forbid (each must be refused), and checks every answer's status, content type, headers and body
against what the document says. Derandomised with a bounded number of examples, so a run is the same
every time and stays well under a minute.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from gateway.door.openapi import openapi_document
from mesh.config import Settings
from mesh.security.api_keys import hash_api_key
from tests.support.gateway_fixtures import gateway_http

pytestmark = pytest.mark.anyio

API_KEY = "openapi-conformance-key"


def schemathesis_command(base: str, *extra: str, examples: int = 20) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--generation-deterministic",
        "--max-examples",
        str(examples),
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--no-color",
        *extra,
    ]


async def run_schemathesis(base: str, cwd: Path, *extra: str, examples: int = 20) -> tuple[int, str]:
    with anyio.fail_after(300):  # a hang guard, not a speed check: a loaded machine runs it slower
        done = await anyio.run_process(schemathesis_command(base, *extra, examples=examples), cwd=cwd, check=False)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


async def test_schemathesis_with_every_check_finds_no_disagreement_between_openapi_json_and_the_gateway(
    tmp_path: Path,
) -> None:
    async with gateway_http() as (base, _gateway):
        code, output = await run_schemathesis(base, tmp_path)
    assert code == 0, output
    assert "11 selected / 11 total" in output, output  # every operation of the document was tested


async def test_schemathesis_finds_no_disagreement_when_the_gateway_asks_for_credentials(tmp_path: Path) -> None:
    suite = Settings.model_validate({"auth": {"api_keys": [{"name": "ci", "sha256": hash_api_key(API_KEY)}]}})
    async with gateway_http(suite=suite) as (base, _gateway):
        # The key as a bearer credential: schemathesis then tries each scheme with a bad credential
        # of its own (a bad X-API-Key is checked before Authorization, so it is refused).
        code, output = await run_schemathesis(
            base, tmp_path, "--header", f"Authorization: Bearer {API_KEY}", examples=5
        )
    assert code == 0, output
    assert "11 selected / 11 total" in output, output


def test_the_document_names_credentials_only_when_the_gateway_asks_for_them() -> None:
    open_door = openapi_document(auth_required=False)
    guarded = openapi_document(auth_required=True)
    assert "securitySchemes" not in open_door["components"]
    assert "401" not in open_door["paths"]["/mcp/v1/tools/call"]["post"]["responses"]
    assert set(guarded["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert "401" in guarded["paths"]["/v1/instances"]["get"]["responses"]
    assert "security" not in guarded["paths"]["/health"]["get"]
