"""Did-you-mean: the words of an index nearest a word that matched nothing, by edit distance then frequency."""

from __future__ import annotations

from collections.abc import Iterable

MAX_DISTANCE = 2


def edit_distance(a: str, b: str, limit: int = MAX_DISTANCE) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit); ``limit + 1`` once above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def nearest(word: str, vocabulary: Iterable[tuple[str, int]], count: int = 5) -> list[str]:
    """Up to ``count`` words of ``vocabulary`` within two edits of ``word``: closest first, then most frequent."""
    lowered = word.lower()
    scored: dict[str, tuple[int, int]] = {}
    for candidate, frequency in vocabulary:
        if candidate == lowered:
            continue
        distance = edit_distance(lowered, candidate)
        if distance <= MAX_DISTANCE:
            best = scored.get(candidate)
            if best is None or (distance, -frequency) < best:
                scored[candidate] = (distance, -frequency)
    return [w for w, _ in sorted(scored.items(), key=lambda item: (item[1], item[0]))[:count]]
