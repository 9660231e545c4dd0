"""The kept params verdicts of ``tools/call`` give the SDK's own verdict, call after call."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_types import methods as _methods
from pydantic import ValidationError

from servers.runtime import tool_call_params
from servers.runtime.tool_call_params import ParamsVerdicts

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def sdk_accepts(version: str, params: dict[str, Any]) -> bool:
    try:
        _methods.validate_client_request("tools/call", version, params)
    except (KeyError, ValidationError):
        return False
    return True


def modern(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "lookup", "arguments": {"key": 1}, "_meta": dict(META)}
    params.update(changes)
    return params


VARIANTS: list[tuple[str, dict[str, Any]]] = [
    (MODERN, modern()),
    (MODERN, modern(arguments={"key": "other", "more": [1, 2.5, None, True]})),
    (MODERN, modern(arguments={})),
    (MODERN, {"name": "lookup", "_meta": dict(META)}),
    (MODERN, modern(arguments=None)),
    (MODERN, modern(name=1)),
    (MODERN, modern(name=True)),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/clientCapabilities": []})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/clientCapabilities": {"roots": 1}})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/clientCapabilities": {"roots": True}})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": 1}})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": 1.0}})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t"}})),
    (MODERN, modern(_meta={key: value for key, value in META.items() if "Capabilities" not in key})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/logLevel": "loud"})),
    (MODERN, modern(_meta={**META, "io.modelcontextprotocol/logLevel": "debug"})),
    (MODERN, modern(inputResponses="not a map")),
    (MODERN, modern(arguments=[1, 2])),
    (MODERN, modern(arguments="text")),
    (HANDSHAKE, {"name": "lookup", "arguments": {"key": 1}}),
    (HANDSHAKE, {"name": "lookup"}),
    (HANDSHAKE, {"name": 2, "arguments": {"key": 1}}),
    (HANDSHAKE, {"name": "lookup", "_meta": {"progressToken": 3}}),
    (HANDSHAKE, {"name": "lookup", "_meta": {"progressToken": 3.5}}),
    (HANDSHAKE, {"name": "lookup", "task": {"ttl": "soon"}}),
    (HANDSHAKE, modern()),
]


@pytest.mark.parametrize(("version", "params"), VARIANTS)
def test_the_verdict_on_params_is_the_sdks_first_time_and_every_time_after(
    version: str, params: dict[str, Any]
) -> None:
    verdicts = ParamsVerdicts()
    expected = sdk_accepts(version, params)
    assert [verdicts.accepts(version, params) for _ in range(3)] == [expected] * 3


def test_one_set_of_verdicts_gives_each_of_many_params_the_sdks_verdict_in_any_order() -> None:
    verdicts = ParamsVerdicts()
    expected = [sdk_accepts(version, params) for version, params in VARIANTS]
    assert True in expected and False in expected  # both kinds are kept side by side
    for _ in range(2):
        assert [verdicts.accepts(version, params) for version, params in VARIANTS] == expected
        assert [verdicts.accepts(version, params) for version, params in reversed(VARIANTS)] == expected[::-1]


def test_an_accepted_envelope_does_not_vouch_for_one_that_differs_only_in_a_value_type() -> None:
    verdicts = ParamsVerdicts()
    good = modern(_meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}})
    bad = modern(_meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": 1}})
    assert verdicts.accepts(MODERN, good)
    assert not sdk_accepts(MODERN, bad)
    assert not verdicts.accepts(MODERN, bad)


def test_arguments_with_a_key_that_is_not_text_are_validated_in_full() -> None:
    verdicts = ParamsVerdicts()
    assert verdicts.accepts(MODERN, modern())
    odd = modern(arguments={1: "one"})
    assert verdicts.accepts(MODERN, odd) == sdk_accepts(MODERN, odd)


def test_params_that_are_not_json_values_are_validated_in_full() -> None:
    verdicts = ParamsVerdicts()
    odd = modern(_meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": b"1"}})
    assert verdicts.accepts(MODERN, odd) == sdk_accepts(MODERN, odd)


def test_an_unknown_version_raises_as_the_sdk_does() -> None:
    with pytest.raises(ValueError, match="known protocol version"):
        ParamsVerdicts().accepts("1999-01-01", modern())


def test_the_verdicts_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool_call_params, "VERDICTS_KEPT", 4)
    verdicts = ParamsVerdicts()
    for index in range(10):
        assert verdicts.accepts(MODERN, modern(name=f"tool{index}"))
    assert len(verdicts._kept) <= 4


@pytest.mark.parametrize("version", sorted({v for method, v in _methods.CLIENT_REQUESTS if method == "tools/call"}))
def test_every_versions_schema_takes_any_text_keyed_arguments_so_its_verdicts_are_kept(version: str) -> None:
    assert tool_call_params._arguments_unconstrained(version)
