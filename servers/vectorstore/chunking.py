"""Text cut into overlapping chunks on sentence or whitespace boundaries, with the offsets of each.

A chunk is at most ``size`` characters. It ends at the last sentence end (``.``, ``!``, ``?`` or a
line break followed by whitespace) in its second half, else at the last whitespace there, else
exactly at ``size`` (a long word is cut). The next chunk starts ``overlap`` characters before the
end, moved forward to the start of a word, so no chunk starts in the middle of one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SENTENCE_END = re.compile(r"[.!?\n](?=\s)")
WHITESPACE = re.compile(r"\s")
ID_HEX = 32


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def content_id(*parts: str) -> str:
    """A short hex id of the content (sha256): the same text gets the same id, so re-ingesting is idempotent."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:ID_HEX]


def _cut(text: str, start: int, size: int) -> int:
    limit = start + size
    if limit >= len(text):
        return len(text)
    half = start + size // 2
    window = text[half:limit]
    ends = [m.end() for m in SENTENCE_END.finditer(window)]
    if ends:
        return half + ends[-1]
    spaces = [m.start() for m in WHITESPACE.finditer(window)]
    if spaces:
        return half + spaces[-1]
    return limit


def _next_start(text: str, end: int, overlap: int, previous: int) -> int:
    start = max(end - overlap, previous + 1)
    if start >= end:
        return end
    if start > 0 and not text[start - 1].isspace():
        space = WHITESPACE.search(text, start, end)
        start = space.end() if space else end
    return start


def chunk_text(text: str, size: int, overlap: int) -> list[Chunk]:
    """``text`` as chunks of at most ``size`` characters overlapping by about ``overlap``; blank chunks dropped.

    Raises:
        ValueError: ``size`` is not positive or ``overlap`` is not below it.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError("chunk size must be positive and overlap in [0, size)")
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        end = _cut(text, start, size)
        piece = text[start:end].rstrip()
        if piece:
            chunks.append(Chunk(piece, start, start + len(piece)))
        if end >= len(text):
            break
        start = _next_start(text, end, overlap, start)
    return chunks
