"""The image or audio of a media tool: base64 data (or a ``data:`` URI) or a path under the operator's roots.

A path goes through the kit's path policy over ``aiml.media_roots`` (read only) and ``aiml.media_deny``,
as the vectorstore's and search's files do. Either way the bytes are capped before they are decoded
or read (``input_too_large``: nothing is sent) and their type is taken from their first bytes: a
declared ``mime_type`` that does not match is refused (``invalid_media``), so a provider never
receives what it would reject or misread.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from typing import Literal

import anyio.to_thread

from servers.aiml.errors import AimlError, input_too_large
from servers.aiml.providers.base import Media
from servers.aiml.settings import AimlSettings
from servers.kit.paths.policy import Policy
from servers.kit.paths.walk import WalkedFile, read_bytes

MediaKind = Literal["image", "audio"]
ImageType = Literal["image/png", "image/jpeg", "image/webp", "image/gif"]
AudioType = Literal["audio/wav", "audio/mpeg", "audio/flac", "audio/ogg", "audio/webm", "audio/mp4"]

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/webm": "webm",
    "audio/mp4": "m4a",
}
KINDS: dict[MediaKind, tuple[str, ...]] = {
    "image": ("image/png", "image/jpeg", "image/webp", "image/gif"),
    "audio": ("audio/wav", "audio/mpeg", "audio/flac", "audio/ogg", "audio/webm", "audio/mp4"),
}
LIMITS: dict[MediaKind, str] = {"image": "max_image_bytes", "audio": "max_audio_bytes"}


def sniffed(data: bytes) -> str | None:
    """The MIME type the first bytes of ``data`` show, among the types the media tools take."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def checked(data: bytes, declared: str | None, kind: MediaKind, shown: str) -> Media:
    """``data`` as media of ``kind``: its sniffed type, which must be ``declared`` when one was given."""
    found = sniffed(data)
    accepted = ", ".join(KINDS[kind])
    if found is None or found not in KINDS[kind]:
        raise AimlError(
            "invalid_media", f"the {shown} is not an {kind} of a type the tool takes ({accepted}); nothing was sent"
        )
    if declared is not None and declared != found:
        raise AimlError(
            "invalid_media",
            f"the {shown} was declared {declared} but its bytes are {found}: send the right mime_type or omit it",
        )
    return Media(data=data, mime_type=found, extension=EXTENSIONS[found])


def from_base64(text: str, declared: str | None, kind: MediaKind, limit: int, setting: str) -> Media:
    """Media from base64 text (or a ``data:<type>;base64,`` URI, whose type counts as declared)."""
    body = text.strip()
    if body.startswith("data:"):
        header, _, body = body.partition(",")
        if not header.endswith(";base64"):
            raise AimlError("invalid_media", f"the {kind} data URI is not base64 (data:<type>;base64,...)")
        declared = declared or header[5 : -len(";base64")] or None
    size = len(body) * 3 // 4 - body[-2:].count("=")
    if size > limit:
        raise input_too_large(kind, size, limit, setting)
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise AimlError("invalid_media", f"the {kind} is not valid base64 text; nothing was sent") from None
    return checked(data, declared, kind, f"{kind} data")


def media_policy(settings: AimlSettings) -> Policy:
    """The path policy of the media tools: ``aiml.media_roots`` (read only) and ``aiml.media_deny``.

    Raises:
        AimlError: ``no_media_roots`` when the operator allowed no directory.
    """
    if not settings.media_roots:
        raise AimlError(
            "no_media_roots",
            "the operator allowed no directory to read media from (aiml.media_roots): send the file as base64 data",
        )
    return Policy.build(
        [(str(root.path), "ro") for root in settings.media_roots],
        settings.media_deny,
        error=AimlError,
        roots_hint="the operator's aiml.media_roots are the only directories the media tools read",
    )


def from_path(settings: AimlSettings, path: str, declared: str | None, kind: MediaKind) -> Media:
    """Media read from ``path`` under the media roots, capped (blocking: run it in a worker thread)."""
    policy = media_policy(settings)
    resolved = policy.resolve(path, policy.operator_scope)
    if not resolved.exists:
        raise AimlError("not_found", f"{path!r} does not exist; the media roots are {policy.operator_scope.describe()}")
    setting = LIMITS[kind]
    limit: int = getattr(settings, setting)
    try:
        info = os.stat(resolved.path)
    except OSError as exc:
        raise AimlError("unreadable", f"{path!r} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise AimlError("not_regular", f"{path!r} is not a regular file: name an {kind} file")
    size = info.st_size
    if size > limit:
        raise input_too_large(f"{kind} file", size, limit, setting)
    shown = resolved.relative or os.path.basename(resolved.path)
    try:
        data = read_bytes(policy, WalkedFile(path=resolved.path, relative=shown, size=size), limit)
    except AimlError as exc:
        if exc.code == "too_large":  # it grew between the check and the read
            raise input_too_large(f"{kind} file", limit + 1, limit, setting) from None
        raise
    return checked(data, declared, kind, f"file {shown!r}")


async def media_input(
    settings: AimlSettings, data: str | None, path: str | None, declared: str | None, kind: MediaKind
) -> Media:
    """The media of a call that gave exactly one of ``data`` (base64) and ``path``.

    Raises:
        AimlError: ``invalid_arguments`` (neither or both), ``input_too_large``, ``invalid_media``,
            ``no_media_roots`` and the path policy's codes (``outside_roots``, ``denied``...).
    """
    if (data is None) == (path is None):
        raise AimlError(
            "invalid_arguments", f"give the {kind} either as base64 `{kind}` data or as a `path`, exactly one of them"
        )
    if data is not None:
        setting = LIMITS[kind]
        return from_base64(data, declared, kind, getattr(settings, setting), setting)
    assert path is not None
    return await anyio.to_thread.run_sync(from_path, settings, path, declared, kind)
