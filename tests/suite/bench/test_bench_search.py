"""``mcp-suite bench search --quick``: it runs end to end and prints every figure's line.

No figure is checked (on a shared machine they mean nothing in a test), only that each line is
there for every backend, that no call failed, and that the direct side answers the same queries.
"""

from __future__ import annotations

import re

import pytest

from suite.bench import BENCHES
from suite.bench.search import run
from suite.bench.search_corpus import documents, query_texts
from suite.cli import build_parser


def test_the_cli_takes_the_bench_by_name_and_a_quick_size() -> None:
    args = build_parser().parse_args(["bench", "search", "--quick"])
    assert (args.name, args.quick) == ("search", True)
    assert BENCHES["search"] == "suite.bench.search"


def test_the_corpus_and_queries_are_seeded() -> None:
    first, second = documents(300, 1), documents(300, 2)
    assert len({d["id"] for d in first}) == 300 and not {d["id"] for d in first} & {d["id"] for d in second}
    assert documents(20, 3) == documents(20, 3) and query_texts(20, 4) == query_texts(20, 4)


def test_the_quick_bench_prints_every_figure_line(capsys: pytest.CaptureFixture[str]) -> None:
    run(0, quick=True)
    out = capsys.readouterr().out
    for backend in ("tantivy", "postgres"):
        assert re.search(rf"^  {backend} +index +\d+ docs/s", out, re.M), out
        for series in ("server", "direct", "floor", "pacer"):
            assert len(re.findall(rf"^  {backend} {series} +n=\d+ .* p50 .* errors 0$", out, re.M)) == 2, out
        assert re.search(rf"^  {backend} +added p50 -?\d.* no-op floor p50 over the pacer's -?\d", out, re.M), out
        assert re.search(rf"^  {backend} +cpu per call ms: server process [\d.]+, [\d.]+; direct side [\d.]", out, re.M)
    assert re.search(
        r"^  tantivy +index cpu in one process: tantivy API [\d.]+ us/doc, service [\d.]+ us/doc", out, re.M
    )
    assert re.search(r"^  index_directory of the repository: \d+ files in .* second run \d", out, re.M), out
    assert re.search(r"^  load average before: \d", out, re.M), out
