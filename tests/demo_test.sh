#!/usr/bin/env bash
# examples/demo, the first command a newcomer runs, as a test:
#   1. the packages it asks for (.ci/install-deps demo) are the compiler, cmake, Asio and
#      simdjson, and nothing the tests or benchmarks need;
#   2. run from a fresh build directory it configures (tests and benchmarks off), builds the demo
#      and reaches "listening on", here on a free port.
#
#   tests/demo_test.sh SOURCE_DIR
#
# On a machine where the packages are installed, install-deps installs nothing. The demo is
# stopped by its PID and its build directory removed on exit.
set -euo pipefail
root=${1:?usage: demo_test.sh SOURCE_DIR}
work=$(mktemp -d)
pid=
# The demo runs in a process group of its own (setsid), so stopping it by its id also stops a
# build still in progress under it.
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wanted="cmake g++ libasio-dev libsimdjson-dev make"
got=$("$root/.ci/install-deps" --list demo | sort | paste -sd' ')
if [ "$got" != "$wanted" ]; then
  echo "demo_test: FAIL: install-deps demo lists '$got', expected '$wanted'" >&2
  exit 1
fi
echo "demo_test: ok: install-deps demo lists $got"

TETHER_DEMO_BUILD=$work/build JOBS=1 setsid "$root/examples/demo" --port 0 >"$work/out" 2>&1 &
pid=$!
for _ in $(seq 5400); do   # building takes most of this; 9 minutes at most
  if grep -qE '^listening on http://127\.0\.0\.1:[0-9]+$' "$work/out"; then
    port=$(sed -nE 's|^listening on http://127\.0\.0\.1:([0-9]+)$|\1|p' "$work/out")
    # The page and the client it loads are served.
    curl -sSf --max-time 5 "http://127.0.0.1:$port/" | grep '<title>tether demo' >/dev/null &&
      curl -sSf --max-time 5 "http://127.0.0.1:$port/tether.js" | grep 'export function connect' >/dev/null ||
      { echo "demo_test: FAIL: the demo does not serve its page and tether.js" >&2; exit 1; }
    echo "demo_test: ok: examples/demo reached 'listening on' (port $port) and serves its page"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
echo "demo_test: FAIL: examples/demo did not reach 'listening on':" >&2
tail -40 "$work/out" >&2
exit 1
