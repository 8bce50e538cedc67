#!/usr/bin/env bash
# The README cannot rot silently: every shell line in README.md's ```sh blocks that runs an
# example or calls curl is executed against the built examples, and its documented answer checked.
#
#   tests/readme_test.sh README.md BUILD_EXAMPLES_DIR "hello hybrid ..."   (the `examples` target's list)
#
# What a block may hold, and what is done with each line (anything else fails the test, so a new
# kind of line needs a rule here before the README may use it):
#   build/release/examples/NAME ARGS   started with --port 0 instead of 8080 (a free port), from
#                                      BUILD_EXAMPLES_DIR, with TMPDIR a directory of this test's
#                                      own; NAME must be built by the examples target;
#                                      later lines of the block talk to it; stopped with SIGTERM at
#                                      the block's end, when it must exit 0 (so a sanitizer's report
#                                      at exit fails the test in the ASan tree)
#   build/release/examples/NAME --help  # `text` ...
#                                      must exit 0 with every `text` in its output
#   curl ...    # NNN `text` ...       run (with -v added, every request bounded by --max-time);
#                                      passes when the last response's status is NNN and every
#                                      `text` appears in its head or body. A line ending in & runs
#                                      in the background (until the block's end) and is checked there
#   VAR=$(curl ...)                    run in the block's shell; must set VAR to something
#   openssl ..., printf ... >FILE      run in the blocks' working directory (so later lines can use
#                                      the files they make, e.g. curl --cacert ca.pem); must exit 0
#   cmake ..., examples/demo, tests/run, benchmarks/run
#                                      not run here (tests/run builds the tree this test uses); a
#                                      cmake line that builds must build build/release's examples
#                                      target, and the README must have one
# `127.0.0.1:8080` (or :8443, or localhost:...) in a line becomes the example's real address, and
# `--port 8080`/`--port 8443` becomes `--port 0`. A line ending in \ continues on the next one.
# Comments start with "  # ".
# Inline `curl` in the prose outside blocks fails the test too: it could not be checked.
#
# Every process started here is stopped by its PID on exit.
set -euo pipefail

readme=${1:?usage: readme_test.sh README.md EXAMPLES_DIR "EXAMPLE TARGETS"}
examples=${2:?usage: readme_test.sh README.md EXAMPLES_DIR "EXAMPLE TARGETS"}
targets=" ${3:?usage: readme_test.sh README.md EXAMPLES_DIR \"EXAMPLE TARGETS\"} "
readme=$(cd "$(dirname "$readme")" && pwd)/$(basename "$readme")
examples=$(cd "$examples" && pwd)
work=$(mktemp -d)
mkdir "$work/cwd"   # where the blocks' lines run, as a reader's shell would in a directory of theirs
mkdir "$work/tmp"   # the examples' TMPDIR, so what one keeps there (upload's files) starts empty
server_pid=
background=()   # "pid|output file|expectation|line"
failures=0
checked=0
build_lines=0

