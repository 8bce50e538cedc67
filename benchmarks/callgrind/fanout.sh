#!/usr/bin/env bash
# Instructions per delivered frame of a fan-out, under valgrind's callgrind: tether's fanout_server against the
# kernel floor (peers/floor_fanout.cpp), on a fixed workload, so the comparison does not depend on how busy the
# machine is (issue 17: where does tether's per-subscriber path spend what the floor does not?).
#
# For each case and run: start the server under callgrind (--threads 1), let fanout_load open SUBS subscribers
# and publish exactly MESSAGES messages to them under the usual flow control (fanout_load --messages: the run
# ends once every subscriber has all of them), close, stop the server by PID (SIGTERM), read its total Ir. The
# same with --messages 0 (open and close the subscribers only) is the baseline; (Ir_M - Ir_0) ÷ frames delivered
# is the user-space instructions per delivered frame, publishing (the POST /publish requests, encoding) included
# and shared by all subscribers, as it is in the real thing. Kernel work (send, epoll) is not counted.
#   tether-ws    fanout_server /ws   tether's envelope {"topic":..,"id":..,"data":..}
#   floor-ws     floor_fanout  /ws   the same bytes
#   tether-raw   fanout_server /sub  the bare body in each frame (fanout_load --raw)
#   floor-raw    floor_fanout  /sub
#
#   BUILD_DIR=build/rel benchmarks/callgrind/fanout.sh
#   benchmarks/callgrind/fanout.sh --smoke        # SUBS=20, MESSAGES=64, RUNS=1
#   CACHE_SIM=1 SUBS=10000 CASES="tether-raw floor-raw" RUNS=1 benchmarks/callgrind/fanout.sh
#
# CACHE_SIM=1 adds callgrind's cache simulation and reports data read misses per frame, in L1 and past the
# last simulated level (CACHE_LL: by default 1 MiB 16-way, the per-core L2 of the machine these results come
# from, so "past L2"). Instructions stop telling the story once the subscribers' objects outgrow L2: at 10,000
# subscribers what a subscriber costs is mostly which of its cache lines are loaded, and how often.
#
# Environment (defaults in brackets):
#   BUILD_DIR [<repo>/build/bench]   an existing Release build with fanout_server, peer_floor_fanout, fanout_load
#   SUBS [200]  MESSAGES [512]  RUNS [2]  SIZE [64]  WINDOW [64]
#   CACHE_SIM [0]  CACHE_D1 [49152,12,64]  CACHE_LL [1048576,16,64]   (size, ways, line: valgrind's --D1/--LL)
#   CASES ["tether-ws floor-ws tether-raw floor-raw"]
#   SERVER_CPU [0]  CLIENT_CPU [1]
#   RESULTS [unset: the report goes to stdout only]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args callgrind/fanout.sh "$@"

build_dir=${BUILD_DIR:-$repo_root/build/bench}
SUBS=${SUBS:-200}
MESSAGES=${MESSAGES:-512}
RUNS=${RUNS:-2}
if (( smoke )); then SUBS=20; MESSAGES=64; RUNS=1; fi
SIZE=${SIZE:-64}
WINDOW=${WINDOW:-64}
CASES=${CASES:-"tether-ws floor-ws tether-raw floor-raw"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CACHE_SIM=${CACHE_SIM:-0}
CACHE_D1=${CACHE_D1:-49152,12,64}
CACHE_LL=${CACHE_LL:-1048576,16,64}
(( CACHE_SIM )) && callgrind_options=(--cache-sim=yes "--D1=$CACHE_D1" "--LL=$CACHE_LL")

bench_init callgrind/fanout.sh valgrind taskset timeout awk
raise_fd_limit "$SUBS"
load=$(find_binary benchmarks/fanout/fanout_load)
[[ -x $load ]] || { echo "callgrind/fanout.sh: $load is missing (target fanout_load)" >&2; exit 1; }
case_binary() {
    case $1 in
        tether-*) find_binary benchmarks/fanout/fanout_server ;;
        floor-*) find_binary benchmarks/peer_floor_fanout ;;
        *) echo "callgrind/fanout.sh: unknown case '$1'" >&2; exit 2 ;;
    esac
}
case_flags() { case $1 in *-raw) echo "--raw" ;; *) echo "" ;; esac; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
[[ $build_type == Release ]] || loud "build type of $build_dir is '${build_type:-unset}', not Release: counts are not comparable"

