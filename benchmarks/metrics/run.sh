#!/usr/bin/env bash
# What the back-end features cost a request, each against plain `hello --no-metrics` in one run:
#   on          `hello` as shipped: app.metrics() counts every request by route, method and status class with
#               its handling time (goal: under 2 % more CPU than off)
#   middleware  `hello --no-metrics --middleware`: the built-in chain (request id, security headers, access
#               log, compression; /plaintext is below the compression threshold, so it only checks)
#   deferred    `hello --no-metrics`, GET /deferred: /plaintext's answer finished from another thread through
#               res.defer(), against the same answer given synchronously
# Two ways:
#   cpu        server CPU µs per request (every thread of the process) under the same keep-alive wrk load,
#              the modes interleaved inside each repetition, in a rotating order; median of REPS
#   callgrind  user-space instructions per request, on vs off only (benchmarks/callgrind/run.sh has the
#              middleware and deferred cases): (Ir with COUNT sequential requests − Ir with none) ÷ COUNT,
#              from callgrind_fixed_client on one keep-alive connection; repeats exactly
# Both servers run --threads 1 pinned to SERVER_CPU, the load on CLIENT_CPU; every process is stopped by PID.
#
#   BUILD_DIR=build/bench benchmarks/metrics/run.sh
#   benchmarks/metrics/run.sh --smoke        # cpu only, 1 s, one repetition: the harness works
#
# Environment (defaults in brackets):
#   BUILD_DIR [unset: build <repo>/build-bench]   needs hello and callgrind_fixed_client
#   MODES ["off on middleware deferred"]  (off is the reference and always runs)
#   DUR [5]  REPS [5]  WARMUP [1]  CONNS [32]  COUNT [2000]  SERVER_CPU [0]  CLIENT_CPU [1]
#   RESULTS [unset: the report goes to stdout only]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args metrics/run.sh "$@"

DUR=${DUR:-5}
REPS=${REPS:-5}
WARMUP=${WARMUP:-1}
COUNT=${COUNT:-2000}
if (( smoke )); then DUR=1; REPS=1; WARMUP=0; COUNT=200; fi
CONNS=${CONNS:-32}
MODES=${MODES:-"off on middleware deferred"}
[[ " $MODES " == *" off "* ]] || MODES="off $MODES"
read -r -a modes <<<"$MODES"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
clk_tck=$(getconf CLK_TCK)

bench_init metrics/run.sh wrk curl taskset valgrind timeout awk
bench_build hello callgrind_fixed_client
hello=$(find_binary examples/hello)
client=$(find_binary benchmarks/micro/callgrind_fixed_client)
[[ -x $hello ]] || { echo "metrics/run.sh: $hello is missing" >&2; exit 1; }

server_binary() { echo "$hello"; }
mode_args() {
    case $1 in
        on) ;;
        off|deferred) echo "--no-metrics" ;;
        middleware) echo "--no-metrics --middleware" ;;
        *) echo "metrics/run.sh: unknown mode $1" >&2; exit 2 ;;
    esac
}
mode_path() { if [[ $1 == deferred ]]; then echo /deferred; else echo /plaintext; fi; }

failures=()
records=$work_dir/records.tsv
: >"$records"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_time=$SECONDS

