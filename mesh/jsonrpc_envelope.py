"""Whether a request body is one JSON-RPC message, told in one readable error when it is not.

The SDK validates a body against the union of every JSON-RPC message model and answers a shape error
with each model's pydantic errors (four for ``[1,2,3]``). The gateway and every server check the
envelope first with :func:`envelope_problem` and answer one error, per the JSON-RPC spec: ``-32700``
Parse error for a body that is not JSON, ``-32600`` Invalid Request for JSON that is not a message.
What is inside ``params`` stays the SDK's to judge. :func:`too_large` is the one answer to a body over
a limit, naming the setting that raises it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["INVALID_REQUEST", "PARSE_ERROR", "RpcProblem", "envelope_problem", "parse_message", "too_large"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


@dataclass(frozen=True)
class RpcProblem:
    """A refusal as a JSON-RPC error: its HTTP status, code and message (and the request's id, when known)."""

    status: int
    code: int
    message: str
    id: int | str | None = None

    def body(self) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": self.id, "error": {"code": self.code, "message": self.message}}

    def encoded(self) -> bytes:
        return json.dumps(self.body(), separators=(",", ":")).encode()


def too_large(limit: int, setting: str, what: str = "the request body") -> RpcProblem:
    """The error for a body over ``limit`` bytes: stable code ``too_large`` first, then the setting to raise."""
    message = f"too_large: {what} is over the limit of {limit} bytes; raise {setting} to accept more"
    return RpcProblem(413, INVALID_REQUEST, message)


def parse_message(body: bytes) -> tuple[Any, RpcProblem | None]:
    """The parsed body and, if it is not one JSON-RPC message, the problem to answer instead."""
    try:
        document = json.loads(body)
    except RecursionError:
        return None, RpcProblem(400, PARSE_ERROR, "Parse error: the body nests too deeply to read")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, RpcProblem(400, PARSE_ERROR, f"Parse error: the body is not valid JSON ({exc})")
    return document, envelope_problem(document)


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _invalid(message: str, request_id: Any = None) -> RpcProblem:
    known = request_id if isinstance(request_id, int | str) and not isinstance(request_id, bool) else None
    return RpcProblem(400, INVALID_REQUEST, f"Invalid Request: {message}", known)


def envelope_problem(document: Any) -> RpcProblem | None:
    """None if ``document`` is shaped as one JSON-RPC 2.0 request, notification or response, else why not."""
    if isinstance(document, list):
        return _invalid("a JSON array (a batch) is not accepted; send one JSON-RPC message object per request")
    if not isinstance(document, dict):
        return _invalid(f"the body is {json_type(document)}; a JSON-RPC message is an object")
    request_id = document.get("id")
    if document.get("jsonrpc") != "2.0":
        return _invalid('"jsonrpc" must be "2.0"', request_id)
    if "id" in document and (isinstance(request_id, bool) or not isinstance(request_id, int | str)):
        return _invalid(f'"id" must be a string or an integer, not {json_type(request_id)}')
    if "method" in document:
        method = document["method"]
        if not isinstance(method, str) or not method:
            return _invalid(f'"method" must be a non-empty string, not {json_type(method)}', request_id)
        if "params" in document and not isinstance(document["params"], dict):
            return _invalid(f'"params" must be an object, not {json_type(document["params"])}', request_id)
        return None
    if "id" not in document:
        return _invalid('a message needs "method" (a request or notification) or "id" (a response)')
    has_result, has_error = "result" in document, "error" in document
    if has_result == has_error:
        return _invalid('a response carries exactly one of "result" and "error"; a request needs "method"', request_id)
    error = document.get("error")
    if has_error and not (
        isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(error.get("message"), str)
    ):
        return _invalid('"error" must be an object with an integer "code" and a string "message"', request_id)
    return None
