"""ConsulDouble: a test double of the parts of Consul's HTTP API the suite uses, over real HTTP.

Consul cannot be installed on these machines, so this reproduces its documented wire behaviour
(a double: what it shows is how the suite meets that behaviour, not that it works with Consul):

- ``PUT /v1/agent/service/register`` (Name, ID, Address, Port, Tags, Meta, Check{HTTP, Interval,
  Timeout, DeregisterCriticalServiceAfter, Status}), ``PUT /v1/agent/service/deregister/<id>``
  and ``GET /v1/agent/service/<id>`` (404 once the agent lost it);
- ``GET /v1/health/service/<name>[?passing]`` with ``X-Consul-Index`` and real blocking: with
  ``index=N`` the answer waits until the query's index passes N or ``wait`` ends, then up to
  wait/16 more (Consul's jitter; ``late`` picks it); an index that went *backwards* below N
  therefore blocks until the wait ends, as in Consul;
- checks start critical unless the registration gives ``Status`` (``initial_status``), are polled
  when ``run_checks`` is on, and a test can set a status; an ``Interval`` under 1 s is stretched
  to 1 s as Consul's agent does (``short_interval="reject"`` refuses it instead);
  ``DeregisterCriticalServiceAfter`` (at least 1 min) is applied by a reaper that runs every
  ``reap_interval`` (30 s in Consul) on the double's clock, which ``advance`` moves;
- ``restart_agent`` loses what was registered through this agent's API, as an agent restarted
  without its data directory does;
- ``GET/PUT/DELETE /v1/kv/<key>`` with ``recurse``, blocking ``index``, base64 ``Value``,
  ``CreateIndex``/``ModifyIndex``, deletion tombstones, 404 with an index for a missing key;
- ACLs with ``default_policy = deny`` (``acl_token`` is a management token, ``tokens`` others with
  their :class:`AclRules`): see :mod:`tests.support.consul_acl` for reads filtered with
  ``X-Consul-Results-Filtered-By-ACLs``, ``ACL not found`` and ``Permission denied``.

Every write moves one Raft-like index. Tests can also ``reset_index`` (a snapshot restore: the
index goes backwards) and ``report_index`` (pin the reported index, e.g. to 0), and count requests,
so a watcher that mishandles the index fails a test instead of passing by luck.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mesh.serving.listen import bind_socket
from tests.support.consul_model import (
    MANAGEMENT,
    NOTHING,
    AclRules,
    Caller,
    Check,
    KvRecord,
    Seen,
    Service,
    acl_not_found,
    filtered_headers,
    parse_duration,
)
from tests.support.upstreams import free_port


class ConsulDouble:
    """An in-process HTTP server that answers like a one-node Consul agent (see the module doc)."""

    def __init__(
        self,
        *,
        acl_token: str | None = None,
        tokens: dict[str, AclRules] | None = None,
        anonymous: AclRules = NOTHING,
        run_checks: bool = False,
        initial_status: str = "critical",
        short_interval: str = "stretch",
        reap_interval: float = 30.0,
        late: Callable[[float], float] | None = None,
        port: int | None = None,
        node_address: str = "127.0.0.1",
    ) -> None:
        self.acl_token = acl_token
        self.tokens: dict[str, AclRules] | None = None
        if acl_token is not None or tokens is not None:
            self.tokens = {**({acl_token: MANAGEMENT} if acl_token is not None else {}), **(tokens or {})}
        self.anonymous = anonymous
        self.run_checks = run_checks
        self.initial_status = initial_status
        if short_interval not in ("stretch", "reject"):
            raise ValueError(f"short_interval must be 'stretch' or 'reject', not {short_interval!r}")
        self.short_interval = short_interval
        self.reap_interval = reap_interval
        self.late = late or (lambda wait: random.uniform(0, wait / 16))
        self.warnings: list[str] = []  # what Consul's agent would log (a stretched interval)
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.node_address = node_address
        self.index = 10
        self.services: dict[str, Service] = {}
        self.service_index: dict[str, int] = {}
        self.kv: dict[str, KvRecord] = {}
        self.tombstones: dict[str, int] = {}
        self.kv_table_index = 0
        self.catalog_table_index = 0
        self.reported_index: int | None = None
        self.requests: list[Seen] = []
        self.skew = 0.0
        self._next_reap = self.clock() + reap_interval
        self._changed = anyio.Event()
        self._seen = anyio.Event()
        self._uv: uvicorn.Server | None = None
        self._closing = False
        self._stopped = anyio.Event()
        self.app = Starlette(
            routes=[
                Route("/v1/agent/service/register", self._register, methods=["PUT"]),
                Route("/v1/agent/service/deregister/{id}", self._deregister, methods=["PUT"]),
                Route("/v1/agent/service/{id}", self._agent_service, methods=["GET"]),
                Route("/v1/health/service/{name}", self._health, methods=["GET"]),
                Route("/v1/kv/{key:path}", self._kv, methods=["GET", "PUT", "DELETE"]),
            ]
        )

    # ---- time, index, state changes ----------------------------------------------------------
    def clock(self) -> float:
        return time.monotonic() + self.skew

    def _write(self) -> int:
        self.index += 1
        self._changed.set()
        self._changed = anyio.Event()
        return self.index

    def _touch_service(self, name: str) -> None:
        index = self._write()
        self.service_index[name] = index
        self.catalog_table_index = index

    def reset_index(self, to: int) -> None:
        """A snapshot restore: the Raft index and every stored index drop to at most ``to``."""
        self.index = to
        self.service_index = {name: min(i, to) for name, i in self.service_index.items()}
        self.catalog_table_index = min(self.catalog_table_index, to)
        self.kv_table_index = min(self.kv_table_index, to)
        self.tombstones = {key: min(i, to) for key, i in self.tombstones.items()}
        for record in self.kv.values():
            record.modify_index = min(record.modify_index, to)
            record.create_index = min(record.create_index, to)
        self._changed.set()
        self._changed = anyio.Event()

    def report_index(self, value: int | None) -> None:
        """Pin the ``X-Consul-Index`` every blocking endpoint reports (None: the real one)."""
        self.reported_index = value

    def set_check(self, service_id: str, status: str, output: str = "") -> None:
        service = self.services[service_id]
        assert service.check is not None, f"{service_id} has no check"
        self._set_status(service, status, output)

    def _set_status(self, service: Service, status: str, output: str) -> None:
        check = service.check
        assert check is not None
        check.output = output
        if check.status == status:
            return
        check.status = status
        check.critical_since = self.clock() if status == "critical" else None
        self._touch_service(service.name)

    def advance(self, seconds: float) -> None:
        """Move the double's clock forward (DeregisterCriticalServiceAfter counts on it); the reaper runs if due."""
        self.skew += seconds
        self.reap_if_due()

    def reap_if_due(self) -> None:
        """The agent's reaper: a pass every ``reap_interval`` of the double's clock, not on every change."""
        if self.clock() >= self._next_reap:
            self._next_reap = self.clock() + self.reap_interval
            self.reap()

    def restart_agent(self) -> list[str]:
        """An agent restarted without its data directory: what it registered is gone; the IDs lost."""
        lost = sorted(sid for sid, service in self.services.items() if service.local)
        for service_id in lost:
            self.remove_service(service_id)
        return lost

    def reap(self) -> None:
        """One reaper pass: remove every service critical for longer than its DeregisterCriticalServiceAfter."""
        now = self.clock()
        for service in list(self.services.values()):
            check = service.check
            if (
                check is not None
                and check.critical_since is not None
                and check.deregister_after is not None
                and now - check.critical_since >= check.deregister_after
            ):
                del self.services[service.id]
                self._touch_service(service.name)

    def add_service(
        self,
        name: str,
        service_id: str,
        port: int,
        *,
        address: str = "127.0.0.1",
        status: str = "passing",
        **extra: Any,
    ) -> None:
        """Register directly, as another agent in the cluster would (no HTTP round trip)."""
        self.services[service_id] = Service(
            id=service_id,
            name=name,
            address=address,
            port=port,
            tags=list(extra.get("tags", [])),
            meta=dict(extra.get("meta", {})),
            check=Check(status=status, http=None, interval=None, timeout=10.0, deregister_after=None),
            registered={"Name": name, "ID": service_id},
        )
        self._touch_service(name)

    def remove_service(self, service_id: str) -> None:
        service = self.services.pop(service_id)
        self._touch_service(service.name)

    def put_key(self, key: str, value: bytes) -> int:
        index = self._write()
        existing = self.kv.get(key)
        self.kv[key] = KvRecord(value, existing.create_index if existing else index, index)
        self.tombstones.pop(key, None)
        self.kv_table_index = index
        return index

    def remove_key(self, key: str) -> None:
        del self.kv[key]
        index = self._write()
        self.tombstones[key] = index
        self.kv_table_index = index

    # ---- waiting on what clients did --------------------------------------------------------
    def seen(self, path_prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    async def wait_for_requests(self, path_prefix: str, count: int, timeout: float = 10.0) -> list[Seen]:
        with anyio.fail_after(timeout):
            while len(self.seen(path_prefix)) < count:
                await self._seen.wait()
        return self.seen(path_prefix)

    # ---- HTTP --------------------------------------------------------------------------------
    def _token_of(self, request: Request) -> str | None:
        bearer = request.headers.get("authorization", "")
        return (
            request.headers.get("x-consul-token")
            or request.query_params.get("token")
            or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
        )

    def _admit(self, request: Request) -> Caller | Response:
        """Record the request; who made it, or 403 ``ACL not found`` for a token the double does not know."""
        token = self._token_of(request)
        self.requests.append(Seen(request.method, request.url.path, dict(request.query_params), token))
        self._seen.set()
        self._seen = anyio.Event()
        if self.tokens is None:
            return Caller(token, lambda: None)
        if token is None:
            return Caller(None, lambda: self.anonymous)
        if token not in self.tokens:
            return acl_not_found()
        return Caller(token, lambda: (self.tokens or {}).get(token, NOTHING))

    def _reported(self, index: int) -> int:
        return self.reported_index if self.reported_index is not None else index

    async def _block(self, request: Request, index_of: Callable[[], int]) -> int | Response:
        try:
            given = int(request.query_params.get("index") or 0)
            wait = parse_duration(request.query_params.get("wait"))
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        wait = min(wait if wait is not None else 300.0, 600.0)
        if given > 0:
            deadline = anyio.current_time() + wait
            while self._reported(index_of()) <= given and not self._closing:
                remaining = deadline - anyio.current_time()
                if remaining <= 0:
                    with anyio.move_on_after(self.late(wait)):  # Consul answers up to wait/16 late
                        await self._stopping()
                    break
                changed = self._changed
                with anyio.move_on_after(remaining):
                    await changed.wait()
        return self._reported(index_of())

    async def _stopping(self) -> None:
        while not self._closing:
            await self._changed.wait()

    async def _register(self, request: Request) -> Response:
        if isinstance(caller := self._admit(request), Response):
            return caller
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            return PlainTextResponse("Request decode failed: invalid JSON", status_code=400)
        name = body.get("Name")
        if not name:
            return PlainTextResponse("Missing service name", status_code=400)
        if (denied := caller.denied("service", "write", name)) is not None:
            return denied
        check = None
        raw = body.get("Check")
        if raw:
            try:
                interval = parse_duration(raw.get("Interval"))
                timeout = parse_duration(raw.get("Timeout")) or 10.0
                deregister = parse_duration(raw.get("DeregisterCriticalServiceAfter"))
            except ValueError as exc:
                return PlainTextResponse(f"Invalid check: {exc}", status_code=400)
            if raw.get("HTTP") and not interval:
                return PlainTextResponse("Interval must be > 0 for Script, HTTP, or TCP checks", status_code=400)
            if interval is not None and interval < 1.0:
                if self.short_interval == "reject":
                    return PlainTextResponse(f"Invalid check: interval {interval:g}s is below 1s", status_code=400)
                self.warnings.append(f"agent: check has interval below minimum: check={name} minimum_interval=1s")
                interval = 1.0
            if deregister is not None and deregister < 60.0:
                self.warnings.append(f"agent: check has deregister interval below minimum of 1m0s: check={name}")
                deregister = 60.0
            check = Check(
                status=raw.get("Status") or self.initial_status,
                http=raw.get("HTTP"),
                interval=interval,
                timeout=timeout,
                deregister_after=deregister,
            )
            if check.status == "critical":
                check.critical_since = self.clock()
        service_id = body.get("ID") or name
        self.services[service_id] = Service(
            id=service_id,
            name=name,
            address=body.get("Address") or "",
            port=int(body.get("Port") or 0),
            tags=list(body.get("Tags") or []),
            meta=dict(body.get("Meta") or {}),
            check=check,
            registered=body,
            local=True,
        )
        self._touch_service(name)
        return Response(status_code=200)

    def _unknown(self, service_id: str) -> Response:
        return PlainTextResponse(
            f'Unknown service ID "{service_id}". Ensure that the service ID is passed, not the service name.',
            status_code=404,
        )

    async def _deregister(self, request: Request) -> Response:
        if isinstance(caller := self._admit(request), Response):
            return caller
        service_id = request.path_params["id"]
        if service_id not in self.services:
            return self._unknown(service_id)
        if (denied := caller.denied("service", "write", self.services[service_id].name)) is not None:
            return denied
        self.remove_service(service_id)
        return Response(status_code=200)

    async def _agent_service(self, request: Request) -> Response:
        if isinstance(caller := self._admit(request), Response):
            return caller
        service = self.services.get(request.path_params["id"])
        if service is None or not service.local:
            return self._unknown(request.path_params["id"])
        if (denied := caller.denied("service", "read", service.name)) is not None:
            return denied
        return JSONResponse({"ID": service.id, "Service": service.name, "Port": service.port, "Meta": service.meta})

    def _entry(self, service: Service) -> dict[str, Any]:
        node = {"ID": "double-node-id", "Node": "double-node", "Address": self.node_address, "Datacenter": "dc1"}
        checks = [
            {
                "Node": "double-node",
                "CheckID": "serfHealth",
                "Name": "Serf Health Status",
                "Status": "passing",
                "ServiceID": "",
                "ServiceName": "",
            }
        ]
        if service.check is not None:
            checks.append(
                {
                    "Node": "double-node",
                    "CheckID": f"service:{service.id}",
                    "Name": f"Service '{service.name}' check",
                    "Status": service.check.status,
                    "Output": service.check.output,
                    "ServiceID": service.id,
                    "ServiceName": service.name,
                }
            )
        return {
            "Node": node,
            "Service": {
                "ID": service.id,
                "Service": service.name,
                "Tags": service.tags,
                "Address": service.address,
                "Meta": service.meta,
                "Port": service.port,
                "Weights": {"Passing": 1, "Warning": 1},
            },
            "Checks": checks,
        }

    async def _health(self, request: Request) -> Response:
        if isinstance(caller := self._admit(request), Response):
            return caller
        name = request.path_params["name"]
        index = await self._block(request, lambda: self.service_index.get(name) or self.catalog_table_index)
        if isinstance(index, Response):
            return index
        passing_only = "passing" in request.query_params
        found = [
            s
            for s in sorted(self.services.values(), key=lambda s: s.id)
            if s.name == name and (not passing_only or s.check is None or s.check.status == "passing")
        ]
        readable = [self._entry(s) for s in found if caller.allows("service", "read", s.name)]
        headers = {"X-Consul-Index": str(index), **filtered_headers(len(readable) < len(found))}
        return JSONResponse(readable, headers=headers)

    def _kv_index(self, key: str, recurse: bool) -> int:
        def matches(name: str) -> bool:
            return name.startswith(key) if recurse else name == key

        found = [r.modify_index for k, r in self.kv.items() if matches(k)]
        found += [i for k, i in self.tombstones.items() if matches(k)]
        return max(found) if found else self.kv_table_index

    async def _kv(self, request: Request) -> Response:
        if isinstance(caller := self._admit(request), Response):
            return caller
        key = request.path_params["key"]
        recurse = "recurse" in request.query_params
        if request.method in ("PUT", "DELETE") and (denied := caller.denied("key", "write", key)) is not None:
            return denied
        if request.method == "PUT":
            cas = request.query_params.get("cas")
            existing = self.kv.get(key)
            if cas is not None and int(cas) != (existing.modify_index if existing else 0):
                return JSONResponse(False)
            self.put_key(key, await request.body())
            return JSONResponse(True)
        if request.method == "DELETE":
            doomed = [k for k in self.kv if (k.startswith(key) if recurse else k == key)]
            if doomed:
                deleted_at = self._write()
                for name in doomed:
                    del self.kv[name]
                    self.tombstones[name] = deleted_at
                self.kv_table_index = deleted_at
            return JSONResponse(True)
        index = await self._block(request, lambda: self._kv_index(key, recurse))
        if isinstance(index, Response):
            return index
        if not recurse and (denied := caller.denied("key", "read", key)) is not None:
            return denied  # checked when the query answers, as Consul's blocking query does
        matching = sorted((k, r) for k, r in self.kv.items() if (k.startswith(key) if recurse else k == key))
        records = [(k, r) for k, r in matching if caller.allows("key", "read", k)]
        headers = {"X-Consul-Index": str(index), **filtered_headers(len(records) < len(matching))}
        if not records:
            return Response(status_code=404, headers=headers)
        body = [
            {
                "LockIndex": 0,
                "Key": name,
                "Flags": record.flags,
                "Value": base64.b64encode(record.value).decode() if record.value else None,
                "CreateIndex": record.create_index,
                "ModifyIndex": record.modify_index,
            }
            for name, record in records
        ]
        return JSONResponse(body, headers=headers)

    # ---- running -----------------------------------------------------------------------------
    async def _check_loop(self) -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                now = self.clock()
                for service in list(self.services.values()):
                    check = service.check
                    if check is None or check.http is None or check.interval is None or check.next_run > now:
                        continue
                    check.next_run = now + check.interval
                    try:
                        response = await client.get(check.http, timeout=check.timeout)
                        code = response.status_code
                        status = "passing" if 200 <= code < 300 else "warning" if code == 429 else "critical"
                        output = f"HTTP GET {check.http}: {code}"
                    except httpx.HTTPError as exc:
                        status, output = "critical", f"HTTP GET {check.http}: {type(exc).__name__}"
                    if service.id in self.services:
                        self._set_status(service, status, output)
                self.reap_if_due()
                await anyio.sleep(0.05)

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Serve on ``self.port`` (the same port again after a stop: an agent coming back)."""
        self._closing = False
        sock = bind_socket("127.0.0.1", self.port)
        config = uvicorn.Config(self.app, log_config=None, lifespan="off", access_log=False)
        uv = uvicorn.Server(config)
        started, stopped = anyio.Event(), anyio.Event()
        original = uv.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            started.set()

        uv.startup = startup  # type: ignore[method-assign]

        async def run() -> None:
            try:
                async with anyio.create_task_group() as inner:
                    if self.run_checks:
                        inner.start_soon(self._check_loop)
                    await uv.serve(sockets=[sock])
                    inner.cancel_scope.cancel()
            finally:
                sock.close()
                stopped.set()
                started.set()

        self._uv, self._stopped = uv, stopped
        task_group.start_soon(run)
        await started.wait()

    async def stop(self) -> None:
        """Stop answering (an agent going away); the state is kept for a later ``start``."""
        if self._uv is not None:
            self._closing = True
            self._uv.should_exit = True
            self._uv.force_exit = True
            self._changed.set()  # wake blocked queries so the server can close
            self._changed = anyio.Event()
            await self._stopped.wait()
            self._uv = None


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "the condition") -> float:
    """Wait until ``predicate()`` holds (checked every 10 ms) and return how long it took; fail after ``timeout``.

    For state that changes in another task without an event to wait on (a gateway's pools after a refresh).
    """
    started = time.monotonic()
    try:
        with anyio.fail_after(timeout):
            while not predicate():
                await anyio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"{what} did not hold within {timeout}s") from None
    return time.monotonic() - started
