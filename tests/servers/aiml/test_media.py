"""The media of a call: base64 or a path under the media roots, capped and type-checked before anything is sent."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from servers.aiml.errors import AimlError
from servers.aiml.media import from_base64, media_input, sniffed
from servers.aiml.settings import AimlSettings
from tests.support.media_files import png, wav

pytestmark = pytest.mark.anyio


def settings_for(root: Path | None = None, **extra: Any) -> AimlSettings:
    roots = [{"path": str(root)}] if root is not None else []
    return AimlSettings.model_validate({"media_roots": roots, **extra})


def code_of(call: Any, *args: Any) -> str:
    with pytest.raises(AimlError) as raised:
        call(*args)
    return raised.value.code


def test_the_type_comes_from_the_bytes() -> None:
    assert sniffed(png()) == "image/png" and sniffed(wav()) == "audio/wav"
    assert sniffed(b"GIF89a....") == "image/gif" and sniffed(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniffed(b"hello world") is None


def test_base64_and_data_uris_give_the_same_image() -> None:
    text = base64.b64encode(png()).decode()
    plain = from_base64(text, None, "image", 10_000, "max_image_bytes")
    uri = from_base64(f"data:image/png;base64,{text}", None, "image", 10_000, "max_image_bytes")
    assert plain == uri and plain.data == png() and (plain.mime_type, plain.extension) == ("image/png", "png")


@pytest.mark.parametrize(
    ("text", "declared", "kind", "code"),
    [
        (base64.b64encode(png()).decode(), "image/jpeg", "image", "invalid_media"),  # declared is not what it is
        (base64.b64encode(b"just some text").decode(), None, "image", "invalid_media"),
        (base64.b64encode(png()).decode(), None, "audio", "invalid_media"),  # an image is no audio
        ("not base64 at all!", None, "image", "invalid_media"),
        ("data:image/png,rawbytes", None, "image", "invalid_media"),
        ("A" * 20_000, None, "image", "input_too_large"),  # refused before it is decoded
    ],
)
def test_bad_data_is_refused_with_its_code(text: str, declared: str | None, kind: Any, code: str) -> None:
    assert code_of(from_base64, text, declared, kind, 10_000, "max_image_bytes") == code


def test_a_too_large_input_names_the_setting() -> None:
    with pytest.raises(AimlError) as raised:
        from_base64("A" * 20_000, None, "image", 10_000, "max_image_bytes")
    assert "aiml.max_image_bytes (10000)" in raised.value.detail and "nothing was sent" in raised.value.detail


async def test_a_path_under_the_media_roots_is_read(tmp_path: Path) -> None:
    (tmp_path / "talk.wav").write_bytes(wav())
    media = await media_input(settings_for(tmp_path), None, str(tmp_path / "talk.wav"), None, "audio")
    assert media.data == wav() and media.mime_type == "audio/wav"


async def test_paths_outside_denied_missing_or_too_large_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes(png())
    (root / ".env.png").write_bytes(png())
    (root / "big.png").write_bytes(png(width=400, height=400, rgb=(1, 2, 3)) + b"\x00" * 4096)
    settings = settings_for(root, max_image_bytes=1024)
    codes = []
    for path in (tmp_path / "outside.png", root / ".env.png", root / "nope.png", root / "big.png", root):
        with pytest.raises(AimlError) as raised:
            await media_input(settings, None, str(path), None, "image")
        codes.append(raised.value.code)
    assert codes == ["outside_roots", "denied", "not_found", "input_too_large", "not_regular"]


async def test_without_media_roots_a_path_is_refused_and_data_still_works(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png())
    with pytest.raises(AimlError) as raised:
        await media_input(settings_for(None), None, str(tmp_path / "a.png"), None, "image")
    assert raised.value.code == "no_media_roots" and "aiml.media_roots" in raised.value.detail
    media = await media_input(settings_for(None), base64.b64encode(png()).decode(), None, None, "image")
    assert media.mime_type == "image/png"


async def test_exactly_one_of_data_and_path_is_asked_for(tmp_path: Path) -> None:
    for data, path in ((None, None), (base64.b64encode(png()).decode(), str(tmp_path / "a.png"))):
        with pytest.raises(AimlError) as raised:
            await media_input(settings_for(tmp_path), data, path, None, "image")
        assert raised.value.code == "invalid_arguments"
