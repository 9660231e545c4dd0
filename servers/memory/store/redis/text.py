"""The Redis store's full-text index, kept in Redis and ranked in the server.

Per space: ``w:<word>`` is a sorted set of the entities holding the word (score: how often),
``vocab`` the indexed words (lexicographic, for prefix expansion), ``g:<trigram>`` the entities whose
document holds the trigram (for substring matching), ``len`` each entity's length in words and
``totals`` their sum. A write queues the index's changes for the entities it touches in its own
``MULTI`` (:func:`queue_reindex`, a diff of the entity's old and new words and trigrams), so the
index is never behind the data. A search reads only the postings of the query's words (and of at
most :data:`~servers.memory.store.text_rank.MAX_EXPANSIONS` indexed words each stands for as a
prefix) and the entities holding all the query's trigrams, then ranks with BM25 here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from servers.memory.store.redis.keys import Space, live, optional_float
from servers.memory.store.text_index import entity_document, folded
from servers.memory.store.text_rank import MAX_EXPANSIONS, bm25, term_counts, trigrams

MAX_QUERY_GRAMS = 32
VERIFY_BATCH = 256

DROP_POSTING = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[2]) end
return 1
"""
"""Remove an entity from a word's postings, and the word from the vocabulary once nobody holds it."""


@dataclass
class TextState:
    """What the index holds for one entity: its words with their counts, its trigrams, its length."""

    terms: dict[str, int] = field(default_factory=dict)
    grams: set[str] = field(default_factory=set)
    doc: str = ""

    @property
    def length(self) -> int:
        return sum(self.terms.values())

    def fields(self) -> dict[str, str]:
        return {"doc": self.doc, "terms": json.dumps(self.terms), "grams": json.dumps(sorted(self.grams))}


def stored_text(fields: dict[str, Any] | None) -> TextState:
    """The state an entity hash records (empty for an entity that is not there)."""
    if not fields or not fields.get("terms"):
        return TextState()
    return TextState(json.loads(fields["terms"]), set(json.loads(fields.get("grams") or "[]")), fields.get("doc") or "")


def text_of(name: str, entity_type: str, contents: list[str]) -> TextState:
    body = folded(entity_document(name, entity_type, contents))
    return TextState(dict(term_counts(body)), trigrams(body), body)


def queue_reindex(pipe: Any, space: Space, name: str, old: TextState, new: TextState | None) -> None:
    """Queue on ``pipe`` (inside ``MULTI``) the index changes that take ``name`` from ``old`` to ``new`` (none: gone)."""
    new = new or TextState()
    for word in old.terms.keys() - new.terms.keys():
        pipe.eval(DROP_POSTING, 2, space.word(word), space.vocabulary, name, word)
    for word, count in new.terms.items():
        if old.terms.get(word) != count:
            pipe.zadd(space.word(word), {name: count})
    fresh = new.terms.keys() - old.terms.keys()
    if fresh:
        pipe.zadd(space.vocabulary, dict.fromkeys(fresh, 0))
    for gram in old.grams - new.grams:
        pipe.srem(space.gram(gram), name)
    for gram in new.grams - old.grams:
        pipe.sadd(space.gram(gram), name)
    if new.terms:
        pipe.hset(space.lengths, name, new.length)
    else:
        pipe.hdel(space.lengths, name)
    if new.length != old.length:
        pipe.hincrby(space.totals, "length", new.length - old.length)


async def live_names(redis: Any, space: Space, names: list[str], now: float) -> set[str]:
    """Those of ``names`` whose entity has not expired."""
    if not names:
        return set()
    scores = await redis.zmscore(space.expiring_entities, names)
    return {name for name, score in zip(names, scores, strict=True) if score is None or float(score) > now}


async def ranked(
    redis: Any, space: Space, words: list[str], window: int, now: float, any_word: bool
) -> list[tuple[str, float]]:
    """The first ``window`` entities holding the query's words (as prefixes), by BM25."""
    if not words or window <= 0:
        return []
    pipe = redis.pipeline(transaction=False)
    for word in words:
        pipe.zrangebylex(space.vocabulary, f"[{word}", b"[" + word.encode() + b"\xff", start=0, num=MAX_EXPANSIONS)
    expanded: list[list[str]] = await pipe.execute()
    if not any_word and not all(expanded):
        return []
    pipe = redis.pipeline(transaction=False)
    for group in expanded:
        for indexed in group:
            pipe.zrange(space.word(indexed), 0, -1, withscores=True)
    pipe.hlen(space.lengths)
    pipe.hget(space.totals, "length")
    answers = await pipe.execute()
    documents, total = int(answers[-2]), float(answers[-1] or 0)
    postings: dict[str, dict[str, int]] = {}
    at = 0
    for word, group in zip(words, expanded, strict=True):
        per_word: dict[str, int] = {}
        for _ in group:
            for name, count in answers[at]:
                per_word[name] = per_word.get(name, 0) + int(count)
            at += 1
        if per_word:
            postings[word] = per_word
    if not postings or (not any_word and len(postings) < len(words)):
        return []
    holders = sorted({name for per_word in postings.values() for name in per_word})
    lengths = dict(zip(holders, await redis.hmget(space.lengths, holders), strict=True))
    scored = bm25(
        postings,
        {name: int(length or 0) for name, length in lengths.items()},
        documents,
        total / documents if documents else 1.0,
        any_word=any_word,
    )
    alive = await live_names(redis, space, [name for name, _ in scored], now)
    return [(name, score) for name, score in scored if name in alive][:window]


async def substring(redis: Any, space: Space, query: str, window: int, now: float) -> list[str]:
    """The first ``window`` entities, by name, whose document holds ``query`` (any case)."""
    needle = folded(query)
    grams = sorted(trigrams(needle))[:MAX_QUERY_GRAMS]
    if grams:
        candidates = sorted(await redis.sinter([space.gram(gram) for gram in grams]))
    else:  # shorter than a trigram: every entity is a candidate
        candidates = list(await redis.zrange(space.names, 0, -1))
    found: list[str] = []
    for start in range(0, len(candidates), VERIFY_BATCH):
        batch = candidates[start : start + VERIFY_BATCH]
        pipe = redis.pipeline(transaction=False)
        for name in batch:
            pipe.hmget(space.entity(name), ["doc", "expires_at"])
        for name, (doc, expires_at) in zip(batch, await pipe.execute(), strict=True):
            if doc is not None and needle in doc and live(optional_float(expires_at), now):
                found.append(name)
                if len(found) >= window:
                    return found
    return found
