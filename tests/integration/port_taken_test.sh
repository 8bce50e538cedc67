#!/usr/bin/env bash
# Every example, started on a port another process already listens on, must say so and exit 1:
# not abort (a helper thread still joinable when listen() throws ends the program through
# std::terminate), not hang, not serve.
#
#   tests/integration/port_taken_test.sh build/examples/hello build/examples/ws_echo ...
#
# The first binary holds the port (--port 0, read from its "listening on" line); each binary in
# turn is then started on that port with a 10 s limit. Every process is stopped by its PID.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: port_taken_test.sh EXAMPLE_BINARY..." >&2; exit 2; }
work=$(mktemp -d)
holder_pid=
. "$(dirname "$0")/../stop_pid.sh"
trap 'stop_pid "$holder_pid"; rm -rf "$work"' EXIT

"$1" --port 0 --threads 1 >"$work/holder.out" 2>"$work/holder.err" &
holder_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's|^listening on https\{0,1\}://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/holder.out" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "port_taken_test: FAIL: $1 did not print its port" >&2; cat "$work/holder.err" >&2; exit 1; }

failed=0
for example in "$@"; do
  name=$(basename "$example")
  status=0
  timeout 10 "$example" --port "$port" --threads 1 >"$work/out" 2>"$work/err" || status=$?
  if [ "$status" -ne 1 ]; then
    echo "port_taken_test: FAIL: $name on taken port $port exited with status $status (want 1; 134 is an abort, 124 a hang)" >&2
    cat "$work/err" >&2
    failed=1
  elif ! grep -q "$port" "$work/err"; then
    echo "port_taken_test: FAIL: $name exited 1 but its stderr does not name port $port:" >&2
    cat "$work/err" >&2
    failed=1
  elif grep -q "^listening on" "$work/out"; then
    echo "port_taken_test: FAIL: $name printed a listening line on a taken port" >&2
    failed=1
  else
    echo "port_taken_test: ok: $name: $(head -1 "$work/err")"
  fi
done
exit "$failed"
