#!/usr/bin/env bash
# Runs ws_interop.mjs (npm `ws` as the client) against the ws_echo example.
#   tests/interop/run_ws_interop.sh path/to/ws_echo
#   tests/interop/run_ws_interop.sh path/to/ws_echo tls    # wss, with a throwaway CA node trusts
# Installs the locked npm dependencies on first use, starts ws_echo on a free port (--port 0; it prints
# "listening on http://127.0.0.1:N"), runs the script, and stops the server by its PID whatever happens.
# Environment: NODE, NPM (defaults: node, npm on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ws_echo=${1:?usage: run_ws_interop.sh path/to/ws_echo}
node=${NODE:-node}
npm=${NPM:-npm}
mode=${2:-plain}

if [ ! -d "$here/node_modules/ws" ]; then
  # ci: exactly the versions in package-lock.json. Several ctest runs may race here; npm ci into a
  # private copy would cost more than the rare duplicate install, which leaves the same files.
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
  [ -z "${pki:-}" ] || rm -rf "$pki"
}
trap cleanup EXIT

scheme=http ws=ws tls_args=() pki=
if [ "$mode" = tls ]; then
  pki=$(mktemp -d)
  "$here/../integration/make_test_pki.sh" "$pki" >/dev/null
  export NODE_EXTRA_CA_CERTS=$pki/ca.pem   # node's TLS trusts our CA, and only through this
  scheme=https ws=wss tls_args=(--cert "$pki/server.pem" --key "$pki/server.key")
fi
"$ws_echo" --host 127.0.0.1 --port 0 "${tls_args[@]}" >"$log" 2>&1 &
server_pid=$!

port=
for _ in $(seq 100); do   # up to 10 s for the server to print its port
  port=$(sed -n "s#^listening on $scheme://127\\.0\\.0\\.1:\\([0-9][0-9]*\\).*#\\1#p" "$log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "ws_echo exited early:"; cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "ws_echo did not print its port:"; cat "$log"; exit 1; }

status=0
"$node" "$here/ws_interop.mjs" "$ws://127.0.0.1:$port/ws" || status=$?
if [ "$status" -ne 0 ]; then echo "--- ws_echo output:"; cat "$log"; fi
exit "$status"
