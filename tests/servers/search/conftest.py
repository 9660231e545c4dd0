"""Fixtures of the search tests: a PostgreSQL schema per session, dropped at the end; a corpus indexed once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from servers.search.backends.opensearch import engine as opensearch_engine
from servers.search.schema import IndexSchema
from servers.search.service import SearchService
from servers.search.settings import search_settings
from tests.servers.search.support import (
    CORPUS_FIELDS,
    OPENSEARCH_URL,
    CorpusDoc,
    drop_schema,
    make_corpus,
    session_schema,
    suite_settings,
)
from tests.support.opensearch_double import OpenSearchDouble, double_client

CORPUS_INDEX = "corpus"


@pytest.fixture(scope="session", autouse=True)
def opensearch_double() -> Iterator[OpenSearchDouble | None]:
    """Without ``OPENSEARCH_URL`` the opensearch backend's client talks to the double (one per session)."""
    if OPENSEARCH_URL:
        yield None
        return
    double = OpenSearchDouble()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(opensearch_engine, "client_for", double_client(double))
        yield double


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    schema = session_schema()
    yield schema
    anyio.run(drop_schema, schema)


@pytest.fixture(scope="session")
def corpus() -> list[CorpusDoc]:
    return make_corpus()


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory, pg_schema: str, corpus: list[CorpusDoc]) -> Path:
    """A data dir whose tantivy backend, and the session's PostgreSQL schema, hold the corpus as ``corpus``."""
    data_dir = tmp_path_factory.mktemp("search-corpus")

    async def build() -> None:
        service = SearchService(search_settings(suite_settings(data_dir, pg_schema)), data_dir)
        schema = IndexSchema.model_validate({"fields": CORPUS_FIELDS})
        documents = [(doc.id, doc.fields()) for doc in corpus]
        try:
            for backend in sorted(service.backends):
                await service.create_index(backend, CORPUS_INDEX, schema)
                await service.index_documents(backend, CORPUS_INDEX, documents)
        finally:
            await service.close_backends()

    anyio.run(build)
    return data_dir


@pytest.fixture
async def corpus_service(corpus_dir: Path, pg_schema: str) -> AsyncIterator[SearchService]:
    service = SearchService(search_settings(suite_settings(corpus_dir, pg_schema)), corpus_dir)
    try:
        yield service
    finally:
        await service.close_backends()


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["tantivy", "postgres", "opensearch"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fresh_schema() -> Iterator[str]:
    """A PostgreSQL schema of one test's own, dropped after it."""
    schema = session_schema()
    yield schema
    anyio.run(drop_schema, schema)
