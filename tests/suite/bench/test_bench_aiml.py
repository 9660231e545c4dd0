"""The aiml bench is registered, prints the spread of what it measured, and reads the load it ran under."""

from __future__ import annotations

import re

from suite.bench import BENCHES
from suite.bench.aiml import load, spread


def test_the_aiml_bench_is_registered_under_its_name() -> None:
    assert BENCHES["aiml"] == "suite.bench.aiml"


def test_spread_reports_the_median_p90_and_extremes() -> None:
    assert spread([5.0, 1.0, 3.0, 2.0, 4.0]) == "p50 3.000  p90 5.000  min 1.000  max 5.000"


def test_the_load_is_three_averages_or_unknown() -> None:
    assert load() == "unknown" or re.fullmatch(r"\d+\.\d+ \d+\.\d+ \d+\.\d+", load())
