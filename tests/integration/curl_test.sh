#!/usr/bin/env bash
# The hello example against a real external client, curl: status lines, bodies, Content-Type,
# HEAD, connection reuse, 405 with Allow, the JSON 404, and a graceful stop on SIGTERM.
#
#   tests/integration/curl_test.sh build/examples/hello
#
# The server listens on 127.0.0.1 with an OS-chosen port (--port 0; the port is read from the
# "listening on http://127.0.0.1:N" line it prints). Every curl call has --max-time, and the
# server is stopped by its PID when the script exits, however it exits.
set -euo pipefail

hello=${1:?usage: curl_test.sh PATH_TO_HELLO_BINARY}
curl_bin=${CURL:-curl}
work=$(mktemp -d)
server_pid=
. "$(dirname "$0")/../stop_pid.sh"

stop_server() {
  stop_pid "$server_pid"
  server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

fail() {
  echo "curl_test: FAIL: $*" >&2
  if [ -s "$work/server.err" ]; then echo "--- hello's stderr:" >&2; cat "$work/server.err" >&2; fi
  exit 1
}
pass() { echo "curl_test: ok: $*"; }

c() { "$curl_bin" --silent --show-error --max-time 5 "$@"; }

# Checks that a file holds JSON; uses jq or python3, whichever exists.
is_json() {
  if command -v jq >/dev/null; then jq -e . "$1" >/dev/null 2>&1
  elif command -v python3 >/dev/null; then python3 -m json.tool "$1" >/dev/null 2>&1
  else grep -q '^{.*}$' "$1"; fi
}
# Prints the value of response field $2 (case-insensitive) from the header dump $1.
field() { tr -d '\r' <"$1" | awk -v name="$2" 'tolower($0) ~ "^" tolower(name) ":" { sub(/^[^:]*:[ \t]*/, ""); print; exit }'; }

# ---- start ---------------------------------------------------------------------------------
[ -x "$hello" ] || fail "no executable at $hello"
"$hello" --port 0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\).*$/\1/p' "$work/server.out")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "hello exited before listening"
  sleep 0.05
done
[ -n "$url" ] || fail "hello did not print 'listening on http://127.0.0.1:N' within 5 s"
case "$url" in *:0) fail "hello reported port 0 instead of the port it bound";; esac
pass "hello listening on $url (pid $server_pid)"

# ---- GET /plaintext --------------------------------------------------------------------------
status=$(c -o "$work/body" -D "$work/head" -w '%{http_code}' "$url/plaintext") || fail "GET /plaintext: curl failed"
[ "$status" = 200 ] || fail "GET /plaintext: expected status 200, got $status"
[ "$(cat "$work/body")" = "Hello, World!" ] || fail "GET /plaintext: expected body 'Hello, World!', got '$(cat "$work/body")'"
[ "$(field "$work/head" content-length)" = 13 ] || fail "GET /plaintext: expected Content-Length 13"
[ -n "$(field "$work/head" date)" ] || fail "GET /plaintext: no Date field"
pass "GET /plaintext is 200 'Hello, World!'"

# ---- GET /json ------------------------------------------------------------------------------
status=$(c -o "$work/body" -w '%{http_code} %{content_type}' "$url/json") || fail "GET /json: curl failed"
[ "$status" = "200 application/json" ] || fail "GET /json: expected '200 application/json', got '$status'"
is_json "$work/body" || fail "GET /json: body is not valid JSON: $(cat "$work/body")"
grep -q '"message":"Hello, World!"' "$work/body" || fail "GET /json: unexpected body $(cat "$work/body")"
pass "GET /json is valid JSON with Content-Type application/json"

# ---- a path parameter -------------------------------------------------------------------------
[ "$(c "$url/hello/curl%20user")" = "Hello, curl user!" ] || fail "GET /hello/curl%20user: wrong greeting"
pass "GET /hello/:name decodes its parameter"

# ---- HEAD -----------------------------------------------------------------------------------
out=$(c --head -o /dev/null -D "$work/head" -w '%{http_code} %{size_download}' "$url/plaintext") || fail "HEAD /plaintext: curl failed"
[ "$out" = "200 0" ] || fail "HEAD /plaintext: expected '200 0' (status, body bytes), got '$out'"
[ "$(field "$work/head" content-length)" = 13 ] || fail "HEAD /plaintext: expected the GET's Content-Length 13, got '$(field "$work/head" content-length)'"
pass "HEAD /plaintext has Content-Length 13 and no body"

# ---- keep-alive reuse -------------------------------------------------------------------------
c -v "$url/plaintext" "$url/json" >"$work/body" 2>"$work/verbose" || fail "two URLs on one connection: curl failed"
[ "$(cat "$work/body")" = 'Hello, World!{"message":"Hello, World!"}' ] || fail "two URLs on one connection: bodies were '$(cat "$work/body")'"
connects=$(grep -c 'Connected to' "$work/verbose" || true)
if ! grep -qiE 're-?using existing' "$work/verbose" || [ "$connects" != 1 ]; then
  cat "$work/verbose" >&2
  fail "two URLs in one curl invocation did not reuse the connection ($connects connects)"
