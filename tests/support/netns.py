"""Hosts of their own for a test: Linux network namespaces joined to the root namespace by veth pairs.

:func:`hosts` makes ``count`` namespaces for one test and always removes them, also when the test
fails. Each :class:`Host` is a namespace with one veth pair to the root namespace on a /24 of its
own (``10.<b>.<i>.0/24``: the root side is ``.1``, the host ``.2``); the second octet ``b`` is
picked per run among those no route of this machine uses yet, and names carry the process id and a
random tag, so concurrent runs never meet. A ``unreachable 10.<b>.0.0/16`` route in the root
namespace keeps a cut host's packets from leaving by the default route.

Where namespaces cannot be made (not root, no ``ip``, a kernel or container that refuses ``ip netns
add``) :func:`require_netns` skips the test with the reason, except under CI (``CI=true``), where it
fails: ``make test`` runs the network test on these machines.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass

import pytest

IP_TIMEOUT_SECONDS = 10.0


class NetnsError(RuntimeError):
    """An ``ip`` command failed: the message has the command and what it printed."""


def ip(*arguments: str, namespace: str | None = None) -> str:
    """Run ``ip ARGUMENTS`` (inside ``namespace`` when given) and return its output.

    Raises:
        NetnsError: the command failed or did not finish within ``IP_TIMEOUT_SECONDS``.
    """
    argv = ["ip", *(("-n", namespace) if namespace else ()), *arguments]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=IP_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"`{' '.join(argv)}` failed: {exc}") from exc
    if done.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def unavailable_reason() -> str | None:
    """Why this machine cannot make network namespaces, or ``None`` when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (`ip netns add`); run the test as root"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    probe = f"mcpt-probe-{os.getpid()}-{secrets.token_hex(2)}"
    try:
        ip("netns", "add", probe)
    except NetnsError as exc:
        return f"`ip netns add` does not work here: {exc}"
    try:
        ip("link", "set", "lo", "up", namespace=probe)
    except NetnsError as exc:
        return f"a new namespace cannot be configured: {exc}"
    finally:
        with suppress(NetnsError):
            ip("netns", "delete", probe)
    return None


def require_netns() -> None:
    """Skip (or under ``CI=true`` fail) the calling test when namespaces cannot be made here."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"the network-namespace test must run in CI: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Host:
    """One namespace and its link: ``address`` is where the host listens, ``root_link`` the cable's root end."""

    namespace: str
    root_link: str
    host_link: str
    address: str
    root_address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        """Pull the cable: the root end goes down, so nothing reaches the host and nothing comes back."""
        ip("link", "set", self.root_link, "down")

    def restore(self) -> None:
        """Plug the cable back in (and the route to the host with it)."""
        ip("link", "set", self.root_link, "up")
        routes = ip("-4", "route", "show", "dev", self.root_link)
        network = self.address.rsplit(".", 1)[0] + ".0/24"
        if network not in routes:
            ip("route", "replace", network, "dev", self.root_link, "src", self.root_address)


def _free_second_octet() -> int:
    used = ip("-4", "route", "show", "table", "all") + ip("-4", "address", "show")
    candidates = [b for b in range(64, 251) if f"10.{b}." not in used]
    if not candidates:
        raise NetnsError("no free 10.<b>.0.0/16 range for the test's hosts")
    return random.choice(candidates)


@contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """``count`` fresh hosts, each its own namespace linked to the root namespace; removed on the way out."""
    tag = f"{os.getpid() % 100000:05d}{secrets.token_hex(1)}"
    with ExitStack() as cleanup:
        octet = _free_second_octet()
        ip("route", "add", "unreachable", f"10.{octet}.0.0/16", "metric", "4000")
        cleanup.callback(_quietly, "route", "delete", "unreachable", f"10.{octet}.0.0/16", "metric", "4000")
        made: list[Host] = []
        for index in range(count):
            host = Host(
                namespace=f"mcpt-{tag}-{index}",
                root_link=f"mt{tag}r{index}",
                host_link=f"mt{tag}h{index}",
                address=f"10.{octet}.{index}.2",
                root_address=f"10.{octet}.{index}.1",
            )
            ip("netns", "add", host.namespace)
            cleanup.callback(_quietly, "netns", "delete", host.namespace)  # takes the host's veth end with it
            ip("link", "add", host.root_link, "type", "veth", "peer", "name", host.host_link)
            cleanup.callback(_quietly, "link", "delete", host.root_link)
            ip("link", "set", host.host_link, "netns", host.namespace)
            ip("address", "add", f"{host.root_address}/24", "dev", host.root_link)
            ip("link", "set", host.root_link, "up")
            ip("address", "add", f"{host.address}/24", "dev", host.host_link, namespace=host.namespace)
            ip("link", "set", host.host_link, "up", namespace=host.namespace)
            ip("link", "set", "lo", "up", namespace=host.namespace)
            ip("route", "add", "default", "via", host.root_address, namespace=host.namespace)
            made.append(host)
        yield made


def _quietly(*arguments: str) -> None:
    with suppress(NetnsError):  # already gone (a namespace's deletion removes its veth pair)
        ip(*arguments)
