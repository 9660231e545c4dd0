"""The database bench reports how much CPU time the hypervisor stole during each phase (Linux ``/proc/stat``)."""

from __future__ import annotations

from suite.bench.database import host_cpu, steal_percent


def test_host_cpu_reads_stolen_and_all_ticks_that_only_grow() -> None:
    stolen, total = host_cpu()
    busy = sum(i * i for i in range(200_000))  # some CPU time passes between the readings
    later_stolen, later_total = host_cpu()
    assert busy > 0 and 0 <= stolen <= total and later_stolen >= stolen and later_total >= total


def test_steal_percent_is_the_stolen_share_of_the_span() -> None:
    assert steal_percent((10, 1000), (40, 2000)) == 3.0
    assert steal_percent((10, 1000), (10, 1500)) == 0.0


def test_steal_percent_of_an_empty_span_is_zero_not_a_division_error() -> None:
    assert steal_percent((5, 700), (5, 700)) == 0.0
