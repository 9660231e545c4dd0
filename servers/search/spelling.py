"""``suggest``: for each word of a query that matches nothing, the index's nearest spellings.

A word is checked on its own (with the query's fields); one with no match gets the nearest words
of the searched fields (:func:`servers.search.suggestions.nearest`), and the query with each such
word replaced by its best spelling is counted, so the caller sees what the correction would find.
"""

from __future__ import annotations

import re

from servers.search.models import Correction, SuggestResult
from servers.search.query_text import Term, parse_text
from servers.search.service import Operator, SearchService
from servers.search.suggestions import nearest

MAX_WORDS_CHECKED = 16


def _terms(text: str) -> list[str]:
    tree = parse_text(text)
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Term):
            found.append(node.word)
        elif hasattr(node, "parts"):
            stack.extend(reversed(node.parts))
        elif hasattr(node, "part"):
            stack.append(node.part)
    return found[:MAX_WORDS_CHECKED]


async def suggest(
    service: SearchService, backend: str | None, index: str, text: str, fields: list[str] | None, operator: Operator
) -> SuggestResult:
    engine, schema = await service.target(backend, index)
    matched = await engine.count(index, schema, service.plan(schema, text, fields, None, operator))
    corrections: list[Correction] = []
    corrected = text
    searched = fields or schema.text_fields
    for word in dict.fromkeys(_terms(text)):
        if not word.isalnum():
            continue
        alone = service.plan(schema, word, fields, None, operator)
        if await engine.count(index, schema, alone) > 0:
            continue
        vocabulary: list[tuple[str, int]] = []
        for name in searched:
            vocabulary.extend(await engine.vocabulary(index, schema, word, name))
        options = nearest(word, vocabulary)
        corrections.append(Correction(word=word, suggestions=options))
        if options:
            corrected = re.sub(rf"(?<![\w~]){re.escape(word)}(?![\w~])", options[0], corrected)
    if corrected == text:
        return SuggestResult(backend=engine.name, index=index, matched=matched, corrections=corrections)
    again = await engine.count(index, schema, service.plan(schema, corrected, fields, None, operator))
    return SuggestResult(
        backend=engine.name,
        index=index,
        matched=matched,
        corrections=corrections,
        suggested_query=corrected,
        suggested_matches=again,
    )
