"""describe_image and transcribe_audio through the SDK client, against the Ollama double and the OpenAI-compatible
double (wire formats, not live endpoints), and against the local provider, which neither sees nor hears."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.aiml.server import build_server
from servers.aiml.service import AimlService
from servers.aiml.settings import aiml_settings
from suite.settings import SuiteSettings
from tests.servers.aiml.support import service_for, suite_settings
from tests.support.media_files import png, wav
from tests.support.ollama_double import CHAT_MODEL, VISION_MODEL, VISION_SPEC, OllamaDouble
from tests.support.openai_double import JSON_ONLY_MODEL, TEXT_MODEL, WHISPER_MODEL, OpenAIDouble
from tests.support.openai_double import VISION_MODEL as GPT_VISION
from tests.support.tool_results import data, text_of
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

IMAGE = base64.b64encode(png()).decode()
AUDIO = base64.b64encode(wav()).decode()


@dataclass
class Doubles:
    ollama: OllamaDouble
    openai: OpenAIDouble
    ollama_url: str
    openai_url: str


@pytest.fixture
async def doubles() -> AsyncIterator[Doubles]:
    ollama = OllamaDouble(default_answer="A red square.")
    ollama.models[VISION_MODEL] = VISION_SPEC
    openai = OpenAIDouble()
    async with serve_app(ollama.app()) as ollama_url, serve_app(openai.app()) as openai_url:
        yield Doubles(ollama, openai, ollama_url, f"{openai_url}/v1")


def media_settings(tmp_path: Path, doubles: Doubles, **aiml: Any) -> SuiteSettings:
    section: dict[str, Any] = {
        "providers": {
            "ollama": {"kind": "ollama", "url": doubles.ollama_url, "health_ttl_seconds": 0},
            "gpt": {
                "kind": "openai",
                "url": doubles.openai_url,
                "health_ttl_seconds": 0,
                "vision_models": [GPT_VISION],
                "audio_models": ["whisper-*", "gpt-4o-*transcribe"],
            },
        },
        "aliases": {
            "default": [f"ollama/{CHAT_MODEL}"],
            "vision": [f"ollama/{VISION_MODEL}"],
            "transcribe": [f"gpt/{WHISPER_MODEL}"],
        },
        **aiml,
    }
    return SuiteSettings(data_dir=tmp_path, aiml=section)


def client_for(settings: SuiteSettings) -> Client:
    return Client(build_server(settings, AimlService(aiml_settings(settings), settings.data_dir)))


async def test_an_image_is_described_by_an_ollama_vision_model_and_streamed(tmp_path: Path, doubles: Doubles) -> None:
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with client_for(media_settings(tmp_path, doubles, progress_interval_seconds=0)) as client:
        done = data(
            await client.call_tool(
                "describe_image", {"image": IMAGE, "prompt": "What is it?"}, progress_callback=on_progress
            )
        )
    assert done["text"] == "A red square." and seen and seen[-1] == "A red square."
    assert done["image"] == {"mime_type": "image/png", "bytes": len(png()), "source": "data"}
    assert done["usage"]["provider"] == "ollama" and done["usage"]["model"] == VISION_MODEL
    assert doubles.ollama.images == [png()]
    message = [body for path, body in doubles.ollama.requests if path == "/api/chat"][-1]["messages"][0]
    assert message["content"] == "What is it?" and message["images"] == [IMAGE]


async def test_an_image_goes_to_an_openai_endpoint_as_a_data_uri_content_part(tmp_path: Path, doubles: Doubles) -> None:
    settings = media_settings(tmp_path, doubles, aliases={"vision": [f"gpt/{GPT_VISION}"]})
    async with client_for(settings) as client:
        done = data(await client.call_tool("describe_image", {"image": IMAGE, "max_tokens": 3}))
    assert done["text"] == "A red square " and done["finish_reason"] == "length"
    assert done["usage"]["tokens_estimated"] is False and done["usage"]["prompt_tokens"] > 85
    content = doubles.openai.requests[-1][1]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "Describe this image."}
    assert content[1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{IMAGE}"}}
    assert doubles.openai.images == [("image/png", png())]


async def test_a_model_without_vision_is_skipped_and_the_next_candidate_answers(
    tmp_path: Path, doubles: Doubles
) -> None:
    settings = media_settings(
        tmp_path, doubles, aliases={"vision": [f"ollama/{CHAT_MODEL}", f"gpt/{TEXT_MODEL}", f"gpt/{GPT_VISION}"]}
    )
    async with client_for(settings) as client:
        done = data(await client.call_tool("describe_image", {"image": IMAGE}))
        named = await client.call_tool("describe_image", {"image": IMAGE, "model": f"ollama/{CHAT_MODEL}"})
    assert done["usage"]["model"] == GPT_VISION
    assert [f["reason"].split(":")[0] for f in done["usage"]["fallbacks"]] == ["unsupported_capability"] * 2
    assert named.is_error and text_of(named).startswith("unsupported_capability:")
    assert not any(path == "/api/chat" for path, _ in doubles.ollama.requests)


async def test_an_endpoint_that_refuses_images_answers_with_its_own_error(tmp_path: Path, doubles: Doubles) -> None:
    providers = {"gpt": {"kind": "openai", "url": doubles.openai_url, "vision_models": ["*"]}}
    settings = SuiteSettings(
        data_dir=tmp_path, aiml={"providers": providers, "aliases": {"default": [f"gpt/{TEXT_MODEL}"]}}
    )
    async with client_for(settings) as client:
        refused = await client.call_tool("describe_image", {"image": IMAGE, "model": f"gpt/{TEXT_MODEL}"})
    assert refused.is_error and text_of(refused).startswith("provider_refused:")
    assert "image_url is only supported by certain models" in text_of(refused)


async def test_audio_is_transcribed_with_segments_from_verbose_json(tmp_path: Path, doubles: Doubles) -> None:
    async with client_for(media_settings(tmp_path, doubles)) as client:
        done = data(await client.call_tool("transcribe_audio", {"audio": AUDIO, "language": "en"}))
    upload = doubles.openai.uploads[-1]
    assert (upload["filename"], upload["data"], upload["model"]) == ("audio.wav", wav(), WHISPER_MODEL)
    assert (upload["language"], upload["response_format"]) == ("en", "verbose_json")
    assert done["text"] == "Hello there. General Kenobi." and done["language"] == "english"
    assert [s["text"] for s in done["segments"]] == [" Hello there.", " General Kenobi."]
    assert done["duration_seconds"] == 3.0 and done["truncated"] is False
    assert done["usage"]["provider"] == "gpt" and done["usage"]["tokens_estimated"] is True


async def test_a_json_only_transcription_model_is_asked_again_for_json(tmp_path: Path, doubles: Doubles) -> None:
    async with client_for(media_settings(tmp_path, doubles)) as client:
        done = data(await client.call_tool("transcribe_audio", {"audio": AUDIO, "model": f"gpt/{JSON_ONLY_MODEL}"}))
    assert [u["response_format"] for u in doubles.openai.uploads] == ["verbose_json", "json"]
    assert done["segments"] == [] and done["language"] is None
    assert done["usage"]["tokens_estimated"] is False and done["usage"]["prompt_tokens"] == 20


async def test_an_input_over_its_limit_is_refused_and_nothing_is_sent(tmp_path: Path, doubles: Doubles) -> None:
    settings = media_settings(tmp_path, doubles, max_image_bytes=1024, max_audio_bytes=1024)
    big_image = base64.b64encode(png(width=300, height=300, rgb=(9, 8, 7)) + b"\x00" * 2048).decode()
    async with client_for(settings) as client:
        image = await client.call_tool("describe_image", {"image": big_image})
        audio = await client.call_tool("transcribe_audio", {"audio": base64.b64encode(wav(seconds=1)).decode()})
    assert text_of(image).startswith("input_too_large:") and "aiml.max_image_bytes" in text_of(image)
    assert text_of(audio).startswith("input_too_large:") and "aiml.max_audio_bytes" in text_of(audio)
    assert doubles.ollama.requests == [] and doubles.openai.uploads == []


async def test_ollama_transcribes_nothing(tmp_path: Path, doubles: Doubles) -> None:
    async with client_for(media_settings(tmp_path, doubles)) as client:
        refused = await client.call_tool("transcribe_audio", {"audio": AUDIO, "model": f"ollama/{VISION_MODEL}"})
    assert refused.is_error and text_of(refused).startswith("unsupported_capability:")
    assert "aiml.aliases.transcribe" in text_of(refused)


async def test_capabilities_show_in_show_model_and_model_resources(tmp_path: Path, doubles: Doubles) -> None:
    async with client_for(media_settings(tmp_path, doubles)) as client:
        llava = data(await client.call_tool("show_model", {"model": "vision"}))
        whisper = data(await client.call_tool("show_model", {"model": f"gpt/{WHISPER_MODEL}"}))
        gpt = data(await client.call_tool("show_model", {"model": f"gpt/{GPT_VISION}"}))
        read = await client.read_resource(f"model://gpt/{WHISPER_MODEL}")
    assert "vision" in llava["capabilities"] and "vision" in gpt["capabilities"]
    assert whisper["kind"] == "transcription" and whisper["capabilities"] == ["audio"]
    card = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert card["kind"] == "transcription" and card["capabilities"] == ["audio"]


async def test_the_local_provider_answers_unsupported_capability_naming_the_alias(
    tmp_path: Path, model_path: Path
) -> None:
    settings = suite_settings(tmp_path, model_path)
    async with Client(build_server(settings, service_for(settings))) as client:
        image = await client.call_tool("describe_image", {"image": IMAGE})
        named = await client.call_tool("describe_image", {"image": IMAGE, "model": "local/gemma3-270m"})
        audio = await client.call_tool("transcribe_audio", {"audio": AUDIO})
        policy = data(await client.call_tool("show_policy", {}))
    assert text_of(image).startswith("unsupported_capability:") and "aiml.aliases.vision" in text_of(image)
    assert text_of(named).startswith("unsupported_capability:")
    assert text_of(audio).startswith("unsupported_capability:") and "aiml.aliases.transcribe" in text_of(audio)
    assert policy["budget"]["spent"] == 0
