#!/usr/bin/env bash
# Runs ws_binary_interop.mjs (npm `ws`: binary topics, raw subscriptions) against the hybrid example,
# which the script starts on a free port and stops by its PID. Installs the locked npm dependencies on
# first use. Environment: NODE, NPM (defaults: node, npm on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hybrid=${1:?usage: run_ws_binary_interop.sh path/to/hybrid}
source "$here/lib.sh"
interop_npm_install ws
exec "${NODE:-node}" "$here/ws_binary_interop.mjs" "$hybrid"
