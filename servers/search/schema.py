"""An index's fields and language: what ``create_index`` takes and every backend compiles.

Four field types: ``text`` (analysed: searched, highlighted), ``keyword`` (one exact string:
filters, facets, sort), ``number`` (a float: range filters, sort) and ``date`` (ISO 8601, kept in
UTC: range filters, sort). Every document has an ``id``; the field names ``id`` and those starting
with ``_`` are the server's. The language picks the stemmer and stop words; ``stemming: false``
(or the language ``simple``) only lower-cases words.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from servers.search.errors import SearchError

FieldType = Literal["text", "keyword", "number", "date"]
Language = Literal["english", "french", "german", "spanish", "italian", "portuguese", "dutch", "simple"]
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
MAX_FIELDS = 64
MAX_KEYWORD_CHARS = 1024


class FieldSpec(BaseModel):
    name: str = Field(
        min_length=1, max_length=48, description="lower-case letters, digits and _, starting with a letter"
    )
    type: FieldType = Field(
        description="text (searched), keyword (exact: filter, facet, sort), number, date (ISO 8601)"
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not FIELD_NAME.match(value) or value == "id":
            raise ValueError("a field name is lower-case letters, digits and _, starts with a letter and is not 'id'")
        return value


class IndexSchema(BaseModel):
    fields: list[FieldSpec] = Field(min_length=1, max_length=MAX_FIELDS)
    language: Language = "english"
    stemming: bool = True

    @model_validator(mode="after")
    def _one_text_field(self) -> IndexSchema:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        if not self.text_fields:
            raise ValueError("an index needs at least one text field")
        return self

    @property
    def text_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.type == "text"]

    @cached_property
    def types(self) -> dict[str, FieldType]:
        return {f.name: f.type for f in self.fields}

    def type_of(self, name: str) -> FieldType | None:
        return self.types.get(name)

    @property
    def stems(self) -> bool:
        return self.stemming and self.language != "simple"

    def require(self, name: str, allowed: tuple[FieldType, ...], use: str) -> FieldType:
        """The type of field ``name``, which ``use`` needs to be one of ``allowed``.

        Raises:
            SearchError: ``unknown_field`` or ``wrong_field_type``.
        """
        kind = self.type_of(name)
        if kind is None:
            known = ", ".join(f"{f.name} ({f.type})" for f in self.fields)
            raise SearchError("unknown_field", f"the index has no field {name!r}; its fields are: {known}")
        if kind not in allowed:
            raise SearchError(
                "wrong_field_type", f"{use} needs a {' or '.join(allowed)} field; {name!r} is a {kind} field"
            )
        return kind


def check_index_name(name: str) -> str:
    if not INDEX_NAME.match(name):
        raise SearchError(
            "invalid_index_name",
            "an index name is 1-48 lower-case letters, digits, _ and -, starting with a letter or digit",
        )
    return name


def parse_date(value: Any, where: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when it names no zone).

    Raises:
        SearchError: ``invalid_document`` when ``value`` is not one.
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise SearchError(
        "invalid_document", f"{where}: a date field takes an ISO 8601 string such as 2024-05-01T12:00:00Z"
    )


def normalise_document(schema: IndexSchema, document: dict[str, Any], where: str) -> dict[str, Any]:
    """A document's fields checked against ``schema`` (dates as UTC ``datetime``); unknown fields refused.

    Raises:
        SearchError: ``invalid_document`` naming the field and what it needs.
    """
    clean: dict[str, Any] = {}
    for name, value in document.items():
        kind = schema.type_of(name)
        if kind is None:
            raise SearchError(
                "invalid_document", f"{where}: the index has no field {name!r}; add it with a new index or drop it"
            )
        if value is None:
            continue
        if kind == "text":
            if not isinstance(value, str):
                raise SearchError("invalid_document", f"{where}.{name}: a text field takes a string")
        elif kind == "keyword":
            if not isinstance(value, str) or len(value) > MAX_KEYWORD_CHARS:
                raise SearchError(
                    "invalid_document",
                    f"{where}.{name}: a keyword field takes one string of at most {MAX_KEYWORD_CHARS} characters",
                )
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise SearchError("invalid_document", f"{where}.{name}: a number field takes a finite number")
            value = float(value)
        else:
            value = parse_date(value, f"{where}.{name}")
        clean[name] = value
    return clean


def json_value(value: Any) -> Any:
    """A stored field value as a client sees it (dates as ISO 8601 in UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value
