#!/usr/bin/env bash
# Fan-out benchmark (issue "broadcast hub"): one topic, many subscribers. tether's fanout_server against the naive
# Boost.Beast broadcast (peers/naive_broadcast.cpp: the chat example's per-session queue of shared strings, one
# async_write per message per session) and against the kernel floor (peers/floor_fanout.cpp: raw epoll, the
# messages of one publish read concatenated once and sent with one send() per subscriber, what no server can
# beat), driven identically by benchmarks/loadgen/fanout_load.cpp:
#   ws  - S WebSocket subscribers (WS_SUBS: 1,000 and 10,000), flow-controlled: message i+WINDOW is not
#         published until every subscriber has message i; each message in tether's envelope
#         {"topic":..,"id":..,"data":..} (tether, naive, floor);
#   ws-raw - the same with the bare body in each frame (RAW_SUBS: 1,000 and 10,000; GET /sub, fanout_load --raw;
#         tether and floor): the per-subscriber path without the envelope;
#   sse - SSE_SUBS (1,000) Server-Sent Events subscribers, the same way;
#   deflate (tether only) - DEFLATE_SUBS (1,000) WebSocket subscribers of a JSON ticker feed (DEFLATE_SIZE: 200-byte
#         ticks), permessage-deflate off (/ws) and on (/ws-deflate, offered as browsers do): bytes on the wire per
#         delivered frame, server CPU per frame, and compressions per published message (the server's counters;
#         the goal is exactly one per compressed format in use, here one).
# Reported: delivered frames/s (all subscribers together) median (min–max), server CPU µs per delivered frame,
# latency, loss, and the ratios tether/naive and tether/floor. Issue targets: tether ≥ 3× naive's delivered
# frames/s at 1,000 WS subscribers; tether's server CPU per delivered frame ≤ 1.1× the floor's (issue 17). Also runs the hub's Google Benchmark (benchmarks/hub/publish_bench.cpp: publish cost vs subscribers)
# and includes its table. Every server runs pinned to SERVER_CPU, fanout_load to CLIENT_CPU; servers are
# interleaved inside each repetition (in an order rotated each repetition: lib.sh, in_turn), a fresh server process per run. See benchmarks/README.md.
#
#   benchmarks/fanout/run.sh                  # DUR=10 s, REPS=3, writes benchmarks/results/fanout.md
#   DUR=5 REPS=1 benchmarks/fanout/run.sh
#   WS_SUBS=1000 SSE_SUBS= benchmarks/fanout/run.sh   # a subset (empty SSE_SUBS: no SSE scenario)
#   benchmarks/fanout/run.sh --smoke          # 1 s, 1 rep, 200 subscribers; non-zero exit on any failure
#
# Environment (defaults in brackets):
#   BUILD_DIR        use the binaries of this existing build instead of building [unset: build <repo>/build-bench]
#   DUR [10]  REPS [3]  WARMUP [1]       seconds measured per run, repetitions, seconds of unmeasured warm-up
#   WS_SUBS ["1000 10000"]  RAW_SUBS ["1000 10000"]  SSE_SUBS [1000]   subscriber counts per scenario
#   SIZE [64]                            message body bytes (sequence, timestamp, padding)
#   WINDOW [64]  BATCH [WINDOW/4]        flow-control window (messages), and the least free window worth a request
#   STALL_TIMEOUT [10]                   seconds without progress before fanout_load gives up (raise it on a host
#                                        so busy that the servers get little CPU)
#   THREADS [1]                          --threads given to both servers
#   SERVER_CPU [0]  CLIENT_CPU [1]       cores for taskset
#   SERVERS ["tether naive floor"]       subset to run (naive has no ws-raw; the floor has no SSE)
#   PUBLISH_BENCH [1]                    0 skips the hub publish_bench table
#   DEFLATE_SUBS [1000]  DEFLATE_SIZE [200]   the deflate scenario (empty DEFLATE_SUBS: skip it)
#   RESULTS [<repo>/benchmarks/results/fanout.md; with --smoke <repo>/benchmarks/results/fanout-smoke.md]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args fanout/run.sh "$@"

