#!/usr/bin/env bash
# Redis backplane benchmark (issue 15): tether nodes sharing topics through a real redis-server, with
# redis-benchmark on the same machine as the physical reference.
#   publish   - one node's publish throughput (benchmarks/backplane/publish_bench.cpp: a window of unanswered
#               publishes, each counted once Redis stored it) against redis-benchmark with one connection and a
#               pipeline running PUBLISH, and EVALSHA of the very same publish script (Redis' ceiling for this
#               work). Goal: ≥ 0.5× the EVALSHA rate (publishes are pipelined, never a round trip each).
#   delivered - 3 nodes (benchmarks/fanout/fanout_server.cpp --redis) × SUBS WebSocket subscribers each, one
#               publisher, flow-controlled like benchmarks/fanout (fanout_load --ports): delivered frames/s; with
#               one node and no backplane serving all 3×SUBS as the reference.
#   latency   - publish → deliver at RATE messages/s, subscribers only on the two nodes that do not publish
#               (LAT_SUBS each), against one node without a backplane (the in-process hub). Goal: cross-node
#               p99 < 2 ms at 10,000 messages/s. Beside it, the floor (floor_redis.cpp, hiredis alone, no tether
#               code): one process publishing tether's script at RATE, two subscribing to its channel, placed as the
#               cluster is: the latency this machine gives Redis pub/sub itself, which no backplane can beat.
# Redis and the nodes run pinned to SERVER_CPU, load generators and redis-benchmark to CLIENT_CPU: on two cores
# the cluster shares one core, so these are the numbers of a whole cluster on one core. The latency scenario
# runs a second time with the cluster free to use SPREAD_CPUS (both cores), as separate machines would give it
# more than one. Fresh processes per run, FLUSHALL between runs, REPS repetitions interleaved, medians
# (min–max). See benchmarks/README.md.
#
#   benchmarks/backplane/run.sh              # DUR=5 s, REPS=3; writes benchmarks/results/backplane.md
#   benchmarks/backplane/run.sh --smoke      # 1 s, 1 rep, few subscribers; non-zero exit on any failure
#
# Environment (defaults in brackets):
#   BUILD_DIR        use the binaries of this existing build [unset: build <repo>/build-bench]
#   DUR [5]  REPS [3]  WARMUP [1]
#   SUBS [1000]  WINDOW [64]  SIZE [64]      delivered: subscribers per node, flow-control window, body bytes
#   RATE [10000]  LAT_SUBS [10]              latency: messages/s, subscribers on each of the two other nodes
#   PUB_WINDOW [256]                         publish: unanswered publishes kept by publish_bench
#   RB_REQUESTS [500000]  PIPELINE [64]      redis-benchmark: requests per run, pipeline depth
#   SERVER_CPU [0]  CLIENT_CPU [1]  SPREAD_CPUS [0,1]
#   RESULTS [<repo>/benchmarks/results/backplane.md; with --smoke <repo>/benchmarks/results/backplane-smoke.md]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args backplane/run.sh "$@"