# ---- cpu: µs of server CPU per request under wrk -------------------------------------------------------
cpu_run() {   # cpu_run MODE REP
    local mode=$1 rep=$2 out c0 c1 requests us metrics_status headers path
    path=$(mode_path "$mode")
    # shellcheck disable=SC2046
    launch_server "hello-$mode" --threads 1 $(mode_args "$mode") || { failures+=("hello ($mode) did not start"); return; }
    local base=http://127.0.0.1:$server_port
    [[ $(curl -s -m 5 "$base$path") == "Hello, World!" ]] || { failures+=("hello ($mode): $path"); stop_server; return; }
    # Each switch works: /metrics is there only with metrics on, the chain's fields only with it.
    metrics_status=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$base/metrics")
    [[ $mode == on && $metrics_status == 200 || $mode != on && $metrics_status == 404 ]] ||
        { failures+=("hello ($mode): GET /metrics answered $metrics_status"); stop_server; return; }
    headers=$(curl -s -D - -o /dev/null -m 5 "$base$path" | tr -d '\r')
    if [[ $mode == middleware && $headers != *$'\n'[Xx]-[Rr]equest-[Ii]d:* ||
          $mode != middleware && $headers == *$'\n'[Xx]-[Rr]equest-[Ii]d:* ]]; then
        failures+=("hello ($mode): X-Request-Id present where it should not be, or missing"); stop_server; return
    fi
    (( WARMUP > 0 )) && taskset -c "$CLIENT_CPU" timeout 60 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$base$path" >/dev/null 2>&1 || true
    out=$work_dir/wrk-$mode-$rep.txt
    c0=$(cpu_ticks_total "$server_pid")
    taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + 30 )) wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 2s "$base$path" >"$out" 2>&1 || true
    c1=$(cpu_ticks_total "$server_pid")
    if [[ $mode == on ]]; then   # what the load left in /metrics: every request counted
        curl -s -m 5 "$base/metrics" >"$work_dir/metrics-$rep.txt" || true
    fi
    stop_server
    requests=$(awk '/ requests in / { print $1 }' "$out")
    [[ -n $requests && $requests -gt 0 ]] || { failures+=("hello ($mode): wrk measured nothing"); cat "$out" >&2; return; }
    # A mode that answers errors would measure something cheaper than the feature: none allowed.
    if grep -q -e 'Non-2xx or 3xx responses' -e 'Socket errors' "$out"; then
        failures+=("hello ($mode): $(grep -e 'Non-2xx' -e 'Socket errors' "$out" | tr '\n' ' ')"); return
    fi
    if [[ $mode == on ]]; then
        local counted
        counted=$(awk '/^tether_http_requests_total\{route="\/plaintext",method="GET",status="2xx"\}/ { print $2 }' "$work_dir/metrics-$rep.txt")
        (( ${counted:-0} >= requests )) || failures+=("hello (on): /metrics counted ${counted:-0} GET /plaintext, wrk completed $requests")
    fi
    us=$(awk -v t=$(( c1 - c0 )) -v hz="$clk_tck" -v r="$requests" 'BEGIN { printf "%.3f", t * 1e6 / hz / r }')
    printf 'cpu\t%s\t%s\t%s\t%s\n' "$mode" "$rep" "$us" "$requests" >>"$records"
    log "$(printf 'cpu       %-10s rep %s: %8s us/request (%s requests)' "$mode" "$rep" "$us" "$requests")"
}

# ---- callgrind: instructions per request ----------------------------------------------------------------
callgrind_ir() {
    local mode=$1 count=$2 rc=0 ir
    # shellcheck disable=SC2046
    callgrind_server "callgrind $mode/$count" "$work_dir/cg-$mode-$count.log" "$hello" $(mode_args "$mode") || return 0
    taskset -c "$CLIENT_CPU" timeout -k 5 300 "$client" http --port "$cg_port" --count "$count" >"$work_dir/client.out" 2>&1 || rc=$?
    ir=$(callgrind_finish "callgrind-$mode-$count" "$count")
    if (( rc != 0 )); then note_failure "callgrind $mode/$count: $(tail -c 200 "$work_dir/client.out" | tr '\n' ' ')"; return 0; fi
    echo "$ir"
}

log "MODES=$MODES DUR=$DUR REPS=$REPS CONNS=$CONNS COUNT=$COUNT"
for (( rep = 1; rep <= REPS; rep++ )); do
    # The order rotates by one each repetition, so no mode always runs first (or after the same one).
    mapfile -t order < <(in_turn "$rep" "${modes[@]}")
    for mode in "${order[@]}"; do cpu_run "$mode" "$rep"; done
done
cg_runs=2
(( smoke )) && cg_runs=0   # CI's bench smoke is over its budget already: valgrind's starts (~20 s) are left out
for (( run = 1; run <= cg_runs; run++ )); do
    for mode in on off; do
        base=$(callgrind_ir "$mode" 0); full=$(callgrind_ir "$mode" "$COUNT")
        if [[ -n $base && -n $full ]]; then
            per=$(awk -v a="$full" -v b="$base" -v n="$COUNT" 'BEGIN { printf "%.0f", (a - b) / n }')
            printf 'callgrind\t%s\t%s\t%s\t%s\n' "$mode" "$run" "$per" "$COUNT" >>"$records"
            log "callgrind $mode run $run: $per Ir/request"
        fi
    done
done

# ---- report -----------------------------------------------------------------------------------------------
median() { awk -F'\t' -v k="$1" -v m="$2" '$1 == k && $2 == m { print $4 }' "$records" | sort -g |
           awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
all_of() { awk -F'\t' -v k="$1" -v m="$2" '$1 == k && $2 == m { printf "%s%s", s, $4; s = ", " }' "$records"; }
change() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%+.1f%%", (a - b) * 100 / b }'; }
cpu_on=$(median cpu on); cpu_off=$(median cpu off)
ir_on=$(median callgrind on); ir_off=$(median callgrind off)
[[ -n $ir_on ]] && ir_on=$(printf '%.0f' "$ir_on")
[[ -n $ir_off ]] && ir_off=$(printf '%.0f' "$ir_off")
ir_missing=FAILED
(( smoke )) && ir_missing=skipped
report=$work_dir/report.md
{
    echo "# What /metrics, the middleware chain and a deferred reply cost a request (hello, against --no-metrics)"
    echo
    echo "- command: \`DUR=$DUR REPS=$REPS CONNS=$CONNS COUNT=$COUNT $command_line\`; build \`$build_dir\` (${build_type:-unset})"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none);" \
         "load average at start / end: $load_at_start / $(cut -d' ' -f1-3 /proc/loadavg); took $(( SECONDS - start_time )) s"
    echo "- method: \`hello --threads 1\` pinned to core $SERVER_CPU (off: \`--no-metrics\`; on: as shipped, \`app.metrics()\`"\
         "counting every request by route, method and status class with its latency; middleware: \`--no-metrics --middleware\`,"\
         "request id, security headers, access log to a file, compression; deferred: \`--no-metrics\`, GET /deferred,"\
         "the same answer sent from another thread through \`res.defer()\`); cpu: \`wrk -t1 -c$CONNS -d${DUR}s\` on core"\
         "$CLIENT_CPU, server CPU time (utime + stime, all threads) ÷ requests, the modes interleaved, median of $REPS;"\
         "callgrind: (Ir with $COUNT sequential requests − Ir with none) ÷ $COUNT, user space only, on and off."
    (( smoke )) && echo "- **smoke run**: a check that the harness works, not a measurement (callgrind skipped)"
    echo
    echo "| mode | server CPU µs/request (median) | vs off | runs | Ir/request (callgrind) | vs off |"
    echo "|---|---|---|---|---|---|"
    for mode in "${modes[@]}"; do
        cpu=$(median cpu "$mode")
        ir="–"; ir_change="–"
        case $mode in
            off) ir=${ir_off:-$ir_missing} ;;
            on) ir=${ir_on:-$ir_missing}; ir_change=$(change "$ir_on" "$ir_off") ;;
        esac
        echo "| $mode | ${cpu:-FAILED} | $( [[ $mode == off ]] && echo – || change "$cpu" "$cpu_off") | $(all_of cpu "$mode") | $ir | $ir_change |"
    done
    echo
    echo "Goal (issue 13): under 2 % more CPU per request with metrics on. The middleware and deferred rows say what"
    echo "those features cost, for a user to weigh; their instruction counts are in the callgrind scenario."
    failures_section
} >"$report"

finish_report "$report" "${RESULTS:+1}"
