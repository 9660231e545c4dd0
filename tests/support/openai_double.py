"""``openai_double``: an in-process stand-in for the parts of an OpenAI-compatible API that no local server here
serves: chat completions with image content parts, and audio transcriptions.

It reproduces the documented wire formats (OpenAI's API reference):

- ``GET /v1/models``: ``{"object": "list", "data": [{"id", "object": "model", "owned_by"}]}``.
- ``POST /v1/chat/completions``: a message's ``content`` is a text or a list of parts
  ``{"type": "text", "text"}`` / ``{"type": "image_url", "image_url": {"url"}}``, the url a
  ``data:image/<png|jpeg|webp|gif>;base64,...`` URI here; streamed (``stream: true``) as server-sent
  events of ``chat.completion.chunk`` objects (``choices[].delta.content``, a last chunk with
  ``finish_reason``, a usage chunk with empty ``choices`` when ``stream_options.include_usage``),
  ended by ``data: [DONE]``. An image sent to a model that takes none is refused as OpenAI does:
  400 ``invalid_request_error`` (``Invalid content type. image_url is only supported by certain
  models.``); a data URI that does not decode is 400 with code ``invalid_image_format``.
- ``POST /v1/audio/transcriptions``: multipart ``file`` (its name's extension gives the format),
  ``model``, ``language``, ``response_format`` (``json``: ``{"text", "usage"}``; ``verbose_json``:
  ``task``, ``language``, ``duration``, ``text``, ``segments`` with ``start``/``end``/``text``);
  a model that only speaks ``json`` answers 400 with ``param: "response_format"`` (as OpenAI's gpt-4o
  transcribe models do); an unsupported extension is 400 ``Invalid file format. Supported formats: ...``.
- Every error body is ``{"error": {"message", "type", "param", "code"}}``: 404 ``model_not_found``
  for an unknown model, 503 while ``down``.

It answers with scripted text (``answer``, ``transcript``) and keeps what it received (``images``,
``uploads``), so tests can check what reached it. It proves the provider speaks these formats, not
that a live endpoint behaves the same.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

VISION_MODEL = "gpt-4o-mini"
TEXT_MODEL = "text-only-1"
WHISPER_MODEL = "whisper-1"
JSON_ONLY_MODEL = "gpt-4o-transcribe"
AUDIO_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


def error_body(message: str, code: str | None, param: str | None = None, kind: str = "invalid_request_error") -> Any:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class OpenAIDouble:
    vision_models: set[str] = field(default_factory=lambda: {VISION_MODEL})
    chat_models: set[str] = field(default_factory=lambda: {VISION_MODEL, TEXT_MODEL})
    audio_models: set[str] = field(default_factory=lambda: {WHISPER_MODEL, JSON_ONLY_MODEL})
    answer: str = "A red square on white."
    transcript: str = "Hello there. General Kenobi."
    down: bool = False
    images: list[tuple[str, bytes]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/audio/transcriptions", self.transcriptions, methods=["POST"]),
            ]
        )

    def _down(self) -> Response | None:
        if self.down:
            body = error_body("The server is overloaded or not ready yet.", None, kind="server_error")
            return JSONResponse(body, status_code=503)
        return None

    def _missing(self, model: str) -> Response:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return JSONResponse(error_body(message, "model_not_found"), status_code=404)

    async def models(self, _request: Request) -> Response:
        if (down := self._down()) is not None:
            return down
        names = sorted(self.chat_models | self.audio_models)
        return JSONResponse(
            {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "double"} for n in names]}
        )

    async def chat(self, request: Request) -> Response:
        if (down := self._down()) is not None:
            return down
        body = json.loads(await request.body() or b"{}")
        self.requests.append((request.url.path, body))
        model = str(body.get("model"))
        if model not in self.chat_models:
            return self._missing(model)
        prompt_chars = 0
        seen = len(self.images)
        for message in body.get("messages") or []:
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            for part in parts:
                if part.get("type") == "text":
                    prompt_chars += len(part.get("text") or "")
                elif part.get("type") == "image_url":
                    if model not in self.vision_models:
                        text = "Invalid content type. image_url is only supported by certain models."
                        return JSONResponse(error_body(text, None, "messages.[0].content.[1].type"), status_code=400)
                    refused = self._take_image(str((part.get("image_url") or {}).get("url") or ""))
                    if refused is not None:
                        return refused
                else:
                    text = f"Invalid value: '{part.get('type')}'. Supported values are: 'text' and 'image_url'."
                    return JSONResponse(error_body(text, "invalid_value", "messages.[0].content.[0].type"), 400)
        limit = int(body.get("max_tokens") or 128)
        words = [w + " " for w in self.answer.split(" ")][:limit]
        usage = {
            "prompt_tokens": max(1, prompt_chars // 4) + 85 * (len(self.images) - seen),
            "completion_tokens": len(words),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        reason = "length" if len(words) >= limit else "stop"

        async def events() -> AsyncIterator[bytes]:
            for word in words:
                yield _event(_chunk(model, {"content": word}, None))
            yield _event(_chunk(model, {}, reason))
            if with_usage:
                yield _event(
                    {"id": "chatcmpl-double", "object": "chat.completion.chunk", "choices": [], "usage": usage}
                )
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def _take_image(self, url: str) -> Response | None:
        header, _, data = url.partition(",")
        mime = header[5:].removesuffix(";base64") if header.startswith("data:") else ""
        try:
            decoded = base64.b64decode(data, validate=True) if mime in IMAGE_TYPES else b""
        except (binascii.Error, ValueError):
            decoded = b""
        if not decoded:
            text = "You uploaded an unsupported image. Please make sure your image is valid."
            return JSONResponse(error_body(text, "invalid_image_format"), status_code=400)
        self.images.append((mime, decoded))
        return None

    async def transcriptions(self, request: Request) -> Response:
        if (down := self._down()) is not None:
            return down
        form = await request.form()
        upload = form.get("file")
        model = str(form.get("model") or "")
        response_format = str(form.get("response_format") or "json")
        if not isinstance(upload, UploadFile):
            return JSONResponse(error_body("you must provide a file", None, "file"), status_code=400)
        data = await upload.read()
        self.uploads.append(
            {
                "filename": upload.filename,
                "content_type": upload.content_type,
                "data": data,
                "model": model,
                "language": form.get("language"),
                "response_format": response_format,
            }
        )
        if model not in self.audio_models:
            return self._missing(model)
        extension = (upload.filename or "").rpartition(".")[2].lower()
        if extension not in AUDIO_FORMATS:
            text = f"Invalid file format. Supported formats: {list(AUDIO_FORMATS)}"
            return JSONResponse(error_body(text, None), status_code=400)
        if response_format == "verbose_json" and model == JSON_ONLY_MODEL:
            text = (
                f"response_format 'verbose_json' is not compatible with model '{model}'. Use 'json' or 'text' instead."
            )
            return JSONResponse(error_body(text, "unsupported_value", "response_format"), status_code=400)
        if response_format == "json":
            words = len(self.transcript.split())
            usage = {"type": "tokens", "input_tokens": 20, "output_tokens": words, "total_tokens": 20 + words}
            return JSONResponse({"text": self.transcript, "usage": usage})
        sentences = [s.strip() + "." for s in self.transcript.split(".") if s.strip()]
        segments = [
            {"id": i, "seek": 0, "start": 1.5 * i, "end": 1.5 * (i + 1), "text": " " + text, "temperature": 0.0}
            for i, text in enumerate(sentences)
        ]
        duration = 1.5 * len(segments)
        language = {"en": "english", "fr": "french"}.get(str(form.get("language") or "en"), "english")
        return JSONResponse(
            {
                "task": "transcribe",
                "language": language,
                "duration": duration,
                "text": self.transcript,
                "segments": segments,
                "usage": {"type": "duration", "seconds": round(duration)},
            }
        )


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": 1_764_720_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()
