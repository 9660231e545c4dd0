"""The gateway bench's memory check: it measures only once every instance it started serves."""

from __future__ import annotations

import pytest

from suite.bench.gateway import InstancesMissingError, _wait_serving


def test_the_memory_check_fails_loudly_naming_how_many_instances_came_up() -> None:
    asked: list[str] = []

    def three_serving(url: str) -> int:
        asked.append(url)
        return 3

    with pytest.raises(InstancesMissingError, match=r"only 3 of 20 upstream instances"):
        _wait_serving("http://gw/v1/instances", 20, timeout=0.05, poll=0.01, serving=three_serving)
    assert asked and set(asked) == {"http://gw/v1/instances"}


def test_the_memory_check_goes_on_once_every_instance_serves() -> None:
    counts = iter([0, 7, 20])

    _wait_serving("http://gw/v1/instances", 20, timeout=30, poll=0.0, serving=lambda _url: next(counts))
    assert next(counts, None) is None


def test_a_gateway_that_does_not_answer_counts_as_no_instance_up() -> None:
    with pytest.raises(InstancesMissingError, match=r"only 0 of 2 upstream"):
        _wait_serving("http://127.0.0.1:9/v1/instances", 2, timeout=0.05, poll=0.01)
