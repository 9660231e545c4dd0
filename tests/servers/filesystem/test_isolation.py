"""Regex searches run in worker processes: a search's deadline counts from a started worker, not from the
(about a second of) worker start-up, and workers that cannot start are reported as such."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers.filesystem import isolation
from servers.filesystem.errors import FsError


@pytest.fixture
def cold() -> Iterator[None]:
    """No worker pool: the next search starts one."""
    isolation.shutdown()
    yield
    isolation.shutdown()


def test_the_first_search_on_a_new_pool_gets_its_whole_deadline(cold: None) -> None:
    # A new worker imports this package (and the SDK) before it can run anything: about a second here,
    # far past this deadline, which the call itself (well under a millisecond once started) meets.
    assert isolation.run_isolated(isolation._started, (), {}, timeout=0.25) is True


def test_workers_that_do_not_start_in_time_are_reported_and_the_next_search_starts_new_ones(
    cold: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolation, "STARTUP_TIMEOUT", 0.001)
    with pytest.raises(FsError) as failure:
        isolation.run_isolated(isolation._started, (), {}, timeout=5.0)
    assert failure.value.code == "unavailable" and "did not start" in str(failure.value)
    assert isolation._pool is None  # the half-started pool was not kept
    monkeypatch.setattr(isolation, "STARTUP_TIMEOUT", 60.0)
    assert isolation.run_isolated(isolation._started, (), {}, timeout=5.0) is True
