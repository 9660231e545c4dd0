import json
from datetime import date

from pydantic import BaseModel

from servers.kit.budgets import OutputBudget, capped, json_size, model_size


class _Item(BaseModel):
    name: str
    score: float
    tags: dict[str, int | str]
    day: date


def test_json_size_counts_compact_utf8_bytes() -> None:
    assert json_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert json_size("é") == 4  # two quotes and two bytes of UTF-8


def test_a_models_size_is_the_json_size_of_its_json_dump() -> None:
    item = _Item(name='café \u2603 "quoted"', score=0.1 + 0.2, tags={"n": 3, "s": "ü"}, day=date(2026, 12, 4))
    assert model_size(item) == json_size(item.model_dump(mode="json"))


def test_a_string_is_sized_as_json_writes_it_escapes_included() -> None:
    for text in ['say "hi"', "back\\slash", "tab\tand\x01", "line\u2028separator", "emoji \U0001f600", ""]:
        assert json_size(text) == len(json.dumps(text, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert json_size('a"b') == 6


def test_a_call_gets_what_it_asked_for_within_the_operators_cap() -> None:
    assert capped(None, 64, 256) == 64
    assert capped(100, 64, 256) == 100
    assert capped(1000, 64, 256) == 256


def test_a_budget_stops_at_its_item_count() -> None:
    budget = OutputBudget(max_items=2, max_bytes=1000)
    assert [budget.admit(10) for _ in range(3)] == [True, True, False]
    assert (budget.count, budget.stopped) == (2, "max_rows")


def test_a_budget_stops_at_its_bytes_counting_the_brackets() -> None:
    budget = OutputBudget(max_items=100, max_bytes=30)
    assert budget.admit(20) is True
    assert budget.admit(9) is False
    assert (budget.count, budget.used, budget.stopped) == (1, 22, "max_bytes")