failures=()
declare -a cases=()
for c in $CASES; do
    if [[ -x $(case_binary "$c") ]]; then cases+=("$c"); else loud "SKIPPING $c: $(case_binary "$c") is missing"; fi
done
(( ${#cases[@]} > 0 )) || { echo "callgrind/fanout.sh: no server binary found" >&2; exit 1; }

# measure CASE MESSAGES: prints "Ir frames D1mr DLmr" (the misses 0 without CACHE_SIM; empty on failure, with a
# note in failures).
measure() {
    local name=$1 messages=$2 rc=0 ir frames
    callgrind_server "$name" "$work_dir/$name-$messages.log" "$(case_binary "$name")" || return 0
    # shellcheck disable=SC2046
    taskset -c "$CLIENT_CPU" timeout -k 5 600 "$load" ws $(case_flags "$name") --port "$cg_port" --subscribers "$SUBS" \
        --size "$SIZE" --window "$WINDOW" --messages "$messages" --stall-timeout 60 --drain-timeout 500 \
        --open-timeout 300 >"$work_dir/load.out" 2>&1 || rc=$?
    ir=$(callgrind_finish "$name" "$messages")
    if (( rc != 0 )); then
        note_failure "$name: fanout_load failed with status $rc: $(grep -m3 -E 'ERROR|result' "$work_dir/load.out" | tr '\n' ' ' | head -c 300)"
        return 0
    fi
    frames=$(awk '/^result / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "frames") print kv[2] } }' "$work_dir/load.out")
    [[ -n $ir && -n $frames ]] || { note_failure "$name: no callgrind totals or no frame count"; return 0; }
    echo "$ir $frames $(total_of D1mr) $(total_of DLmr)"
}

total_of() { awk -v e="$1" '$1 == e { v = $2 } END { print v + 0 }' "$work_dir/last-totals" 2>/dev/null || echo 0; }

records=$work_dir/records.tsv
: >"$records"
log "cases: ${cases[*]}; SUBS=$SUBS MESSAGES=$MESSAGES RUNS=$RUNS SIZE=$SIZE WINDOW=$WINDOW; $(( ${#cases[@]} * RUNS * 2 )) valgrind runs"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_time=$SECONDS
for (( run = 1; run <= RUNS; run++ )); do
    for name in "${cases[@]}"; do
        base=$(measure "$name" 0)
        full=$(measure "$name" "$MESSAGES")
        if [[ -n $base && -n $full ]]; then
            read -r base_ir _ base_d1 base_ll <<<"$base"
            read -r full_ir frames full_d1 full_ll <<<"$full"
            per=$(awk -v a="$full_ir" -v b="$base_ir" -v n="$frames" 'BEGIN { printf "%.1f", (a - b) / n }')
            d1=$(awk -v a="$full_d1" -v b="$base_d1" -v n="$frames" 'BEGIN { printf "%.3f", (a - b) / n }')
            ll=$(awk -v a="$full_ll" -v b="$base_ll" -v n="$frames" 'BEGIN { printf "%.3f", (a - b) / n }')
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$base_ir" "$full_ir" "$frames" "$per" "$d1" "$ll" >>"$records"
            log "$(printf '%-10s run %s: Ir baseline %s, with %s messages %s (%s frames): %s Ir/frame' "$name" "$run" "$base_ir" "$MESSAGES" "$full_ir" "$frames" "$per")"
        fi
    done
done

# ---- report --------------------------------------------------------------------------------------------
per_run() { awk -F'\t' -v s="$1" -v r="$2" '$1 == s && $2 == r { print $6 }' "$records"; }
mean_of() { awk -F'\t' -v s="$1" -v c="${2:-6}" '$1 == s { t += $c; n++ } END { if (n) printf "%.3f", t / n }' "$records"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
case_label() {
    case $1 in
        tether-*) echo "tether \`fanout_server\`" ;;
        floor-*) echo "floor \`peer_floor_fanout\`" ;;
    esac
}
case_what() { case $1 in *-raw) echo "raw (/sub)" ;; *) echo "envelope (/ws)" ;; esac; }

