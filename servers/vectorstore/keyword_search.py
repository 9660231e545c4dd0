"""Keyword (BM25) search of one collection, with the portable filter applied as a set of allowed ids."""

from __future__ import annotations

from servers.vectorstore.backends import VectorBackend
from servers.vectorstore.filters import Filter
from servers.vectorstore.keyword_index import KeywordIndexCache
from servers.vectorstore.record import CollectionRecord

SETTING = "vectorstore.keyword_index_max_documents"


class KeywordSearch:
    """The server's keyword indexes (cached per collection revision) and the filter step before them."""

    def __init__(self, max_documents: int) -> None:
        self.cache = KeywordIndexCache(max_documents, setting=SETTING)

    async def search(
        self, engine: VectorBackend, name: str, record: CollectionRecord, text: str, k: int, where: Filter | None
    ) -> list[tuple[str, float]]:
        allowed: set[str] | None = None
        if where is not None:
            limit = self.cache.max_documents
            matching = await engine.get(name, None, where, 0, limit + 1)
            allowed = {doc.id for doc in matching}
        return await self.cache.search(engine, name, text, k, allowed, record.revision)
