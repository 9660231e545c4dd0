"""A double of the OpenSearch REST calls the search server makes, named as a double: ``opensearch_double``.

It plugs in as the ``opensearch-py`` client's connection class, so the real client builds every
request (paths, query strings, NDJSON bulk bodies) and maps every answer, errors included, to its
exceptions as it does with a cluster. It answers, as OpenSearch 2 documents them:

* ``GET /`` (info); ``PUT /<index>`` (400 ``resource_already_exists_exception``);
  ``GET /<index or pattern>/_mapping`` (404 ``index_not_found_exception`` for a missing concrete
  index, ``{}`` for a pattern matching none); ``DELETE /<index>``; ``GET /<index>/_stats/store``;
* ``POST /_bulk`` (``index`` and ``delete`` actions; a field outside a ``dynamic: strict`` mapping
  is the item's ``strict_dynamic_mapping_exception``), ``POST /<index>/_mget``;
* ``POST /<index>/_search`` with ``match_all``, ``multi_match`` (``best_fields`` with ``operator:
  and`` and ``fuzziness``, ``phrase``), ``bool`` (``must``, ``should`` + ``minimum_should_match``,
  ``must_not``, ``filter``), ``terms``, ``range``; ``sort``, ``from``/``size``, ``_source``,
  ``highlight``, ``terms`` aggregations, the ``term`` suggester; ``POST /<index>/_count``;
  ``POST /<index>/_explain/<id>`` (404 with ``matched: false`` for a missing id).

Analysis is the mapping's: the custom analyser (lower-case, stop words, snowball stems) through
tantivy's analysers of the same filters, the ``simple`` analyser for ``.plain`` sub-fields. Scores
are BM25 (k1 1.2, b 0.75) per field, ``best_fields`` taking the best field. It proves the server's
use of the client and the DSL it sends; it does not prove a live cluster: the live tests run when
``OPENSEARCH_URL`` is set.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import tantivy
from opensearchpy import AsyncOpenSearch
from opensearchpy._async.http_aiohttp import AsyncConnection

from servers.search.suggestions import edit_distance

K1, B = 1.2, 0.75
_PLAIN = re.compile(r"[a-z]+")


def _error(status: int, kind: str, reason: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "reason": reason}, "status": status}


class DoubleIndex:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.properties: dict[str, Any] = body["mappings"]["properties"]
        chain = body["settings"]["analysis"]["analyzer"]["mcp_text"]["filter"]
        builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase())
        if "mcp_stem" in chain:
            filters = body["settings"]["analysis"]["filter"]
            language = filters["mcp_stem"]["language"].lower()
            builder = builder.filter(tantivy.Filter.stopword(language)).filter(tantivy.Filter.stemmer(language))
        self.analyzer = builder.build()
        self.docs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, list[str]]] = {}
        self._stats: dict[str, tuple[float, dict[str, int]]] = {}

    def analyze(self, text: str) -> list[str]:
        return [str(t) for t in self.analyzer.analyze(text)]

    def put(self, doc_id: str, source: dict[str, Any]) -> str | None:
        unknown = [k for k in source if k not in self.properties]
        if unknown:
            return f"mapping set to strict, dynamic introduction of [{unknown[0]}] within [_doc] is not allowed"
        self.docs[doc_id] = source
        self._stats.clear()
        self.tokens[doc_id] = {
            f: self.analyze(str(v)) for f, v in source.items() if self.properties[f]["type"] == "text"
        }
        return None

    # -- scoring
    def statistics(self, field: str) -> tuple[float, dict[str, int]]:
        """The field's average length and each term's document frequency (rebuilt after a write)."""
        cached = self._stats.get(field)
        if cached is None:
            lengths = [len(t.get(field, [])) for t in self.tokens.values()]
            frequency: Counter[str] = Counter()
            for fields in self.tokens.values():
                frequency.update(set(fields.get(field, [])))
            cached = (sum(lengths) / max(len(lengths), 1), dict(frequency))
            self._stats[field] = cached
        return cached

    def bm25(self, field: str, doc_id: str, term_freq: int, doc_freq: int) -> float:
        average, _ = self.statistics(field)
        idf = math.log(1 + (len(self.docs) - doc_freq + 0.5) / (doc_freq + 0.5))
        length = len(self.tokens[doc_id].get(field, []))
        return idf * term_freq * (K1 + 1) / (term_freq + K1 * (1 - B + B * length / max(average, 1e-9)))

    def field_match(self, field: str, words: list[str], phrase: bool, fuzziness: int) -> dict[str, float]:
        if not words:
            return {}
        _, frequency = self.statistics(field)
        scores: dict[str, float] = {}
        for doc_id, fields in self.tokens.items():
            tokens = fields.get(field, [])
            if phrase:
                n = len(words)
                if not any(tokens[i : i + n] == words for i in range(len(tokens) - n + 1)):
                    continue
            elif fuzziness:
                if not all(any(edit_distance(t, w, fuzziness) <= fuzziness for t in tokens) for w in words):
                    continue
            elif not all(w in tokens for w in words):
                continue
            scores[doc_id] = sum(self.bm25(field, doc_id, tokens.count(w) or 1, frequency.get(w, 1)) for w in words)
        return scores

    def evaluate(self, query: dict[str, Any]) -> dict[str, float]:
        ((kind, spec),) = query.items()
        if kind == "match_all":
            return {d: 1.0 for d in self.docs}
        if kind == "multi_match":
            best: dict[str, float] = {}
            words = self.analyze(spec["query"])
            for field in spec["fields"]:
                for doc_id, score in self.field_match(
                    field, words, spec.get("type") == "phrase", int(spec.get("fuzziness", 0))
                ).items():
                    best[doc_id] = max(best.get(doc_id, 0.0), score)
            return best
        if kind == "terms":
            ((field, values),) = spec.items()
            return {d: 0.0 for d, s in self.docs.items() if s.get(field) in values}
        if kind == "range":
            ((field, bounds),) = spec.items()
            return {d: 0.0 for d, s in self.docs.items() if field in s and self.in_range(field, s[field], bounds)}
        if kind == "bool":
            return self.boolean(spec)
        raise ValueError(f"unknown query [{kind}]")

    def in_range(self, field: str, value: Any, bounds: dict[str, Any]) -> bool:
        convert = (
            (lambda v: datetime.fromisoformat(str(v).replace("Z", "+00:00")).astimezone(UTC))
            if (self.properties[field]["type"] == "date")
            else float
        )
        have = convert(value)
        checks = {
            "gte": lambda b: have >= b,
            "gt": lambda b: have > b,
            "lte": lambda b: have <= b,
            "lt": lambda b: have < b,
        }
        return all(checks[op](convert(b)) for op, b in bounds.items())

    def boolean(self, spec: dict[str, Any]) -> dict[str, float]:
        candidates: dict[str, float] = {d: 0.0 for d in self.docs}
        for clause in spec.get("must", []):
            matched = self.evaluate(clause)
            candidates = {d: s + matched[d] for d, s in candidates.items() if d in matched}
        for clause in spec.get("filter", []):
            matched = self.evaluate(clause)
            candidates = {d: s for d, s in candidates.items() if d in matched}
        for clause in spec.get("must_not", []):
            matched = self.evaluate(clause)
            candidates = {d: s for d, s in candidates.items() if d not in matched}
        should = [self.evaluate(c) for c in spec.get("should", [])]
        if should:
            least = int(spec.get("minimum_should_match", 0 if spec.get("must") or spec.get("filter") else 1))
            kept = {}
            for d, s in candidates.items():
                hits = [m[d] for m in should if d in m]
                if len(hits) >= least:
                    kept[d] = s + sum(hits)
            candidates = kept
        return candidates

    def positive_words(self, query: dict[str, Any]) -> set[str]:
        ((kind, spec),) = query.items()
        if kind == "multi_match":
            return set(self.analyze(spec["query"]))
        if kind == "bool":
            return {w for key in ("must", "should") for c in spec.get(key, []) for w in self.positive_words(c)}
        return set()

    def highlight(self, text: str, words: set[str], size: int) -> str | None:
        pieces = re.split(r"(\w+)", text)
        marked, first = [], None
        for piece in pieces:
            if piece and piece[0].isalnum() and set(self.analyze(piece)) & words:
                first = len("".join(marked)) if first is None else first
                marked.append(f"<b>{piece}</b>")
            else:
                marked.append(piece)
        if first is None:
            return None
        joined = "".join(marked)
        return joined[max(0, first - size // 4) : max(0, first - size // 4) + size + 7 * len(words)]


class OpenSearchDouble:
    """The cluster's state: indexes by name."""

    def __init__(self) -> None:
        self.indexes: dict[str, DoubleIndex] = {}
        self.requests: list[tuple[str, str]] = []

    def handle(self, method: str, path: str, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        self.requests.append((method, path))
        parts = [p for p in path.split("/") if p]
        if not parts:
            return 200, {"version": {"distribution": "opensearch", "number": "2.18.0 (double)"}}
        if parts == ["_bulk"]:
            return self.bulk(body)
        name = parts[0]
        if len(parts) == 1 and method == "PUT":
            if name in self.indexes:
                return _error(400, "resource_already_exists_exception", f"index [{name}] already exists")
            self.indexes[name] = DoubleIndex(body)
            return 200, {"acknowledged": True, "index": name}
        if len(parts) == 2 and parts[1] == "_mapping" and "*" in name:
            pattern = re.compile(re.escape(name).replace(r"\*", ".*") + "$")
            return 200, {n: {"mappings": i.body["mappings"]} for n, i in self.indexes.items() if pattern.match(n)}
        index = self.indexes.get(name)
        if index is None:
            return _error(404, "index_not_found_exception", f"no such index [{name}]")
        if len(parts) == 1 and method == "DELETE":
            del self.indexes[name]
            return 200, {"acknowledged": True}
        action = parts[1]
        if action == "_mapping":
            return 200, {name: {"mappings": index.body["mappings"]}}
        if action == "_stats":
            size = len(json.dumps(index.docs))
            return 200, {"_all": {"total": {"store": {"size_in_bytes": size}}}}
        if action == "_count":
            query = (body or {}).get("query", {"match_all": {}})
            return 200, {"count": len(index.evaluate(query))}
        if action == "_mget":
            docs = [
                {
                    "_id": i,
                    "found": i in index.docs,
                    **({"_source": self.source(index.docs[i], params)} if i in index.docs else {}),
                }
                for i in body["ids"]
            ]
            return 200, {"docs": docs}
        if action == "_explain":
            doc_id = parts[2]
            if doc_id not in index.docs:
                return 404, {"_index": name, "_id": doc_id, "matched": False}
            scores = index.evaluate(body["query"])
            if doc_id not in scores:
                return 200, {
                    "matched": False,
                    "explanation": {"value": 0.0, "description": "no matching term", "details": []},
                }
            return 200, {
                "matched": True,
                "explanation": {"value": scores[doc_id], "description": "sum of:", "details": []},
            }
        if action == "_search":
            try:
                return 200, self.search(index, body)
            except ValueError as exc:
                return _error(400, "parsing_exception", str(exc))
        return _error(400, "illegal_argument_exception", f"unsupported request {method} {path}")

    def source(self, doc: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("_source")
        if wanted in (None, "true"):
            return doc
        if wanted == "false":
            return {}
        return {k: v for k, v in doc.items() if k in str(wanted).split(",")}

    def bulk(self, body: Any) -> tuple[int, Any]:
        lines = [
            json.loads(line)
            for line in (body.decode() if isinstance(body, bytes) else body).splitlines()
            if line.strip()
        ]
        items, errors, position = [], False, 0
        while position < len(lines):
            ((action, meta),) = lines[position].items()
            index = self.indexes.get(meta["_index"])
            if action == "delete":
                existed = index is not None and index.docs.pop(meta["_id"], None) is not None
                if existed and index is not None:
                    index.tokens.pop(meta["_id"], None)
                    index._stats.clear()
                items.append(
                    {
                        "delete": {
                            "_id": meta["_id"],
                            "result": "deleted" if existed else "not_found",
                            "status": 200 if existed else 404,
                        }
                    }
                )
                position += 1
                continue
            source = lines[position + 1]
            position += 2
            problem = "no such index" if index is None else index.put(meta["_id"], source)
            if problem:
                errors = True
                items.append(
                    {
                        action: {
                            "_id": meta["_id"],
                            "status": 400,
                            "error": {"type": "strict_dynamic_mapping_exception", "reason": problem},
                        }
                    }
                )
            else:
                items.append({action: {"_id": meta["_id"], "result": "updated", "status": 200}})
        return 200, {"took": 1, "errors": errors, "items": items}

    def search(self, index: DoubleIndex, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        if "suggest" in body:
            answer["suggest"] = {name: self.suggest(index, spec) for name, spec in body["suggest"].items()}
        query = body.get("query", {"match_all": {}})
        scores = index.evaluate(query)
        ordered = sorted(scores, key=lambda d: self.sort_key(index, d, scores[d], body.get("sort", ["_score"])))
        start, size = int(body.get("from", 0)), int(body.get("size", 10))
        words = index.positive_words(query)
        hits = []
        for doc_id in ordered[start : start + size]:
            doc = index.docs[doc_id]
            hit: dict[str, Any] = {
                "_id": doc_id,
                "_score": scores[doc_id],
                "sort": self.sort_values(doc, scores[doc_id], body.get("sort", [])),
            }
            wanted = body.get("_source", True)
            hit["_source"] = (
                doc if wanted is True else ({} if wanted is False else {k: v for k, v in doc.items() if k in wanted})
            )
            highlight = {}
            for field, spec in body.get("highlight", {}).get("fields", {}).items():
                if field in doc:
                    fragment = index.highlight(str(doc[field]), words, int(spec.get("fragment_size", 100)))
                    if fragment:
                        highlight[field] = [fragment]
            if highlight:
                hit["highlight"] = highlight
            hits.append(hit)
        answer["hits"] = {"total": {"value": len(scores), "relation": "eq"}, "hits": hits}
        if "aggs" in body:
            answer["aggregations"] = {}
            for name, spec in body["aggs"].items():
                field, limit = spec["terms"]["field"], int(spec["terms"].get("size", 10))
                counts = Counter(index.docs[d][field] for d in scores if field in index.docs[d])
                buckets = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
                answer["aggregations"][name] = {"buckets": [{"key": k, "doc_count": n} for k, n in buckets]}
        return answer

    def sort_key(self, index: DoubleIndex, doc_id: str, score: float, sort: list[Any]) -> tuple[Any, ...]:
        key: list[Any] = []
        for item in sort:
            if item == "_score":
                key.append(-score)
                continue
            ((field, spec),) = item.items()
            value = index.docs[doc_id].get(field)
            if index.properties[field]["type"] == "date" and value is not None:
                value = datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
            missing = value is None
            if spec.get("order") == "desc" and not missing:
                value = -value if isinstance(value, int | float) else _Reversed(value)
            key.append((missing, value if not missing else 0))
        return tuple(key)

    def sort_values(self, doc: dict[str, Any], score: float, sort: list[Any]) -> list[Any]:
        return [score if item == "_score" else doc.get(next(iter(item))) for item in sort]

    def suggest(self, index: DoubleIndex, spec: dict[str, Any]) -> list[dict[str, Any]]:
        field = spec["term"]["field"].removesuffix(".plain")
        edits, size = int(spec["term"].get("max_edits", 2)), int(spec["term"].get("size", 5))
        frequency: Counter[str] = Counter()
        for doc in index.docs.values():
            frequency.update(set(_PLAIN.findall(str(doc.get(field, "")).lower())))
        entries = []
        for word in _PLAIN.findall(spec["text"].lower()):
            options = [
                {"text": w, "freq": n, "score": 1 - edit_distance(word, w, edits) / max(len(word), 1)}
                for w, n in frequency.items()
                if w != word and edit_distance(word, w, edits) <= edits
            ]
            options.sort(key=lambda o: (-o["score"], -o["freq"]))
            entries.append({"text": word, "options": options[:size]})
        return entries


class _Reversed:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(self.value > other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value


def double_connection(double: OpenSearchDouble) -> type[AsyncConnection]:
    """A connection class for ``AsyncOpenSearch(connection_class=...)`` answered by ``double``."""

    class DoubleConnection(AsyncConnection):
        async def perform_request(  # type: ignore[override]
            self,
            method: str,
            url: str,
            params: Any = None,
            body: Any = None,
            timeout: Any = None,
            ignore: Any = (),
            headers: Any = None,
        ) -> tuple[int, dict[str, str], str]:
            decoded = body.decode() if isinstance(body, bytes) else body
            parsed = decoded if url.endswith("_bulk") else (json.loads(decoded) if decoded else None)
            status, answer = double.handle(method, url.split("?")[0], dict(params or {}), parsed)
            raw = json.dumps(answer)
            if not 200 <= status < 300 and status not in ignore:
                self._raise_error(status, raw, "application/json")
            return status, {"content-type": "application/json"}, raw

        async def close(self) -> None:
            return None

    return DoubleConnection


def double_client(double: OpenSearchDouble) -> Any:
    """What ``client_for`` returns in tests without ``OPENSEARCH_URL``: the real client on the double."""

    def build(settings: Any) -> AsyncOpenSearch:
        return AsyncOpenSearch(hosts=[settings.url], connection_class=double_connection(double))

    return build
