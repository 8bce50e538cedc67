#!/usr/bin/env bash
# The upload example against curl, a real client that sends "Expect: 100-continue" for large
# bodies: a 20 MiB file with Content-Length and again chunked, read back byte for byte; refusals
# (a bad name, a file over --max-bytes) answered before curl sent a byte of the body; a client
# that gives up mid-upload leaves nothing behind; the server exits 0 on SIGTERM (so a sanitizer's
# report at exit fails the test in the ASan tree).
#
#   tests/integration/upload_curl_test.sh build/examples/upload
#
# The server listens on 127.0.0.1 with an OS-chosen port and saves to a temp dir; every curl call
# has --max-time, and the server is stopped by its PID when the script exits, however it exits.
set -euo pipefail

upload=${1:?usage: upload_curl_test.sh PATH_TO_UPLOAD_BINARY}
curl_bin=${CURL:-curl}
work=$(mktemp -d)
server_pid=

server_status=
. "$(dirname "$0")/../stop_pid.sh"
stop_server() {   # sets server_status to the server's exit status
  [ -n "$server_pid" ] || return 0
  stop_pid "$server_pid"
  server_pid=
  server_status=$stopped_status
}
trap 'stop_server; rm -rf "$work"' EXIT

fail() {
  echo "upload_curl_test: FAIL: $*" >&2
  if [ -s "$work/server.err" ]; then echo "--- upload's stderr:" >&2; cat "$work/server.err" >&2; fi
  exit 1
}
pass() { echo "upload_curl_test: ok: $*"; }
c() { "$curl_bin" --silent --show-error --max-time 30 "$@"; }

mkdir -p "$work/files"
[ -x "$upload" ] || fail "no executable at $upload"
"$upload" --port 0 --dir "$work/files" --max-bytes $((32 << 20)) >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$work/server.out")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "upload exited before listening"
  sleep 0.05
done
[ -n "$url" ] || fail "upload did not print 'listening on http://127.0.0.1:N' within 5 s"
pass "upload listening on $url"

head -c $((20 << 20)) /dev/urandom >"$work/big.bin"

# Content-Length, with the Expect: 100-continue curl adds for a body this large.
status=$(c -T "$work/big.bin" -o "$work/put1.json" -w '%{http_code}' "$url/files/big.bin")
[ "$status" = 201 ] || fail "PUT with Content-Length: status $status, body $(cat "$work/put1.json")"
grep -q "\"bytes\":$((20 << 20))" "$work/put1.json" || fail "PUT answer: $(cat "$work/put1.json")"
cmp -s "$work/big.bin" "$work/files/big.bin" || fail "the saved file differs from the one sent"
pass "20 MiB with Content-Length saved intact (201)"

# Chunked this time, replacing the file.
head -c $((5 << 20)) /dev/urandom >"$work/other.bin"
status=$(c -T "$work/other.bin" -H 'Transfer-Encoding: chunked' -o "$work/put2.json" -w '%{http_code}' "$url/files/big.bin")
[ "$status" = 200 ] || fail "chunked PUT over an existing file: status $status, body $(cat "$work/put2.json")"
cmp -s "$work/other.bin" "$work/files/big.bin" || fail "the replaced file differs from the one sent"
pass "5 MiB chunked replaced it (200)"

c -o "$work/copy.bin" "$url/files/big.bin"
cmp -s "$work/other.bin" "$work/copy.bin" || fail "GET returned different bytes"
pass "GET serves it back"

# Refused at the head: curl waits for 100 Continue, gets the final answer instead, and so sends
# none of the body (%{size_upload} counts the body bytes it sent).
head -c $((33 << 20)) /dev/zero >"$work/huge.bin"
got=$(c -T "$work/huge.bin" -o /dev/null -w '%{http_code} %{size_upload}' "$url/files/huge.bin" || true)
[ "$got" = "413 0" ] || fail "a file over --max-bytes: status and bytes sent '$got', expected '413 0'"
got=$(c -T "$work/other.bin" -o /dev/null -w '%{http_code} %{size_upload}' "$url/files/.hidden" || true)
[ "$got" = "400 0" ] || fail "a dot-file name: status and bytes sent '$got', expected '400 0'"
got=$(c -T "$work/other.bin" -o /dev/null -w '%{http_code} %{size_upload}' "$url/files/a%2Fb" || true)
[ "$got" = "400 0" ] || fail "a name with an encoded '/': status and bytes sent '$got', expected '400 0'"
pass "413 over --max-bytes, 400 for names that are not one plain file, before any body byte"

# A client that gives up half way: curl sends at 2 MiB/s and stops after 1 s, so the part file
# exists for a while; once the server sees the connection go, on_abort removes it.
"$curl_bin" --silent --limit-rate 2M --max-time 1 -T "$work/big.bin" -o /dev/null "$url/files/gone.bin" &
curl_pid=$!
seen_part=
for _ in $(seq 20); do
  [ -n "$(find "$work/files" -name '.gone.bin.part-*')" ] && { seen_part=1; break; }
  sleep 0.05
done
wait "$curl_pid" || true
[ -n "$seen_part" ] || fail "the cut-off upload never reached the disk (no .gone.bin.part-N seen)"
for _ in $(seq 50); do
  [ -z "$(find "$work/files" -mindepth 1 ! -name big.bin)" ] && break
  sleep 0.1
done
[ ! -e "$work/files/gone.bin" ] || fail "an upload cut off half way was saved as if whole"
pass "an upload cut off half way: its part file removed (on_abort)"

leftover=$(find "$work/files" -mindepth 1 ! -name big.bin | head -5)
[ -z "$leftover" ] || fail "left behind in the directory: $leftover"
pass "no partial files left behind"

stop_server
[ "$server_status" = 0 ] || fail "upload exited with status $server_status on SIGTERM"
pass "stopped cleanly on SIGTERM"
