"""The vectorstore bench's baseline and inputs: the engines' own Python APIs in this process, and the texts.

:func:`documents` and :func:`queries` make short texts from a fixed word list with a seeded
generator (nothing is downloaded; every run of the bench gets its own seed, so no embedding cache
can answer for an earlier run). :class:`DirectEngine` embeds with the same bundled embedder the
server uses (:func:`servers.kit.embedders.factory.build_embedder`, default settings) and writes or
queries with the engine's client straight away: ``collection.upsert`` / ``collection.query`` for
Chroma, ``upsert`` / ``query_points`` for Qdrant. Blocking engine calls run in a worker thread, as
they do in the server, so both sides pay the same hand-off.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import numpy

from servers.kit.embedders.base import Embedder
from servers.kit.embedders.factory import build_embedder
from servers.kit.embedders.settings import EmbedderSettings

EngineKind = Literal["chroma", "qdrant"]

WORDS = [
    "river",
    "mountain",
    "garden",
    "engine",
    "battery",
    "kitchen",
    "recipe",
    "planet",
    "galaxy",
    "telescope",
    "violin",
    "guitar",
    "melody",
    "harbour",
    "ocean",
    "whale",
    "coral",
    "reef",
    "forest",
    "meadow",
    "tulip",
    "rose",
    "compost",
    "soil",
    "seed",
    "harvest",
    "winter",
    "summer",
    "autumn",
    "spring",
    "market",
    "invoice",
    "budget",
    "pension",
    "mortgage",
    "interest",
    "savings",
    "account",
    "doctor",
    "nurse",
    "fever",
    "vaccine",
    "clinic",
    "tablet",
    "surgery",
    "kidney",
    "heart",
    "lung",
    "bridge",
    "castle",
    "empire",
    "senate",
    "legion",
    "pharaoh",
    "temple",
    "library",
    "scroll",
    "museum",
    "painting",
    "sculpture",
    "canvas",
    "poem",
    "novel",
    "chapter",
    "author",
    "reader",
    "theatre",
    "stage",
    "actor",
    "camera",
    "lens",
    "photo",
    "signal",
    "network",
    "server",
    "database",
    "query",
    "index",
    "cache",
    "thread",
    "compiler",
    "syntax",
    "function",
    "variable",
    "module",
    "package",
    "release",
    "version",
    "branch",
    "commit",
    "merge",
    "review",
    "deploy",
    "cluster",
    "node",
    "storm",
    "cloud",
    "rain",
    "thunder",
    "breeze",
    "sunrise",
    "sunset",
    "island",
    "desert",
    "valley",
    "canyon",
    "glacier",
    "volcano",
    "lava",
    "train",
    "station",
    "ticket",
    "platform",
    "airport",
    "runway",
    "pilot",
    "cabin",
    "luggage",
    "hotel",
    "breakfast",
    "coffee",
    "bread",
    "cheese",
    "butter",
    "honey",
    "lemon",
    "pepper",
    "garlic",
    "onion",
    "tomato",
    "potato",
    "carrot",
    "salad",
    "soup",
    "noodle",
    "rice",
    "curry",
]
VERBS = [
    "finds",
    "builds",
    "carries",
    "opens",
    "closes",
    "measures",
    "repairs",
    "paints",
    "writes",
    "reads",
    "sends",
    "keeps",
    "brings",
    "shows",
    "moves",
    "lifts",
    "cleans",
    "cooks",
    "plants",
    "counts",
    "checks",
    "follows",
    "watches",
    "guards",
    "tests",
    "joins",
]


def _sentence(rng: random.Random, words: int) -> str:
    chosen = rng.sample(WORDS, words)
    chosen.insert(rng.randrange(1, words), rng.choice(VERBS))
    return "The " + " ".join(chosen) + "."


def documents(count: int, seed: int) -> list[str]:
    """``count`` distinct short documents (10 to 16 words) for run ``seed``."""
    rng = random.Random(seed)
    made: dict[str, None] = {}
    while len(made) < count:
        made[_sentence(rng, rng.randint(9, 15))] = None
    return list(made)


def queries(count: int, seed: int) -> list[str]:
    """``count`` short queries (4 to 7 words) for run ``seed``."""
    rng = random.Random(seed + 1_000_003)
    return [" ".join(rng.sample(WORDS, rng.randint(4, 7))) for _ in range(count)]


def point_id(text_id: str) -> str:
    """A string id as Qdrant takes it (a UUID), derived the same way for every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, text_id))


