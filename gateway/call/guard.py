"""Per-call security of the gateway: roles, rate limits, argument validation and the audit trail.

Every way into a tool goes through :meth:`CallGuard.call_tool` — the SDK endpoints (``/mcp``,
``/servers/<name>/mcp``, ``/supervisors/<name>/mcp``), the stateless fast path and REST — so the same
decision holds whichever door a caller picks. Lists are filtered with the same rules: a denied tool,
prompt or resource is not listed. The principal comes from the ASGI scope, where
:class:`~gateway.door.http_security.GatewaySecurityMiddleware` put it; when auth is configured and a request
carries no principal, nothing is allowed (fail closed). Over stdio it is :meth:`CallGuard.stdio_principal`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from opentelemetry import trace

from gateway.call.catalog import Catalog, Entry, View
from gateway.call.policies import GATEWAY_SERVER, supervisor_includes, supervisor_of_server
from gateway.call.router import GatewayError
from gateway.call.service import Gateway
from gateway.upstream.mcp_client import Notify, UpstreamError
from mesh import tracing
from mesh.config import Settings
from mesh.security.audit import AuditRecord, AuditTrail
from mesh.security.principal import ANONYMOUS, Principal, forwarding_principal
from mesh.security.ratelimit import RateLimiter
from mesh.security.redaction import digest_arguments
from mesh.security.roles import Item, ItemKind, RolePolicy
from mesh.security.settings import (
    AuditSettings,
    AuthSettings,
    RateLimitSettings,
    RequestLimitSettings,
    RoleSettings,
    local_user_name,
)

FORBIDDEN = -32010
RATE_LIMITED = -32011
PRINCIPAL_KEY = "mcp_suite.principal"
AUTH_TIMING_KEY = "mcp_suite.auth_timing"  # the HTTP door's timing of authentication (tracing on only)

Forward = Callable[[], Awaitable[dict[str, Any]]]


class CallGuard:
    """Roles, rate limits, validation and audit around the gateway's calls, built from the settings."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        auth: AuthSettings | None = None,
        roles: Mapping[str, RoleSettings] | None = None,
        rate_limits: RateLimitSettings | None = None,
        audit: AuditTrail | None = None,
        request_limits: RequestLimitSettings | None = None,
    ) -> None:
        self.gateway = gateway
        self.auth = auth or AuthSettings()
        self.auth_required = self.auth.configured
        self.roles = RolePolicy(roles or {})
        self.limiter = RateLimiter(rate_limits or RateLimitSettings())
        self.audit = audit or AuditTrail([])
        self.request_limits = request_limits or RequestLimitSettings()
        self._items: dict[tuple[ItemKind, str, str], Item] = {}
        self._items_for: object = None
        self._validators: dict[str, tuple[int, Any]] = {}

    @classmethod
    def from_settings(cls, gateway: Gateway, settings: Settings) -> CallGuard:
        audit_settings: AuditSettings = settings.audit
        return cls(
            gateway,
            auth=settings.auth,
            roles=settings.roles,
            rate_limits=settings.rate_limits,
            audit=AuditTrail.from_settings(audit_settings, Path(settings.data_dir)),
            request_limits=settings.request_limits,
        )

    async def aclose(self) -> None:
        await self.limiter.aclose()

    # ---- who ------------------------------------------------------------------------------
    def principal(self, scope: Mapping[str, Any] | None) -> Principal | None:
        """The caller of a request; None when auth is on and the request carries no principal."""
        found = scope.get(PRINCIPAL_KEY) if scope is not None else None
        if isinstance(found, Principal):
            noted = scope.pop(AUTH_TIMING_KEY, None) if isinstance(scope, MutableMapping) else None
            if noted is not None:  # the door authenticated before any span existed: record it under this one
                tracing.emit_noted_auth(noted)
            return found
        return None if self.auth_required else ANONYMOUS

    def stdio_principal(self) -> Principal:
        """Who every call of a stdio session acts as: no credential travels over stdio, so it is configured.

        ``auth.stdio`` names the subject and its roles. Without it the local user (by name) acts
        unrestricted when the config sets no roles, like the anonymous caller of a gateway without auth;
        once roles are set it holds none, so default deny hides and refuses everything (fail closed)
        until ``auth.stdio.roles`` grants some. Audit records carry ``auth_method: stdio`` either way.
        """
        configured = self.auth.stdio
        if configured is not None:
            return Principal(subject=configured.subject, roles=configured.roles, method="stdio")
        return Principal(subject=local_user_name(), method="stdio", unrestricted_local=not self.roles.roles)

    # ---- what they may see -----------------------------------------------------------------
    def _item(self, kind: ItemKind, name: str, server: str) -> Item:
        settings = self.gateway.settings
        if self._items_for is not settings:  # live settings changed: supervisors may have too
            self._items.clear()
            self._items_for = settings
        key = (kind, name, server)
        item = self._items.get(key)
        if item is None:
            supervisors = tuple(
                sup
                for sup, group in settings.supervisors.items()
                if (supervisor_includes(group, server, name) if kind != "resource" else server in group.servers)
            )
            item = self._items[key] = Item(kind, name, server, supervisors)
        return item

    def allows(self, principal: Principal | None, kind: ItemKind, name: str, server: str) -> bool:
        if principal is None:
            return False
        if principal.unrestricted:
            return True
        return self.roles.allows(principal, self._item(kind, name, server))

    def entry_allowed(self, principal: Principal | None, kind: ItemKind, entry: Entry) -> bool:
        return self.allows(principal, kind, entry.gateway_name, entry.server)

    def list_tools(self, principal: Principal | None, catalog: Catalog, view: View) -> list[dict[str, Any]]:
        if principal is not None and principal.unrestricted:
            return catalog.list_tools(view)
        return [
            {**e.definition, "name": e.gateway_name if view.prefixed else e.name}
            for e in catalog.tools.values()
            if catalog.visible(view, e) and self.entry_allowed(principal, "tool", e)
        ]

    def list_prompts(self, principal: Principal | None, catalog: Catalog, view: View) -> list[dict[str, Any]]:
        if principal is not None and principal.unrestricted:
            return catalog.list_prompts(view)
        return [
            {**e.definition, "name": e.gateway_name if view.prefixed else e.name}
            for e in catalog.prompts.values()
            if catalog.visible(view, e) and self.entry_allowed(principal, "prompt", e)
        ]

    def list_resources(self, principal: Principal | None, catalog: Catalog, view: View) -> list[dict[str, Any]]:
        if principal is not None and principal.unrestricted:
            return catalog.list_resources(view)
        return [
            dict(d)
            for server, d in catalog.resources.values()
            if catalog.server_visible(view, server) and self.allows(principal, "resource", str(d.get("uri")), server)
        ]

    def list_templates(self, principal: Principal | None, catalog: Catalog, view: View) -> list[dict[str, Any]]:
        if principal is not None and principal.unrestricted:
            return catalog.list_templates(view)
        return [
            dict(d)
            for _t, server, d in catalog.templates
            if catalog.server_visible(view, server)
            and self.allows(principal, "resource", str(d.get("uriTemplate")), server)
        ]

    def check(self, principal: Principal | None, kind: ItemKind, name: str, server: str) -> None:
        """Raise the forbidden error unless ``principal`` may use the item."""
        if not self.allows(principal, kind, name, server):
            self.gateway.router.metrics.count_denied("forbidden")
            raise forbidden(principal, kind, name)

    # ---- calls ----------------------------------------------------------------------------
    def _validator(self, entry: Entry) -> Any:
        schema = entry.definition.get("inputSchema")
        if not isinstance(schema, dict):
            return None
        cached = self._validators.get(entry.gateway_name)
        if cached is not None and cached[0] == id(schema):
            return cached[1]
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError:
            return None  # the upstream's schema is broken: the upstream validates for itself
        validator = cls(schema)
        self._validators[entry.gateway_name] = (id(schema), validator)
        return validator

    def invalid_arguments(self, entry: Entry, arguments: Any) -> dict[str, Any] | None:
        """A tool-error result when ``arguments`` break the tool's inputSchema, else None.

        Like the SDK's servers, invalid arguments are a tool execution error (``isError``), which a
        model can read and correct, not a protocol error; the call never reaches the upstream.
        """
        if not self.request_limits.validate_arguments or entry.server == GATEWAY_SERVER:
            return None
        validator = self._validator(entry)
        if validator is None:
            return None
        errors = sorted(validator.iter_errors(arguments), key=lambda e: [str(p) for p in e.absolute_path])[:5]
        if not errors:
            return None
        lines = [f"{'/'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message[:300]}" for e in errors]
        text = f"invalid arguments for {entry.gateway_name} (checked by the gateway against its inputSchema):\n" + (
            "\n".join(lines)
        )
        return {"content": [{"type": "text", "text": text}], "isError": True}

    def acting_for(self, principal: Principal | None) -> ActingFor:
        return ActingFor(self, principal)

    async def call_tool(
        self,
        principal: Principal | None,
        view: View,
        name: str,
        params: Mapping[str, Any],
        forward: Forward,
    ) -> dict[str, Any]:
        """Check, limit, validate, forward and audit one ``tools/call``."""
        started = time.perf_counter()
        entry = self.gateway.catalog.tool(view, name)
        if entry is None:
            return await forward()  # the gateway answers an unknown name with its own error
        arguments = params.get("arguments") or {}
        supervisor = view.supervisor or supervisor_of_server(self.gateway.settings, entry.server)
        outcome, code = "error", None
        try:
            self.check(principal, "tool", entry.gateway_name, entry.server)
            assert principal is not None
            decision = await self.limiter.take(principal.subject, entry.gateway_name, supervisor)
            if not decision.allowed:
                retry = round(max(decision.retry_after_seconds, 0.001), 3)
                self.gateway.router.metrics.count_denied("rate_limited")
                raise GatewayError(
                    RATE_LIMITED,
                    f"rate limit reached for {entry.gateway_name}; retry after {retry} s",
                    {"retry_after_seconds": retry, "bucket": _bucket_kind(decision.bucket)},
                )
            refused = self.invalid_arguments(entry, arguments)
            if refused is not None:
                outcome = "invalid_arguments"
                return refused
            result = await forward()
            outcome = "tool_error" if result.get("isError") else "ok"
            return result
        except GatewayError as exc:
            code = exc.code
            outcome = {FORBIDDEN: "forbidden", RATE_LIMITED: "rate_limited"}.get(exc.code, "error")
            raise
        except UpstreamError as exc:
            code = exc.code
            raise
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            if self.audit:
                self._record(principal, view, entry, arguments, outcome, code, started, params)

    def _record(
        self,
        principal: Principal | None,
        view: View,
        entry: Entry,
        arguments: Any,
        outcome: str,
        code: int | None,
        started: float,
        params: Mapping[str, Any],
    ) -> None:
        who = principal or Principal(subject="(unauthenticated)")
        self.audit.record(
            AuditRecord(
                principal=who.subject,
                auth_method=who.method,
                roles=list(who.roles),
                endpoint=view.label(),
                supervisor=view.supervisor or supervisor_of_server(self.gateway.settings, entry.server),
                server=entry.server,
                tool=entry.gateway_name,
                args_sha256=digest_arguments(arguments),
                outcome=outcome,
                error_code=code,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                trace_id=_trace_id(params),
            )
        )


