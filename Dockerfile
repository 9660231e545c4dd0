# syntax=docker/dockerfile:1
# One image for the whole suite: the command picks what runs.
#   docker run mcp-suite:0.1.0 serve filesystem /workspace:rw --transport http --host 0.0.0.0 --port 8501
#   docker run mcp-suite:0.1.0 gateway --transport http --host 0.0.0.0 --port 8500   (the default command)
# Build: docker build -t mcp-suite:0.1.0 .   (docker compose builds it for every MCP service)

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- builder: every wheel the suite needs, compiled here so the runtime needs no compiler ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# CMAKE_ARGS: llama-cpp-python (the aiml server) compiles for these instruction sets, not the build host's.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mesh ./mesh
COPY servers ./servers
COPY gateway ./gateway
COPY suite ./suite
RUN pip wheel --wheel-dir /wheels .

# ---- runtime: the wheels installed into a venv, run as an unprivileged user ----
FROM ${PYTHON_IMAGE} AS runtime
ARG MCP_UID=10001
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    MCP_SUITE_DATA_DIR=/var/lib/mcp-suite \
    HEALTHCHECK_URL=http://127.0.0.1:8500/health
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --find-links /wheels mcp-suite \
    && groupadd --system --gid ${MCP_UID} mcp \
    && useradd --system --uid ${MCP_UID} --gid mcp --home-dir /var/lib/mcp-suite --shell /usr/sbin/nologin mcp \
    && mkdir -p /var/lib/mcp-suite /workspace /trash /etc/mcp-suite \
    && chown mcp:mcp /var/lib/mcp-suite /workspace /trash
# Named volumes mounted on these paths start with this ownership, so the non-root user can write them.
WORKDIR /var/lib/mcp-suite
USER ${MCP_UID}:${MCP_UID}
EXPOSE 8500 8501 8502 8503 8504 8505 8506
# GET /health answers 200 when ready, 503 when not: urlopen raises on 503, so the check fails.
# Each compose service sets HEALTHCHECK_URL to its own port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["mcp-suite"]
CMD ["gateway", "--transport", "http", "--host", "0.0.0.0", "--port", "8500"]