@dataclass
class DirectEngine:
    """One engine reached through its own client in this process, with the server's embedder."""

    kind: EngineKind
    path: Path | None = None  # embedded
    url: str | None = None  # a server
    embedder: Embedder | None = None
    client: Any = None
    handles: dict[str, Any] = field(default_factory=dict)  # Chroma collection handles, fetched once

    async def open(self) -> None:
        self.embedder = build_embedder(EmbedderSettings())
        await self.embedder.warm()
        self.client = await anyio.to_thread.run_sync(self._connect)

    def _connect(self) -> Any:
        if self.kind == "chroma":
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            quiet = ChromaSettings(anonymized_telemetry=False)
            if self.url is not None:
                parts = urlsplit(self.url)
                return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000, settings=quiet)
            return chromadb.PersistentClient(path=str(self.path), settings=quiet)
        from qdrant_client import QdrantClient

        return QdrantClient(path=str(self.path)) if self.url is None else QdrantClient(url=self.url)

    def _handle(self, name: str) -> Any:
        handle = self.handles.get(name)
        if handle is None:
            handle = self.handles[name] = self.client.get_collection(name, embedding_function=None)
        return handle

    async def aclose(self) -> None:
        if self.embedder is not None:
            await self.embedder.aclose()
        if self.kind == "qdrant" and self.client is not None:
            await anyio.to_thread.run_sync(self.client.close)

    async def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        assert self.embedder is not None, "open() first"
        return await self.embedder.embed(list(texts))

    async def create(self, name: str, dimension: int) -> None:
        def make() -> None:
            if self.kind == "chroma":
                self.client.create_collection(
                    name=name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
                )
            else:
                from qdrant_client import models

                self.client.create_collection(
                    name, vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                )

        await anyio.to_thread.run_sync(make)

    async def drop(self, name: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.client.delete_collection(name))

    async def add(self, name: str, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Embed ``texts`` and upsert them under ``ids`` (one engine call)."""
        vectors = await self.embed(texts)

        def write() -> None:
            if self.kind == "chroma":
                collection = self._handle(name)
                collection.upsert(ids=list(ids), embeddings=vectors, documents=list(texts))
            else:
                from qdrant_client import models

                points = [
                    models.PointStruct(id=point_id(i), vector=v.tolist(), payload={"id": i, "text": t})
                    for i, v, t in zip(ids, vectors, texts, strict=True)
                ]
                self.client.upsert(name, points=points, wait=True)

        await anyio.to_thread.run_sync(write)

    async def query(self, name: str, text: str, k: int) -> int:
        """Embed ``text`` and ask the engine for the ``k`` nearest documents, texts included; how many came."""
        vector = (await self.embed([text]))[0]

        def ask() -> int:
            if self.kind == "chroma":
                collection = self._handle(name)
                found = collection.query(
                    query_embeddings=[vector], n_results=k, include=["documents", "metadatas", "distances"]
                )
                return len(found["ids"][0])
            points = self.client.query_points(name, query=vector.tolist(), limit=k, with_payload=True).points
            return len(points)

        return await anyio.to_thread.run_sync(ask)

    async def count(self, name: str) -> int:
        def ask() -> int:
            if self.kind == "chroma":
                return int(self._handle(name).count())
            return int(self.client.count(name, exact=True).count)

        return await anyio.to_thread.run_sync(ask)
