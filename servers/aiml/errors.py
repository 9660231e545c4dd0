"""The aiml server's errors: a stable code first, then what was wrong and what to do instead.

``provider_unavailable`` (down, timed out, a 5xx) and ``provider_busy`` (its queue is full) move a
call on to the next model of its alias; the other codes end it.
"""

from __future__ import annotations

from servers.kit.tool_errors import CodedToolError

FALLBACK_CODES = frozenset({"provider_unavailable", "provider_busy"})
"""Failures after which the next candidate of an alias is tried."""


class AimlError(CodedToolError):
    """An error of the aiml server (``code`` stable, ``str()`` is ``"<code>: <message>"``)."""


def unavailable(provider: str, why: str) -> AimlError:
    return AimlError("provider_unavailable", f"the provider {provider!r} cannot be reached: {why}")


def refused(provider: str, why: str) -> AimlError:
    return AimlError("provider_refused", f"the provider {provider!r} refused the request: {why}")


def model_not_found(provider: str, model: str) -> AimlError:
    return AimlError(
        "model_not_found", f"the provider {provider!r} has no model {model!r}; `list_models` shows the models there are"
    )


def unsupported(provider: str, what: str) -> AimlError:
    return AimlError("unsupported", f"the provider {provider!r} does not support {what}")


def no_capable_model(capability: str, alias: str, tried: str = "") -> AimlError:
    """No candidate takes ``capability`` (``vision``, ``audio``): names the alias the operator sets."""
    seen = f" ({tried})" if tried else ""
    return AimlError(
        "unsupported_capability",
        f"no configured model takes {capability} input{seen}: set aiml.aliases.{alias} to <provider>/<model> pairs "
        f"of a model with {capability} (list it in the provider's {capability}_models, or use an Ollama model "
        "whose /api/show lists it), or name such a model in `model`",
    )


def input_too_large(what: str, size: int, limit: int, setting: str) -> AimlError:
    return AimlError(
        "input_too_large",
        f"the {what} has {size} bytes, over aiml.{setting} ({limit}); nothing was sent: send a smaller one",
    )
