#!/usr/bin/env bash
# WebSocket benchmark: tether's `ws_echo` example against a Boost.Beast echo server (peer_beast_ws), side by side,
# driven by the same load generator (benchmarks/loadgen/ws_load.cpp), with the "kernel floor" (peer_floor_ws,
# peers/floor_ws.cpp: raw epoll, frames unmasked straight into the echo, no allocation per message) as a
# reference: what a server doing no user-space work scores on the same rig, so floor/beast bounds tether/beast.
# Two questions from the issue:
#   echo  - messages/s and server CPU per message, 100 and 1,000 connections x 64 B and 1 KiB messages;
#   idle  - user-space memory per idle connection: server VmRSS after IDLE_CONNS connections are open minus
#           before connecting, divided by IDLE_CONNS (and the same for Private_Dirty from smaps_rollup).
#   deflate idle (tether only) - the same with permessage-deflate agreed (RFC 7692): right after the upgrade,
#           and after each connection exchanged one compressible 1 KiB message, with the route keeping its
#           LZ77 contexts (ws_echo --deflate on) or not (--deflate no-context-takeover), next to the same
#           exchange without deflate. DEFLATE_IDLE_CONNS connections (fewer: context takeover costs zlib state).
# Every server runs pinned to one core (SERVER_CPU), ws_load to another (CLIENT_CPU); the servers are interleaved
# inside each repetition, in an order rotated each repetition (lib.sh, in_turn), and the report leads with ratios. See benchmarks/README.md.
#
#   benchmarks/ws/run.sh                 # DUR=10 s per run, REPS=3, writes benchmarks/results/ws.md
#   DUR=5 REPS=1 benchmarks/ws/run.sh
#   PIPELINE=1 CONNS=100 benchmarks/ws/run.sh   # a subset
#   benchmarks/ws/run.sh --smoke         # 1 s, 1 rep, 50 connections, 500 idle; non-zero exit on any failure
#
# Environment (defaults in brackets):
#   BUILD_DIR        use the binaries of this existing build instead of building [unset: build <repo>/build-bench]
#   DUR [10]  REPS [3]  WARMUP [1]        seconds per measured echo run, repetitions, seconds of unmeasured warm-up
#   CONNS ["100 1000"]  SIZES ["64 1024"] echo scenarios: connections x message bytes
#   PIPELINE ["1 8"]                      messages in flight per connection, one echo scenario per value
#   IDLE_CONNS [10000]  HOLD [3]          idle scenario: connections, seconds they are held open
#   DEFLATE_IDLE_CONNS [1000]             deflate idle scenarios (0: skip them)
#   THREADS [1]                           --threads given to both servers
#   SERVER_CPU [0]  CLIENT_CPU [1]        cores for taskset
#   SERVERS ["tether beast floor"]        subset to run
#   RESULTS [<repo>/benchmarks/results/ws.md; with --smoke <repo>/benchmarks/results/ws-smoke.md]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args ws/run.sh "$@"

DUR=${DUR:-10}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-"100 1000"}
SIZES=${SIZES:-"64 1024"}
IDLE_CONNS=${IDLE_CONNS:-10000}
HOLD=${HOLD:-3}
DEFLATE_IDLE_CONNS=${DEFLATE_IDLE_CONNS:-1000}
if (( smoke )); then DUR=1; REPS=1; WARMUP=0; CONNS=50; IDLE_CONNS=500; HOLD=2; DEFLATE_IDLE_CONNS=100; fi
PIPELINE=${PIPELINE:-"1 8"}
THREADS=${THREADS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVERS=${SERVERS:-"tether beast floor"}
if (( smoke )); then
    RESULTS=${RESULTS:-$repo_root/benchmarks/results/ws-smoke.md}
else
    RESULTS=${RESULTS:-$repo_root/benchmarks/results/ws.md}
fi

bench_init ws/run.sh taskset cmake timeout awk
# Each side holds IDLE_CONNS sockets in its own process; the raised limit is inherited by both.
raise_fd_limit "$IDLE_CONNS"
bench_build ws_echo ws_load peer_beast_ws peer_floor_ws
server_binary() {
    case $1 in
        tether) find_binary examples/ws_echo ;;
        beast) find_binary benchmarks/ws/peer_beast_ws ;;
        floor) find_binary benchmarks/peer_floor_ws ;;
        *) echo "run.sh: unknown server '$1'" >&2; exit 2 ;;
    esac
}
server_label() {
    # The HTTP floor's "no parsing, fixed answer" adapted: an echo must read frame headers, and its answer is the echo.
    if [[ $1 == floor ]]; then echo "floor — reference (kernel floor: frame headers only, no allocation, echo as it streams)"
    else echo "$1"; fi
}
ws_load=$(find_binary benchmarks/ws/ws_load)
[[ -x $ws_load ]] || { echo "run.sh: load generator $ws_load is missing (target ws_load)" >&2; exit 1; }