DUR=${DUR:-10}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
WS_SUBS=${WS_SUBS-"1000 10000"}
RAW_SUBS=${RAW_SUBS-"1000 10000"}
SSE_SUBS=${SSE_SUBS-1000}
SIZE=${SIZE:-64}
WINDOW=${WINDOW:-64}
BATCH=${BATCH:-$(( WINDOW / 4 > 0 ? WINDOW / 4 : 1 ))}
STALL_TIMEOUT=${STALL_TIMEOUT:-10}
THREADS=${THREADS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVERS=${SERVERS:-"tether naive floor"}
PUBLISH_BENCH=${PUBLISH_BENCH:-1}
DEFLATE_SUBS=${DEFLATE_SUBS-1000}
DEFLATE_SIZE=${DEFLATE_SIZE:-200}
if (( smoke )); then DUR=1; REPS=1; WARMUP=0; WS_SUBS=200; RAW_SUBS=${RAW_SUBS:+200}; SSE_SUBS=200; PUBLISH_BENCH=0; DEFLATE_SUBS=${DEFLATE_SUBS:+200}; fi
if (( smoke )); then
    RESULTS=${RESULTS:-$repo_root/benchmarks/results/fanout-smoke.md}
else
    RESULTS=${RESULTS:-$repo_root/benchmarks/results/fanout.md}
fi

bench_init fanout/run.sh taskset cmake timeout awk curl
# Each side holds up to max(WS_SUBS) sockets in its own process; the raised limit is inherited by both.
max_subs=0
for s in $WS_SUBS $RAW_SUBS $SSE_SUBS; do (( s > max_subs )) && max_subs=$s; done
raise_fd_limit "$max_subs"
targets="fanout_server fanout_load peer_naive_broadcast peer_floor_fanout hub_publish_bench"
# shellcheck disable=SC2086
bench_build $targets
server_binary() {
    case $1 in
        tether) find_binary benchmarks/fanout/fanout_server ;;
        naive) find_binary benchmarks/fanout/peer_naive_broadcast ;;
        floor) find_binary benchmarks/peer_floor_fanout ;;
        *) echo "run.sh: unknown server '$1'" >&2; exit 2 ;;
    esac
}
fanout_load=$(find_binary benchmarks/fanout/fanout_load)
[[ -x $fanout_load ]] || { echo "run.sh: load generator $fanout_load is missing (target fanout_load)" >&2; exit 1; }

failures=()
pick_servers

# serves NAME MODE: whether that server speaks that scenario (naive has no raw form, the floor no SSE).
serves() {
    case $1:$2 in
        naive:ws-raw|floor:sse) return 1 ;;
        *) return 0 ;;
    esac
}

# ---- one server process --------------------------------------------------------------------------------
server_pid=""
server_port=""
server_log=""

# start_server NAME: launch_server (lib.sh), then the publish trigger's other half must answer:
# GET /sequence is a number.
start_server() {
    launch_server "$1" --threads "$THREADS" || return 1
    if curl -fsS --max-time 5 "http://127.0.0.1:$server_port/sequence" | grep -qE '^[0-9]+$'; then return 0; fi
    echo "--- $1: GET /sequence did not answer a number" >&2
    stop_server
    return 1
}

# field KEY FILE: the value of KEY=value on the "result" line fanout_load prints last.
field() { awk -v k="$1" '/^result / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print v }' "$2"; }

records=$work_dir/records.tsv
: >"$records"