# The N functions that cost the most per frame: (self Ir with MESSAGES - self Ir at baseline) ÷ frames, from the
# first run's two profiles of a case.
top_functions() {
    local full=$work_dir/profile-$1.out base=$work_dir/profile-$1-base.out frames
    [[ -e $full && -e $base ]] && command -v callgrind_annotate >/dev/null || return 0
    frames=$(awk -F'\t' -v s="$1" '$1 == s && $2 == 1 { print $5 }' "$records")
    function_costs "$base" >"$work_dir/costs-base"
    function_costs "$full" >"$work_dir/costs-full"
    awk -F'\t' -v n="$frames" -v per="$3" '
            NR == FNR { base[$2] = $1; next }
            { d = ($1 - base[$2]) / n; if (d > 0.05) printf "%.1f\t%.1f\t%s\n", d, 100 * d / per, $2 }' \
        "$work_dir/costs-base" "$work_dir/costs-full" | sort -t$'\t' -k1,1gr |
        awk -F'\t' -v max="${2:-8}" '{ name = $3; if (length(name) > 110) name = substr(name, 1, 107) "..."
                                       if (shown++ < max) printf "| %s | %s%% | `%s` |\n", $1, $2, name }'
}

report=$work_dir/report.md
{
    echo "# Instructions per delivered frame (callgrind): tether's fan-out vs the kernel floor"
    echo
    echo "- command: \`SUBS=$SUBS MESSAGES=$MESSAGES RUNS=$RUNS SIZE=$SIZE WINDOW=$WINDOW $command_line\`; build \`$build_dir\` (${build_type:-unset})"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none);" \
         "$(valgrind --version); load average at start / end: $load_at_start / $(cut -d' ' -f1-3 /proc/loadavg); took $(( SECONDS - start_time )) s"
    echo "- method: each server runs \`valgrind --tool=callgrind <server> --threads 1\`; \`fanout_load ws [--raw] --subscribers $SUBS"\
         "--messages $MESSAGES --window $WINDOW\` publishes exactly $MESSAGES messages of $SIZE B under flow control and checks every"\
         "subscriber got all of them; Ir/frame = (Ir with $MESSAGES messages − Ir with 0) ÷ frames delivered: user-space"\
         "instructions only (publishing included, shared by the subscribers), kernel work is not counted."
    (( smoke )) && echo "- **smoke run**: a check that the harness works, not a measurement"
    echo
    header="| frames | server |"; rule="|---|---|"
    for (( run = 1; run <= RUNS; run++ )); do header+=" Ir/frame run $run |"; rule+="---|"; done
    echo "$header tether/floor |"
    echo "$rule---|"
    for name in "${cases[@]}"; do
        row="| $(case_what "$name") | $(case_label "$name") |"
        for (( run = 1; run <= RUNS; run++ )); do v=$(per_run "$name" "$run"); row+=" ${v:-FAILED} |"; done
        if [[ $name == tether-* ]]; then r=$(ratio "$(mean_of "$name")" "$(mean_of "floor-${name#*-}")"); else r="1"; fi
        echo "$row $r |"
    done
    if (( CACHE_SIM )); then
        echo
        echo "Data read misses per delivered frame (cache simulation: L1 \`--D1=$CACHE_D1\`, last level \`--LL=$CACHE_LL\`;"
        echo "with $MESSAGES messages minus at baseline, ÷ frames; mean of the runs):"
        echo
        echo "| frames | server | L1 read misses/frame | last-level read misses/frame |"
        echo "|---|---|---|---|"
        for name in "${cases[@]}"; do
            echo "| $(case_what "$name") | $(case_label "$name") | $(mean_of "$name" 7) | $(mean_of "$name" 8) |"
        done
    fi
    for name in "${cases[@]}"; do
        if [[ -e $work_dir/profile-$name.out ]] && command -v callgrind_annotate >/dev/null; then
            echo
            echo "Where $(case_label "$name")'s instructions per frame go ($(case_what "$name"); first run: self Ir per function"
            echo "with $MESSAGES messages minus at baseline, ÷ frames delivered):"
            echo
            echo "| Ir/frame | share | function |"
            echo "|---|---|---|"
            top_functions "$name" 12 "$(per_run "$name" 1)"
        fi
    done
    failures_section
} >"$report"

finish_report "$report" "${RESULTS:+1}"
