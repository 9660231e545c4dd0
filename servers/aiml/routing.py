"""From what a call names (an alias, ``<provider>/<model>`` or nothing) to the ordered candidates to try.

An alias lists ``<provider>/<model>`` pairs in order; a name with a ``/`` is one pair. When the
principal's budget is low, the fallback alias's candidates (the cheaper models) come first. The
allow-list removes what the operator has not allowed; a call left with nothing is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.aiml.errors import AimlError, no_capable_model
from servers.aiml.policy.allow_list import allowed
from servers.aiml.settings import MEDIA_ALIASES, AimlSettings


@dataclass(frozen=True)
class Candidate:
    provider: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"


def split(name: str) -> Candidate:
    provider, _, model = name.partition("/")
    return Candidate(provider, model)


def candidates(
    settings: AimlSettings, requested: str | None, default_alias: str, *, budget_low: bool
) -> list[Candidate]:
    """The candidates of ``requested`` (``None``: ``default_alias``), in the order they are tried.

    Raises:
        AimlError: ``unsupported_capability`` for an empty media alias (``vision``, ``transcribe``);
            ``unknown_model`` for a name that is neither an alias nor ``<provider>/<model>`` of a
            configured provider; ``model_not_allowed`` when the allow-list leaves no candidate.
    """
    name = requested or default_alias
    if name in MEDIA_ALIASES and not settings.aliases.get(name):
        raise no_capable_model(MEDIA_ALIASES[name], name)
    if name in settings.aliases:
        targets = [split(target) for target in settings.aliases[name]]
    elif "/" in name and split(name).provider in settings.providers and split(name).model:
        targets = [split(name)]
    else:
        raise AimlError(
            "unknown_model",
            f"{name!r} is neither an alias ({', '.join(sorted(settings.aliases))}) nor <provider>/<model> of a "
            f"configured provider ({', '.join(sorted(settings.providers))}); `list_models` shows the models",
        )
    fallback = settings.budget.fallback_alias
    if budget_low and fallback in settings.aliases and fallback != name:
        cheaper = [split(target) for target in settings.aliases[fallback]]
        targets = [*cheaper, *(t for t in targets if t not in cheaper)]
    permitted = [t for t in targets if allowed(settings.allowed_models, t.provider, t.model)]
    if not permitted:
        raise AimlError(
            "model_not_allowed",
            f"{name!r} resolves to {', '.join(t.label for t in targets)}, none of which the operator's allow-list "
            "(aiml.allowed_models) admits: choose another model",
        )
    return permitted
