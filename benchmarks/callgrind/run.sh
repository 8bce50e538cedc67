#!/usr/bin/env bash
# Instruction counts per request: tether against Boost.Beast, under valgrind's callgrind, with a fixed number
# of requests from a deterministic client (fixed_client.cpp). Unlike requests/s, an instruction count does not
# depend on how busy the machine is, so it is the number to guard against regressions.
#
# For each server and each run: start it under callgrind (whole process, --threads 1), let fixed_client do
# COUNT sequential requests on one keep-alive connection, stop the server by PID (SIGTERM: it exits cleanly and
# callgrind writes its totals), read the total instructions (Ir). The same with COUNT=0 (start, connect, close,
# stop) is the baseline; (Ir_COUNT - Ir_0) / COUNT is the user-space instructions per request. Kernel work
# (syscalls, TCP) is not counted: callgrind sees user space only.
#   http  tether `hello` vs `peer_beast_http`:  GET /plaintext, keep-alive, one request in flight
#   ws    tether `ws_echo` vs `peer_beast_ws`:  one masked binary message of SIZE bytes echoed, one in flight
#   tether-deferred    `hello` GET /deferred: /plaintext's answer finished on another thread (res.defer())
#   tether-middleware  `hello --middleware` GET /plaintext through the built-in chain (request id, security
#                      headers, access log, compression); both reported against tether-http as well
#   tether-pipelined, strict-pipelined, floor-pipelined   GET /plaintext DEPTH at a time in one send (wrk's
#                      pipeline.lua with a fixed count) to `hello`, the strict floor (peer_floor_http_strict: the
#                      kernel floor + tether's parser and serializer) and the kernel floor (peer_floor_http):
#                      what benchmarks/http/run.sh's pipelined CPU ratios are made of, without the host's noise
# Every measurement is taken RUNS times (default 2) to show that it repeats.
#
#   BUILD_DIR=build/bench benchmarks/callgrind/run.sh
#   benchmarks/callgrind/run.sh --smoke          # COUNT=200, RUNS=1
#
# Environment (defaults in brackets):
#   BUILD_DIR [<repo>/build/bench]   an existing Release build with hello, ws_echo, peer_beast_http, peer_beast_ws
#                                    and callgrind_fixed_client (this script does not build)
#   COUNT [2000]  RUNS [2]  SIZE [64]  DEPTH [16]
#   CASES ["tether-http beast-http tether-ws beast-ws tether-deferred tether-middleware tether-pipelined
#           strict-pipelined floor-pipelined"]
#   SERVER_CPU [0]  CLIENT_CPU [1]
#   RESULTS [unset: the report goes to stdout only]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args callgrind/run.sh "$@"

build_dir=${BUILD_DIR:-$repo_root/build/bench}
COUNT=${COUNT:-2000}
RUNS=${RUNS:-2}
if (( smoke )); then COUNT=200; RUNS=1; fi
SIZE=${SIZE:-64}
DEPTH=${DEPTH:-16}
CASES=${CASES:-"tether-http beast-http tether-ws beast-ws tether-deferred tether-middleware tether-pipelined strict-pipelined floor-pipelined"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

bench_init callgrind/run.sh valgrind taskset timeout awk
client=$(find_binary benchmarks/micro/callgrind_fixed_client)
[[ -x $client ]] || { echo "callgrind/run.sh: $client is missing (target callgrind_fixed_client)" >&2; exit 1; }
case_binary() {
    case $1 in
        tether-http|tether-deferred|tether-middleware|tether-pipelined) find_binary examples/hello ;;
        strict-pipelined) find_binary benchmarks/peer_floor_http_strict ;;
        floor-pipelined) find_binary benchmarks/peer_floor_http ;;
        beast-http) find_binary benchmarks/peer_beast_http ;;
        tether-ws) find_binary examples/ws_echo ;;
        beast-ws) find_binary benchmarks/ws/peer_beast_ws ;;
        *) echo "callgrind/run.sh: unknown case '$1'" >&2; exit 2 ;;
    esac
}
# hello without /metrics, as the peers count nothing (benchmarks/metrics/run.sh measures what they cost).
case_server_args() {
    case $1 in
        tether-http|tether-deferred|tether-pipelined) echo "--no-metrics" ;;
        tether-middleware) echo "--no-metrics --middleware" ;;
    esac
}
case_client_args() {
    case $1 in
        tether-deferred) echo "http --path /deferred" ;;
        *-pipelined) echo "http --pipeline $DEPTH" ;;
        *-http|tether-middleware) echo "http" ;;
        *-ws) echo "ws --size $SIZE" ;;
    esac
}
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
[[ $build_type == Release ]] || loud "build type of $build_dir is '${build_type:-unset}', not Release: counts are not comparable"