failures=()
pick_servers

# ---- one server process --------------------------------------------------------------------------------
server_pid=""
server_port=""
server_log=""

# start_server NAME [ARGS...]: see launch_server in lib.sh.
start_server() { local name=$1; shift; launch_server "$name" --threads "$THREADS" "$@"; }

# field KEY FILE: the value of KEY=value on the "result" line ws_load prints last.
field() { awk -v k="$1" '/^result / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print v }' "$2"; }

# run_load NAME LABEL SECONDS_BOUND ARGS...: ws_load pinned to CLIENT_CPU against the running server, bounded in
# time; output in $load_out. Returns ws_load's status (124 on timeout).
run_load() {
    local name=$1 label=$2 bound=$3 pid rc=0
    shift 3
    load_out=$work_dir/load-$name-$label.out
    taskset -c "$CLIENT_CPU" timeout -k 5 "$bound" "$ws_load" "$@" --port "$server_port" --server-pid "$server_pid" \
        >"$load_out" 2>"$load_out.err" &
    pid=$!
    live_pids+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    cat "$load_out.err" >&2
    return "$rc"
}

records=$work_dir/records.tsv
: >"$records"

# echo_label CONNS SIZE PIPELINE: the scenario's name in logs and the report.
echo_label() { if (( $3 > 1 )); then echo "echo ${1}c x ${2}B, ${3} in flight"; else echo "echo ${1}c x ${2}B"; fi; }

# measure_echo NAME CONNS SIZE PIPELINE REP: fresh server, one echo run; appends a record.
measure_echo() {
    local name=$1 conns=$2 size=$3 pipeline=$4 rep=$5 scenario rc=0 rate us p50 p99 secs scpu ccpu errors busy cbusy
    scenario=$(echo_label "$conns" "$size" "$pipeline")
    if ! start_server "$name"; then
        failures+=("$name: did not start (no 'listening on' line within 10 s)")
        return
    fi
    run_load "$name" "echo-$conns-$size-$pipeline-$rep" $(( DUR + WARMUP + 90 )) echo --connections "$conns" \
        --size "$size" --duration "$DUR" --warmup "$WARMUP" --pipeline "$pipeline" || rc=$?
    kill -0 "$server_pid" 2>/dev/null || failures+=("$name: died during $scenario")
    stop_server
    if (( rc != 0 )); then
        failures+=("$name/$scenario: ws_load exited with $rc ($(field errors "$load_out") errors; see log)")
        return
    fi
    rate=$(field msgs_per_s "$load_out"); us=$(field server_cpu_us_per_msg "$load_out")
    p50=$(field p50_us "$load_out"); p99=$(field p99_us "$load_out"); secs=$(field seconds "$load_out")
    scpu=$(field server_cpu_s "$load_out"); ccpu=$(field client_cpu_s "$load_out"); errors=$(field errors "$load_out")
    busy=$(awk -v c="$scpu" -v s="$secs" 'BEGIN { printf "%.0f", 100 * c / s }')
    cbusy=$(awk -v c="$ccpu" -v s="$secs" 'BEGIN { printf "%.0f", 100 * c / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$scenario" "$rep" "$rate" "$us" "$busy" "$cbusy" "$p50" "$p99" "$errors" >>"$records"
    log "$(printf '%-7s %-32s rep %s: %9s msg/s  %7s us/msg  server CPU %s%%  client CPU %s%%  p50 %s us  p99 %s us' \
        "$name" "$scenario" "$rep" "$rate" "$us" "$busy" "$cbusy" "$p50" "$p99")"
}

# measure_idle NAME REP: fresh server, IDLE_CONNS idle connections; appends a record.
measure_idle() {
    local name=$1 rep=$2 scenario="idle ${IDLE_CONNS}c" rc=0 before after per pd_per
    if ! start_server "$name"; then
        failures+=("$name: did not start (no 'listening on' line within 10 s)")
        return
    fi
    run_load "$name" "idle-$rep" $(( HOLD + 150 )) idle --connections "$IDLE_CONNS" --hold "$HOLD" || rc=$?
    kill -0 "$server_pid" 2>/dev/null || failures+=("$name: died during $scenario")
    stop_server
    if (( rc != 0 )); then
        failures+=("$name/$scenario: ws_load exited with $rc ($(field errors "$load_out") errors; see log)")
        return
    fi
    before=$(field rss_before_kib "$load_out"); after=$(field rss_after_kib "$load_out")
    per=$(field rss_bytes_per_conn "$load_out"); pd_per=$(field private_dirty_bytes_per_conn "$load_out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$scenario" "$rep" "$per" "$pd_per" "$before" "$after" >>"$records"
    log "$(printf '%-7s %-32s rep %s: VmRSS %s -> %s KiB = %s B/connection (Private_Dirty %s B/connection)' \
        "$name" "$scenario" "$rep" "$before" "$after" "$per" "$pd_per")"
}

# deflate_label KIND: the name of a deflate idle scenario in logs and the report.
deflate_label() {
    case $1 in
        negotiated) echo "idle ${DEFLATE_IDLE_CONNS}c, deflate agreed, no traffic" ;;
        takeover) echo "idle ${DEFLATE_IDLE_CONNS}c, deflate, after 1 message, context takeover" ;;
        nct) echo "idle ${DEFLATE_IDLE_CONNS}c, deflate, after 1 message, no context takeover" ;;
        plain) echo "idle ${DEFLATE_IDLE_CONNS}c, no deflate, after 1 message" ;;
    esac
}

