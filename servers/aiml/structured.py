"""Answers checked against a JSON Schema: the JSON found in an answer, and what is wrong with it.

A model often wraps JSON in a code fence or a sentence; the first JSON value in the text (after a
fence is removed) is the one checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

from servers.aiml.errors import AimlError

FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """Raises: AimlError ``invalid_schema`` when ``schema`` is no valid JSON Schema."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise AimlError("invalid_schema", f"output_schema is not a valid JSON Schema: {exc.message}") from None
    return Draft202012Validator(schema)


def parse_answer(text: str) -> Any:
    """The first JSON value in ``text``; ``ValueError`` when there is none."""
    fenced = FENCE.search(text)
    body = fenced.group(1) if fenced else text
    decoder = json.JSONDecoder()
    for start, char in enumerate(body):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(body, start)
            except json.JSONDecodeError:
                continue
            return value
    stripped = body.strip()
    return json.loads(stripped)


def problem_of(text: str, validator: Draft202012Validator) -> tuple[Any, str | None]:
    """The parsed answer and what is wrong with it (``None``: it is valid)."""
    try:
        value = parse_answer(text)
    except ValueError:
        return None, "the answer is not JSON"
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return value, None
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return value, f"at {where}: {error.message}"