DUR=${DUR:-5}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
SUBS=${SUBS:-1000}
WINDOW=${WINDOW:-64}
SIZE=${SIZE:-64}
RATE=${RATE:-10000}
LAT_SUBS=${LAT_SUBS:-10}
PUB_WINDOW=${PUB_WINDOW:-256}
RB_REQUESTS=${RB_REQUESTS:-500000}
PIPELINE=${PIPELINE:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SPREAD_CPUS=${SPREAD_CPUS:-0,1}
if (( smoke )); then DUR=1; REPS=1; WARMUP=0; SUBS=50; LAT_SUBS=5; RATE=2000; RB_REQUESTS=20000; fi
if (( smoke )); then
    RESULTS=${RESULTS:-$repo_root/benchmarks/results/backplane-smoke.md}
else
    RESULTS=${RESULTS:-$repo_root/benchmarks/results/backplane.md}
fi

bench_init backplane/run.sh taskset cmake timeout awk curl redis-server redis-cli redis-benchmark
raise_fd_limit $(( 3 * SUBS ))
bench_build fanout_server fanout_load backplane_publish_bench backplane_floor_redis
server_binary() { find_binary benchmarks/fanout/fanout_server; }
fanout_load=$(find_binary benchmarks/fanout/fanout_load)
publish_bench=$(find_binary benchmarks/backplane/backplane_publish_bench)
floor_redis=$(find_binary benchmarks/backplane/backplane_floor_redis)
for b in "$fanout_load" "$publish_bench" "$floor_redis" "$(server_binary)"; do
    [[ -x $b ]] || { echo "run.sh: $b is missing (built with TETHER_WITH_REDIS?)" >&2; exit 1; }
done
failures=()

# ---- redis-server --------------------------------------------------------------------------------------
redis_port=""
redis_pid=""
start_redis() {
    local p attempt
    # Ports below Linux's ephemeral range (32768-60999): a port there can be the local end of some
    # client's connection (a load tool's, still closing), which a listener cannot bind even when
    # connecting to it is refused. And should the bind fail anyway, another port is tried.
    for attempt in 1 2 3 4 5; do
        for _ in $(seq 50); do   # a port nobody listens on (connecting is refused)
            p=$(( 10000 + RANDOM % 22000 ))
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then redis_port=$p; break; fi
        done
        taskset -c "$SERVER_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$work_dir" --daemonize no --logfile "$work_dir/redis.log" &
        redis_pid=$!
        track_pid "$redis_pid"
        for _ in $(seq 200); do
            [[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && return 0
            kill -0 "$redis_pid" 2>/dev/null || break   # it exited: the port was taken after all
            sleep 0.05
        done
        kill -0 "$redis_pid" 2>/dev/null && break   # running but not answering: no point trying another port
        wait "$redis_pid" 2>/dev/null || true
        forget_pid "$redis_pid"
        log "redis-server could not start on port $redis_port (attempt $attempt); trying another"
    done
    echo "run.sh: redis-server did not answer on port $redis_port" >&2
    cat "$work_dir/redis.log" >&2
    exit 1
}
redis_url() { echo "redis://127.0.0.1:$redis_port/0"; }
flush() { redis-cli -p "$redis_port" flushall >/dev/null; }

# ---- tether nodes: fanout_server processes, with or without the backplane ------------------------------
node_pids=()
node_ports=()
start_nodes() {   # start_nodes N [--redis URL]: pinned to SERVER_CPU (launch_server), or CLUSTER_CPUS if set
    local n=$1
    shift
    node_pids=()
    node_ports=()
    for (( i = 0; i < n; i++ )); do
        launch_server "node$i" --threads 1 "$@" || { failures+=("a node did not start"); return 1; }
        [[ -n ${CLUSTER_CPUS:-} ]] && taskset -a -p -c "$CLUSTER_CPUS" "$server_pid" >/dev/null
        node_pids+=("$server_pid")
        node_ports+=("$server_port")
    done
}
stop_nodes() {
    for pid in "${node_pids[@]}"; do server_pid=$pid; stop_server; done
    node_pids=()
}
join_ports() { local IFS=,; echo "$*"; }

field() { awk -v k="$1" '/^result / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print v }' "$2"; }
records=$work_dir/records.tsv
: >"$records"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$records"; }   # NAME METRIC VALUE

# ---- the scenarios ---------------------------------------------------------------------------------------
payload=$(printf '%*s' "$SIZE" '' | tr ' ' x)

redis_benchmark() {   # redis_benchmark NAME COMMAND...: one connection, pipelined; one subscriber on the channel
    local name=$1 out=$work_dir/rb-$1.csv sub_pid rps
    shift
    flush
    taskset -c "$CLIENT_CPU" redis-cli -p "$redis_port" subscribe 'tether:{rb}:0' >/dev/null &
    sub_pid=$!
    track_pid "$sub_pid"
    sleep 0.2
    if taskset -c "$CLIENT_CPU" timeout -k 5 300 redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 1 -P "$PIPELINE" \
        -n "$RB_REQUESTS" --csv "$@" >"$out" 2>"$out.err"; then
        rps=$(awk -F'"' 'NR == 2 { print $4 }' "$out")
        record "$name" rps "$rps"
        log "$(printf '%-22s %10.0f requests/s' "$name" "$rps")"
    else
        failures+=("redis-benchmark $name failed: $(tail -1 "$out.err")")
    fi
    kill "$sub_pid" 2>/dev/null || true
    wait "$sub_pid" 2>/dev/null || true
    forget_pid "$sub_pid"
}

measure_publish() {
    local out=$work_dir/publish.out rate
    flush
    if taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + WARMUP + 60 )) "$publish_bench" --redis "$(redis_url)" \
        --window "$PUB_WINDOW" --size "$SIZE" --duration "$DUR" --warmup "$WARMUP" >"$out" 2>"$out.err"; then
        rate=$(field publishes_per_s "$out")
        record tether_publish rps "$rate"
        record tether_publish cpu_us "$(field cpu_us_per_publish "$out")"
        log "$(printf '%-22s %10.0f publishes/s stored' "tether publish_bench" "$rate")"
    else
        failures+=("publish_bench failed: $(tail -1 "$out.err")")
        cat "$out.err" >&2
    fi
}

fanout() {   # fanout NAME OUT ARGS...: one fanout_load run against the nodes started; records its numbers
    local name=$1 out=$2 rc=0 pid
    shift 2
    taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + WARMUP + 300 )) "$fanout_load" ws --size "$SIZE" \
        --duration "$DUR" --warmup "$WARMUP" "$@" >"$out" 2>"$out.err" &
    pid=$!
    track_pid "$pid"
    wait "$pid" || rc=$?
    forget_pid "$pid"
    if (( rc != 0 )); then
        failures+=("$name: fanout_load exited with $rc ($(field errors "$out") errors)")
        cat "$out.err" >&2
        return
    fi
    for k in frames_per_s msgs_per_s p50_us p99_us lost; do record "$name" "$k" "$(field "$k" "$out")"; done
    log "$(printf '%-22s %10s frames/s %8s msgs/s  p50 %s us  p99 %s us  lost %s' "$name" "$(field frames_per_s "$out")" \
        "$(field msgs_per_s "$out")" "$(field p50_us "$out")" "$(field p99_us "$out")" "$(field lost "$out")")"
}