# measure NAME MODE SUBS REP: fresh server, one fanout_load run; appends a record.
measure() {
    local name=$1 mode=$2 subs=$3 rep=$4 scenario="$2 ${3} subscribers" rc=0 pid out load_mode=$2 flags=()
    [[ $mode == ws-raw ]] && { load_mode=ws; flags=(--raw); }
    if ! start_server "$name"; then
        failures+=("$name: did not start (no 'listening on' line, or no answer to GET /sequence)")
        return
    fi
    out=$work_dir/load-$name-$mode-$subs-$rep.out
    # Bound: opening (10,000 handshakes), warm-up, the run, a drain of at most 120 s, closing.
    taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + WARMUP + 300 )) "$fanout_load" "$load_mode" --port "$server_port" \
        --server-pid "$server_pid" --subscribers "$subs" --size "$SIZE" --window "$WINDOW" --batch "$BATCH" \
        --duration "$DUR" --warmup "$WARMUP" --stall-timeout "$STALL_TIMEOUT" "${flags[@]}" >"$out" 2>"$out.err" &
    pid=$!
    live_pids+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    cat "$out.err" >&2
    kill -0 "$server_pid" 2>/dev/null || failures+=("$name: died during $scenario")
    stop_server
    if (( rc != 0 )); then
        failures+=("$name/$scenario rep $rep: fanout_load exited with $rc ($(field errors "$out") errors; see log)")
        return
    fi
    local rate us busy cbusy p50 p99 lost with_loss msgs secs scpu ccpu fpr
    if [[ $(field frames "$out") == 0 ]]; then   # nothing to divide by: no rate, no CPU per frame
        failures+=("$name/$scenario rep $rep: no frame delivered in the measured window (server CPU $(field server_cpu_s "$out") s)")
        return
    fi
    rate=$(field frames_per_s "$out"); us=$(field server_cpu_us_per_frame "$out"); secs=$(field seconds "$out")
    scpu=$(field server_cpu_s "$out"); ccpu=$(field client_cpu_s "$out")
    busy=$(awk -v c="$scpu" -v s="$secs" 'BEGIN { printf "%.0f", 100 * c / s }')
    cbusy=$(awk -v c="$ccpu" -v s="$secs" 'BEGIN { printf "%.0f", 100 * c / s }')
    p50=$(field p50_us "$out"); p99=$(field p99_us "$out"); lost=$(field lost "$out")
    with_loss=$(field subscribers_with_loss "$out"); msgs=$(field msgs_per_s "$out"); fpr=$(field frames_per_recv "$out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$scenario" "$rep" "$rate" "$us" "$busy" \
        "$cbusy" "$p50" "$p99" "$lost" "$with_loss" "$msgs" "$fpr" >>"$records"
    log "$(printf '%-6s %-26s rep %s: %9s frames/s  %7s us/frame  server CPU %s%%  client CPU %s%%  p50 %s us  p99 %s us  lost %s' \
        "$name" "$scenario" "$rep" "$rate" "$us" "$busy" "$cbusy" "$p50" "$p99" "$lost")"
}

# stat_field KEY: a number from tether's GET /stats (fanout_server), or empty.
stat_field() { curl -fsS --max-time 5 "http://127.0.0.1:$server_port/stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }

deflate_records=$work_dir/deflate.tsv
: >"$deflate_records"

# measure_deflate on|off REP: tether's fanout_server, DEFLATE_SUBS subscribers of a ticker feed; appends a record.
measure_deflate() {
    local setting=$1 rep=$2 rc=0 pid out path=/ws flags=() published0 compressions0 published compressions
    [[ $setting == on ]] && { path=/ws-deflate; flags=(--deflate); }
    if ! start_server tether; then
        failures+=("tether: did not start for the deflate scenario")
        return
    fi
    published0=$(stat_field published); compressions0=$(stat_field ws_broadcast_compressions)
    out=$work_dir/load-deflate-$setting-$rep.out
    taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + WARMUP + 300 )) "$fanout_load" ws --port "$server_port" --path "$path" \
        --server-pid "$server_pid" --subscribers "$DEFLATE_SUBS" --size "$DEFLATE_SIZE" --body ticker --window "$WINDOW" \
        --batch "$BATCH" --duration "$DUR" --warmup "$WARMUP" "${flags[@]}" >"$out" 2>"$out.err" &
    pid=$!
    live_pids+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    cat "$out.err" >&2
    published=$(stat_field published); compressions=$(stat_field ws_broadcast_compressions)
    kill -0 "$server_pid" 2>/dev/null || failures+=("tether: died during the deflate scenario ($setting)")
    stop_server
    if (( rc != 0 )); then
        failures+=("tether/deflate $setting rep $rep: fanout_load exited with $rc ($(field errors "$out") errors; see log)")
        return
    fi
    local rate us bytes per_publish cframes frames secs ccpu cbusy
    rate=$(field frames_per_s "$out"); us=$(field server_cpu_us_per_frame "$out"); bytes=$(field wire_bytes_per_frame "$out")
    cframes=$(field compressed_frames "$out"); frames=$(field frames "$out")
    secs=$(field seconds "$out"); ccpu=$(field client_cpu_s "$out")
    cbusy=$(awk -v c="$ccpu" -v s="$secs" 'BEGIN { printf "%.0f", 100 * c / s }')
    per_publish=$(awk -v c="$(( compressions - compressions0 ))" -v p="$(( published - published0 ))" \
        'BEGIN { if (p > 0) printf "%.3f", c / p; else print "n/a" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setting" "$rep" "$rate" "$us" "$bytes" "$per_publish" "$cframes" "$frames" \
        "$cbusy" >>"$deflate_records"
    log "$(printf 'tether deflate %-3s rep %s: %9s frames/s  %7s us/frame  %s wire bytes/frame  %s compressions/publish  %s of %s frames compressed' \
        "$setting" "$rep" "$rate" "$us" "$bytes" "$per_publish" "$cframes" "$frames")"
}
run_deflate=0
[[ -n $DEFLATE_SUBS && " ${servers[*]} " == *" tether "* ]] && run_deflate=1

