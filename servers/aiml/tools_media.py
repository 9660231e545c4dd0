"""The media tools of the gateway's ``multimodal`` supervisor: ``describe_image`` and ``transcribe_audio``.

Each takes its input as base64 ``data`` (or a ``data:`` URI) or as a ``path`` under the operator's
``aiml.media_roots`` (:mod:`.media`), capped and type-checked before anything is sent. A model is
named or comes from the alias ``vision`` / ``transcribe``, both empty by default: the bundled model
neither sees nor hears, so without a configured model a call answers ``unsupported_capability``
naming the alias to set. ``describe_image`` streams its answer like ``generate``.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from servers.aiml.arguments import MaxTokens, ModelName, Temperature
from servers.aiml.calls import caller_of, progress_of
from servers.aiml.media import AudioType, ImageType, media_input
from servers.aiml.models import DescribeResult, MediaInfo, TranscriptionResult, TranscriptSegment
from servers.aiml.providers.base import GenerationOptions, Media, Transcription
from servers.aiml.service import AimlService, VisionPrompt
from servers.aiml.tools_generate import check_input, model_call_hints
from servers.runtime.light_context import never_needs_session, session_needed_when

Base64 = Annotated[
    str | None,
    Field(default=None, min_length=1, max_length=2**31, description="the file as base64, or a data:<type>;base64 URI"),
]
MediaPath = Annotated[
    str | None,
    Field(default=None, min_length=1, max_length=4096, description="a file under the operator's aiml.media_roots"),
]
Language = Annotated[
    str | None,
    Field(
        default=None, pattern=r"^[a-z]{2,3}$", description="the spoken language, ISO-639-1 (en, fr); omitted: detect"
    ),
]


def media_info(media: Media, path: str | None) -> MediaInfo:
    return MediaInfo(mime_type=media.mime_type, bytes=len(media.data), source="path" if path else "data")


def within_budget(heard: Transcription, cap: int) -> tuple[str, list[TranscriptSegment], bool]:
    """The text and the segments that fit the output budget (``cap`` characters each), and whether any was cut."""
    segments: list[TranscriptSegment] = []
    used = 0
    for piece in heard.segments:
        used += len(piece.text) + 40  # the numbers and keys of a segment
        if used > cap:
            break
        segments.append(TranscriptSegment(start=piece.start, end=piece.end, text=piece.text))
    cut = len(heard.text) > cap or len(segments) < len(heard.segments)
    return heard.text[:cap], segments, cut


def register_media_tools(server: MCPServer[Any], service: AimlService) -> None:
    settings = service.settings
    hints = model_call_hints(service)

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def describe_image(
        ctx: Context[Any, Any],
        image: Base64 = None,
        path: MediaPath = None,
        mime_type: Annotated[
            ImageType | None, Field(description="checked against the bytes; omitted: taken from them")
        ] = None,
        prompt: Annotated[
            str, Field(min_length=1, max_length=100_000, description="what to ask about the image")
        ] = "Describe this image.",
        model: ModelName = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = 0.2,
    ) -> DescribeResult:
        """Answer a prompt about an image (base64 or a path under the media roots), streamed as progress."""
        check_input(service, len(prompt))
        media = await media_input(settings, image, path, mime_type, "image")
        principal = caller_of(ctx, service)
        cap = service.cap_tokens(max_tokens, principal)
        on_text = progress_of(ctx, cap, settings.progress_interval_seconds)
        done = await service.generate(
            "vision", model, VisionPrompt(prompt, (media,)), GenerationOptions(cap, temperature), principal, on_text
        )
        return DescribeResult(
            text=done.text,
            finish_reason=done.finish_reason,
            max_tokens=cap,
            image=media_info(media, path),
            usage=done.usage,
        )

    @server.tool(annotations=hints)
    @session_needed_when(never_needs_session)
    async def transcribe_audio(
        ctx: Context[Any, Any],
        audio: Base64 = None,
        path: MediaPath = None,
        mime_type: Annotated[
            AudioType | None, Field(description="checked against the bytes; omitted: taken from them")
        ] = None,
        language: Language = None,
        model: ModelName = None,
    ) -> TranscriptionResult:
        """The text of an audio file (base64 or a path under the media roots), with timed segments when given."""
        media = await media_input(settings, audio, path, mime_type, "audio")
        done = await service.transcribe(model, media, language, caller_of(ctx, service))
        text, segments, cut = within_budget(done.transcription, settings.max_output_chars)
        heard = done.transcription
        return TranscriptionResult(
            text=text,
            language=heard.language or language,
            duration_seconds=heard.duration_seconds,
            segments=segments,
            truncated=cut,
            audio=media_info(media, path),
            usage=done.usage,
        )
