"""chroma-mcp (PyPI) side by side: the same queries on the same collection of the bench's Chroma server.

chroma-mcp is not a dependency of the suite: it is looked for in a venv of its own,
``$MCP_SUITE_BENCH_CHROMA_MCP`` (default ``/tmp/chroma-mcp-venv``, made with
``python3 -m venv /tmp/chroma-mcp-venv && /tmp/chroma-mcp-venv/bin/pip install chroma-mcp``). It
speaks stdio only and embeds ``query_texts`` with Chroma's default embedding function, which
downloads all-MiniLM-L6-v2 on first use and so fails offline (``httpx.ConnectError`` from
``ONNXMiniLM_L6_V2._download``). The bench gives the child a private ``HOME`` whose
``.cache/chroma/onnx_models/all-MiniLM-L6-v2/onnx/`` holds the bundled int8 model and tokenizer (the
files Chroma reads) and ``vocab.txt`` written from that tokenizer, so chroma-mcp embeds with the same
model as the vectorstore server, offline. Chroma's function pads every text to 256 tokens: its query
embedding costs more than the server's, which pads to the longest text. When it cannot run, the
bench prints why and goes on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mesh import runtime
from servers.kit.embedders.local import model_files
from suite.bench.vectorstore import IN_FLIGHT, RATE, TOP_K
from suite.bench.vectorstore_load import paced

DEFAULT_VENV = "/tmp/chroma-mcp-venv"  # noqa: S108 - where the docs say to make it; $MCP_SUITE_BENCH_CHROMA_MCP moves it
CHROMA_FILES = ("config.json", "special_tokens_map.json", "tokenizer_config.json")


def _private_home(tmp: Path) -> Path:
    """A HOME whose Chroma model cache holds the bundled model, so the default embedding function loads offline."""
    home = tmp / "chroma-mcp-home"
    folder = home / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2" / "onnx"
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = model_files()
    for source, target in ((model, "model.onnx"), (tokenizer, "tokenizer.json")):
        link = folder / target
        if not link.exists():
            link.symlink_to(source)
    vocab = json.loads(tokenizer.read_text())["model"]["vocab"]
    (folder / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.__getitem__)) + "\n")
    for name in CHROMA_FILES:  # Chroma checks that they exist; it reads only the model and tokenizer
        (folder / name).write_text("{}\n")
    return home


def side_by_side(tmp: Path, chroma_url: str, collection: str, texts: list[str], calls: int) -> None:
    """Print chroma-mcp's paced query line on ``collection``, or the reason it could not run."""
    venv = Path(os.environ.get("MCP_SUITE_BENCH_CHROMA_MCP", DEFAULT_VENV))
    command = venv / "bin" / "chroma-mcp"
    if not command.exists():
        print(f"chroma-mcp: not run: {command} is missing (pip install chroma-mcp into {venv})")
        return
    parts = urlsplit(chroma_url)
    env = {"HOME": str(_private_home(tmp)), "PATH": os.environ.get("PATH", ""), "ANONYMIZED_TELEMETRY": "False"}
    params = StdioServerParameters(
        command=str(command),
        args=[
            "--client-type",
            "http",
            "--host",
            parts.hostname or "127.0.0.1",
            "--port",
            str(parts.port),
            "--ssl",
            "false",
        ],
        env=env,
    )

    log = tmp / "chroma-mcp.log"

    async def measure() -> str:
        # Its log (lines per request and per Chroma call) goes to a file, not between the bench's lines.
        with log.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:

                async def one(call: int) -> bool:
                    arguments = {
                        "collection_name": collection,
                        "query_texts": [texts[call % len(texts)]],
                        "n_results": TOP_K,
                    }
                    result = await client.call_tool("chroma_query_documents", arguments)
                    return bool(result.is_error)

                probe = await client.call_tool(
                    "chroma_query_documents",
                    {"collection_name": collection, "query_texts": [texts[0]], "n_results": TOP_K},
                )
                if probe.is_error:
                    return f"chroma-mcp: not run: its query failed: {str(probe.content)[:300]}"
                result = await paced("chroma-mcp", one, calls, RATE, IN_FLIGHT)
            return (
                f"query  chroma-mcp (stdio)  dense    n={result.calls} offered {RATE:.0f}/s achieved {result.rps:.1f}/s "
                f"c={IN_FLIGHT}: p50 {result.p50_ms:6.2f} ms p99 {result.p99_ms:6.2f} ms errors {result.errors} "
                "(same collection on the Chroma server)"
            )

    try:
        print(runtime.run("auto", measure))
    except Exception as error:
        print(f"chroma-mcp: not run: {type(error).__name__}: {error}")
