"""Reading an ASGI request body ahead of the app that will answer it, then handing it on unchanged.

A middleware that must look at the body first (a fast path, a size or depth check) reads it with
:func:`read_body` and passes the app a ``receive`` from :func:`replay`, which yields what was read and
then continues the real stream (so a disconnect still arrives).
"""

from __future__ import annotations

from starlette.types import Message, Receive

__all__ = ["read_body", "replay"]


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, and whether all of it was read (False past ``limit`` or on a disconnect)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def replay(body: bytes, receive: Receive, complete: bool = True) -> Receive:
    """A ``receive`` that first yields ``body`` (the rest still to come unless ``complete``), then the real stream."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed
