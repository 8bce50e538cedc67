# Sourced by the test scripts that start servers (tests/integration/*.sh, tests/interop/lib.sh,
# tests/readme_test.sh): the one way a test stops a process it started, by its PID.

# stop_pid PID: SIGTERM, up to 5 s to exit, then SIGKILL; always reaps it. Sets stopped_status to its
# exit status (0 when PID is empty), so a test can require a clean exit on SIGTERM (a sanitizer's
# report at exit makes it non-zero).
stop_pid() {
  local pid=$1
  stopped_status=0
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || stopped_status=$?
}
