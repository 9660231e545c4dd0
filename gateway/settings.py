"""The gateway's settings: the ``gateway:`` section of the suite's configuration.

Policies (limits, deadlines, retries, breaker thresholds) are set at gateway, supervisor, server
or tool level; for each field the nearest level that sets it wins.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mesh.config import ServerSettings, Settings, StrictModel, section

SECTION = "gateway"
GATEWAY_PORT = 8500
# The suite's servers, as their names appear on the wire (tool prefixes, /servers/<name>/mcp, mcp-<name> in Consul).
SERVER_NAMES: tuple[str, ...] = ("filesystem", "database", "vectorstore", "memory", "search", "aiml")
DEFAULT_PORTS: dict[str, int] = {name: GATEWAY_PORT + 1 + i for i, name in enumerate(SERVER_NAMES)}


Strategy = Literal["round_robin", "least_connections", "consistent_hash", "p2c"]


class BreakerPolicy(StrictModel):
    """Circuit-breaker thresholds; unset fields inherit from the level above."""

    failure_threshold: int | None = Field(default=None, ge=1, description="consecutive failures that open it")
    failure_ratio: float | None = Field(default=None, gt=0, le=1, description="failure ratio over the window")
    window: int | None = Field(default=None, ge=1, description="calls in the rolling window")
    min_calls: int | None = Field(default=None, ge=1, description="calls before the ratio counts")
    cooldown_seconds: float | None = Field(default=None, gt=0, description="open time before one trial call")


class Policy(StrictModel):
    """Limits set at gateway, supervisor, server or tool level; for each field the nearest level that sets it wins."""

    max_concurrent: int | None = Field(default=None, ge=1, description="calls in flight at once (a bulkhead)")
    queue_limit: int | None = Field(default=None, ge=0, description="calls waiting for a slot; more is 'busy'")
    priority: int | None = Field(default=None, ge=-100, le=100, description="queue priority, higher first")
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600, description="deadline of one call")
    retries: int | None = Field(default=None, ge=0, le=3, description="retries on another instance, safe tools only")
    attempt_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="longest wait for one instance when a retry elsewhere is possible",
    )
    breaker: BreakerPolicy = BreakerPolicy()


DEFAULT_POLICY = Policy(
    max_concurrent=64,
    queue_limit=256,
    priority=0,
    timeout_seconds=60.0,
    retries=1,
    attempt_timeout_seconds=5.0,
    breaker=BreakerPolicy(failure_threshold=5, failure_ratio=0.5, window=20, min_calls=10, cooldown_seconds=10.0),
)


class ServerGroupSettings(StrictModel):
    """How the gateway treats the instances of one upstream server."""

    strategy: Strategy = "round_robin"
    hash_argument: str | None = Field(default=None, description="tool argument hashed by consistent_hash")
    policy: Policy = Policy()
    tools: dict[str, Policy] = Field(default_factory=dict, description="per-tool policies, by upstream tool name")


class SupervisorSettings(StrictModel):
    """A named group of servers (and single tools) served at /supervisors/<name>/mcp with its own policy."""

    servers: tuple[str, ...] = ()
    tools: tuple[str, ...] = Field(default=(), description="glob patterns over gateway tool names")
    include_gateway_tools: bool = False
    policy: Policy = Policy()


DEFAULT_SUPERVISORS: dict[str, SupervisorSettings] = {
    "intelligence": SupervisorSettings(servers=("aiml", "memory", "vectorstore", "search")),
    "multimodal": SupervisorSettings(
        tools=("filesystem_read_media_file", "aiml_*vision*", "aiml_*image*", "aiml_*audio*", "aiml_*transcribe*")
    ),
    "system": SupervisorSettings(servers=("filesystem", "database"), include_gateway_tools=True),
}


DEFAULT_SERVER_GROUPS: dict[str, ServerGroupSettings] = {
    # A collection's calls land on one replica, so its keyword index and embedding cache stay warm there.
    "vectorstore": ServerGroupSettings(strategy="consistent_hash", hash_argument="collection"),
    # A generation holds its replica for seconds: send each call to the replica with the fewest in flight,
    # and never cut it short to try another replica (it would be paid for twice).
    "aiml": ServerGroupSettings(strategy="least_connections", policy=Policy(attempt_timeout_seconds=3600)),
    # A namespace's calls land on one replica, so its in-process observation vectors stay warm there.
    "memory": ServerGroupSettings(strategy="consistent_hash", hash_argument="namespace"),
    # An index's calls land on one replica: its open index (tantivy) and its schema stay cached there.
    "search": ServerGroupSettings(strategy="consistent_hash", hash_argument="index"),
}


class GatewaySettings(ServerSettings):
    port: int = Field(default=GATEWAY_PORT, ge=0, le=65535)
    policy: Policy = DEFAULT_POLICY
    servers: dict[str, ServerGroupSettings] = Field(default_factory=lambda: dict(DEFAULT_SERVER_GROUPS))
    supervisors: dict[str, SupervisorSettings] = Field(default_factory=lambda: dict(DEFAULT_SUPERVISORS))
    refresh_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    unhealthy_after_failures: int = Field(
        default=3, ge=1, le=100, description="consecutive failed probes that take a healthy instance out"
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    stdio_start_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="how long a stdio child (an instance given as a command) may take to start and answer initialize",
    )
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)


def gateway_settings(settings: Settings) -> GatewaySettings:
    """The ``gateway:`` section of ``settings``."""
    return section(settings, SECTION, GatewaySettings)