floor_latency() {   # floor_latency NAME CPUS: floor_redis, two subscribers and a publisher at RATE, all on CPUS
    local name=$1 cpus=$2 pids=() pid rc=0 i
    flush
    for i in 1 2; do
        taskset -c "$cpus" timeout -k 5 $(( DUR + 60 )) "$floor_redis" sub --port "$redis_port" --duration "$DUR" \
            >"$work_dir/$name-sub$i.out" 2>&1 &
        pids+=($!)
        track_pid "$!"
    done
    for _ in $(seq 100); do   # both subscribed before the first message
        grep -qs subscribed "$work_dir/$name-sub1.out" && grep -qs subscribed "$work_dir/$name-sub2.out" && break
        sleep 0.05
    done
    taskset -c "$cpus" timeout -k 5 $(( DUR + 60 )) "$floor_redis" pub --port "$redis_port" --rate "$RATE" \
        --duration "$(( DUR + 1 ))" --size "$SIZE" --sha "$sha" >"$work_dir/$name-pub.out" 2>&1 || rc=$?
    for pid in "${pids[@]}"; do
        wait "$pid" || rc=$?
        forget_pid "$pid"
    done
    if (( rc != 0 )); then
        failures+=("$name: floor_redis failed ($(tail -c 200 "$work_dir/$name-pub.out" "$work_dir/$name"-sub*.out | tr '\n' ' '))")
        return
    fi
    for i in 1 2; do   # each subscriber is one sample: the median over both and the repetitions
        for k in p50_us p99_us; do record "$name" "$k" "$(field "$k" "$work_dir/$name-sub$i.out")"; done
        record "$name" msgs_per_s "$(awk -v n="$(field received "$work_dir/$name-sub$i.out")" -v d="$DUR" 'BEGIN { printf "%.0f", n / d }')"
    done
    log "$(printf '%-22s p50 %s/%s us  p99 %s/%s us' "$name" "$(field p50_us "$work_dir/$name-sub1.out")" \
        "$(field p50_us "$work_dir/$name-sub2.out")" "$(field p99_us "$work_dir/$name-sub1.out")" "$(field p99_us "$work_dir/$name-sub2.out")")"
}