failures=()
declare -a cases=()
for c in $CASES; do
    if [[ -x $(case_binary "$c") ]]; then cases+=("$c"); else loud "SKIPPING $c: $(case_binary "$c") is missing"; fi
done
(( ${#cases[@]} > 0 )) || { echo "callgrind/run.sh: no server binary found" >&2; exit 1; }

# measure CASE COUNT: prints the process's total Ir (empty on failure, with a note in failures).
measure() {
    local name=$1 count=$2 rc=0
    # shellcheck disable=SC2046
    callgrind_server "$name" "$work_dir/$name-$count.log" "$(case_binary "$name")" $(case_server_args "$name") || return 0
    # shellcheck disable=SC2046
    taskset -c "$CLIENT_CPU" timeout -k 5 300 "$client" $(case_client_args "$name") --port "$cg_port" --count "$count" \
        >"$work_dir/client.out" 2>&1 || rc=$?
    if (( rc != 0 )); then
        callgrind_finish "$name" "$count" >/dev/null
        note_failure "$name: fixed_client failed with status $rc: $(head -c 300 "$work_dir/client.out" | tr '\n' ' ')"
        return 0
    fi
    callgrind_finish "$name" "$count"
}

records=$work_dir/records.tsv
: >"$records"
log "cases: ${cases[*]}; COUNT=$COUNT RUNS=$RUNS SIZE=$SIZE (ws); $(( ${#cases[@]} * RUNS * 2 )) valgrind runs"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_time=$SECONDS
for (( run = 1; run <= RUNS; run++ )); do
    for name in "${cases[@]}"; do
        base=$(measure "$name" 0)
        full=$(measure "$name" "$COUNT")
        if [[ -n $base && -n $full ]]; then
            per=$(awk -v a="$full" -v b="$base" -v n="$COUNT" 'BEGIN { printf "%.0f", (a - b) / n }')
            printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$base" "$full" "$per" >>"$records"
            log "$(printf '%-12s run %s: Ir baseline %s, with %s requests %s: %s Ir/request' "$name" "$run" "$base" "$COUNT" "$full" "$per")"
        fi
    done
done

# ---- report --------------------------------------------------------------------------------------------
per_run() { awk -F'\t' -v s="$1" -v r="$2" '$1 == s && $2 == r { print $5 }' "$records"; }
mean_of() { awk -F'\t' -v s="$1" '$1 == s { t += $5; n++ } END { if (n) printf "%.0f", t / n }' "$records"; }
spread_of() { awk -F'\t' -v s="$1" '$1 == s { v[n++] = $5 } END { if (n > 1) { lo = v[0]; hi = v[0]; for (i in v) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }; printf "%.2f%%", (hi - lo) * 100 / ((hi + lo) / 2) } else print "–" }' "$records"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
case_label() {
    case $1 in
        tether-http) echo "tether \`hello\`" ;;
        beast-http) echo "Beast \`peer_beast_http\`" ;;
        tether-ws) echo "tether \`ws_echo\`" ;;
        beast-ws) echo "Beast \`peer_beast_ws\`" ;;
        tether-deferred) echo "tether \`hello\`, deferred" ;;
        tether-middleware) echo "tether \`hello --middleware\`" ;;
        tether-pipelined) echo "tether \`hello\`" ;;
        strict-pipelined) echo "strict floor \`peer_floor_http_strict\`" ;;
        floor-pipelined) echo "kernel floor \`peer_floor_http\`" ;;
    esac
}
case_what() {
    case $1 in
        tether-deferred) echo "HTTP GET /deferred (answered from another thread)" ;;
        tether-middleware) echo "HTTP GET /plaintext, 4 middlewares" ;;
        *-pipelined) echo "HTTP GET /plaintext pipelined ×$DEPTH" ;;
        *-http) echo "HTTP GET /plaintext" ;;
        *-ws) echo "WebSocket echo ${SIZE} B" ;;
    esac
}

# function_costs PROFILE (lib.sh): self Ir per function, "Ir<TAB>name".

# The N functions that cost the most per request: (self Ir with COUNT requests - self Ir at baseline) / COUNT,
# from the first run's two profiles of a case.
top_functions() {
    local full=$work_dir/profile-$1.out base=$work_dir/profile-$1-base.out
    [[ -e $full && -e $base ]] && command -v callgrind_annotate >/dev/null || return 0
    function_costs "$base" >"$work_dir/costs-base"
    function_costs "$full" >"$work_dir/costs-full"
    awk -F'\t' -v n="$COUNT" -v per="$3" '
            NR == FNR { base[$2] = $1; next }
            { d = ($1 - base[$2]) / n; if (d > 0) printf "%.0f\t%.1f\t%s\n", d, 100 * d / per, $2 }' \
        "$work_dir/costs-base" "$work_dir/costs-full" | sort -t$'\t' -k1,1nr |
        awk -F'\t' -v max="${2:-8}" '{ name = $3; if (length(name) > 110) name = substr(name, 1, 107) "..."
                                       if (shown++ < max) printf "| %s | %s%% | `%s` |\n", $1, $2, name }'
}

