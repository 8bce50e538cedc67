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
python=${PYTHON:-python3}
source "$here/lib.sh"
[ "$which" != node ] || interop_npm_install ws

start() {   # start MODE VAR: a ws_echo compressing every message (threshold 0); VAR gets its port
  interop_start "$2" http "$ws_echo" --host 127.0.0.1 --port 0 --deflate "$1" --deflate-threshold 0
}

start on port_on
start no-context-takeover port_nct
status=0
case "$which" in
  python) "$python" "$here/deflate_raw_socket.py" "$port_on" || status=$? ;;
  node) "${NODE:-node}" "$here/ws_deflate_interop.mjs" "http://127.0.0.1:$port_on" "http://127.0.0.1:$port_nct" || status=$? ;;
  *) echo "unknown client: $which" >&2; exit 2 ;;
esac
if [ "$status" -ne 0 ]; then
  for log in "$port_on_log" "$port_nct_log"; do echo "--- ws_echo output:"; cat "$log"; done
fi
exit "$status"
