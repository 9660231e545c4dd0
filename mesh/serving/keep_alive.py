"""How long an idle HTTP/1.1 keep-alive connection lives on each side, named together.

A client that sends on an idle connection at the moment the server closes it loses the request
without an answer (the server's FIN crosses the request). The client must therefore give up an
idle connection before the server does: :data:`CLIENT_IDLE_LIMIT_SECONDS` is well below
:data:`SERVER_KEEP_ALIVE_SECONDS`, and both are well above the gateway's default refresh interval,
so the periodic re-list reuses its connections instead of meeting the server's close.
"""

from __future__ import annotations

SERVER_KEEP_ALIVE_SECONDS = 75.0
"""uvicorn's ``timeout_keep_alive`` for every process of the suite (uvicorn's own default is 5 s)."""

CLIENT_IDLE_LIMIT_SECONDS = 60.0
"""The gateway's pool closes a connection idle longer than this instead of reusing it."""

assert CLIENT_IDLE_LIMIT_SECONDS < SERVER_KEEP_ALIVE_SECONDS