. "$(dirname "$0")/stop_pid.sh"
cleanup() {
  for entry in "${background[@]}"; do stop_pid "${entry%%|*}"; done
  [ -n "$server_pid" ] && stop_pid "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# Every curl, even one inside $(...), is bounded and quiet about progress.
printf -- '--max-time 5\n--silent\n--show-error\n' >"$work/.curlrc"
export CURL_HOME=$work

fail() { echo "readme_test: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "readme_test: ok: $*"; checked=$((checked + 1)); }

# "  # 201 `a` `b`" -> status "201", fragments one a line in $work/fragments.N
expectation_of() {   # COMMENT FILE: writes the fragments to FILE, prints the status
  local comment=$1 file=$2
  : >"$file"
  grep -o '`[^`]*`' <<<"$comment" | sed 's/^`//; s/`$//' >"$file" || true
  sed -nE 's/^[[:space:]]*([1-5][0-9][0-9])([[:space:]].*)?$/\1/p' <<<"$comment"
}

# Whether OUTPUT (a file) already shows STATUS and every fragment in FRAGMENTS (a file). The
# status comes from curl -v's "< HTTP/1.1 200" on stderr, which is written at once (the head
# curl prints on stdout may wait for the first bytes of a body); fragments are looked for in
# everything but the request curl -v echoes ("> ") and its notes ("* ").
answered() {
  local output=$1 status=$2 fragments=$3 got
  got=$(grep -aoE '^< HTTP/[0-9.]+ [0-9]{3}' "$output" | tail -1 | awk '{print $3}')
  [ "$got" = "$status" ] || return 1
  while IFS= read -r fragment; do
    # Not grep -q: it would stop reading, and pipefail would count the first grep's SIGPIPE.
    [ -z "$fragment" ] || grep -av '^[>*] ' "$output" | grep -aF -- "$fragment" >/dev/null || return 1
  done <"$fragments"
}

# Waits until the curl with PID has exited, or (streams) its answer is complete; up to 6 s.
settle() {
  local pid=$1 output=$2 status=$3 fragments=$4
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    answered "$output" "$status" "$fragments" && return 0
    sleep 0.1
  done
}

verdict() {   # PID OUTPUT STATUS FRAGMENTS LINE
  local pid=$1 output=$2 status=$3 fragments=$4 line=$5
  settle "$pid" "$output" "$status" "$fragments"
  stop_pid "$pid"
  if answered "$output" "$status" "$fragments"; then pass "$line"
  else fail "$line"$'\n'"  expected status $status and: $(paste -sd'|' "$fragments")"$'\n'"  got:"$'\n'"$(grep -av '^[*] ' "$output" | head -c 1500 | sed 's/^/    /')"
  fi
}

example_name() { sed -E 's|^build/release/examples/([A-Za-z0-9_]+).*|\1|' <<<"$1"; }

run_help() {   # LINE COMMENT
  local line=$1 comment=$2 name
  name=$(example_name "$line")
  case "$targets" in *" $name "*) ;; *) fail "$line: '$name' is not built by the examples target"; return ;; esac
  expectation_of "$comment" "$work/help.fragments" >/dev/null
  if ! timeout 10 "$examples/$name" --help >"$work/help.out" 2>&1; then
    fail "$line: did not exit 0:"$'\n'"$(cat "$work/help.out")"
    return
  fi
  while IFS= read -r fragment; do
    grep -qF -- "$fragment" "$work/help.out" || { fail "$line: no '$fragment' in:"$'\n'"$(cat "$work/help.out")"; return; }
  done <"$work/help.fragments"
  pass "$line"
}

start_example() {   # LINE (build/release/examples/NAME ARGS)
  local line=$1 name args
  name=$(example_name "$line")
  args=$(sed -E 's|^build/release/examples/[A-Za-z0-9_]+||; s/--port (8080|8443)/--port 0/' <<<"$line")
  case "$targets" in *" $name "*) ;; *) fail "$line: '$name' is not built by the examples target"; return 1 ;; esac
  stop_example
  # Emptied here, not only by the background job's redirection: that one may come after the first
  # read below, which would then find the previous example's "listening on" line and port.
  : >"$work/server.out"
  # shellcheck disable=SC2086  # the README's arguments, split as the shell would
  (cd "$work/cwd" && TMPDIR=$work/tmp exec "$examples/$name" $args) >"$work/server.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    port=$(sed -nE 's|^listening on https?://127\.0\.0\.1:([0-9]+)$|\1|p' "$work/server.out" | head -1)
    [ -n "$port" ] && { pass "$line (port $port)"; return 0; }
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$line: no 'listening on' line:"$'\n'"$(cat "$work/server.out")"
  return 1
}

