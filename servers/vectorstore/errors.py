"""The vectorstore server's errors: a stable code first, then what was wrong and what to do instead.

Backends raise their own coded errors (``BackendError``: ``unknown_collection``,
``collection_exists``...), filters ``FilterError`` (``invalid_filter``) and embedders
``EmbedderError``; all are the kit's :class:`CodedToolError`, so a client sees them alike. What
the server itself refuses is a :class:`VectorError`.
"""

from __future__ import annotations

from servers.kit.tool_errors import CodedToolError


class VectorError(CodedToolError):
    """An error of the vectorstore server (``code`` stable, ``str()`` is ``"<code>: <message>"``)."""


def embedder_mismatch(collection: str, held: str, embedder: str, label: str) -> VectorError:
    return VectorError(
        "embedder_mismatch",
        f"collection {collection!r} holds {held}; the embedder {embedder!r} is {label}. Query it with the "
        "embedder it was made with, or migrate it with `reembed_collection`",
    )


def unknown_backend(name: str, known: list[str]) -> VectorError:
    return VectorError("unknown_backend", f"no backend {name!r}; the configured ones are: {', '.join(known)}")


def cancelled(done: int, total: int) -> VectorError:
    return VectorError(
        "cancelled",
        f"cancelled after {done} of {total} documents; the batches written stay written, none half-written. "
        "Repeat the call to finish: content-hash ids make it idempotent",
    )
