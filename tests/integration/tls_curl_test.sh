#!/usr/bin/env bash
# Every HTTP transport over TLS against a real client, curl --cacert, on two examples started with
# --cert/--key (a throwaway CA made by make_test_pki.sh): REST (publish), a long poll held until
# news, a short poll with ETag and 304, an SSE stream read incrementally with curl -N, a static
# file with Range (206), plain HTTP on the TLS port (400), and the certificate check itself
# (curl refuses the server without the CA).
#
#   tests/integration/tls_curl_test.sh path/to/hybrid path/to/dashboard_web
#
# Servers listen on 127.0.0.1 with --port 0 and are stopped by PID on exit; every curl has
# --max-time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hybrid=${1:?usage: tls_curl_test.sh HYBRID DASHBOARD_WEB}
dashboard=${2:?usage: tls_curl_test.sh HYBRID DASHBOARD_WEB}
curl_bin=${CURL:-curl}
work=$(mktemp -d)
pids=()
. "$here/../stop_pid.sh"
cleanup() {
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "tls_curl_test: FAIL: $*" >&2
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}
pass() { echo "tls_curl_test: ok: $*"; }
c() { "$curl_bin" --silent --show-error --max-time 10 --cacert "$work/pki/ca.pem" "$@"; }

"$here/make_test_pki.sh" "$work/pki" >/dev/null

# start NAME BINARY: runs it with the test certificate; sets url (https://localhost:PORT)
start() {
  "$2" --port 0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" >"$work/$1.log" 2>&1 &
  pids+=($!)
  local line=
  for _ in $(seq 100); do
    line=$(sed -n 's#^listening on https://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$work/$1.log")
    [ -n "$line" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$1 exited before listening"
    sleep 0.05
  done
  [ -n "$line" ] || fail "$1 did not print 'listening on https://127.0.0.1:N'"
  url="https://localhost:$line"
}

start hybrid "$hybrid"
hybrid_url=$url
pass "hybrid says listening on https"

# ---- the certificate is checked: without the CA curl refuses --------------------------------
if "$curl_bin" --silent --max-time 10 "$hybrid_url/status/news" >/dev/null 2>&1; then fail "curl trusted the server without the CA"; fi
pass "without --cacert curl refuses the certificate"

# ---- short poll: 200 with an ETag, then 304 ---------------------------------------------------
c -D "$work/head" -o "$work/body" "$hybrid_url/status/news" || fail "GET /status"
etag=$(tr -d '\r' <"$work/head" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[ -n "$etag" ] || fail "GET /status: no ETag"
next=$(sed -n 's/.*"next":"\([0-9a-f]*-[0-9]*\)".*/\1/p' "$work/body")
[ -n "$next" ] || fail "GET /status: no next cursor in $(cat "$work/body")"
status=$(c -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$hybrid_url/status/news") || fail "conditional GET /status"
[ "$status" = 304 ] || fail "conditional GET /status: expected 304, got $status"
pass "short poll over TLS: 200 with ETag, then 304"

# ---- SSE with curl -N and a held long poll, both waiting for the next publish ------------------
"$curl_bin" --silent --show-error --max-time 30 --cacert "$work/pki/ca.pem" -N \
  "$hybrid_url/sse/news?lastEventId=$next" >"$work/stream" 2>"$work/stream.err" &
pids+=($!)
sse_pid=${pids[-1]}
c -o "$work/long" "$hybrid_url/poll/news?since=$next" 2>"$work/long.err" &
pids+=($!)
long_pid=${pids[-1]}
sleep 0.5   # both requests are held by now
for i in 1 2; do
  status=$(c -o /dev/null -w '%{http_code}' -X POST --data-binary "tls-$i" "$hybrid_url/api/publish/news") || fail "publish tls-$i"
  case "$status" in 2*) ;; *) fail "publish tls-$i: status $status";; esac
  got=
  for _ in $(seq 100); do
    if grep -q "^data: tls-$i\$" "$work/stream"; then got=1; break; fi
    kill -0 "$sse_pid" 2>/dev/null || fail "curl -N ended before tls-$i: $(cat "$work/stream.err")"
    sleep 0.1
  done
  [ -n "$got" ] || fail "tls-$i did not reach the SSE stream within 10 s"
done
kill -0 "$sse_pid" 2>/dev/null || fail "the SSE stream ended; it should stay open"
pass "SSE over TLS: events arrive one by one while the stream stays open"
wait "$long_pid" || fail "the long poll failed: $(cat "$work/long.err")"
grep -q '"data":"tls-1"' "$work/long" || fail "the long poll did not return tls-1: $(cat "$work/long")"
pass "long poll over TLS: held, then answered with the publish"

# ---- plain HTTP to the TLS port ---------------------------------------------------------------
plain=${hybrid_url/https:/http:}
status=$("$curl_bin" --silent --max-time 10 -o "$work/body" -w '%{http_code}' "$plain/status/news") || true
[ "$status" = 400 ] || fail "plain HTTP on the TLS port: expected 400, got $status"
grep -q "plain HTTP request sent to HTTPS port" "$work/body" || fail "plain HTTP on the TLS port: body $(cat "$work/body")"
pass "plain HTTP on the TLS port is answered 400"

# ---- static files with Range, over TLS --------------------------------------------------------
start dashboard_web "$dashboard"
full=$(c "$url/style.css") || fail "GET /style.css"
[ ${#full} -gt 20 ] || fail "GET /style.css: body too short"
status=$(c -o "$work/part" -D "$work/head" -w '%{http_code}' -H 'Range: bytes=5-14' "$url/style.css") || fail "ranged GET"
[ "$status" = 206 ] || fail "ranged GET: expected 206, got $status"
[ "$(cat "$work/part")" = "${full:5:10}" ] || fail "ranged GET: wrong bytes"
tr -d '\r' <"$work/head" | grep -qi '^content-range: bytes 5-14/' || fail "ranged GET: no Content-Range"
pass "static file with Range over TLS: 206 with the right bytes"
echo "tls_curl_test: all checks passed"