run_block() {   # FILE holding one block's lines
  local block=$1 line command comment status n=0 port=
  background=()
  while IFS= read -r line || [ -n "$line" ]; do
    line=$(sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' <<<"$line")
    [ -z "$line" ] || [ "${line:0:1}" = "#" ] && continue
    n=$((n + 1))
    command=$(sed -E 's/[[:space:]]{2,}#( .*)?$//' <<<"$line")
    comment=$(sed -nE 's/^.*[[:space:]]{2,}#(( .*)?)$/\1/p' <<<"$line")
    case "$command" in
      build/release/examples/*--help*)
        run_help "$command" "$comment"
        continue ;;
      build/release/examples/*)
        start_example "$command" || return 0
        continue ;;
      cmake\ *)
        if [[ "$command" == *--build* ]]; then
          build_lines=$((build_lines + 1))
          if [[ "$command" == *"--build build/release"* && "$command" == *"--target examples"* ]]; then pass "$command"
          else fail "$command: the README's build line must build build/release's examples target"; fi
        fi
        continue ;;
      examples/demo*|tests/run*|benchmarks/run*) continue ;;
      openssl\ *|printf\ *)
        if (cd "$work/cwd" && eval "$command") >"$work/tool.out" 2>&1; then pass "$command"
        else fail "$command: exited non-zero:"$'\n'"$(cat "$work/tool.out")"; fi
        continue ;;
    esac
    if [[ "$command" != *curl* ]]; then fail "$line: no rule to check this kind of line"; continue; fi
    if [ -z "$port" ]; then fail "$line: curl in a block that starts no example"; continue; fi
    command=$(sed -E "s/(127\.0\.0\.1|localhost):(8080|8443)/\1:$port/g" <<<"$command")
    if [[ "$command" =~ ^([A-Za-z_][A-Za-z0-9_]*)=\$\( ]]; then   # VAR=$(curl ...)
      local var=${BASH_REMATCH[1]}
      if eval "$command" && [ -n "${!var:-}" ]; then pass "$line ($var=${!var})"
      else fail "$line: did not set $var"; fi
      continue
    fi
    status=$(expectation_of "$comment" "$work/fragments.$n")
    if [ -z "$status" ]; then fail "$line: no documented answer (a comment starting with the status)"; continue; fi
    local output=$work/output.$n in_background=0
    if [[ "$command" =~ \&$ ]]; then in_background=1; command=${command%&}; fi
    [[ "$command" =~ ^curl\  ]] || { fail "$line: a checked line must start with curl"; continue; }
    # Background lines live until the block's end; the others keep curlrc's 5 s.
    if [ "$in_background" = 1 ]; then command="curl -v --max-time 60 ${command#curl }"
    else command="curl -v ${command#curl }"; fi
    (cd "$work/cwd" && eval "exec $command") >"$output" 2>&1 &
    local pid=$!
    if [ "$in_background" = 1 ]; then
      background+=("$pid|$output|$status|$work/fragments.$n|$line")
      # Let it reach the server before the next line (a stream's head comes at once; a held
      # long poll answers later, and its since= makes it safe to go on).
      for _ in $(seq 30); do grep -aqE '^< HTTP/' "$output" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    else
      verdict "$pid" "$output" "$status" "$work/fragments.$n" "$line"
    fi
  done <"$block"
  local entry pid output fragments rest
  for entry in "${background[@]}"; do
    IFS='|' read -r pid output status fragments rest <<<"$entry"
    verdict "$pid" "$output" "$status" "$fragments" "$rest"
  done
  background=()
  stop_example
}

# Every example stops gracefully on SIGTERM (handle_signals) and exits 0; anything else (a
# sanitizer's report, a crash, a hang past 5 s) fails the block.
stop_example() {
  [ -n "$server_pid" ] || return 0
  stop_pid "$server_pid"
  server_pid=
  if [ "$stopped_status" -ne 0 ]; then fail "the example exited with status $stopped_status on SIGTERM:"$'\n'"$(tail -30 "$work/server.out")"
  else pass "the example stopped cleanly on SIGTERM"; fi
}

# ```sh blocks, one file each.
# ```sh blocks, one file each; a line ending in \ is joined with the next.
awk -v dir="$work" '/^```sh[[:space:]]*$/ { inside = 1; n++; next }
                    /^```/ { inside = 0; next }
                    inside && /\\$/ { sub(/\\$/, ""); pending = pending $0; next }
                    inside { print pending $0 > (dir "/block." n); pending = "" }' "$readme"
blocks=$(find "$work" -name 'block.*' | sort -t. -k2 -n)
[ -n "$blocks" ] || { echo "readme_test: FAIL: no sh blocks in $readme" >&2; exit 1; }
for block in $blocks; do run_block "$block"; done

[ "$build_lines" -gt 0 ] || fail "no line in the README builds the examples (cmake --build build/release --target examples)"

# Inline code outside the blocks that calls curl on a URL or runs an example could never be checked.
if awk '/^```/ { inside = !inside; next } !inside' "$readme" |
   grep -nE '`(curl [^`]*https?://|build/release/examples/[A-Za-z0-9_]+ [^`]*)`'; then
  fail "the lines above run curl or an example in the prose: put them in a \`\`\`sh block"
fi

echo "readme_test: $checked checked, $failures failed"
[ "$failures" -eq 0 ] && [ "$checked" -gt 0 ]
