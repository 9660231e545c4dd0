"""The aggregated tools, prompts and resources of every available server, namespaced.

Tools and prompts are named ``<server>_<name>`` (``^[a-zA-Z0-9_-]{1,64}$``); resources keep their
URIs and are routed by an exact-URI map, then by the first matching template. A name that collides
or does not fit the rule is reported in ``problems`` and left out; it never stops the gateway.

A :class:`View` selects what one endpoint shows: everything with prefixes (``/mcp``), one server
under its own names (``/servers/<name>/mcp``), or one supervisor's group (``/supervisors/<name>/mcp``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate

from gateway.call.policies import GATEWAY_SERVER, supervisor_includes
from gateway.call.tool_names import ToolNames
from gateway.settings import GatewaySettings

NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PAGE_SIZE = 200


@dataclass(frozen=True)
class View:
    """What one endpoint shows: ``kind`` is ``all``, ``server`` or ``supervisor``."""

    kind: str = "all"
    name: str | None = None

    @property
    def prefixed(self) -> bool:
        return self.kind != "server"

    @property
    def supervisor(self) -> str | None:
        return self.name if self.kind == "supervisor" else None

    def label(self) -> str:
        return self.kind if self.name is None else f"{self.kind}:{self.name}"


ALL = View()


@dataclass(frozen=True)
class Entry:
    """One tool or prompt: its gateway name, its server, its upstream name and its wire definition."""

    gateway_name: str
    server: str
    name: str
    definition: Mapping[str, Any]

    @property
    def annotations(self) -> Mapping[str, Any]:
        return self.definition.get("annotations") or {}


@dataclass
class Catalog:
    tools: dict[str, Entry] = field(default_factory=dict)
    prompts: dict[str, Entry] = field(default_factory=dict)
    resources: dict[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    templates: list[tuple[UriTemplate, str, Mapping[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fingerprint: str = ""
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    _tool_names: dict[tuple[str, bool], ToolNames] = field(default_factory=dict, repr=False)

    # ---- lookups -------------------------------------------------------------------------
    def tool(self, view: View, name: str) -> Entry | None:
        key = f"{view.name}_{name}" if view.kind == "server" else name
        entry = self.tools.get(key)
        return entry if entry is not None and self.visible(view, entry) else None

    def prompt(self, view: View, name: str) -> Entry | None:
        key = f"{view.name}_{name}" if view.kind == "server" else name
        entry = self.prompts.get(key)
        return entry if entry is not None and self.visible(view, entry) else None

    def resource_server(self, uri: str) -> str | None:
        """The server that owns ``uri``: an exact listed URI first, then the first matching template."""
        found = self.resources.get(uri)
        if found is not None:
            return found[0]
        for template, server, _definition in self.templates:
            try:
                if template.match(uri) is not None:
                    return server
            except ValueError:
                continue
        return None

    def visible(self, view: View, entry: Entry) -> bool:
        if view.kind == "all":
            return True
        if view.kind == "server":
            return entry.server == view.name
        group = self.settings.supervisors.get(view.name or "")
        return group is not None and supervisor_includes(group, entry.server, entry.gateway_name)

    def server_visible(self, view: View, server: str) -> bool:
        if view.kind == "all":
            return True
        if view.kind == "server":
            return server == view.name
        group = self.settings.supervisors.get(view.name or "")
        return group is not None and server in group.servers

    # ---- listings for one view -----------------------------------------------------------
    def list_tools(self, view: View) -> list[dict[str, Any]]:
        return [
            {**entry.definition, "name": entry.gateway_name if view.prefixed else entry.name}
            for entry in self.tools.values()
            if self.visible(view, entry)
        ]

    def list_prompts(self, view: View) -> list[dict[str, Any]]:
        return [
            {**entry.definition, "name": entry.gateway_name if view.prefixed else entry.name}
            for entry in self.prompts.values()
            if self.visible(view, entry)
        ]

    def list_resources(self, view: View) -> list[dict[str, Any]]:
        return [dict(d) for server, d in self.resources.values() if self.server_visible(view, server)]

    def list_templates(self, view: View) -> list[dict[str, Any]]:
        return [dict(d) for _t, server, d in self.templates if self.server_visible(view, server)]

    def tool_names(self, view: View, server: str) -> ToolNames:
        """How ``server``'s texts name its tools to a client of ``view``: prefixed, except on its own endpoint."""
        key = (server, view.prefixed)
        names = self._tool_names.get(key)
        if names is None:
            shown = {
                e.name: e.gateway_name if view.prefixed else e.name for e in self.tools.values() if e.server == server
            }
            names = self._tool_names[key] = ToolNames(shown)
        return names

    def names_by_server(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for entry in self.tools.values():
            grouped.setdefault(entry.server, []).append(entry.gateway_name)
        return grouped


def build_catalog(
    listings: Mapping[str, Any], gateway_tools: Iterable[Mapping[str, Any]], settings: GatewaySettings
) -> Catalog:
    """Namespace every available server's listing; ``listings`` maps server → :class:`~gateway.upstream.instances.Listing`."""
    catalog = Catalog(settings=settings)
    owners: dict[str, str] = {}

    def add(kind: str, table: dict[str, Entry], server: str, definition: Mapping[str, Any], prefixed: str) -> None:
        name = str(definition.get("name", ""))
        if not NAME_RULE.match(prefixed):
            catalog.problems.append(
                f"{kind} {name!r} of {server} is left out: {prefixed!r} does not match {NAME_RULE.pattern}"
            )
            return
        if prefixed in table:
            catalog.problems.append(
                f"{kind} name collision: {prefixed!r} from {server} clashes with {table[prefixed].server}; "
                f"the one from {server} is left out"
            )
            return
        table[prefixed] = Entry(prefixed, server, name, definition)

    for definition in gateway_tools:
        add("tool", catalog.tools, GATEWAY_SERVER, definition, str(definition["name"]))
    for server in sorted(listings):
        listing = listings[server]
        for tool in listing.tools:
            add("tool", catalog.tools, server, tool, f"{server}_{tool.get('name', '')}")
        for prompt in listing.prompts:
            add("prompt", catalog.prompts, server, prompt, f"{server}_{prompt.get('name', '')}")
        for resource in listing.resources:
            uri = str(resource.get("uri", ""))
            if uri in owners and owners[uri] != server:
                catalog.problems.append(
                    f"resource {uri} is offered by {owners[uri]} and {server}; {owners[uri]} keeps it"
                )
                continue
            owners[uri] = server
            catalog.resources[uri] = (server, resource)
        for template in listing.templates:
            text = str(template.get("uriTemplate", ""))
            try:
                parsed = UriTemplate.parse(text)
            except (InvalidUriTemplate, ValueError) as exc:
                catalog.problems.append(f"resource template {text!r} of {server} is left out: {exc}")
                continue
            catalog.templates.append((parsed, server, template))
    catalog.fingerprint = hashlib.sha256(
        json.dumps(
            [
                [(e.gateway_name, e.definition) for e in catalog.tools.values()],
                [(e.gateway_name, e.definition) for e in catalog.prompts.values()],
                sorted(catalog.resources),
                [str(t) for t, _s, _d in catalog.templates],
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:16]
    return catalog


def paginate(
    items: list[dict[str, Any]], cursor: str | None, page_size: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` and the cursor of the next (None at the end). A bad cursor is a ``ValueError``."""
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f"invalid cursor {cursor!r}: pass the nextCursor of the previous page") from None
        if start < 0 or start > len(items):
            raise ValueError(f"cursor {cursor!r} is past the end of the list; start again without a cursor")
    end = start + page_size
    next_cursor = base64.urlsafe_b64encode(f"o:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], next_cursor