measure_cluster() {
    flush
    start_nodes 3 --redis "$(redis_url)" || return
    fanout cluster_delivered "$work_dir/cluster.out" --port "${node_ports[0]}" --ports "$(join_ports "${node_ports[@]}")" \
        --subscribers $(( 3 * SUBS )) --window "$WINDOW" --server-pid "${node_pids[0]}"
    flush
    fanout cluster_latency "$work_dir/cluster-lat.out" --port "${node_ports[0]}" --ports "${node_ports[1]},${node_ports[2]}" \
        --subscribers $(( 2 * LAT_SUBS )) --window 2048 --rate "$RATE"
    stop_nodes
    floor_latency floor_latency "$SERVER_CPU"
    start_nodes 1 || return
    fanout single_delivered "$work_dir/single.out" --port "${node_ports[0]}" --subscribers $(( 3 * SUBS )) \
        --window "$WINDOW" --server-pid "${node_pids[0]}"
    fanout single_latency "$work_dir/single-lat.out" --port "${node_ports[0]}" --subscribers $(( 2 * LAT_SUBS )) \
        --window 2048 --rate "$RATE"
    stop_nodes
    # The same cross-node latency with the cluster (Redis too) spread over SPREAD_CPUS.
    taskset -a -p -c "$SPREAD_CPUS" "$redis_pid" >/dev/null
    flush
    CLUSTER_CPUS=$SPREAD_CPUS start_nodes 3 --redis "$(redis_url)" || return
    fanout spread_latency "$work_dir/spread-lat.out" --port "${node_ports[0]}" --ports "${node_ports[1]},${node_ports[2]}" \
        --subscribers $(( 2 * LAT_SUBS )) --window 2048 --rate "$RATE"
    stop_nodes
    floor_latency floor_spread "$SPREAD_CPUS"
    taskset -a -p -c "$SERVER_CPU" "$redis_pid" >/dev/null
}

start_redis
sha=$(redis-cli -p "$redis_port" script load "$("$publish_bench" --print-script)")
log "redis-server on port $redis_port (cpu $SERVER_CPU); publish script $sha; DUR=${DUR}s REPS=$REPS SUBS=$SUBS RATE=$RATE"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
for (( rep = 1; rep <= REPS; rep++ )); do
    redis_benchmark publish_cmd PUBLISH 'tether:{rb}:0' "$payload"
    redis-cli -p "$redis_port" script load "$("$publish_bench" --print-script)" >/dev/null   # FLUSHALL keeps it; be sure
    # One message per script (ARGV: candidate epoch, floor, max entries, max bytes, channel, conflating,
    # then body and key), as a node sends it when its topic is idle.
    redis_benchmark evalsha EVALSHA "$sha" 3 'tether:{rb}:meta' 'tether:{rb}:stream' 'tether:{rb}:latest' \
        00c0ffee00c0ffee 0 4096 0 'tether:{rb}:0' 0 "$payload" ''
    measure_publish
    measure_cluster
done
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report --------------------------------------------------------------------------------------------
summary() {   # summary NAME METRIC: "median min max"
    awk -F'\t' -v n="$1" -v m="$2" '$1 == n && $2 == m && $3 != "" { print $3 }' "$records" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%s %s %s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}
