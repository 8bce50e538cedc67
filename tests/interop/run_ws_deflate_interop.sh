#!/usr/bin/env bash
# permessage-deflate interop against the ws_echo example (RFC 7692):
#   tests/interop/run_ws_deflate_interop.sh path/to/ws_echo python|node
#     python: deflate_raw_socket.py, a raw socket checking every frame byte for byte against Python's zlib
#     node:   ws_deflate_interop.mjs, the npm ws client with perMessageDeflate in four configurations
# Starts two ws_echo servers on free ports (--deflate on and --deflate no-context-takeover, both with
# --deflate-threshold 0 so every message is compressed) and stops both by PID whatever happens.
# Environment: NODE, NPM, PYTHON (defaults: node, npm, python3 on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ws_echo=${1:?usage: run_ws_deflate_interop.sh path/to/ws_echo python|node}
which=${2:?usage: run_ws_deflate_interop.sh path/to/ws_echo python|node}
node=${NODE:-node}
npm=${NPM:-npm}
python=${PYTHON:-python3}

if [ "$which" = node ] && [ ! -d "$here/node_modules/ws" ]; then
  # See run_ws_interop.sh: exactly the locked versions; a racing duplicate install leaves the same files.
  (cd "$here" && "$npm" ci --no-audit --no-fund --loglevel=error) || (cd "$here" && "$npm" install --no-audit --no-fund --loglevel=error)
fi

pids=()
logs=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -f "${logs[@]}"
}
trap cleanup EXIT

start() {   # start MODE VAR: starts ws_echo, sets VAR to its port (no subshell: its PID must be kept)
  local log
  log=$(mktemp)
  logs+=("$log")
  "$ws_echo" --host 127.0.0.1 --port 0 --deflate "$1" --deflate-threshold 0 >"$log" 2>&1 &
  pids+=($!)
  local port=
  for _ in $(seq 100); do   # up to 10 s for the server to print its port
    port=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "ws_echo exited early:"; cat "$log"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "ws_echo did not print its port:"; cat "$log"; exit 1; }
  printf -v "$2" '%s' "$port"
}

start on port_on
start no-context-takeover port_nct
status=0
case "$which" in
  python) "$python" "$here/deflate_raw_socket.py" "$port_on" || status=$? ;;
  node) "$node" "$here/ws_deflate_interop.mjs" "http://127.0.0.1:$port_on" "http://127.0.0.1:$port_nct" || status=$? ;;
  *) echo "unknown client: $which" >&2; exit 2 ;;
esac
if [ "$status" -ne 0 ]; then
  for log in "${logs[@]}"; do echo "--- ws_echo output:"; cat "$log"; done
fi
exit "$status"
