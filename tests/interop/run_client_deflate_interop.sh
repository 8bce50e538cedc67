#!/usr/bin/env bash
# tether's C++ WebSocket client with permessage-deflate against an npm `ws` server (RFC 7692):
#   tests/interop/run_client_deflate_interop.sh path/to/ws_client_deflate
# Starts ws_deflate_server.mjs on a free port, runs the client against each of its paths, and stops the
# server by its PID whatever happens. Environment: NODE, NPM (defaults: node, npm on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
client=${1:?usage: run_client_deflate_interop.sh path/to/ws_client_deflate}
source "$here/lib.sh"
interop_npm_install ws
interop_start port ws "${NODE:-node}" "$here/ws_deflate_server.mjs"

# What npm ws answers to our offer ("permessage-deflate; client_max_window_bits") on each path.
"$client" "$port" /default "permessage-deflate"
"$client" "$port" /nct "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
"$client" "$port" /window10 "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"
echo "client deflate interop: every path matched"
