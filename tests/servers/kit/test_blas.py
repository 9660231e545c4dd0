"""The process's BLAS threads: limited once by a server whose requests multiply matrices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers.kit import blas


@pytest.fixture
def restored() -> Iterator[None]:
    before = blas.threads()
    yield
    found = blas._library()
    if found is not None and before is not None:
        found[0](before)


def test_limiting_leaves_one_openblas_thread(restored: None) -> None:
    if not blas.limit_threads(1):
        pytest.skip("numpy is not built with a bundled OpenBLAS here")
    assert blas.threads() == 1


def test_a_limit_never_raises_the_count(restored: None) -> None:
    if not blas.limit_threads(1):
        pytest.skip("numpy is not built with a bundled OpenBLAS here")
    assert blas.limit_threads(4) and blas.threads() == 1


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        blas.limit_threads(0)