def forbidden(principal: Principal | None, kind: str, name: str) -> GatewayError:
    if principal is None:
        return GatewayError(FORBIDDEN, "the request carries no authenticated principal; send a bearer token or API key")
    roles = ", ".join(principal.roles) or "none"
    return GatewayError(
        FORBIDDEN,
        f"forbidden: {kind} {name!r} is not allowed for {principal.subject!r} (roles: {roles}); "
        "ask an operator for a role that allows it",
        {"kind": kind, "name": name},
    )


def _bucket_kind(key: str | None) -> str | None:
    if key is None:
        return None
    for kind in ("principal", "tool", "supervisor"):
        if f":{kind}:" in key or key.startswith(f"{kind}:"):
            return kind
    return None


def _trace_id(params: Mapping[str, Any]) -> str | None:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return format(context.trace_id, "032x")
    meta = params.get("_meta")
    parent = meta.get("traceparent") if isinstance(meta, dict) else None
    if isinstance(parent, str):
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            return parts[1]
    return None


class ActingFor:
    """``Gateway.call_tool``'s signature, for one principal: every call goes through the guard."""

    def __init__(self, guard: CallGuard, principal: Principal | None) -> None:
        self.guard = guard
        self.principal = principal

    async def call_tool(
        self,
        view: View,
        name: str,
        params: Mapping[str, Any],
        *,
        notify: Notify | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        gateway = self.guard.gateway

        async def forward() -> dict[str, Any]:
            wire = forwarding_principal(params, self.principal)
            return await gateway.call_tool(view, name, wire, notify=notify, client_capabilities=client_capabilities)

        return await self.guard.call_tool(self.principal, view, name, params, forward)
