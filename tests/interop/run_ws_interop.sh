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
mode=${2:-plain}
source "$here/lib.sh"
interop_npm_install ws

scheme=http ws=ws tls_args=()
if [ "$mode" = tls ]; then
  pki=$(mktemp -d)
  interop_files+=("$pki")
  "$here/../integration/make_test_pki.sh" "$pki" >/dev/null
  export NODE_EXTRA_CA_CERTS=$pki/ca.pem   # node's TLS trusts our CA, and only through this
  scheme=https ws=wss tls_args=(--cert "$pki/server.pem" --key "$pki/server.key")
fi
interop_start port "$scheme" "$ws_echo" --host 127.0.0.1 --port 0 "${tls_args[@]}"

status=0
"${NODE:-node}" "$here/ws_interop.mjs" "$ws://127.0.0.1:$port/ws" || status=$?
if [ "$status" -ne 0 ]; then echo "--- ws_echo output:"; cat "$port_log"; fi
exit "$status"
