"""The Consul registry: registration with health checks, blocking-query watches, KV."""

from mesh.consul.http import ConsulEndpoint, ConsulHttp, ConsulRefused, ConsulUnavailable
from mesh.consul.registry import ConsulRegistry

__all__ = ["ConsulEndpoint", "ConsulHttp", "ConsulRefused", "ConsulRegistry", "ConsulUnavailable"]
