"""``mcp-suite bench vectorstore --quick``: it runs end to end and prints every figure's line.

No figure is checked (on a shared machine they mean nothing in a test), only that each line is
there for every backend and mode, that no call failed, and that chroma-mcp got its line either way.
"""

from __future__ import annotations

import re

import pytest

from suite.bench import BENCHES
from suite.bench.vectorstore import BACKENDS, MODES, run
from suite.bench.vectorstore_direct import documents, queries
from suite.cli import build_parser


def test_the_cli_takes_the_bench_by_name_and_a_quick_size() -> None:
    args = build_parser().parse_args(["bench", "vectorstore", "--quick"])
    assert (args.name, args.quick) == ("vectorstore", True)
    assert BENCHES["vectorstore"] == "suite.bench.vectorstore"


def test_each_run_gets_distinct_documents_of_its_own() -> None:
    first, second = documents(500, 0), documents(500, 1)
    assert len(set(first)) == 500 and not set(first) & set(second)
    assert documents(50, 3) == documents(50, 3)  # seeded: the same run makes the same texts
    assert len(queries(20, 0)) == 20


def test_the_quick_bench_prints_every_figure_line(capsys: pytest.CaptureFixture[str]) -> None:
    run(0, quick=True)
    out = capsys.readouterr().out
    for backend in BACKENDS:
        assert re.search(rf"^ingest {backend} .* docs/s, direct .* docs/s, ratio \d", out, re.M), out
        for mode in MODES:
            assert re.search(rf"^query  {backend} +{mode} +n=\d+ .* p50 .* p99 .* errors 0 ", out, re.M), out
        assert re.search(rf"^  {backend} dense +added p50 -?\d.* no-op floor p50 over the pacer's", out, re.M), out
        for series in ("server", "direct", "floor", "pacer"):
            assert len(re.findall(rf"^  {backend} dense {series} +n=\d+ .* errors 0$", out, re.M)) == 2, out
        assert re.search(rf"^memory {backend} +server RSS with the embedder warm: \d+ MB", out, re.M), out
    assert re.search(r"^(query  chroma-mcp \(stdio\) .* p50 .* p99|chroma-mcp: not run: .+)", out, re.M), out
