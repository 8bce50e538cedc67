#!/usr/bin/env bash
# tether's C++ WebSocket client with permessage-deflate against an npm `ws` server (RFC 7692):
#   tests/interop/run_client_deflate_interop.sh path/to/ws_client_deflate
# Starts ws_deflate_server.mjs on a free port, runs the client against each of its paths, and stops the
# server by its PID whatever happens. Environment: NODE, NPM (defaults: node, npm on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
client=${1:?usage: run_client_deflate_interop.sh path/to/ws_client_deflate}
node=${NODE:-node}
npm=${NPM:-npm}
if [ ! -d "$here/node_modules/ws" ]; then
  (cd "$here" && "$npm" ci --no-audit --no-fund --loglevel=error) || (cd "$here" && "$npm" install --no-audit --no-fund --loglevel=error)
fi

log=$(mktemp)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

"$node" "$here/ws_deflate_server.mjs" >"$log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's#^listening on ws://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "the ws server exited early:"; cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "the ws server did not print its port:"; cat "$log"; exit 1; }

# What npm ws answers to our offer ("permessage-deflate; client_max_window_bits") on each path.
"$client" "$port" /default "permessage-deflate"
"$client" "$port" /nct "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
"$client" "$port" /window10 "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"
echo "client deflate interop: every path matched"
