"""The search server's errors: a stable code first, then what was wrong and what to do instead."""

from __future__ import annotations

from servers.kit.tool_errors import CodedToolError


class SearchError(CodedToolError):
    """An error of the search server (``code`` stable, ``str()`` is ``"<code>: <message>"``)."""


def unknown_backend(name: str, known: list[str]) -> SearchError:
    return SearchError("unknown_backend", f"no backend {name!r}; the configured ones are: {', '.join(known)}")


def unknown_index(backend: str, index: str) -> SearchError:
    return SearchError(
        "unknown_index", f"backend {backend!r} has no index {index!r}; `list_indexes` names the ones it has"
    )


def unsupported_query(backend: str, what: str, instead: str) -> SearchError:
    return SearchError("unsupported_query", f"the {backend} backend cannot run {what}; {instead}")


def invalid_query(what: str) -> SearchError:
    return SearchError("invalid_query", what)


def cancelled(done: int, total: int) -> SearchError:
    return SearchError(
        "cancelled",
        f"cancelled after {done} of {total} documents; the batches written stay written. "
        "Repeat the call to finish: documents are upserted by id",
    )