(( ${#servers[@]} > 0 )) || { echo "run.sh: no server binary found" >&2; exit 1; }
scenarios=()
for s in $WS_SUBS; do scenarios+=("ws $s"); done
for s in $RAW_SUBS; do scenarios+=("ws-raw $s"); done
for s in $SSE_SUBS; do scenarios+=("sse $s"); done
log "servers: ${servers[*]}; DUR=${DUR}s REPS=$REPS WARMUP=${WARMUP}s WS_SUBS='$WS_SUBS' RAW_SUBS='$RAW_SUBS' SSE_SUBS='$SSE_SUBS'" \
    "SIZE=$SIZE WINDOW=$WINDOW BATCH=$BATCH; server on cpu $SERVER_CPU, fanout_load on cpu $CLIENT_CPU"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
for (( rep = 1; rep <= REPS; rep++ )); do
    for sc in "${scenarios[@]}"; do
        read -r mode subs <<<"$sc"
        mapfile -t order < <(in_turn "$rep" "${servers[@]}")
        for name in "${order[@]}"; do serves "$name" "$mode" && measure "$name" "$mode" "$subs" "$rep"; done
    done
    if (( run_deflate )); then for setting in off on; do measure_deflate "$setting" "$rep"; done; fi
done
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the hub's publish cost (Google Benchmark) -----------------------------------------------------------
publish_table=""
if (( PUBLISH_BENCH )); then
    pb=$(find_binary benchmarks/micro/hub_publish_bench)
    if [[ -x $pb ]]; then
        log "running $pb (publisher on cpu $SERVER_CPU; the live-reader variant's reader threads share that core)"
        if taskset -c "$SERVER_CPU" timeout -k 5 300 "$pb" --benchmark_min_time=0.5 >"$work_dir/publish.txt" 2>&1; then
            publish_table=$(grep -E '^(BM_|-|Benchmark)' "$work_dir/publish.txt" || true)
        else
            failures+=("hub_publish_bench failed (see log)")
            cat "$work_dir/publish.txt" >&2
        fi
    else
        loud "SKIPPING publish_bench: $pb is missing (Google Benchmark not found at configure time?)"
    fi
fi

# ---- report --------------------------------------------------------------------------------------------
summary() {
    awk -F'\t' -v f="$1" -v s="$2" -v m="$3" '$1 == s && $2 == m { print $f }' "$records" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%s %s %s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}
median() { summary "$@" | cut -d' ' -f1; }
fmt_int() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
boost_version=$(awk '/define BOOST_LIB_VERSION/ { gsub("\"", ""); print $3 }' /usr/include/boost/version.hpp 2>/dev/null || echo '?')
benchmark_version=$(dpkg-query -W -f='${Version}' libbenchmark-dev 2>/dev/null || echo '?')

report=$work_dir/report.md
{
    echo "# Fan-out: tether vs a naive Boost.Beast broadcast and the kernel floor (one topic, many subscribers)"
    echo
    echo "- command: \`DUR=$DUR REPS=$REPS WARMUP=$WARMUP WS_SUBS=\"$WS_SUBS\" RAW_SUBS=\"$RAW_SUBS\" SSE_SUBS=\"$SSE_SUBS\" SIZE=$SIZE WINDOW=$WINDOW BATCH=$BATCH THREADS=$THREADS SERVERS=\"$SERVERS\" STALL_TIMEOUT=$STALL_TIMEOUT DEFLATE_SUBS=\"$DEFLATE_SUBS\" PUBLISH_BENCH=$PUBLISH_BENCH $command_line\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none)" \
         "$(git -C "$repo_root" status --porcelain -- include benchmarks/fanout benchmarks/loadgen benchmarks/peers 2>/dev/null | grep -q . && echo '+ uncommitted changes in include/ or benchmarks/')"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r);" \
         "load average at start / end: $load_at_start / $load_at_end (2 cores: above ~2 means other work shared our cores)"
    echo "- tools: $(g++ --version | head -1), cmake $(cmake --version | head -1 | awk '{ print $3 }'), build type ${build_type:-unset}," \
         "Boost $boost_version (Beast), Google Benchmark $benchmark_version"
    echo "- load: \`taskset -c $CLIENT_CPU fanout_load ws|sse --subscribers S --size $SIZE --window $WINDOW --batch $BATCH --duration $DUR --warmup $WARMUP\`" \
         "(benchmarks/loadgen/fanout_load.cpp: one thread, epoll); servers \`taskset -c $SERVER_CPU <server> --threads $THREADS\`" \
         "(tether: benchmarks/fanout/fanout_server.cpp; naive: benchmarks/peers/naive_broadcast.cpp;" \
         "floor: benchmarks/peers/floor_fanout.cpp), a fresh process per run," \
         "$REPS repetition(s) interleaved"
    (( smoke )) && echo "- **smoke run**: 1 s, 1 repetition, 200 subscribers; a correctness check, not a measurement"
    echo
    echo "## Delivered frames"
    echo
    echo "Flow control: message i+$WINDOW is published only once every subscriber has message i, so neither server is"
    echo "ever asked to queue more than $WINDOW messages per subscriber and no loss is expected."
    echo
    echo "| server | scenario | delivered frames/s median (min–max) | server CPU µs/frame | server CPU busy | client CPU busy | messages/s | frames per client recv | latency p50 / p99 ms | lost (subscribers) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for sc in "${scenarios[@]}"; do
        read -r mode subs <<<"$sc"
        scenario="$mode $subs subscribers"
        for name in "${servers[@]}"; do
            serves "$name" "$mode" || continue
            read -r rate rate_min rate_max <<<"$(summary 4 "$name" "$scenario")" || true
            if [[ -n ${rate:-} ]]; then
                echo "| $name | $scenario | $(fmt_int "$rate") ($(fmt_int "$rate_min")–$(fmt_int "$rate_max")) |" \
                     "$(median 5 "$name" "$scenario") | $(median 6 "$name" "$scenario")% | $(median 7 "$name" "$scenario")% |" \
                     "$(fmt_int "$(median 12 "$name" "$scenario")") | $(median 13 "$name" "$scenario") |" \
                     "$(awk -v a="$(median 8 "$name" "$scenario")" -v b="$(median 9 "$name" "$scenario")" 'BEGIN { printf "%.1f / %.1f", a / 1000, b / 1000 }') |" \
                     "$(summary 10 "$name" "$scenario" | cut -d' ' -f3) ($(summary 11 "$name" "$scenario" | cut -d' ' -f3)) |"
            else
                echo "| $name | $scenario | FAILED (see log) | – | – | – | – | – | – | – |"
            fi
            rate=""
        done
    done
    echo
    echo "Ratios of medians (frames/s: >1 means tether delivers more; CPU: <1 means tether spends less per frame)."
    if [[ " ${servers[*]} " == *" naive "* ]]; then
    echo "Issue target: tether ≥ 3× naive's delivered frames/s at 1,000 WebSocket subscribers."
    echo
    echo "| scenario | frames/s tether/naive | CPU µs/frame tether/naive | target ≥ 3× |"
    echo "|---|---|---|---|"
    for sc in "${scenarios[@]}"; do
        read -r mode subs <<<"$sc"
        serves naive "$mode" || continue
        scenario="$mode $subs subscribers"
        r=$(ratio "$(median 4 tether "$scenario")" "$(median 4 naive "$scenario")")
        c=$(ratio "$(median 5 tether "$scenario")" "$(median 5 naive "$scenario")")
        met="–"
        if [[ $mode == ws && $subs == 1000 ]]; then
            met=$(awk -v r="$r" 'BEGIN { if (r == "n/a") print "n/a"; else print (r >= 3 ? "met" : "**missed**") }')
        fi
        echo "| $scenario | $r | $c | $met |"
    done
    fi
    if [[ " ${servers[*]} " == *" floor "* ]]; then
        echo
        echo "Against the kernel floor (peers/floor_fanout.cpp: what the kernel alone costs per delivered frame when each"
        echo "subscriber gets one send() per publish batch). Issue 17's goal: tether's CPU per frame ≤ 1.1× the floor's."
        echo "ws carries tether's envelope in every frame (tether, floor alike), ws-raw the bare body."
        echo
        echo "| scenario | frames/s tether/floor | CPU µs/frame tether/floor | goal ≤ 1.1× |"
        echo "|---|---|---|---|"
        for sc in "${scenarios[@]}"; do
            read -r mode subs <<<"$sc"
            serves floor "$mode" || continue
            scenario="$mode $subs subscribers"
            r=$(ratio "$(median 4 tether "$scenario")" "$(median 4 floor "$scenario")")
            c=$(ratio "$(median 5 tether "$scenario")" "$(median 5 floor "$scenario")")
            met=$(awk -v c="$c" 'BEGIN { if (c == "n/a") print "n/a"; else print (c <= 1.1 ? "met" : "**missed**") }')
            echo "| $scenario | $r | $c | $met |"
        done
    fi
    echo
    echo "- delivered frames/s: data messages received by all subscribers together per second of the measured window."
    echo "- server CPU µs/frame: utime + stime of the server (all threads, /proc/PID/stat, 10 ms ticks) over the window ÷"
    echo "  delivered frames; CPU busy: that CPU time ÷ wall time. Busy well under 100% means the server was not given"
    echo "  its whole core (the host was busy) or waited for the client: then compare µs/frame rather than frames/s."
    echo "- latency: receive time − publish time carried in the message (CLOCK_MONOTONIC). Under a closed window it is"
    echo "  mostly queueing: about WINDOW ÷ messages/s (Little's law), so it says how fast the window turns, not what one"
    echo "  message costs on an idle server."
    echo "- frames per client recv: how many frames the load generator got per recv(); ≈1 means the server sent one"
    echo "  frame per TCP write, more means it batched several messages per write."
    echo "- lost: sequence gaps summed over subscribers, worst repetition (subscribers with a gap in brackets)."
    if (( run_deflate )); then
        dsummary() {
            awk -F'\t' -v f="$1" -v s="$2" '$1 == s { print $f }' "$deflate_records" |
                sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
        }
        echo
        echo "## permessage-deflate: a JSON ticker to $DEFLATE_SUBS WebSocket subscribers (tether)"
        echo
        echo "\`fanout_load ws --subscribers $DEFLATE_SUBS --size $DEFLATE_SIZE --body ticker [--path /ws-deflate --deflate]\`:"
        echo "$DEFLATE_SIZE-byte JSON ticks (bench_message.hpp, make_ticker) inside tether's pubsub envelope, deflate off"
        echo "(\`/ws\`) and on (\`/ws-deflate\`, offered as browsers offer it). Each message is compressed once, with a fresh"
        echo "window, and the same frame is queued to every subscriber: compressions per publish come from the server's"
        echo "counters (GET /stats: ws_broadcast_compressions ÷ published during the run, warm-up and drain included)."
        echo "Medians of $REPS repetition(s)."
        echo
        echo "| deflate | delivered frames/s | server CPU µs/frame | client CPU busy | bytes on the wire per frame | compressions per publish | frames compressed |"
        echo "|---|---|---|---|---|---|---|"
        for setting in off on; do
            echo "| $setting | $(fmt_int "$(dsummary 3 "$setting")") | $(dsummary 4 "$setting") | $(dsummary 9 "$setting")% |" \
                 "$(dsummary 5 "$setting") | $(dsummary 6 "$setting") | $(fmt_int "$(dsummary 7 "$setting")") of $(fmt_int "$(dsummary 8 "$setting")") |"
        done
        echo
        echo "Ratios on / off: bytes on the wire $(ratio "$(dsummary 5 on)" "$(dsummary 5 off)"), server CPU per frame" \
             "$(ratio "$(dsummary 4 on)" "$(dsummary 4 off)"), frames/s $(ratio "$(dsummary 3 on)" "$(dsummary 3 off)")."
        echo "Delivered frames/s with deflate on is bounded by the load generator, which inflates every frame of every"
        echo "subscriber on its one core (client CPU busy), as each browser would for its own: compare server CPU per frame."
    fi
    if [[ -n $publish_table ]]; then
        echo
        echo "## Publish cost vs subscribers (benchmarks/hub/publish_bench.cpp, Google Benchmark)"
        echo
        echo "\`taskset -c $SERVER_CPU hub_publish_bench --benchmark_min_time=0.5\`: the cost of one topic::publish() (three wire"
        echo "formats encoded) with N subscribers on two reader groups; idle readers are never drained, live readers are"
        echo "drained by two threads (which share the publisher's core here). Flat across N is the O(1) claim."
        echo
        echo '```'
        echo "$publish_table"
        echo '```'
    fi
    failures_section
} >"$report"

finish_report "$report" 1
