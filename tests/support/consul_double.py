"""ConsulDouble: a test double of the parts of Consul's HTTP API the suite uses, over real HTTP.

Consul cannot be installed on these machines, so this reproduces its documented wire behaviour:

- ``PUT /v1/agent/service/register`` (Name, ID, Address, Port, Tags, Meta, Check{HTTP, Interval,
  Timeout, DeregisterCriticalServiceAfter}) and ``PUT /v1/agent/service/deregister/<id>``;
- ``GET /v1/health/service/<name>[?passing]`` with ``X-Consul-Index`` and real blocking: with
  ``index=N`` the answer waits until the query's index passes N or ``wait`` ends (an index that
  went *backwards* below N therefore blocks until the wait ends, as in Consul);
- checks: an HTTP check starts critical and is polled when ``run_checks`` is on; a test can set a
  status; ``DeregisterCriticalServiceAfter`` reaps on the double's clock, which ``advance`` moves;
- ``GET/PUT/DELETE /v1/kv/<key>`` with ``recurse``, blocking ``index``, base64 ``Value``,
  ``CreateIndex``/``ModifyIndex``, deletion tombstones, 404 with an index for a missing key;
- ACLs: with ``acl_token`` set, a request without that token (``X-Consul-Token``, ``?token=`` or
  ``Authorization: Bearer``) gets 403.

Every write moves one Raft-like index. Tests can also ``reset_index`` (a snapshot restore: the
index goes backwards) and ``report_index`` (pin the reported index, e.g. to 0), and count requests,
so a watcher that mishandles the index fails a test instead of passing by luck.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from tests.support.upstreams import free_port

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """A Go duration (``10s``, ``1500ms``, ``5m``) in seconds; None when absent."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Check:
    status: str
    http: str | None
    interval: float | None
    timeout: float
    deregister_after: float | None
    critical_since: float | None = None
    next_run: float = 0.0
    output: str = ""


@dataclass
class Service:
    id: str
    name: str
    address: str
    port: int
    tags: list[str]
    meta: dict[str, str]
    check: Check | None
    registered: dict[str, Any]
    modify_index: int = 0


@dataclass
class KvRecord:
    value: bytes
    create_index: int
    modify_index: int
    flags: int = 0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    at: float = field(default_factory=time.monotonic)


class ConsulDouble:
    """An in-process HTTP server that answers like a one-node Consul agent (see the module doc)."""

    def __init__(
        self,
        *,
        acl_token: str | None = None,
        run_checks: bool = False,
        port: int | None = None,
        node_address: str = "127.0.0.1",
    ) -> None:
        self.acl_token = acl_token
        self.run_checks = run_checks
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
        self._changed = anyio.Event()
        self._seen = anyio.Event()
        self._uv: uvicorn.Server | None = None
        self._closing = False
        self._stopped = anyio.Event()
        self.app = Starlette(
            routes=[
                Route("/v1/agent/service/register", self._register, methods=["PUT"]),
                Route("/v1/agent/service/deregister/{id}", self._deregister, methods=["PUT"]),
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
        self.reap()

    def advance(self, seconds: float) -> None:
        """Move the double's clock forward (DeregisterCriticalServiceAfter counts on it) and reap."""
        self.skew += seconds
        self.reap()

    def reap(self) -> None:
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

    def _admit(self, request: Request) -> Response | None:
        token = self._token_of(request)
        self.requests.append(Seen(request.method, request.url.path, dict(request.query_params), token))
        self._seen.set()
        self._seen = anyio.Event()
        if self.acl_token is not None and token != self.acl_token:
            return PlainTextResponse("Permission denied: token not found or lacks permission", status_code=403)
        return None

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
                    break
                changed = self._changed
                with anyio.move_on_after(remaining):
                    await changed.wait()
        return self._reported(index_of())

    async def _register(self, request: Request) -> Response:
        if (refused := self._admit(request)) is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            return PlainTextResponse("Request decode failed: invalid JSON", status_code=400)
        name = body.get("Name")
        if not name:
            return PlainTextResponse("Missing service name", status_code=400)
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
            check = Check(
                status=raw.get("Status") or ("critical" if self.run_checks else "passing"),
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
        )
        self._touch_service(name)
        return Response(status_code=200)

    async def _deregister(self, request: Request) -> Response:
        if (refused := self._admit(request)) is not None:
            return refused
        service_id = request.path_params["id"]
        if service_id not in self.services:
            return PlainTextResponse(
                f'Unknown service ID "{service_id}". Ensure that the service ID is passed, not the service name.',
                status_code=404,
            )
        self.remove_service(service_id)
        return Response(status_code=200)

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
        if (refused := self._admit(request)) is not None:
            return refused
        name = request.path_params["name"]
        index = await self._block(request, lambda: self.service_index.get(name) or self.catalog_table_index)
        if isinstance(index, Response):
            return index
        passing_only = "passing" in request.query_params
        entries = [
            self._entry(s)
            for s in sorted(self.services.values(), key=lambda s: s.id)
            if s.name == name and (not passing_only or s.check is None or s.check.status == "passing")
        ]
        return JSONResponse(entries, headers={"X-Consul-Index": str(index)})

    def _kv_index(self, key: str, recurse: bool) -> int:
        def matches(name: str) -> bool:
            return name.startswith(key) if recurse else name == key

        found = [r.modify_index for k, r in self.kv.items() if matches(k)]
        found += [i for k, i in self.tombstones.items() if matches(k)]
        return max(found) if found else self.kv_table_index

    async def _kv(self, request: Request) -> Response:
        if (refused := self._admit(request)) is not None:
            return refused
        key = request.path_params["key"]
        recurse = "recurse" in request.query_params
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
        records = sorted((k, r) for k, r in self.kv.items() if (k.startswith(key) if recurse else k == key))
        headers = {"X-Consul-Index": str(index)}
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
                self.reap()
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
