#!/usr/bin/env bash
# Server-Sent Events against real third-party clients.
#   tests/interop/run_sse_interop.sh hybrid path/to/hybrid
#   tests/interop/run_sse_interop.sh sse_tokens path/to/sse_tokens
#   tests/interop/run_sse_interop.sh hybrid path/to/hybrid tls     # the same over TLS
# With `tls`, a throwaway CA and certificate are made (tests/integration/make_test_pki.sh), the example
# serves https with them, and node (NODE_EXTRA_CA_CERTS) and curl (--cacert) trust that CA.
# Both run sse_eventsource.mjs (npm `eventsource`; it starts, kills and restarts the example itself).
# With hybrid, `curl -N` then checks that the stream arrives incrementally: each published message is
# in curl's output while the stream is still open, not only when it ends. Installs the locked npm
# dependencies on first use; stops what it started by PID whatever happens.
# Environment: NODE, NPM, CURL (defaults: node, npm, curl on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scenario=${1:?usage: run_sse_interop.sh hybrid|sse_tokens path/to/example}
example=${2:?usage: run_sse_interop.sh hybrid|sse_tokens path/to/example}
curl=${CURL:-curl}
mode=${3:-plain}
source "$here/lib.sh"
pki=
if [ "$mode" = tls ]; then
  pki=$(mktemp -d)
  interop_files+=("$pki")
  "$here/../integration/make_test_pki.sh" "$pki" >/dev/null
  export TETHER_TLS_CERT=$pki/server.pem TETHER_TLS_KEY=$pki/server.key NODE_EXTRA_CA_CERTS=$pki/ca.pem
fi
scheme=http
tls_args=()
[ "$mode" = tls ] && { scheme=https; tls_args=(--cert "$pki/server.pem" --key "$pki/server.key"); }
curl_tls=()
[ "$mode" = tls ] && curl_tls=(--cacert "$pki/ca.pem")
interop_npm_install eventsource ws

"${NODE:-node}" "$here/sse_eventsource.mjs" "$scenario" "$example"
[ "$scenario" = hybrid ] || exit 0

# ---- curl -N against hybrid's /sse/news ---------------------------------------------------------
stream=$(mktemp)
interop_files+=("$stream")
log=
fail() {
  echo "curl -N: FAILED: $*"
  echo "--- curl received:"; cat "$stream"
  [ -z "$log" ] || { echo "--- hybrid output:"; cat "$log"; }
  exit 1
}

interop_start port "$scheme" "$example" --host 127.0.0.1 --port 0 "${tls_args[@]}"
log=$port_log
base="$scheme://127.0.0.1:$port"

# Start the stream at the topic's current cursor, so nothing published from here on can be missed.
next=$("$curl" "${curl_tls[@]}" -sS --max-time 5 "$base/poll/news" | sed -n 's/.*"next":"\([0-9a-f]*-[0-9]*\)".*/\1/p')
[ -n "$next" ] || fail "GET /poll/news gave no cursor"
"$curl" "${curl_tls[@]}" -sS -N --max-time 60 "$base/sse/news?lastEventId=$next" >"$stream" 2>&1 &
curl_pid=$!
interop_pids+=("$curl_pid")

for i in 1 2 3; do
  "$curl" "${curl_tls[@]}" -sS --max-time 5 -X POST --data-binary "curl-$i" "$base/api/publish/news" >/dev/null || fail "publish curl-$i"
  got=
  for _ in $(seq 100); do   # up to 10 s for the event to reach curl's output
    if grep -q "^data: curl-$i\$" "$stream"; then got=1; break; fi
    kill -0 "$curl_pid" 2>/dev/null || fail "curl ended before receiving curl-$i"
    sleep 0.1
  done
  [ -n "$got" ] || fail "curl-$i did not arrive within 10 s"
done
kill -0 "$curl_pid" 2>/dev/null || fail "the stream ended; it should stay open"
grep -q "^event: news\$" "$stream" || fail "no event: news line"
[ "$(grep -c '^id: ' "$stream")" -eq 3 ] || fail "expected three id: lines"
echo "curl -N: ok (three events received one by one while the stream stayed open)"
