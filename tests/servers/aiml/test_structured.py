"""Answers checked against a JSON Schema."""

from __future__ import annotations

import pytest

from servers.aiml.errors import AimlError
from servers.aiml.structured import problem_of, validator_for

SCHEMA = {"type": "object", "required": ["sentiment"], "properties": {"sentiment": {"enum": ["good", "bad"]}}}


def test_json_inside_a_code_fence_or_a_sentence_is_found_and_checked() -> None:
    validator = validator_for(SCHEMA)
    assert problem_of('Sure:\n```json\n{"sentiment": "good"}\n```', validator) == ({"sentiment": "good"}, None)
    assert problem_of('The answer is {"sentiment": "bad"}.', validator) == ({"sentiment": "bad"}, None)


def test_a_mismatch_says_where_and_why() -> None:
    value, problem = problem_of('{"sentiment": "meh"}', validator_for(SCHEMA))
    assert value == {"sentiment": "meh"} and problem is not None and "sentiment" in problem


def test_text_without_json_is_a_problem() -> None:
    assert problem_of("no json here", validator_for(SCHEMA)) == (None, "the answer is not JSON")


def test_an_invalid_schema_is_refused_before_any_model_runs() -> None:
    with pytest.raises(AimlError) as caught:
        validator_for({"type": "no-such-type"})
    assert caught.value.code == "invalid_schema"
