"""The text of a structured query: words, "phrases", AND / OR / NOT, -word, (groups) and word~N fuzziness.

:func:`parse_text` turns it into a small tree (:class:`Term`, :class:`Phrase`, :class:`All`,
:class:`AnyOf`, :class:`Not`) that every backend compiles to its own query; words next to each
other are joined by the request's default operator. Bad syntax is an ``invalid_query`` error that
says where and how to write it instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from servers.search.errors import invalid_query

MAX_CLAUSES = 64
MAX_DEPTH = 16
MAX_FUZZINESS = 2
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*")|(?P<open>\()|(?P<close>\))|(?P<minus>-(?=\S))|(?P<word>[^\s()"]+))')
_FUZZY = re.compile(r"^(?P<word>.+?)~(?P<distance>\d?)$")


@dataclass(frozen=True)
class Term:
    word: str
    fuzziness: int = 0


@dataclass(frozen=True)
class Phrase:
    words: str


@dataclass(frozen=True)
class All:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Term | Phrase | All | AnyOf | Not


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise invalid_query(f'unbalanced quote near character {position}: close every "phrase" with a quote')
        kind = match.lastgroup or "word"
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str, default: Literal["and", "or"]) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.default = default
        self.leaves = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise invalid_query(f"the query nests groups more than {MAX_DEPTH} deep: flatten it")
        # AND binds tighter than OR; words side by side take the default operator.
        groups: list[list[Node]] = [[self.unary(depth)]]
        while (token := self.peek()) is not None and token[0] != "close":
            operator = self.default
            if token == ("word", "AND") or token == ("word", "OR"):
                operator = "and" if token[1] == "AND" else "or"
                self.take()
            node = self.unary(depth)
            if operator == "and":
                groups[-1].append(node)
            else:
                groups.append([node])
        ors = [parts[0] if len(parts) == 1 else All(tuple(parts)) for parts in groups]
        return ors[0] if len(ors) == 1 else AnyOf(tuple(ors))

    def unary(self, depth: int) -> Node:
        token = self.peek()
        if token is None:
            raise invalid_query("the query ends with an operator: give a word or phrase after AND / OR / NOT / -")
        if token == ("word", "NOT") or token[0] == "minus":
            self.take()
            return Not(self.unary(depth))
        return self.atom(depth)

    def atom(self, depth: int) -> Node:
        kind, value = self.take()
        if kind == "open":
            node = self.expression(depth + 1)
            if self.peek() is None or self.take()[0] != "close":
                raise invalid_query("a group is not closed: end every '(' with ')'")
            return node
        if kind == "close":
            raise invalid_query("a ')' closes no group: remove it or add its '('")
        if value in ("AND", "OR"):
            raise invalid_query(f"{value} needs a word or phrase on each side")
        self.leaves += 1
        if self.leaves > MAX_CLAUSES:
            raise invalid_query(f"the query has more than {MAX_CLAUSES} words and phrases: shorten it")
        if kind == "phrase":
            words = value[1:-1].strip()
            if not words:
                raise invalid_query('an empty "" phrase: put words between the quotes or remove them')
            return Phrase(words)
        fuzzy = _FUZZY.match(value)
        if fuzzy is None:
            return Term(value)
        distance = int(fuzzy.group("distance") or 1)
        if not 0 < distance <= MAX_FUZZINESS:
            raise invalid_query(f"fuzziness is ~1 or ~2 (edits allowed); {value!r} asks for {distance}")
        return Term(fuzzy.group("word"), distance)


def parse_text(text: str, default: Literal["and", "or"] = "and") -> Node:
    """The query tree of ``text``.

    Raises:
        SearchError: ``invalid_query`` for an empty query, unbalanced quotes or groups, a dangling
            operator, fuzziness above 2 or too many clauses.
    """
    parser = _Parser(text, default)
    if not parser.tokens:
        raise invalid_query("the query text is empty: give words, or omit text to match every document")
    node = parser.expression(0)
    if parser.peek() is not None:
        raise invalid_query("a ')' closes no group: remove it or add its '('")
    return node


def positive_words(node: Node) -> list[str]:
    """The words and phrases a match must or may contain (not those under NOT): what a snippet shows."""
    if isinstance(node, Term):
        return [node.word]
    if isinstance(node, Phrase):
        return [node.words]
    if isinstance(node, Not):
        return []
    return [word for part in node.parts for word in positive_words(part)]


def has_fuzzy(node: Node) -> bool:
    if isinstance(node, Term):
        return node.fuzziness > 0
    if isinstance(node, Phrase):
        return False
    if isinstance(node, Not):
        return has_fuzzy(node.part)
    return any(has_fuzzy(part) for part in node.parts)
