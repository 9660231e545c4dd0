"""Whether the SDK's surface schema accepts the params of a ``tools/call``, without building its model each time.

The SDK checks a request's params by validating the whole JSON-RPC frame into the version's surface
model (``mcp_types.methods.validate_client_request``) and throwing the model away. For a 2026-07-28
request that builds the envelope's ``ClientCapabilities`` and ``Implementation`` models on every call;
it is the larger part of what that era costs more than the handshake era per call.

A client sends the same ``name`` and ``_meta`` on call after call; only ``arguments`` change. The
surface models carry no cross-field validator, and ``arguments`` is ``dict[str, Any] | None`` in every
version's schema (checked per version, :func:`_arguments_unconstrained`), so a dict of ``str`` keys
passes whatever its values. The verdict on params is then the verdict on the params without
``arguments``, and :class:`ParamsVerdicts` keeps that verdict keyed by the version and the compact JSON
text of those params: equal text is equal JSON values (``true``, ``1`` and ``1.0`` are three texts),
so the kept verdict is the one validation would give. Params that are not JSON values (not from
``json.loads``), or arguments with a key that is not exactly a ``str``, are validated in full.
"""

from __future__ import annotations

import json
import types
import typing
from functools import cache
from typing import Any

from mcp_types import methods as _methods
from pydantic import BaseModel, ValidationError

VERDICTS_KEPT = 256
"""How many distinct (version, params without arguments) verdicts are kept (then all are forgotten at once)."""

_KEY = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class ParamsVerdicts:
    """``tools/call`` params verdicts of the SDK's surface schemas, kept per distinct params without ``arguments``."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], bool] = {}

    def accepts(self, version: str, params: dict[str, Any]) -> bool:
        """Whether ``validate_client_request("tools/call", version, params)`` passes.

        ``ValueError`` (an unknown version) propagates, as the SDK's function raises it.
        """
        arguments = params.get("arguments")
        if not _arguments_unconstrained(version) or not (
            arguments is None or (type(arguments) is dict and all(type(key) is str for key in arguments))
        ):
            return _validates(version, params)
        rest = {key: value for key, value in params.items() if key != "arguments"}
        try:
            text = _KEY.encode(rest)
        except (TypeError, ValueError, RecursionError):
            return _validates(version, params)  # not JSON values: no text stands for them
        key = (version, text)
        verdict = self._kept.get(key)
        if verdict is None:
            verdict = _validates(version, rest)
            if len(self._kept) >= VERDICTS_KEPT:
                self._kept.clear()
            self._kept[key] = verdict
        return verdict


def _validates(version: str, params: dict[str, Any]) -> bool:
    try:
        _methods.validate_client_request("tools/call", version, params)
    except (KeyError, ValidationError):
        return False
    return True


@cache
def _arguments_unconstrained(version: str) -> bool:
    """Whether ``version``'s ``tools/call`` params take any dict of ``str`` keys as ``arguments`` (or none)."""
    frame = _methods.CLIENT_REQUESTS.get(("tools/call", version))
    if frame is None:
        return False
    params_model = frame.model_fields["params"].annotation
    if not (isinstance(params_model, type) and issubclass(params_model, BaseModel)):
        return False
    if any(getattr(params_model.__pydantic_decorators__, kind, None) for kind in _VALIDATOR_KINDS):
        return False  # a validator could tie arguments to another field
    field = params_model.model_fields.get("arguments")
    if field is None or field.metadata or field.is_required():
        return False
    annotation = field.annotation
    if typing.get_origin(annotation) not in (types.UnionType, typing.Union):
        return False
    return set(typing.get_args(annotation)) == {dict[str, Any], type(None)}


_VALIDATOR_KINDS = ("validators", "field_validators", "root_validators", "model_validators")
