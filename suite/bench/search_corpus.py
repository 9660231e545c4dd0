"""The search bench's corpus, which the search tests draw from too: a fixed vocabulary, fields, documents, queries.

:func:`documents` makes short documents (a title of 3 and a body of 12 to 20 words of :data:`WORDS`,
a category, a price and a date) with a seed; :func:`query_texts` makes two-word queries on the same
words. Every word's English stem is the same in tantivy (Porter2) and PostgreSQL (snowball), and
neither drops it as a stop word, so both engines match the same documents.
"""

from __future__ import annotations

import random
from typing import Any

WORDS = [
    "river",
    "mountain",
    "engine",
    "garden",
    "harbor",
    "castle",
    "forest",
    "planet",
    "rocket",
    "violin",
    "copper",
    "marble",
    "tiger",
    "falcon",
    "lantern",
    "orchard",
    "canyon",
    "glacier",
    "meadow",
    "thunder",
    "comet",
    "island",
    "desert",
    "valley",
    "bridge",
    "tunnel",
    "market",
    "temple",
    "candle",
    "mirror",
    "pepper",
    "saffron",
    "basil",
    "cedar",
    "maple",
    "willow",
    "granite",
    "quartz",
    "basalt",
    "crystal",
    "anchor",
    "compass",
    "sextant",
    "voyage",
    "lagoon",
    "piano",
    "cello",
    "trumpet",
    "rhythm",
    "melody",
    "orbit",
    "nebula",
    "galaxy",
    "crater",
    "meteor",
    "pebble",
    "boulder",
    "summit",
    "ridge",
    "delta",
    "parrot",
    "otter",
    "beaver",
    "badger",
    "heron",
    "salmon",
    "walrus",
    "lizard",
    "beetle",
    "spider",
    "lemon",
    "ginger",
    "cumin",
    "nutmeg",
    "vanilla",
    "silver",
    "amber",
    "cobalt",
    "ivory",
    "scarlet",
    "indigo",
    "emerald",
    "crimson",
    "bronze",
    "velvet",
    "cotton",
    "linen",
    "silk",
    "wool",
    "leather",
]
FIELDS = [
    {"name": "title", "type": "text"},
    {"name": "body", "type": "text"},
    {"name": "category", "type": "keyword"},
    {"name": "price", "type": "number"},
    {"name": "published", "type": "date"},
]
CATEGORIES = ("astronomy", "botany", "cooking", "geology", "music", "sailing", "travel", "zoology")


def documents(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        out.append(
            {
                "id": f"s{seed}-{i}",
                "fields": {
                    "title": " ".join(rng.choices(WORDS, k=3)),
                    "body": " ".join(rng.choices(WORDS, k=rng.randint(12, 20))),
                    "category": CATEGORIES[i % len(CATEGORIES)],
                    "price": float(rng.randint(1, 100_000)) / 100,
                    "published": f"20{rng.randint(10, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T00:00:00Z",
                },
            }
        )
    return out


def query_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(WORDS, 2)) for _ in range(count)]
