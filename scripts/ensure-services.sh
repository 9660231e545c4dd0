#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer before the tests run.
# Starts them when installed but stopped; fails with a clear message when they are missing.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 tries=50
  while ((tries-- > 0)); do port_open "$port" && return 0; sleep 0.2; done
  return 1
}

ensure_postgres() {
  port_open 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql ]; then
    echo "PostgreSQL is not reachable at 127.0.0.1:5432 and is not installed here." >&2
    echo "Install PostgreSQL 15 (Debian: apt-get install postgresql) or start it, then rerun 'make test'." >&2
    return 1
  fi
  echo "starting PostgreSQL ..." >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
  wait_port 5432 || { echo "PostgreSQL did not come up on 127.0.0.1:5432; see /var/log/postgresql." >&2; return 1; }
}

ensure_redis() {
  port_open 6379 && return 0
  if ! command -v redis-server >/dev/null; then
    echo "Redis is not reachable at 127.0.0.1:6379 and redis-server is not installed here." >&2
    echo "Install Redis 7 (Debian: apt-get install redis-server) or start it, then rerun 'make test'." >&2
    return 1
  fi
  echo "starting Redis ..." >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2 || true
  wait_port 6379 || { echo "Redis did not come up on 127.0.0.1:6379." >&2; return 1; }
}

status=0
ensure_postgres || status=1
ensure_redis || status=1
exit $status