median() { summary "$1" "$2" | cut -d' ' -f1; }
cell() {   # cell NAME METRIC [SCALE]: "median (min–max)"
    local s
    s=$(summary "$1" "$2")
    [[ -n $s ]] || { echo "FAILED"; return; }
    awk -v s="$s" -v k="${3:-1}" 'BEGIN { split(s, v, " "); printf "%.0f (%.0f–%.0f)", v[1] / k, v[2] / k, v[3] / k }'
}
ms() { awk -v x="$(median "$1" "$2")" 'BEGIN { if (x == "") print "–"; else printf "%.2f", x / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

pub_ratio=$(ratio "$(median tether_publish rps)" "$(median evalsha rps)")
lat_p99=$(median cluster_latency p99_us)
spread_p99=$(median spread_latency p99_us)
target() { awk -v p="$1" 'BEGIN { if (p == "") print "n/a"; else print (p < 2000 ? "p99 < 2 ms: met" : "p99 < 2 ms: **missed**") }'; }
reachable() { awk -v p="$1" 'BEGIN { if (p == "") print "n/a"; else print (p < 2000 ? "p99 < 2 ms reachable: yes" : "p99 < 2 ms reachable: **no**") }'; }
report=$work_dir/report.md
{
    echo "# Redis backplane: 3 nodes, one Redis, redis-benchmark as the reference"
    echo
    echo "- command: \`DUR=$DUR REPS=$REPS WARMUP=$WARMUP SUBS=$SUBS WINDOW=$WINDOW SIZE=$SIZE RATE=$RATE LAT_SUBS=$LAT_SUBS PUB_WINDOW=$PUB_WINDOW RB_REQUESTS=$RB_REQUESTS PIPELINE=$PIPELINE $command_line\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r);" \
         "load average at start / end: $load_at_start / $load_at_end"
    echo "- tools: $(redis-server --version | cut -d' ' -f1-3), $(redis-benchmark --version 2>/dev/null | head -1 || echo redis-benchmark), build type ${build_type:-unset}"
    echo "- placement: redis-server and every tether node on cpu $SERVER_CPU (a whole cluster on one core), fanout_load," \
         "publish_bench and redis-benchmark on cpu $CLIENT_CPU; $REPS repetition(s), fresh node processes and FLUSHALL per run"
    (( smoke )) && echo "- **smoke run**: 1 s, 1 repetition, few subscribers; a correctness check, not a measurement"
    echo
    echo "## Publish throughput from one node"
    echo
    echo "One connection to Redis in every row. redis-benchmark: \`redis-benchmark -c 1 -P $PIPELINE -n $RB_REQUESTS\`"
    echo "with one subscriber on the channel (as a node is); EVALSHA runs tether's publish script (scripts.hpp) with the"
    echo "same arguments a node sends. tether: \`publish_bench --window $PUB_WINDOW --size $SIZE\`, each publish counted"
    echo "when Redis answered with its id, while the node also ingests every message back from the channel."
    echo
    echo "| publisher | publishes/s median (min–max) | ratio to EVALSHA | target |"
    echo "|---|---|---|---|"
    echo "| redis-benchmark PUBLISH | $(cell publish_cmd rps) | $(ratio "$(median publish_cmd rps)" "$(median evalsha rps)") | – |"
    echo "| redis-benchmark EVALSHA (the publish script) | $(cell evalsha rps) | 1.00 | – |"
    echo "| tether node (backplane::submit) | $(cell tether_publish rps) | $pub_ratio |" \
         "$(awk -v r="$pub_ratio" 'BEGIN { if (r == "n/a") print "n/a"; else print (r >= 0.5 ? "≥ 0.5: met" : "≥ 0.5: **missed**") }') |"
    echo
    echo "CPU of the publishing node per stored publish (both threads, includes ingesting it back): $(median tether_publish cpu_us) µs."
    echo
    echo "## Delivered messages: 3 nodes × $SUBS WebSocket subscribers"
    echo
    echo "One publisher (node 1's publish trigger), flow-controlled: message i+$WINDOW is published once every subscriber"
    echo "on every node has message i (\`fanout_load ws --ports A,B,C --subscribers $(( 3 * SUBS )) --window $WINDOW\`)."
    echo
    echo "| setup | delivered frames/s median (min–max) | messages/s | latency p50 / p99 ms | lost | ratio to one node |"
    echo "|---|---|---|---|---|---|"
    echo "| 3 nodes + Redis, $SUBS subscribers each | $(cell cluster_delivered frames_per_s) | $(cell cluster_delivered msgs_per_s) |" \
         "$(ms cluster_delivered p50_us) / $(ms cluster_delivered p99_us) | $(summary cluster_delivered lost | cut -d' ' -f3) |" \
         "$(ratio "$(median cluster_delivered frames_per_s)" "$(median single_delivered frames_per_s)") |"
    echo "| 1 node, no backplane, $(( 3 * SUBS )) subscribers | $(cell single_delivered frames_per_s) | $(cell single_delivered msgs_per_s) |" \
         "$(ms single_delivered p50_us) / $(ms single_delivered p99_us) | $(summary single_delivered lost | cut -d' ' -f3) | 1.00 |"
    echo
    echo "## Publish → deliver latency at $RATE messages/s"
    echo
    echo "Published on node 1, received by $LAT_SUBS subscribers on each of nodes 2 and 3 (\`fanout_load --rate $RATE"
    echo "--ports B,C\`): publish time in the body to receive time, CLOCK_MONOTONIC on one machine. The reference is one"
    echo "node without a backplane (the in-process hub) with the same subscribers and rate."
    echo
    echo "| path | p50 ms | p99 ms | messages/s | target |"
    echo "|---|---|---|---|---|"
    echo "| node 1 → Redis → nodes 2, 3; the cluster on cpu $SERVER_CPU | $(ms cluster_latency p50_us) | $(ms cluster_latency p99_us) | $(cell cluster_latency msgs_per_s) | $(target "$lat_p99") |"
    echo "| node 1 → Redis → nodes 2, 3; the cluster on cpus $SPREAD_CPUS | $(ms spread_latency p50_us) | $(ms spread_latency p99_us) | $(cell spread_latency msgs_per_s) | $(target "$spread_p99") |"
    echo "| floor: Redis pub/sub alone (floor_redis: the script, 2 subscribers), cpu $SERVER_CPU | $(ms floor_latency p50_us) | $(ms floor_latency p99_us) | $(cell floor_latency msgs_per_s) | $(reachable "$(median floor_latency p99_us)") |"
    echo "| floor: Redis pub/sub alone, cpus $SPREAD_CPUS | $(ms floor_spread p50_us) | $(ms floor_spread p99_us) | $(cell floor_spread msgs_per_s) | $(reachable "$(median floor_spread p99_us)") |"
    echo "| in-process hub (one node, cpu $SERVER_CPU) | $(ms single_latency p50_us) | $(ms single_latency p99_us) | $(cell single_latency msgs_per_s) | – |"
    echo
    echo "- The floor rows are the same Redis work with no tether code (benchmarks/backplane/floor_redis.cpp): one"
    echo "  hiredis connection publishing the script at $RATE/s, two subscribing, placed as the cluster was. Where the"
    echo "  floor's own p99 misses 2 ms, the target is out of this machine's reach; tether's p99 minus the floor's is"
    echo "  what the nodes add (the WebSocket hop to node 1, its queue, node 2's ring and fan-out, the client's read)."
    echo "- redis-benchmark's rate is Redis alone answering one pipelined connection: the most any client could get."
    echo "  A node does more per message than redis-benchmark does: it formats and sends the command, parses the"
    echo "  answer, completes the caller's handler, and receives, parses and encodes the message again (four wire formats)"
    echo "  when it comes back on the channel; all of that on one backplane thread."
    echo "- With every process of the cluster on one core, the delivered rate is the cluster's, not one node's: three"
    echo "  nodes and Redis share the core that a single node has to itself in the reference row."
    failures_section
} >"$report"

finish_report "$report" 1