fi
grep -q 'left intact' "$work/verbose" || fail "the connection was not left intact after the second response"
pass "curl reuses one keep-alive connection for two requests"

# ---- 405 with Allow ---------------------------------------------------------------------------
status=$(c -X POST --data 'x=1' -o "$work/body" -D "$work/head" -w '%{http_code}' "$url/plaintext") || fail "POST /plaintext: curl failed"
[ "$status" = 405 ] || fail "POST /plaintext: expected 405, got $status"
allow=$(field "$work/head" allow)
echo "$allow" | grep -qw GET || fail "POST /plaintext: Allow should list GET, got '$allow'"
is_json "$work/body" || fail "POST /plaintext: the 405 body is not JSON: $(cat "$work/body")"
pass "POST to a GET route is 405 with Allow: $allow"

# ---- 404 ------------------------------------------------------------------------------------
status=$(c -o "$work/body" -w '%{http_code} %{content_type}' "$url/no/such/path") || fail "GET /no/such/path: curl failed"
[ "$status" = "404 application/json" ] || fail "GET /no/such/path: expected '404 application/json', got '$status'"
is_json "$work/body" || fail "GET /no/such/path: body is not valid JSON: $(cat "$work/body")"
grep -q '"status":404' "$work/body" || fail "GET /no/such/path: error body lacks status 404: $(cat "$work/body")"
pass "an unknown path is a JSON 404"

# ---- a deferred reply: /delayed answers later, and meanwhile others are answered ----------------
c -o "$work/delayed" "$url/delayed?ms=3000" &
delayed_pid=$!
sleep 0.2
[ "$(c "$url/plaintext")" = "Hello, World!" ] || fail "GET /plaintext while /delayed?ms=3000 was held: no answer"
kill -0 "$delayed_pid" 2>/dev/null || fail "GET /delayed?ms=3000 finished before /plaintext was asked: it was not held"
wait "$delayed_pid" || fail "GET /delayed?ms=3000: curl failed"
[ "$(cat "$work/delayed")" = "waited 3000 ms" ] || fail "GET /delayed?ms=3000: body was '$(cat "$work/delayed")'"
status=$(c -o /dev/null -w '%{http_code}' "$url/delayed?ms=99999") || fail "GET /delayed?ms=99999: curl failed"
[ "$status" = 400 ] || fail "GET /delayed?ms=99999: expected 400, got $status"
pass "GET /delayed?ms=3000 is answered later, and /plaintext meanwhile"

# ---- /metrics and the health probes ----------------------------------------------------------
status=$(c -o "$work/metrics" -D "$work/head" -w '%{http_code}' "$url/metrics") || fail "GET /metrics: curl failed"
[ "$status" = 200 ] || fail "GET /metrics: expected 200, got $status"
case "$(field "$work/head" content-type)" in
  "text/plain; version=0.0.4"*) ;;
  *) fail "GET /metrics: Content-Type is '$(field "$work/head" content-type)', not the Prometheus text format" ;;
esac
grep -qx 'tether_http_requests_total{route="/delayed",method="GET",status="2xx"} 1' "$work/metrics" ||
  fail "GET /metrics: no count of 1 answered /delayed (the 3000 ms one)"
grep -qx 'tether_http_requests_total{route="/delayed",method="GET",status="4xx"} 1' "$work/metrics" ||
  fail "GET /metrics: no count of 1 refused /delayed (ms=99999)"
grep -q '^tether_http_requests_total{route="(none)",method="GET",status="4xx"} ' "$work/metrics" ||
  fail "GET /metrics: the 404 is not counted under route=\"(none)\""
grep -q '/no/such/path' "$work/metrics" && fail "GET /metrics: a raw path leaked into a label"
[ "$(c "$url/readyz")" = '{"status":"ok"}' ] || fail "GET /readyz: not ready while serving"
[ "$(c "$url/healthz")" = '{"status":"ok"}' ] || fail "GET /healthz: not alive while serving"
pass "/metrics counts by route pattern; /readyz and /healthz answer ok"

# ---- chunked upload (only if hello has an echo route) ---------------------------------------
head -c 100000 /dev/urandom | base64 >"$work/upload"
status=$(c -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$work/upload" -o "$work/body" -w '%{http_code}' "$url/echo") ||
  fail "chunked POST /echo: curl failed"
case "$status" in
  404|405) echo "curl_test: skip: hello has no POST /echo route; the C++ integration tests cover chunked uploads" ;;
  200) cmp -s "$work/upload" "$work/body" || fail "chunked POST /echo: the echo differs from the upload"
       pass "a chunked upload is echoed" ;;
  *) fail "chunked POST /echo: unexpected status $status" ;;
esac

# ---- graceful stop on SIGTERM -----------------------------------------------------------------
kill -TERM "$server_pid"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server_pid" 2>/dev/null && fail "hello still running 5 s after SIGTERM"
rc=0
wait "$server_pid" || rc=$?
server_pid=
[ "$rc" = 0 ] || fail "hello exited with status $rc after SIGTERM"
pass "hello stops on SIGTERM with status 0"
echo "curl_test: all checks passed"
