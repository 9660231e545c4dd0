"""``POST /audio/transcriptions`` of an OpenAI-compatible API: the audio as a multipart upload, the text back.

``response_format=verbose_json`` is asked first, for the language, the duration and the segments
(whisper-1, whisper.cpp's and faster-whisper's servers give them); a model that refuses that format
(OpenAI's gpt-4o transcribe models answer 400 naming ``response_format``) is asked again for ``json``,
the text alone. Usage is the answer's ``usage`` when it counts tokens (``type: tokens``); else the
text's tokens are estimated.
"""

from __future__ import annotations

from typing import Any

import httpx

from servers.aiml.errors import AimlError
from servers.aiml.providers.base import Media, Segment, Transcription
from servers.aiml.providers.http_errors import status_failure, transport_failure

CHARS_PER_TOKEN = 4
FORMATS = ("verbose_json", "json")


async def transcribe(
    client: httpx.AsyncClient, provider: str, model: str, audio: Media, language: str | None
) -> Transcription:
    """The transcription of ``audio`` by ``model``; errors are the provider's coded failures."""
    for response_format in FORMATS:
        fields = {"model": model, "response_format": response_format}
        if language:
            fields["language"] = language
        files = {"file": (f"audio.{audio.extension}", audio.data, audio.mime_type)}
        try:
            answer = await client.post("/audio/transcriptions", data=fields, files=files)
        except httpx.HTTPError as exc:
            raise transport_failure(provider, exc) from None
        if answer.status_code == 400 and response_format != FORMATS[-1] and _refuses_format(answer):
            continue
        if answer.status_code >= 400:
            raise status_failure(provider, model, answer.status_code, answer.text)
        try:
            body = answer.json()
        except ValueError:
            raise AimlError("provider_refused", f"the provider {provider!r} answered with no JSON") from None
        return parsed(body if isinstance(body, dict) else {})
    raise AimlError("provider_refused", f"the provider {provider!r} took no response format of {FORMATS}")


def _refuses_format(answer: httpx.Response) -> bool:
    try:
        error = (answer.json() or {}).get("error") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and (error.get("param") == "response_format" or "response_format" in str(error))


def parsed(body: dict[str, Any]) -> Transcription:
    """A transcription from a ``json`` or ``verbose_json`` answer."""
    text = str(body.get("text") or "")
    segments = tuple(
        Segment(start=float(item.get("start") or 0.0), end=float(item.get("end") or 0.0), text=str(item.get("text")))
        for item in body.get("segments") or []
        if isinstance(item, dict)
    )
    found = body.get("usage")
    usage: dict[str, Any] = found if isinstance(found, dict) else {}
    duration = body.get("duration")
    if duration is None and usage.get("type") == "duration":
        duration = usage.get("seconds")
    language = body.get("language")
    if usage.get("type") == "tokens":
        prompt, completion, estimated = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0), False
    else:
        prompt, completion, estimated = 0, max(1, len(text) // CHARS_PER_TOKEN), True
    return Transcription(
        text=text,
        language=str(language) if language else None,
        duration_seconds=float(duration) if duration is not None else None,
        segments=segments,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_estimated=estimated,
    )
