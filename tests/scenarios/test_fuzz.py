"""A seeded fuzz run of malformed JSON-RPC against the gateway's HTTP app and the filesystem server's.

Every message must be answered within a bounded time, never with a 5xx, and in one of these ways:

- a JSON-RPC error object (``{"jsonrpc": "2.0", "id": ..., "error": {...}}``) — the message reached
  JSON-RPC handling (parse error -32700, invalid request -32600, method not found, invalid params...);
- a 4xx with a JSON body, where the HTTP transport decides before JSON-RPC: 401 (no credential),
  406 (Accept without application/json), 415 (Content-Type not JSON), 400 from the SDK's header checks
  (``mcp-protocol-version``/``mcp-method`` disagreeing with the body), 413/400 from the gateway's
  size and depth limits;
- a JSON-RPC result or 202 Accepted when a mutation happens to leave a valid request or notification.

The counts per kind are printed; afterwards each app still serves a valid call.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.support.security_fixtures import UPSTREAM_SECRET, secured_suite

pytestmark = pytest.mark.anyio

SEED = 20260728
MESSAGES = 2000
PER_MESSAGE_SECONDS = 10.0


def _bases(tool: str, path: str) -> list[dict[str, Any]]:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    return [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": {"path": path}, "_meta": meta},
        },
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}},
        {"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {"_meta": meta}},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "f", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]


WEIRD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    10**30,
    1.5e308,
    "",
    "\u202e\u0000\ufeff",
    "💥" * 50,
    [],
    {},
    [1, [2, [3]]],
    {"a": {"b": None}},
    "x" * 3000,
]
RAW_FRAGMENTS = [
    b"",
    b" ",
    b"null",
    b"[]",
    b"[[]]",
    b"{}",
    b"1e999999",
    b"NaN",
    b'{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\ud800"}}',
    b"\xff\xfe\x00garbage",
    b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}',
    b"[" * 70 + b"]" * 70,
    b'{"a":' * 40 + b"1" + b"}" * 40,
]


def mutate(rng: random.Random, base: dict[str, Any]) -> bytes:
    message = json.loads(json.dumps(base))
    choice = rng.randrange(11)
    if choice == 0:  # truncated JSON
        text = json.dumps(message).encode()
        return text[: rng.randrange(max(1, len(text)))]
    if choice == 1:
        message["id"] = rng.choice(WEIRD_VALUES)
    elif choice == 2:
        message["method"] = rng.choice([*WEIRD_VALUES, "tools/call ", "TOOLS/CALL", "rpc.discover", "../../etc"])
    elif choice == 3:
        message["params"] = rng.choice(WEIRD_VALUES)
    elif choice == 4:
        message.pop(rng.choice(list(message)), None)
    elif choice == 5:
        message["jsonrpc"] = rng.choice(["1.0", "2", 2.0, None, ""])
    elif choice == 6:  # batch arrays
        return json.dumps(rng.choice([[], [message], [message, message], [[message]], [1, "a"]])).encode()
    elif choice == 7 and isinstance(message.get("params"), dict):
        message["params"][rng.choice(["name", "arguments", "_meta", "cursor"])] = rng.choice(WEIRD_VALUES)
    elif choice == 8:
        return rng.choice(RAW_FRAGMENTS)
    elif choice == 9:  # random byte flips
        data = bytearray(json.dumps(message).encode())
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    else:
        message[rng.choice(["extra", "result", "error"])] = rng.choice(WEIRD_VALUES)
    return json.dumps(message, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def headers_for(rng: random.Random, auth: dict[str, str]) -> dict[str, Any]:
    headers: dict[str, Any] = dict(auth)
    headers["accept"] = rng.choice(
        ["application/json, text/event-stream"] * 6 + ["application/json", "text/html", "*/*", ""]
    )
    headers["content-type"] = rng.choice(["application/json"] * 6 + ["text/plain", "application/xml", ""])
    version = rng.choice(["2026-07-28"] * 3 + ["2025-11-25", "", "1999-01-01", b"\xff\xfe \xf0\x9f\x92\xa5"])
    if version:
        headers["mcp-protocol-version"] = version
    if rng.random() < 0.3:
        headers["mcp-method"] = rng.choice(["tools/call", "tools/list", "ping", "nope"])
    if rng.random() < 0.05:
        headers = {k: v for k, v in headers.items() if k != "authorization"}
    return {k: v for k, v in headers.items() if v}


def classify(response: httpx.Response) -> str:
    """The kind of answer, or ``bad:...`` when it breaks the rules."""
    status = response.status_code
    if status >= 500:
        return f"bad:{status}"
    if status == 202 and not response.content.strip():
        return "202 accepted"
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    try:
        body = json.loads(text)
    except ValueError:
        return f"bad:{status} non-JSON body"
    if isinstance(body, dict) and body.get("jsonrpc") == "2.0" and isinstance(body.get("error"), dict):
        return f"jsonrpc error {body['error'].get('code')}"
    if isinstance(body, dict) and body.get("jsonrpc") == "2.0" and "result" in body:
        return "jsonrpc result" if status == 200 else f"bad:{status} with a result"
    if 400 <= status < 500 and isinstance(body, dict | list):
        return f"http {status} json"
    return f"bad:{status} {text[:80]!r}"


async def fuzz(url: str, auth: dict[str, str], tool: str, path: str, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    bases = _bases(tool, path)
    kinds: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=PER_MESSAGE_SECONDS) as http:
        for _ in range(MESSAGES):
            body = mutate(rng, rng.choice(bases))
            with anyio.fail_after(PER_MESSAGE_SECONDS):
                response = await http.post(url, content=body, headers=headers_for(rng, auth))
            kind = classify(response)
            kinds[kind] += 1
            assert not kind.startswith("bad:"), f"{kind} for {body[:200]!r}"
    return kinds


async def still_serves(url: str, auth: dict[str, str], tool: str, path: str) -> dict[str, Any]:
    request = _bases(tool, path)[0]
    headers = {
        **auth,
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json=request, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_two_thousand_malformed_messages_against_the_gateway_and_the_filesystem_server(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("fine")
    target = str(tmp_path / "f.txt")
    async with secured_suite(tmp_path) as suite:
        auth = suite.bearer("reader")
        gateway_kinds = await fuzz(f"{suite.gateway}/mcp", auth, "filesystem_read_text_file", target, SEED)
        server_auth = {"x-mcp-suite-upstream": UPSTREAM_SECRET}
        server_kinds = await fuzz(f"{suite.filesystem}/mcp", server_auth, "read_text_file", target, SEED + 1)
        after_gateway = await still_serves(f"{suite.gateway}/mcp", auth, "filesystem_read_text_file", target)
        after_server = await still_serves(f"{suite.filesystem}/mcp", server_auth, "read_text_file", target)
    print("\ngateway:", dict(gateway_kinds.most_common()), "\nserver:", dict(server_kinds.most_common()))
    assert sum(gateway_kinds.values()) == MESSAGES and sum(server_kinds.values()) == MESSAGES
    assert sum(n for k, n in gateway_kinds.items() if k.startswith("jsonrpc error")) > MESSAGES // 4
    assert sum(n for k, n in server_kinds.items() if k.startswith("jsonrpc error")) > MESSAGES // 4
    assert not after_gateway["result"].get("isError")
    assert not after_server["result"].get("isError")
