"""Roles: allow/deny glob patterns over namespaced names, at three levels, deny wins.

What a pattern matches:

- ``filesystem_read_*`` (no prefix): tool and prompt names as the gateway namespaces them
  (``<server>_<name>``), on every endpoint — also on ``/servers/<name>/mcp``, where clients see the
  short names: rules read the same wherever a call comes from;
- ``tool:...`` / ``prompt:...``: tools only / prompts only;
- ``resource:file://*``: resource URIs and resource-template strings.

Where a rule sits (the levels) decides which items it can speak about, never which endpoint:

- role level (``roles.<role>.allow/deny``): every item;
- supervisor level (``roles.<role>.supervisors.<name>.allow/deny``): the items in that supervisor's
  group (its servers and tool patterns), reached through any endpoint;
- server level (``roles.<role>.servers.<name>.allow/deny``): that server's items;
- tool level is a pattern naming one tool exactly (``filesystem_write_file``) at any of these levels.

How they combine, for a principal holding several roles: every rule of every role at every level that
applies to the item is gathered; if any deny pattern matches, the item is denied (deny wins over
allow, whatever the level or role); otherwise it is allowed if any allow pattern matches; otherwise it
is denied (default deny). An unknown role name grants nothing. The anonymous principal of a gateway
without auth is not subject to roles.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from mesh.security.principal import Principal
from mesh.security.settings import RoleSettings, RuleSet

ItemKind = Literal["tool", "prompt", "resource"]
_PREFIXES: tuple[ItemKind, ...] = ("tool", "prompt", "resource")
_CACHE_LIMIT = 65_536


@dataclass(frozen=True)
class Item:
    """Something a role can allow: its kind, namespaced name (or URI), server and the supervisors containing it."""

    kind: ItemKind
    name: str
    server: str
    supervisors: tuple[str, ...] = ()


def pattern_matches(pattern: str, item: Item) -> bool:
    kind, sep, rest = pattern.partition(":")
    if sep and kind in _PREFIXES:
        return kind == item.kind and fnmatch.fnmatchcase(item.name, rest)
    return item.kind != "resource" and fnmatch.fnmatchcase(item.name, pattern)


class RolePolicy:
    """Decides whether a principal may see and use an item; decisions are cached per (roles, item)."""

    def __init__(self, roles: Mapping[str, RoleSettings]) -> None:
        self.roles = dict(roles)
        self._cache: dict[tuple[tuple[str, ...], Item], bool] = {}

    def _rules(self, role_names: Iterable[str], item: Item) -> Iterable[RuleSet]:
        for role_name in role_names:
            role = self.roles.get(role_name)
            if role is None:
                continue
            yield role
            for supervisor in item.supervisors:
                scoped = role.supervisors.get(supervisor)
                if scoped is not None:
                    yield scoped
            by_server = role.servers.get(item.server)
            if by_server is not None:
                yield by_server

    def decide(self, role_names: tuple[str, ...], item: Item) -> bool:
        key = (role_names, item)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        rules = list(self._rules(role_names, item))
        if any(pattern_matches(p, item) for rule in rules for p in rule.deny):
            decision = False
        else:
            decision = any(pattern_matches(p, item) for rule in rules for p in rule.allow)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = decision
        return decision

    def allows(self, principal: Principal, item: Item) -> bool:
        return principal.unrestricted or self.decide(principal.roles, item)
