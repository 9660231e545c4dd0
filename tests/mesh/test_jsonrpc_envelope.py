"""A body that is not one JSON-RPC message is told so in one readable error; a message passes."""

from __future__ import annotations

import pytest

from mesh.jsonrpc_envelope import INVALID_REQUEST, PARSE_ERROR, parse_message, too_large


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"{not json", PARSE_ERROR, "not valid JSON"),
        (b"\xff\xfe", PARSE_ERROR, "not valid JSON"),
        (b"", PARSE_ERROR, "not valid JSON"),
        (b"[1,2,3]", INVALID_REQUEST, "batch"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', INVALID_REQUEST, "batch"),
        (b'"x"', INVALID_REQUEST, "a string"),
        (b"42", INVALID_REQUEST, "a number"),
        (b"{}", INVALID_REQUEST, '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', INVALID_REQUEST, '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"2.0"}', INVALID_REQUEST, 'needs "method"'),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', INVALID_REQUEST, '"method" must be a non-empty string'),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', INVALID_REQUEST, '"id" must be a string or an integer'),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', INVALID_REQUEST, '"id" must be a string or an integer'),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', INVALID_REQUEST, '"params" must be an object'),
        (b'{"jsonrpc":"2.0","id":1}', INVALID_REQUEST, 'exactly one of "result" and "error"'),
        (b'{"jsonrpc":"2.0","id":1,"error":"bad"}', INVALID_REQUEST, '"error" must be an object'),
    ],
)
def test_a_body_that_is_no_json_rpc_message_gets_one_error_saying_why(body: bytes, code: int, says: str) -> None:
    _, problem = parse_message(body)
    assert problem is not None
    assert (problem.status, problem.code) == (400, code)
    assert says in problem.message
    assert problem.message.startswith("Parse error: " if code == PARSE_ERROR else "Invalid Request: ")
    assert problem.body()["error"] == {"code": code, "message": problem.message}


def test_the_error_keeps_the_request_id_when_the_request_has_a_usable_one() -> None:
    _, problem = parse_message(b'{"jsonrpc":"2.0","id":"r1","method":7}')
    assert problem is not None and problem.body()["id"] == "r1"


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
        b'{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}',
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","id":3,"result":{}}',
        b'{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}',
    ],
)
def test_requests_notifications_and_responses_pass_with_their_parsed_document(body: bytes) -> None:
    document, problem = parse_message(body)
    assert problem is None
    assert document["jsonrpc"] == "2.0"


def test_too_large_starts_with_its_code_and_names_the_setting_to_raise() -> None:
    problem = too_large(1024, "gateway.max_request_bytes")
    assert problem.status == 413
    assert problem.message.startswith("too_large: ")
    assert "1024 bytes" in problem.message and "raise gateway.max_request_bytes" in problem.message
