# Shared by the run_*_interop.sh scripts (sourced, after `set -euo pipefail` and `here=...`): the
# locked npm install, starting a server that prints "listening on <scheme>://127.0.0.1:<port>",
# and stopping every process started here by its PID, whatever happens.

# interop_npm_install MODULE...: installs the locked npm dependencies unless every MODULE is there.
# ci: exactly the versions in package-lock.json. Several ctest runs may race here; npm ci into a
# private copy would cost more than the rare duplicate install, which leaves the same files.
interop_npm_install() {
  local module missing=
  for module in "$@"; do [ -d "$here/node_modules/$module" ] || missing=1; done
  [ -n "$missing" ] || return 0
  (cd "$here" && "${NPM:-npm}" ci --no-audit --no-fund --loglevel=error) ||
    (cd "$here" && "${NPM:-npm}" install --no-audit --no-fund --loglevel=error)
}

interop_pids=()
interop_files=()

. "$here/../stop_pid.sh"

# The EXIT trap: every process started by interop_start, then every temporary file.
interop_cleanup() {
  local pid
  for pid in "${interop_pids[@]}"; do stop_pid "$pid"; done
  [ ${#interop_files[@]} -eq 0 ] || rm -rf "${interop_files[@]}"
}
trap interop_cleanup EXIT

# interop_start VAR SCHEME COMMAND...: starts COMMAND with its output in a temporary log, waits up to
# 10 s for its "listening on SCHEME://127.0.0.1:N" line and sets VAR to N; VAR_log names the log and
# VAR_pid the process. No subshell, so the PID is kept for the trap. Exits 1, with the log, if the
# command ends or stays silent.
interop_start() {
  # Locals carry a prefix: printf -v must reach the caller's VAR, which a local of that name would hide.
  local _start_var=$1 _start_scheme=$2 _start_log _start_port=
  shift 2
  _start_log=$(mktemp)
  interop_files+=("$_start_log")
  "$@" >"$_start_log" 2>&1 &
  local _start_pid=$!
  interop_pids+=("$_start_pid")
  for _ in $(seq 100); do
    _start_port=$(sed -n "s#^listening on $_start_scheme://127\\.0\\.0\\.1:\\([0-9][0-9]*\\).*#\\1#p" "$_start_log" | head -n 1)
    [ -n "$_start_port" ] && break
    kill -0 "$_start_pid" 2>/dev/null || { echo "$(basename "$1") exited early:"; cat "$_start_log"; exit 1; }
    sleep 0.1
  done
  [ -n "$_start_port" ] || { echo "$(basename "$1") did not print its port:"; cat "$_start_log"; exit 1; }
  printf -v "$_start_var" '%s' "$_start_port"
  printf -v "${_start_var}_log" '%s' "$_start_log"
  printf -v "${_start_var}_pid" '%s' "$_start_pid"
}