# measure_deflate_idle KIND REP: tether's ws_echo, DEFLATE_IDLE_CONNS connections; appends a record.
measure_deflate_idle() {
    local kind=$1 rep=$2 scenario rc=0 before after per pd_per server_args=() load_args=()
    scenario=$(deflate_label "$kind")
    case $kind in
        negotiated) load_args=(--deflate) ;;
        takeover) load_args=(--deflate --messages 1 --size 1024 --text) ;;
        nct) server_args=(--deflate no-context-takeover); load_args=(--deflate --messages 1 --size 1024 --text) ;;
        plain) load_args=(--messages 1 --size 1024 --text) ;;
    esac
    if ! start_server tether "${server_args[@]}"; then
        failures+=("tether: did not start for $scenario")
        return
    fi
    run_load tether "deflate-idle-$kind-$rep" $(( HOLD + 150 )) idle --connections "$DEFLATE_IDLE_CONNS" --hold "$HOLD" \
        "${load_args[@]}" || rc=$?
    kill -0 "$server_pid" 2>/dev/null || failures+=("tether: died during $scenario")
    stop_server
    if (( rc != 0 )); then
        failures+=("tether/$scenario: ws_load exited with $rc ($(field errors "$load_out") errors; see log)")
        return
    fi
    before=$(field rss_before_kib "$load_out"); after=$(field rss_after_kib "$load_out")
    per=$(field rss_bytes_per_conn "$load_out"); pd_per=$(field private_dirty_bytes_per_conn "$load_out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' tether "$scenario" "$rep" "$per" "$pd_per" "$before" "$after" >>"$records"
    log "$(printf '%-7s %-32s rep %s: VmRSS %s -> %s KiB = %s B/connection (Private_Dirty %s B/connection)' \
        tether "$scenario" "$rep" "$before" "$after" "$per" "$pd_per")"
}
deflate_kinds=()
if (( DEFLATE_IDLE_CONNS > 0 )) && [[ " ${servers[*]} " == *" tether "* ]]; then deflate_kinds=(negotiated takeover nct plain); fi

