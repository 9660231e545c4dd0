#!/bin/sh
# Write .env from .env.example with fresh random secrets: every "change-me-..." value becomes 32
# URL-safe characters and CONSUL_HTTP_TOKEN a new UUID. Refuses to overwrite an existing file.
#   deploy/new-env.sh            # writes ./.env
#   deploy/new-env.sh other.env  # writes other.env
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-"$here/.env"}
if [ -e "$target" ]; then
    echo "new-env: $target exists; remove it first if you mean to replace its secrets" >&2
    exit 1
fi
umask 077
python3 - "$here/.env.example" "$target" <<'PY'
import re, secrets, sys, uuid

source, target = sys.argv[1], sys.argv[2]
lines = []
for line in open(source, encoding="utf-8").read().splitlines():
    key, sep, value = line.partition("=")
    if sep and not line.lstrip().startswith("#"):
        if key == "CONSUL_HTTP_TOKEN":
            value = str(uuid.uuid4())
        elif value.startswith("change-me"):
            value = re.sub(r"[^A-Za-z0-9_-]", "", secrets.token_urlsafe(24))
        line = f"{key}={value}"
    lines.append(line)
with open(target, "w", encoding="utf-8") as out:
    out.write("\n".join(lines) + "\n")
print(f"new-env: wrote {target} with new secrets (mode 600)", file=sys.stderr)
PY