report=$work_dir/report.md
{
    echo "# Instructions per request (callgrind): tether vs Boost.Beast"
    echo
    echo "- command: \`COUNT=$COUNT RUNS=$RUNS SIZE=$SIZE $command_line\`; build \`$build_dir\` (${build_type:-unset})"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none);" \
         "$(valgrind --version); load average at start / end: $load_at_start / $(cut -d' ' -f1-3 /proc/loadavg); took $(( SECONDS - start_time )) s"
    echo "- method: each server runs \`valgrind --tool=callgrind <server> --threads 1\`; \`callgrind_fixed_client\` does COUNT sequential"\
         "requests on one keep-alive connection (ws: one masked binary message in flight, echo checked); the server is stopped with SIGTERM."\
         "Ir/request = (Ir with COUNT requests − Ir with 0 requests) ÷ COUNT: user-space instructions only, kernel work is not counted."
    (( smoke )) && echo "- **smoke run**: COUNT=$COUNT, one run; a check that the harness works, not a measurement"
    echo
    header="| what | server |"; rule="|---|---|"
    for (( run = 1; run <= RUNS; run++ )); do header+=" Ir/request run $run |"; rule+="---|"; done
    echo "$header spread | ratio to the reference |"
    echo "$rule---|---|"
    for name in "${cases[@]}"; do
        row="| $(case_what "$name") | $(case_label "$name") |"
        for (( run = 1; run <= RUNS; run++ )); do v=$(per_run "$name" "$run"); row+=" ${v:-FAILED} |"; done
        peer=beast-${name#*-}
        [[ $name == tether-deferred || $name == tether-middleware ]] && peer=beast-http
        [[ $name == *-pipelined ]] && peer=floor-pipelined
        if [[ $name == tether-* || $name == strict-* ]]; then r=$(ratio "$(mean_of "$name")" "$(mean_of "$peer")"); else r="1"; fi
        echo "$row $(spread_of "$name") | $r |"
    done
    echo
    echo "Ratio < 1: tether executes fewer user-space instructions per request than Beast (mean of the runs;"
    echo "the deferred and middleware rows against Beast's synchronous /plaintext). The pipelined rows' reference is"
    echo "the kernel floor, whose user space does next to nothing: there the ratio only says how many times the"
    echo "floor's instructions a server executes, and the line below splits tether's into what strictness costs"
    echo "(the strict floor) and what tether adds on top."
    if [[ -n $(mean_of tether-pipelined) && -n $(mean_of strict-pipelined) && -n $(mean_of floor-pipelined) ]]; then
        awk -v t="$(mean_of tether-pipelined)" -v s="$(mean_of strict-pipelined)" -v f="$(mean_of floor-pipelined)" -v d="$DEPTH" \
            'BEGIN { printf "Pipelined ×%d: tether %d Ir/request = the floor %d + strictness (parse, serialize) %d + tether'"'"'s own %d (routing, handler, connection); tether/strict %.2f.\n", d, t, f, s - f, t - s, t / s }'
    fi
    for name in tether-deferred tether-middleware; do
        [[ -n $(mean_of "$name") && -n $(mean_of tether-http) ]] || continue
        awk -v a="$(mean_of "$name")" -v b="$(mean_of tether-http)" -v what="$(case_what "$name")" \
            'BEGIN { printf "%s costs %+d Ir per request against tether'"'"'s synchronous /plaintext (%+.1f%%).\n", what, a - b, 100 * (a - b) / b }'
    done
    echo "Spread: (max − min) ÷ mean over the runs; instruction counts repeat to well under 1 % when the harness is sound."
    for name in "${cases[@]}"; do
        if [[ -e $work_dir/profile-$name.out ]] && command -v callgrind_annotate >/dev/null; then
            echo
            echo "Where $(case_label "$name")'s instructions per request go ($(case_what "$name"); first run: self Ir per function with"
            echo "$COUNT requests minus at baseline, ÷ $COUNT; functions under 100 Ir in a whole run are not listed):"
            echo
            echo "| Ir/request | share | function |"
            echo "|---|---|---|"
            top_functions "$name" 10 "$(per_run "$name" 1)"
        fi
    done
    failures_section
} >"$report"

finish_report "$report" "${RESULTS:+1}"
