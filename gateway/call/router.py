"""Choose an instance, forward the call, retry only where it is safe.

Per call: resolve the policy (nearest level wins), wait for a bulkhead slot in priority order (or
answer *busy*), then pick a serving instance with the pool's balancer, skipping open breakers.
A transport failure counts against that instance's breaker; if the tool is annotated read-only or
idempotent, the retry budget allows it and the deadline has time left, the call is tried once more
on a different instance. A destructive or non-idempotent call is never replayed once it may have
been delivered: a transport failure may come after the instance ran it (the answer lost, or the
deadline passed), so the client gets ``not_retried:`` and the instances that may have run it. A call
that surely reached no instance (no connection could be made) goes to the next one whatever its
annotations. Every attempt runs under the call's deadline: the policy's timeout, shortened by a
caller's ``_meta["io.mcp-suite/timeoutMs"]``. While a retry elsewhere is still possible, one
attempt of a retriable call waits at most ``attempt_timeout_seconds``, so a silent instance (a cut
link) leaves time for the next one.

An upstream's multi-round input request (2026-07-28 ``InputRequiredResult``) may seal its state
for the instance that issued it. The router wraps that ``requestState`` with the instance's id, and
routes the client's next round, which echoes it, back to the same instance (see :func:`seal_state`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry.trace import SpanKind

from gateway.call.policies import EffectivePolicy
from gateway.upstream.instances import Member, ServerPool
from gateway.upstream.mcp_client import Notify, UpstreamError, UpstreamUnavailable
from mesh import tracing
from mesh.balancer import NoInstanceAvailable
from mesh.metrics import GatewayMetrics
from mesh.resilience import Bulkhead, BulkheadFullError, Deadline, DeadlineExceeded, RetryBudget

log = logging.getLogger("mcp_suite.gateway.router")

META_TIMEOUT_MS = "io.mcp-suite/timeoutMs"
META_PRIORITY = "io.mcp-suite/priority"

# JSON-RPC error codes the gateway itself answers with (server-defined range).
GATEWAY_UNAVAILABLE = -32001
GATEWAY_BUSY = -32002
GATEWAY_DEADLINE = -32003

_OUTCOME_OF_CODE = {GATEWAY_UNAVAILABLE: "unavailable", GATEWAY_BUSY: "busy", GATEWAY_DEADLINE: "deadline"}


class GatewayError(Exception):
    """A call the gateway could not complete; ``code`` is the JSON-RPC error code the client gets."""

    def __init__(self, code: int, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = dict(data or {})


@dataclass(frozen=True)
class CallOptions:
    """What one forwarded request needs besides its params."""

    policy: EffectivePolicy
    retry_safe: bool
    hash_key: str | None = None
    notify: Notify | None = None
    client_capabilities: Mapping[str, Any] | None = None
    pinned: str | None = None


STATE_PREFIX = "mcpgw1."


def seal_state(instance_id: str, state: str) -> str:
    """``state`` wrapped with the id of the instance that issued it: the next round goes back there."""
    tag = base64.urlsafe_b64encode(instance_id.encode()).decode().rstrip("=")
    return f"{STATE_PREFIX}{tag}.{state}"


def unseal_state(sealed: str) -> tuple[str | None, str]:
    """(instance id, the upstream's own state); (None, sealed) when the gateway did not seal it."""
    if not sealed.startswith(STATE_PREFIX):
        return None, sealed
    tag, dot, state = sealed[len(STATE_PREFIX) :].partition(".")
    try:
        instance_id = base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, sealed
    return (instance_id, state) if dot else (None, sealed)


def call_timeout(meta: Mapping[str, Any] | None, policy_seconds: float) -> float:
    """The policy's timeout, shortened by a caller's ``_meta["io.mcp-suite/timeoutMs"]`` (never lengthened)."""
    value = meta.get(META_TIMEOUT_MS) if meta else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return min(policy_seconds, float(value) / 1000.0)
    return policy_seconds


def caller_priority(meta: Mapping[str, Any] | None, default: int) -> int:
    if not meta:
        return default
    value = meta.get(META_PRIORITY)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(-100, min(100, value))
    return default


class Router:
    """Forwards requests to the pools; owns the bulkheads, the retry budget and the call metrics."""

    def __init__(self, metrics: GatewayMetrics | None = None) -> None:
        self._bulkheads: dict[str, Bulkhead] = {}
        self.retry_budget = RetryBudget()
        self.metrics = metrics if metrics is not None else GatewayMetrics()

    def bulkhead(self, policy: EffectivePolicy) -> Bulkhead:
        key = policy.bulkhead_scope
        bulkhead = self._bulkheads.get(key)
        if bulkhead is None or bulkhead.limit != policy.max_concurrent or bulkhead.queue_limit != policy.queue_limit:
            bulkhead = Bulkhead(name=key, limit=policy.max_concurrent, queue_limit=policy.queue_limit)
            self._bulkheads[key] = bulkhead
        return bulkhead

    def bulkheads(self) -> dict[str, dict[str, Any]]:
        return {key: bulkhead.snapshot() for key, bulkhead in self._bulkheads.items()}

    async def forward(
        self,
        pool: ServerPool,
        method: str,
        params: Mapping[str, Any],
        options: CallOptions,
        *,
        priority: int,
        timeout: float,
    ) -> dict[str, Any]:
        """Forward one request; count it by outcome and time it (``mcp_gateway_calls_total``, ``..._seconds``)."""
        name = params.get("name") if method == "tools/call" else None
        tool = name if isinstance(name, str) else method
        started = time.perf_counter()
        outcome = "cancelled"
        with tracing.span(
            "gateway.call",
            {
                tracing.SUPERVISOR: options.policy.supervisor or "",
                tracing.SERVER: pool.server,
                tracing.TOOL: tool,
                tracing.METHOD: method,
            },
        ) as call_span:
            try:
                result = await self._forward(pool, method, params, options, priority=priority, timeout=timeout)
                if result.get("isError") is True:
                    outcome = "tool_error"
                elif result.get("resultType") == "input_required":
                    outcome = "input_required"
                else:
                    outcome = "ok"
                return result
            except GatewayError as exc:
                outcome = _OUTCOME_OF_CODE.get(exc.code, "rejected")
                raise
            except UpstreamError:
                outcome = "upstream_error"
                raise
            except Exception:
                outcome = "error"
                raise
            finally:
                call_span.set_attribute(tracing.OUTCOME, outcome)
                self.metrics.observe_call(
                    pool.server, tool, outcome, time.perf_counter() - started, options.policy.supervisor or ""
                )

    async def _forward(
        self,
        pool: ServerPool,
        method: str,
        params: Mapping[str, Any],
        options: CallOptions,
        *,
        priority: int,
        timeout: float,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state = params.get("requestState")
        if isinstance(state, str):
            pinned, own_state = unseal_state(state)
            if pinned is not None:
                params = {**params, "requestState": own_state}
                options = replace(options, pinned=pinned, retry_safe=False)
        bulkhead = self.bulkhead(options.policy)
        slot = bulkhead.slot(priority, Deadline(deadline))
        try:
            # A span for the wait only when there is one: an immediate grant would make a span of nothing.
            async with (
                slot
                if bulkhead.admits_now()
                else tracing.traced_wait(
                    slot,
                    "gateway.queue",
                    {"mcp_suite.bulkhead.scope": bulkhead.name, "mcp_suite.bulkhead.queued": bulkhead.queued},
                )
            ):
                return await self._attempts(pool, method, params, options, deadline)
        except BulkheadFullError as exc:
            raise GatewayError(
                GATEWAY_BUSY,
                f"busy: {exc}. Retry later, lower the request rate, or raise max_concurrent/queue_limit "
                f"for {options.policy.bulkhead_scope}",
                {"scope": options.policy.bulkhead_scope},
            ) from None
        except DeadlineExceeded:
            raise GatewayError(
                GATEWAY_DEADLINE,
                f"deadline of {timeout:.3g}s passed while waiting for a free slot in {options.policy.bulkhead_scope}",
            ) from None

    async def _attempts(
        self,
        pool: ServerPool,
        method: str,
        params: Mapping[str, Any],
        options: CallOptions,
        deadline: float,
    ) -> dict[str, Any]:
        tried: set[str] = set()
        retries = options.policy.retries
        attempts_left = 1 + retries
        self.retry_budget.record_call()
        last_failure = "no instance was tried"
        attempt = 0
        delivered = False  # whether any attempt may have reached an instance
        while attempts_left > 0:
            attempts_left -= 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GatewayError(
                    GATEWAY_DEADLINE,
                    f"deadline passed before {pool.server} answered ({last_failure}); "
                    f"raise timeout_seconds or pass a larger _meta['{META_TIMEOUT_MS}']",
                )
            wait = remaining
            if options.retry_safe and attempts_left > 0 and self._has_another(pool, tried):
                wait = min(remaining, options.policy.attempt_timeout_seconds)
            try:
                if attempt == 0:
                    return await self._attempt(pool, method, params, options, wait, tried, attempt)
                with tracing.span(
                    "gateway.retry",
                    {tracing.SERVER: pool.server, tracing.RETRY_COUNT: attempt, "mcp_suite.retry.reason": last_failure},
                ):
                    return await self._attempt(pool, method, params, options, wait, tried, attempt)
            except UpstreamUnavailable as exc:
                last_failure = exc.reason
                delivered = delivered or exc.delivered
                log.warning(
                    "upstream failed", extra={"instance": exc.instance_id, "method": method, "reason": exc.reason}
                )
                if delivered and not options.retry_safe:
                    break
                if attempts_left <= 0 or not self.retry_budget.try_spend():
                    break
                attempt += 1
                self.metrics.count_retry(pool.server)
        if delivered and not options.retry_safe:
            # The request may have been delivered and run before the answer was lost: never replayed.
            raise GatewayError(
                GATEWAY_UNAVAILABLE,
                f"not_retried: {pool.server} could not complete {method}: {last_failure}. The call was not retried "
                "on another instance because the tool is not marked read-only or idempotent (it may be "
                f"destructive) and it may already have run on {', '.join(sorted(tried))}: check before calling again",
                {"server": pool.server, "tried": sorted(tried), "retried": False},
            )
        if delivered:
            detail = "after a retry on another instance" if len(tried) > 1 else "and no retry was possible"
        else:
            detail = f"the call reached no instance, so it did not run; tried {', '.join(sorted(tried))}"
        raise GatewayError(
            GATEWAY_UNAVAILABLE,
            f"upstream_unavailable: {pool.server} could not complete {method}: {last_failure} ({detail})",
            {"server": pool.server, "tried": sorted(tried), "retried": len(tried) > 1, "delivered": delivered},
        )

    @staticmethod
    def _has_another(pool: ServerPool, tried: set[str]) -> bool:
        """Whether a serving instance other than those tried (and the one about to be) may take a retry."""
        return sum(1 for m in pool.serving() if m.instance_id not in tried) > 1

    async def _attempt(
        self,
        pool: ServerPool,
        method: str,
        params: Mapping[str, Any],
        options: CallOptions,
        remaining: float,
        tried: set[str],
        attempt: int,
    ) -> dict[str, Any]:
        """One try: pick an instance, call it (span ``gateway.upstream``, which names the pick: strategy,
        instance, breaker state). The pick costs microseconds: a span of its own would cost more than it."""
        member = self._pick(pool, options.hash_key, tried, options.pinned)
        tried.add(member.instance_id)
        if not tracing.active():
            return await self._once(member, pool, method, params, options, remaining)
        attributes: dict[str, str | int] = {
            tracing.SERVER: pool.server,
            tracing.INSTANCE: member.instance_id,
            tracing.METHOD: method,
            tracing.RETRY_COUNT: attempt,
            tracing.BREAKER_STATE: member.breaker.state,
            "mcp_suite.strategy": pool.strategy,
        }
        with tracing.span("gateway.upstream", attributes, kind=SpanKind.CLIENT):
            return await self._once(member, pool, method, params, options, remaining)

    def _pick(self, pool: ServerPool, key: str | None, tried: set[str], pinned: str | None = None) -> Member:
        """A serving member not tried yet whose breaker admits the call (claiming a half-open trial).

        A ``pinned`` call (the next round of an input request) can only go to that one instance.
        """
        if pinned is not None:
            member = pool.members.get(pinned)
            if member is not None and member.serves() and member.breaker.allow():
                return member
            raise GatewayError(
                GATEWAY_UNAVAILABLE,
                f"the {pool.server} instance that asked for this input ({pinned}) is no longer available; "
                "make the call again from the start",
                {"server": pool.server, "instance": pinned},
            )
        serving = pool.serving()  # a cached tuple: the balancers do O(1) / O(log n) work on an unchanged one
        candidates = tuple(m for m in serving if m.instance_id not in tried) if tried else serving
        while candidates:
            try:
                member = pool.balancer.pick(candidates, key)
            except NoInstanceAvailable:
                break
            if member.breaker.allow():
                return member
            candidates = tuple(m for m in candidates if m is not member)
        states = ", ".join(f"{m.instance_id}: {m.breaker.state}" for m in pool.members.values()) or "none registered"
        raise GatewayError(
            GATEWAY_UNAVAILABLE,
            f"no instance of {pool.server} can take the call right now ({states}); see gateway_status or /v1/instances",
            {"server": pool.server},
        )

    async def _once(
        self,
        member: Member,
        pool: ServerPool,
        method: str,
        params: Mapping[str, Any],
        options: CallOptions,
        timeout: float,
    ) -> dict[str, Any]:
        upstream = member.upstream
        if upstream is None:
            raise UpstreamUnavailable(member.instance_id, "not connected", delivered=False)
        started = time.monotonic()
        member.inflight += 1
        member.calls += 1
        pool.balancer.on_start(member.instance_id)
        ok = False
        verdict = False
        try:
            result = await upstream.request(
                method,
                params,
                notify=options.notify,
                client_capabilities=options.client_capabilities,
                timeout=timeout,
            )
            ok = verdict = True
            member.breaker.record_success()
            state = result.get("requestState")
            if result.get("resultType") == "input_required" and isinstance(state, str):
                result["requestState"] = seal_state(member.instance_id, state)
            return result
        except UpstreamError:
            ok = verdict = True  # the instance answered: a protocol error is the caller's, not the instance's fault
            member.breaker.record_success()
            raise
        except UpstreamUnavailable as exc:
            verdict = True
            member.failures += 1
            member.last_error = exc.reason
            member.breaker.record_failure()
            raise
        finally:
            if not verdict:  # cancelled: no verdict, hand a half-open trial back
                member.breaker.release()
            member.inflight -= 1
            pool.balancer.on_finish(member.instance_id, time.monotonic() - started, ok)
