"""Measure the keep-alive race behind issue 17: reusing a connection as uvicorn's keep-alive timeout closes it.

A real uvicorn process (``--timeout-keep-alive 1``) and the gateway's :class:`Http1Pool`: each round
sends one request, waits the keep-alive timeout (within a few milliseconds either way) and sends
another on the kept connection, then counts the requests lost with ``Http1ClosedBeforeAnswer``.

    python scripts/keep_alive_race.py --rounds 100                       # today's pool
    python scripts/keep_alive_race.py --rounds 100 --no-replay --idle-limit 1e9   # the pool before the fix
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
import tempfile
from pathlib import Path

from gateway.upstream.http1 import Http1ClosedBeforeAnswer, Http1Error, Http1Pool

KEEP_ALIVE = 1
APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def ok(_request):
    return JSONResponse({})

app = Starlette(routes=[Route("/", ok, methods=["POST"])])
"""


async def _wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise SystemExit(f"uvicorn did not listen on {port} within 10 s")


async def measure(rounds: int, *, replay: bool, idle_limit: float) -> tuple[int, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "race_app.py").write_text(APP)
        command = ["-m", "uvicorn", "--app-dir", folder, "race_app:app", "--port", str(port)]
        command += ["--timeout-keep-alive", str(KEEP_ALIVE), "--log-level", "warning"]
        process = await asyncio.create_subprocess_exec(sys.executable, *command)
        try:
            await _wait_listening(port)
            pool = Http1Pool(idle_limit=idle_limit)
            url = f"http://127.0.0.1:{port}/"
            lost = failed = 0
            for _ in range(rounds):
                async with pool.post(url, b"{}", {}, replay=replay) as response:
                    await response.read()
                await asyncio.sleep(KEEP_ALIVE + random.uniform(-0.003, 0.003))
                try:
                    async with pool.post(url, b"{}", {}, replay=replay) as response:
                        await response.read()
                except Http1ClosedBeforeAnswer:
                    lost += 1
                except Http1Error:
                    failed += 1
            await pool.aclose()
            return lost, failed
        finally:
            process.terminate()
            await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--no-replay", action="store_true", help="do not send a lost safe request again")
    parser.add_argument("--idle-limit", type=float, default=None, help="the pool's idle limit in seconds")
    args = parser.parse_args()
    idle_limit = args.idle_limit if args.idle_limit is not None else Http1Pool().idle_limit
    lost, failed = asyncio.run(measure(args.rounds, replay=not args.no_replay, idle_limit=idle_limit))
    print(f"{lost}/{args.rounds} requests lost with closed-before-answer, {failed} other errors")
    raise SystemExit(1 if lost or failed else 0)


if __name__ == "__main__":
    main()