(( ${#servers[@]} > 0 )) || { echo "run.sh: no server binary found" >&2; exit 1; }
log "servers: ${servers[*]}; DUR=${DUR}s REPS=$REPS WARMUP=${WARMUP}s CONNS='$CONNS' SIZES='$SIZES' PIPELINE='$PIPELINE'" \
    "IDLE_CONNS=$IDLE_CONNS; server on cpu $SERVER_CPU, ws_load on cpu $CLIENT_CPU"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo_scenarios=()
for pipeline in $PIPELINE; do
    for conns in $CONNS; do for size in $SIZES; do echo_scenarios+=("$conns $size $pipeline"); done; done
done
for (( rep = 1; rep <= REPS; rep++ )); do
    mapfile -t order < <(in_turn "$rep" "${servers[@]}")
    for sc in "${echo_scenarios[@]}"; do
        read -r conns size pipeline <<<"$sc"
        for name in "${order[@]}"; do measure_echo "$name" "$conns" "$size" "$pipeline" "$rep"; done
    done
    for name in "${order[@]}"; do measure_idle "$name" "$rep"; done
    for kind in "${deflate_kinds[@]}"; do measure_deflate_idle "$kind" "$rep"; done
done

# ---- report --------------------------------------------------------------------------------------------
# summary FIELD NAME SCENARIO -> "median min max" over the repetitions (empty when there is no measurement)
summary() {
    awk -F'\t' -v f="$1" -v s="$2" -v m="$3" '$1 == s && $2 == m { print $f }' "$records" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%s %s %s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}
median() { summary "$@" | cut -d' ' -f1; }
fmt_int() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
boost_version=$(awk '/define BOOST_LIB_VERSION/ { gsub("\"", ""); print $3 }' /usr/include/boost/version.hpp 2>/dev/null || echo '?')

report=$work_dir/report.md
{
    echo "# WebSocket: tether vs Boost.Beast, and the kernel floor (echo throughput, memory per idle connection)"
    echo
    echo "- command: \`DUR=$DUR REPS=$REPS WARMUP=$WARMUP CONNS=\"$CONNS\" SIZES=\"$SIZES\" PIPELINE=\"$PIPELINE\" IDLE_CONNS=$IDLE_CONNS HOLD=$HOLD THREADS=$THREADS $command_line\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none)" \
         "$(git -C "$repo_root" status --porcelain -- include examples 2>/dev/null | grep -q . && echo '+ uncommitted changes in include/ or examples/')"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r);" \
         "load average at start / end: $load_at_start / $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: above ~2 means other work shared our cores)"
    echo "- tools: $(g++ --version | head -1), cmake $(cmake --version | head -1 | awk '{ print $3 }'), build type ${build_type:-unset}, Boost $boost_version (Beast)"
    echo "- reference: the kernel floor (peers/floor_ws.cpp: raw epoll, edge-triggered; each frame's header rewritten and its"\
         "payload unmasked straight into the echo, all echoes of one read in one send; no UTF-8 check, no limits):"\
         "what a server doing next to no user-space work would score"
    echo "- load: \`taskset -c $CLIENT_CPU ws_load echo --connections C --size S --duration $DUR --warmup $WARMUP --pipeline K\` (K in $PIPELINE)" \
         "and \`ws_load idle --connections $IDLE_CONNS --hold $HOLD\` (benchmarks/loadgen/ws_load.cpp, one thread, epoll, masked binary frames," \
         "every echo verified); servers \`taskset -c $SERVER_CPU <server> --threads $THREADS\`, a fresh process per run, $REPS repetition(s) interleaved"
    (( smoke )) && echo "- **smoke run**: 1 s, 1 repetition, 50 connections, 500 idle; a correctness check, not a measurement"
    echo
    echo "## Echo"
    echo
    echo "| server | scenario | messages/s median (min–max) | server CPU µs/message | server CPU busy | client CPU busy | latency p50 / p99 µs | errors |"
    echo "|---|---|---|---|---|---|---|---|"
    for sc in "${echo_scenarios[@]}"; do
        read -r conns size pipeline <<<"$sc"
        scenario=$(echo_label "$conns" "$size" "$pipeline")
        for name in "${servers[@]}"; do
            read -r rate rate_min rate_max <<<"$(summary 4 "$name" "$scenario")" || true
            if [[ -n ${rate:-} ]]; then
                echo "| $(server_label "$name") | $scenario | $(fmt_int "$rate") ($(fmt_int "$rate_min")–$(fmt_int "$rate_max")) |" \
                     "$(median 5 "$name" "$scenario") | $(median 6 "$name" "$scenario")% | $(median 7 "$name" "$scenario")% |" \
                     "$(median 8 "$name" "$scenario") / $(median 9 "$name" "$scenario") | $(summary 10 "$name" "$scenario" | cut -d' ' -f3) |"
            else
                echo "| $(server_label "$name") | $scenario | FAILED (see log) | – | – | – | – | – |"
            fi
            rate=""
        done
    done
    echo
    echo "Ratios of medians (messages/s: >1 means tether is faster; CPU: <1 means tether spends less per message)."
    echo "Issue target: tether ≥ 2× Beast's echo throughput. floor/beast is what the kernel floor, a server doing next"
    echo "to no user-space work, scores against Beast in the same run: about the most any server could score on this"
    echo "rig. \"2× reachable\" says whether even the floor gets there; where it does not, the target is out of reach for"
    echo "any server, not just for tether."
    echo
    echo "| scenario | messages/s tether/beast | messages/s floor/beast | CPU µs/message tether/beast | CPU µs/message floor/beast | target ≥ 2× | 2× reachable (floor/beast ≥ 2) |"
    echo "|---|---|---|---|---|---|---|"
    for sc in "${echo_scenarios[@]}"; do
        read -r conns size pipeline <<<"$sc"
        scenario=$(echo_label "$conns" "$size" "$pipeline")
        r=$(ratio "$(median 4 tether "$scenario")" "$(median 4 beast "$scenario")")
        c=$(ratio "$(median 5 tether "$scenario")" "$(median 5 beast "$scenario")")
        fr=$(ratio "$(median 4 floor "$scenario")" "$(median 4 beast "$scenario")")
        fc=$(ratio "$(median 5 floor "$scenario")" "$(median 5 beast "$scenario")")
        met=$(awk -v r="$r" 'BEGIN { if (r == "n/a") print "n/a"; else print (r >= 2 ? "met" : "**missed**") }')
        reachable=$(awk -v r="$fr" 'BEGIN { if (r == "n/a") print "n/a"; else print (r >= 2 ? "yes" : "**no**") }')
        echo "| $scenario | $r | $fr | $c | $fc | $met | $reachable |"
    done
    echo
    echo "## Memory per idle connection"
    echo
    echo "(VmRSS after all $IDLE_CONNS connections are open and the server has settled for 1 s − VmRSS before connecting) ÷ $IDLE_CONNS;"
    echo "the same for Private_Dirty from /proc/PID/smaps_rollup. User-space memory only: kernel socket buffers are not in RSS."
    echo "Issue target: ≤ 256 bytes per idle tether connection (issue 17; the WebSocket issue before it asked ≤ 512)."
    echo
    echo "| server | connections | bytes/connection (RSS) median (min–max) | bytes/connection (Private_Dirty) | VmRSS before → after KiB | target ≤ 256 B |"
    echo "|---|---|---|---|---|---|"
    scenario="idle ${IDLE_CONNS}c"
    for name in "${servers[@]}"; do
        read -r per per_min per_max <<<"$(summary 4 "$name" "$scenario")" || true
        if [[ -n ${per:-} ]]; then
            met="–"
            [[ $name == tether ]] && met=$(awk -v p="$per" 'BEGIN { print (p <= 256 ? "met" : "**missed**") }')
            echo "| $(server_label "$name") | $IDLE_CONNS | $(fmt_int "$per") ($(fmt_int "$per_min")–$(fmt_int "$per_max")) |" \
                 "$(fmt_int "$(median 5 "$name" "$scenario")") | $(median 6 "$name" "$scenario") → $(median 7 "$name" "$scenario") | $met |"
        else
            echo "| $(server_label "$name") | $IDLE_CONNS | FAILED (see log) | – | – | – |"
        fi
        per=""
    done
    if (( ${#deflate_kinds[@]} > 0 )); then
        echo
        echo "### With permessage-deflate (tether)"
        echo
        echo "ws_echo (\`--deflate on\`: contexts kept between messages; or \`--deflate no-context-takeover\`) and"
        echo "\`ws_load idle --deflate [--messages 1 --size 1024 --text]\`: deflate agreed on every connection, then"
        echo "optionally one compressible 1 KiB message each way (compressed by ws_load and by the server) before the"
        echo "sample. With context takeover each side's LZ77 window must outlive the message, so the server holds a"
        echo "zlib compressor and inflater per connection until the connection has been quiet for one to two ping"
        echo "intervals (30 s by default; then only the window's bytes stay); without it, nothing outlives a message."
        echo
        echo "| scenario | bytes/connection (RSS) median (min–max) | bytes/connection (Private_Dirty) | VmRSS before → after KiB |"
        echo "|---|---|---|---|"
        for kind in "${deflate_kinds[@]}"; do
            scenario=$(deflate_label "$kind")
            read -r per per_min per_max <<<"$(summary 4 tether "$scenario")" || true
            if [[ -n ${per:-} ]]; then
                echo "| $scenario | $(fmt_int "$per") ($(fmt_int "$per_min")–$(fmt_int "$per_max")) |" \
                     "$(fmt_int "$(median 5 tether "$scenario")") | $(median 6 tether "$scenario") → $(median 7 tether "$scenario") |"
            else
                echo "| $scenario | FAILED (see log) | – | – |"
            fi
            per=""
        done
    fi
    echo
    echo "Server CPU µs/message = (utime + stime of the server, all threads, /proc/PID/stat) over the measured window ÷"
    echo "echoed messages, both sampled by ws_load at the window's edges. CPU busy is CPU time ÷ wall time on one core:"
    echo "well under 100% means the server waited for the client (or the host was busy), and then messages/s says"
    echo "more about the client than the server: compare CPU µs/message."
    failures_section
} >"$report"

finish_report "$report" 1
