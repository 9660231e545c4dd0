"""The aiml server's light tools (embed, classify, show_policy) answer over HTTP on the fast path as the SDK does.

Both apps run the same server definition on the bundled models; each gets the same calls in the same
order, so their budgets agree. What differs run to run (a call's latency) is masked before comparing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mesh.config import Settings
from servers.aiml.providers.local.model_file import bundled_model
from servers.aiml.server import build_server
from servers.runtime.definition import ServerDefinition
from tests.servers.aiml.support import service_for, suite_settings
from tests.servers.runtime.test_fastpath import Answer, both, results_alike

pytestmark = pytest.mark.anyio

PRINCIPAL = {"x-mcp-suite-principal": "alice"}


def aiml(settings: Settings) -> Any:
    return build_server(settings, service_for(settings))


AIML = ServerDefinition(name="aiml", build=aiml)


def masked(answer: Answer) -> tuple[int, list[tuple[str, str]], bytes]:
    body = re.sub(rb'(\\?"(?:latency_ms|first_token_ms)\\?": ?)[0-9.e-]+', rb"\1T", answer.body)
    return answer.status, [(k, v) for k, v in answer.headers if k != "content-length"], body


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundled_model(tmp_path_factory.mktemp("aiml-models"))


async def test_embed_classify_and_show_policy_take_the_fast_path_with_the_sdks_answers(
    tmp_path: Path, model_path: Path
) -> None:
    settings = suite_settings(tmp_path, model_path, trust_forwarded_principal=True)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("embed", {"texts": ["a short text"]}),
        ("classify", {"text": "rain all week", "labels": ["weather", "sport"]}),
        ("show_policy", {}),
        ("embed", {"texts": []}),  # bad input: the same refusal, and nothing charged
        ("show_policy", {}),
    ]
    async with both(AIML, settings) as (fast, sdk):
        answers = await results_alike(fast, sdk, calls, PRINCIPAL, masked)
    embedded, classified, policy, refused, policy_after = answers
    assert embedded["structuredContent"]["dimension"] == 384
    assert embedded["structuredContent"]["usage"]["principal"] == "alice"
    assert classified["structuredContent"]["label"] == "weather"
    assert policy["structuredContent"]["budget"]["principal"] == "alice"
    assert refused["isError"] is True
    assert policy_after["structuredContent"]["budget"] == policy["structuredContent"]["budget"]
