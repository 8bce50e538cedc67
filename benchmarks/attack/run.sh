#!/usr/bin/env bash
# Hostile clients (issue 16): every attack of the issue, one at a time, each against a fresh example server,
# while a normal client keeps asking for a small page. Per attack it reports the server's RSS (baseline before
# the attack, peak during it, after it), how many of the normal client's requests were served and their latency,
# and what the attacker saw (statuses, Close codes, resets, closes). The goal the issue sets: no attack raises
# RSS by more than its documented budget, and the normal client's p99 stays under 50 ms; each attack also checks
# the behaviour the issue asks for under it (see unmet() in loadgen/attacks_*.hpp).
#
# The load generator is benchmarks/loadgen/attack_load.cpp (its opening comment describes every attack). It
# knows nothing of tether: it speaks HTTP/1.1 and WebSocket from its own few lines. The server is pinned to
# SERVER_CPU, the tool to CLIENT_CPU; every process is stopped by its PID when the script ends.
#
#   benchmarks/attack/run.sh                 # 10 s per attack, writes benchmarks/results/attack.md (~5 min)
#   ATTACKS="chunk-ext flood" benchmarks/attack/run.sh
#   benchmarks/attack/run.sh --smoke         # 1.5 s per attack, small counts: a check that the tool works
#
# Environment (defaults in brackets):
#   BUILD_DIR        use the binaries of this existing build instead of building [unset: build <repo>/build-bench]
#   ATTACK_DUR [10]  ATTACK_QUIET [1]  ATTACK_AFTER [1]   seconds of attack, of the normal client alone before
#                    it (baseline), and after it (RSS after); --smoke: 1.5, 0.3, 0.3. (Not DUR: benchmarks/run
#                    sets that for the throughput scenarios, and an attack needs longer than a throughput run.)
#   ATTACKS [all, in the issue's order]   a subset, by name (see the table below)
#   NORMAL_RATE [50]  NORMAL_DEADLINE_MS [1000]   the normal client's requests per second and deadline
#   SSE_STALL_DUR [50]                   seconds of the sse-stall attack: longer than the kernel takes to fill
#                    a stream's send buffer at the publish rate (tcp_wmem's 4 MiB at 500 KB/s: ~8 s) plus the
#                    servers' 30 s stalled-writer timeout (send_timeout), so a stream dropped by it shows
#   RSS_LIMIT_MIB [4096; smoke 1024]     an attack stops early when the server's RSS passes this
#   SERVER_HOST [127.0.0.1]              the address the examples bind and the attacker connects to. A server
#                    may exempt loopback peers from its per-address caps (tether does by default), so on 127.0.0.1
#                    the flood meets only the server-wide caps; give this host's non-loopback address (hostname -I)
#                    to attack as a remote peer would. The normal client connects from 127.0.0.2 either way.
#                    (The examples then listen on that interface for the run.)
#   SERVER_FD_LIMIT [1024]               the servers' soft descriptor limit (the usual default of a login
#                    shell), so the connection flood meets the limit a default deployment has
#   SERVER_CPU [0]  CLIENT_CPU [1]       cores for taskset: the server, and attack_load
#   NORMAL_CPU [SERVER_CPU]              the core of the normal client's thread: not the attacker's, whose
#                    network backlog (loopback packets are processed on the sending core) would delay it
#   RESULTS [<repo>/benchmarks/results/attack.md; with --smoke, only when set]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args attack/run.sh "$@"

results_given=${RESULTS:+1}
DUR=${ATTACK_DUR:-10}
QUIET=${ATTACK_QUIET:-1}
AFTER=${ATTACK_AFTER:-1}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-4096}
SSE_STALL_DUR=${SSE_STALL_DUR:-50}
if (( smoke )); then DUR=1.5; QUIET=0.3; AFTER=0.3; RSS_LIMIT_MIB=1024; SSE_STALL_DUR=$DUR; fi
NORMAL_RATE=${NORMAL_RATE:-50}
NORMAL_DEADLINE_MS=${NORMAL_DEADLINE_MS:-1000}
SERVER_FD_LIMIT=${SERVER_FD_LIMIT:-1024}
SERVER_HOST=${SERVER_HOST:-127.0.0.1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NORMAL_CPU=${NORMAL_CPU:-$SERVER_CPU}
RESULTS=${RESULTS:-$repo_root/benchmarks/results/attack.md}

# The attacks, in the issue's order: name | example | the normal client's path | attack_load arguments |
# the same in a smoke run (a --duration here overrides ATTACK_DUR). hello serves /plaintext; hybrid publishes on
# one topic, "news", and serves it over /ws, SSE, long and short polling (@poll: its long-poll path, see
# hybrid_routes); notifications_web is an example that serves /tether.js.
attack_table=(
    "chunk-ext|hello|/plaintext||--connections 2"
    "pipeline-static|notifications_web|/poll/notifications|--path /tether.js|--path /tether.js --connections 2 --requests 200"
    "pipeline-poll|hybrid|@poll|--payload plain|--payload plain --history 32 --connections 2 --requests 2"
    "sub-churn|hybrid|@poll||--requests 20000"
    "history|hybrid|@poll||--connections 1 --requests 40"
    "flood|hybrid|@poll|--normal-fresh|--normal-fresh --websockets 200 --connections 200"
    "stalled-body|hybrid|@poll||--connections 20"
    "sse-stall|hybrid|@poll|--duration $SSE_STALL_DUR|--duration $SSE_STALL_DUR --connections 20 --rate 100"
    "slowloris-fin|hello|/plaintext||--connections 50"
    "ws-fin|hybrid|@poll||--connections 20"
    "ws-oversize|hybrid|@poll||--connections 2"
    "bad-host|hello|/plaintext||--rate 200"
    "publish-flood|hybrid|@poll||--requests 20000"
)
# What each attack tests, for the report.
declare -A what=(
    [chunk-ext]="1. chunked body of 1-byte chunks with ~4 KB extensions"
    [pipeline-static]="2. pipelined GET /tether.js, never read"
    [pipeline-poll]="2. pipelined short polls from an old cursor, never read"
    [sub-churn]="3. subscribe/unsubscribe churn on one WebSocket"
    [history]="4. 64 KiB publishes (or the largest the route takes), back to back"
    [flood]="5. connection flood: WebSockets + idle connections"
    [stalled-body]="6. 1 MiB bodies minus one byte, stalled"
    [sse-stall]="7. SSE streams that never read, busy topic"
    [slowloris-fin]="8. partial header + FIN"
    [ws-fin]="8. WebSocket message + FIN"
    [ws-oversize]="9. 2 MiB WebSocket message (limit below)"
    [bad-host]="10. bad Host, absolute-form, high-bit target"
    [publish-flood]="11. publish flood over WebSocket pubsub"
)
# The RSS budget (MiB) each attack must stay within: the documented limits that bound what it can make the
# server hold (README, "Budgets: what one client can make the server hold"), at the full run's counts (a smoke
# run's smaller counts stay within them). Empty: no byte budget bounds that attack (its caps are counts, or it
# makes the server hold nothing); the goal column then judges latency only.
declare -A budget_mib=(
    [chunk-ext]=64         # max_buffered_request_bytes (64 MiB, all unfinished requests); metadata 16 KiB per body
    [pipeline-static]=18   # 8 connections x (1 MiB of unsent responses in a buffer of up to 2 MiB, as strings grow by
                           # doubling, + the 256 KiB read in the turn that crossed it); later requests wait unparsed
    [pipeline-poll]=26     # 8 connections x (the same 2.25 MiB + one answer of at most max_batch_bytes, 1 MiB)
    [sub-churn]=1          # one WebSocket: max_buffered_bytes (1 MiB); max_subscriptions (256 topics)
    [history]=64           # topic_options::max_history_bytes (64 MiB for the one topic)
    [flood]=""             # capped by count (max_connections, per address, streams), not by bytes
    [stalled-body]=66      # max_buffered_request_bytes (64 MiB) + 2 MiB for the 500 connections' own state and buffers
    [sse-stall]=200        # 200 streams x max_buffered_bytes (1 MiB); send_timeout (30 s) drops them
    [slowloris-fin]=64     # max_buffered_request_bytes (64 MiB); a FIN after a partial request closes at once
    [ws-fin]=""            # nothing held: the FIN closes the connection
    [ws-oversize]=2        # 20 connections x pubsub max_message_size (64 KiB), refused at the frame header
    [bad-host]=""          # nothing held: 400 and close
    [publish-flood]=64     # max_history_bytes (64 MiB for the topic); max_publish_rate (50/s, burst 100)
)
all_attacks=$(printf '%s\n' "${attack_table[@]}" | cut -d'|' -f1 | tr '\n' ' ')
ATTACKS=${ATTACKS:-$all_attacks}

bench_init attack/run.sh taskset cmake curl
bench_build hello hybrid notifications_web attack_load

# Each server runs through a wrapper that sets its soft descriptor limit and then execs it (same PID).
mkdir -p "$work_dir/bin"
server_binary() {
    local real wrapper=$work_dir/bin/$1
    if [[ ! -x $wrapper ]]; then
        real=$(find_binary "examples/$1")
        printf '#!/bin/sh\nulimit -S -n %s 2>/dev/null\nexec %q "$@"\n' "$SERVER_FD_LIMIT" "$real" >"$wrapper"
        chmod +x "$wrapper"
        [[ -x $real ]] || { rm -f "$wrapper"; echo "$real"; return; }
    fi
    echo "$wrapper"
}
attack_load=$(find_binary benchmarks/attack/attack_load)
[[ -x $attack_load ]] || { echo "run.sh: $attack_load is missing" >&2; exit 1; }

failures=()
records=$work_dir/records.tsv
: >"$records"
server_pid=""
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# hybrid_routes: sets route_args to the routes the running hybrid has. Its first layout published at
# POST /api/publish and served /events, /poll and /status; with app.realtime() (tether.js's own routes) they
# are /api/publish/news, /sse/news, /poll/news and /status/news. A long poll without cursor answers at once,
# so GET /poll/news tells them apart.
hybrid_routes() {
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$SERVER_HOST:$server_port/poll/news" || true)
    if [[ $code == 200 ]]; then
        route_args=(--publish-path /api/publish/news --sse-path /sse/news --poll-path /poll/news --status-path /status/news)
    else
        route_args=(--publish-path /api/publish --sse-path /events --poll-path /poll --status-path /status)
    fi
}

# run_attack NAME EXAMPLE NORMAL_PATH ARGS...: a fresh server, the attack, the server stopped; appends a record.
run_attack() {
    local name=$1 example=$2 normal_path=$3 out rc=0 code
    shift 3
    if ! launch_server "$example" --threads 1 --host "$SERVER_HOST"; then
        failures+=("$name: $example did not start")
        return
    fi
    route_args=()
    if [[ $example == hybrid ]]; then
        hybrid_routes
        [[ $normal_path == @poll ]] && normal_path=${route_args[5]}
    fi
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$SERVER_HOST:$server_port$normal_path" || true)
    if [[ $code != 200 ]]; then
        failures+=("$name: $example answered GET $normal_path with ${code:-nothing}, not 200")
        stop_server
        return
    fi
    out=$work_dir/$name.out
    local cmd=(taskset -c "$CLIENT_CPU" timeout -k 5 "$(awk -v d="$DUR" 'BEGIN { printf "%d", d + 180 }')"
               "$attack_load" "$name" --host "$SERVER_HOST" --port "$server_port" --server-pid "$server_pid" --duration "$DUR"
               --quiet "$QUIET" --after "$AFTER" --normal-path "$normal_path" --normal-rate "$NORMAL_RATE"
               --normal-deadline-ms "$NORMAL_DEADLINE_MS" --normal-cpu "$NORMAL_CPU" --rss-limit-mib "$RSS_LIMIT_MIB" "${route_args[@]}" "$@")
    log "$name: $example on port $server_port (pid $server_pid)"
    "${cmd[@]}" >"$out" 2>"$work_dir/$name.err" || rc=$?
    if ! kill -0 "$server_pid" 2>/dev/null || grep -q ' stopped=server-died ' "$out"; then
        failures+=("$name: the server ($example) died; its last output: $(tail -c 300 "$server_log" | tr '\n' ' ')")
    fi
    stop_server
    if (( rc != 0 )) || ! grep -q '^result ' "$out"; then
        failures+=("$name: attack_load exited with $rc: $(tail -c 400 "$work_dir/$name.err" | tr '\n' ' ')")
        return
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$example" "$normal_path" "$(grep -m1 '^result ' "$out")" \
        "$(grep -m1 '^failures ' "$out" | cut -d' ' -f2-)" "$(grep -m1 '^outcome ' "$out" | cut -d' ' -f2-)" \
        "$(grep -m1 '^unmet' "$out" | cut -s -d' ' -f2-)" >>"$records"
    log "$(grep -m1 '^attack_load: '"$name"': RSS' "$work_dir/$name.err" | cut -d' ' -f3- | cut -c1-300)"
}

log "attacks: $ATTACKS; DUR=${DUR}s QUIET=${QUIET}s AFTER=${AFTER}s; normal client ${NORMAL_RATE}/s, deadline ${NORMAL_DEADLINE_MS} ms;"\
    "server on cpu $SERVER_CPU (soft descriptor limit $SERVER_FD_LIMIT), attack_load on cpu $CLIENT_CPU"
for name in $ATTACKS; do
    row=$(printf '%s\n' "${attack_table[@]}" | awk -F'|' -v n="$name" '$1 == n' || true)
    [[ -n $row ]] || { echo "run.sh: unknown attack '$name' (known: $all_attacks)" >&2; exit 2; }
    IFS='|' read -r _ example normal_path full_args smoke_args <<<"$row"
    if (( smoke )); then args=$smoke_args; else args=$full_args; fi
    # shellcheck disable=SC2086   # the table's arguments are words
    run_attack "$name" "$example" "$normal_path" $args
done

# ---- report --------------------------------------------------------------------------------------------
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }   # field RESULT-LINE KEY
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

report=$work_dir/report.md
{
    echo "# Hostile clients: one attack at a time against a fresh server (issue 16)"
    echo
    echo "- command: \`ATTACK_DUR=$DUR ATTACK_QUIET=$QUIET ATTACK_AFTER=$AFTER NORMAL_RATE=$NORMAL_RATE SERVER_FD_LIMIT=$SERVER_FD_LIMIT SERVER_HOST=$SERVER_HOST $command_line\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$repo_root" diff --quiet HEAD -- include examples benchmarks 2>/dev/null || echo ' + uncommitted changes')"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r);"\
         "load average at start / end: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- tools: $(g++ --version | head -1), build type ${build_type:-unset}"
    echo "- method: a fresh server per attack (\`taskset -c $SERVER_CPU <example> --threads 1 --host $SERVER_HOST\`, soft descriptor limit"\
         "$SERVER_FD_LIMIT); \`taskset -c $CLIENT_CPU attack_load <attack>\` runs the attack's setup, then the normal"\
         "client alone for ${QUIET} s (baseline RSS), then the attack for ${DUR} s (sse-stall: ${SSE_STALL_DUR} s, past the"\
         "servers' 30 s stalled-writer timeout), then closes every attacking socket and"\
         "waits ${AFTER} s (RSS after). RSS is the server's VmRSS sampled every 50 ms (peak: the highest sample, or VmHWM"\
         "when it rose during the attack). The normal client (its own thread, on cpu $NORMAL_CPU) sends GET <normal path> ${NORMAL_RATE} times a second on one"\
         "keep-alive connection from 127.0.0.2 (flood: a new connection per request; the attacker uses 127.0.0.1); latency counts from each request's due time, and"\
         "a request not answered 2xx within ${NORMAL_DEADLINE_MS} ms is not served. An attack stops early when the"\
         "server's RSS passes ${RSS_LIMIT_MIB} MiB."
    echo "- goal (issue 16): Δ RSS within the attack's documented budget, the normal client's p99 under 50 ms with"\
         "at most 1 % of its requests unserved, and the behaviour the issue asks for under that attack (400 for a bad"\
         "Host, the 1009 Close frame rather than a reset, a close within 1 s of a FIN, 1008 from the rate limits, a"\
         "stalled stream dropped after send_timeout, a refused chunked body, the soft descriptor limit raised)."
    (( smoke )) && echo "- **smoke run**: ${DUR} s per attack and small counts; a check that the tool works, not a measurement"
    echo
    echo "| attack | target (normal path) | budget MiB | RSS baseline / peak / after MiB | Δ MiB | normal served | normal p50 / p99 / max ms (p99 before the attack) | goal | attacker saw |"
    echo "|---|---|---|---|---|---|---|---|---|"
    while IFS=$'\t' read -r name example normal_path result why outcome unmet; do
        baseline=$(field "$result" baseline_kib); peak=$(field "$result" peak_kib); after=$(field "$result" after_kib)
        delta=$(field "$result" delta_kib); served=$(field "$result" served); attempted=$(field "$result" attempted)
        p50=$(field "$result" p50_ms); p99=$(field "$result" p99_ms); max=$(field "$result" max_ms)
        stopped=$(field "$result" stopped); budget=${budget_mib[$name]:-}
        normal="$served/$attempted"
        [[ $why != none ]] && normal+=" (unserved: $why)"
        goal=$(awk -v s="$served" -v a="$attempted" -v p="$p99" -v d="$delta" -v b="$budget" -v st="$stopped" \
                   -v u="$unmet" 'BEGIN {
            lat = (a > 0 && (a - s) <= a / 100 && p != "n/a" && p + 0 < 50)
            if (b == "") rss = -1; else rss = (st != "rss-limit" && d / 1024 <= b + 0)
            n = 0
            if (!lat) missed[++n] = "p99"
            if (rss == 0) missed[++n] = "RSS"
            if (u != "") missed[++n] = "behaviour (" u ")"
            if (n == 0) out = "met"
            else { out = "**missed**: " missed[1]; for (i = 2; i <= n; ++i) out = out ", " missed[i] }
            if (rss == -1) out = out " (no byte budget)"
            print out }')
        note=""
        [[ $stopped == rss-limit ]] && note="**stopped after $(field "$result" duration_s) s: RSS over $RSS_LIMIT_MIB MiB**; "
        [[ $stopped == server-died ]] && note="**the server died after $(field "$result" duration_s) s**; "
        echo "| ${what[$name]:-$name} (\`$name\`) | $example ($normal_path) | ${budget:-—} | $(mib "$baseline") / $(mib "$peak") / $(mib "$after") | $(mib "$delta") | $normal | $p50 / $p99 / $max ($(field "$result" quiet_p99_ms)) | $goal | $note$outcome |"
    done <"$records"
    echo
    echo "The p99 in brackets is the normal client's alone, in the ${QUIET} s before the attack: on a shared machine it shows"
    echo "how much of a row's latency the machine's other work accounts for."
    shared=$(while IFS=$'\t' read -r name _ _ result _ _; do
                 if [[ $(field "$result" normal_source) == default ]]; then printf '%s ' "$name"; fi; done <"$records")
    if [[ -n $shared ]]; then
        echo "**The normal client could not bind 127.0.0.2 and shared the attacker's address in: ${shared% }.**"
    fi
    echo "CLOSE-WAIT is counted from /proc/net/tcp: the server's sockets on its port whose peer sent FIN and which the"
    echo "server has not closed. \"server closed N (FIN)\" counts the attacker's connections that saw EOF, \"reset\" those"
    echo "that saw ECONNRESET; idle connections of the flood count as held once TCP-connected, accepted or not (a server"
    echo "out of descriptors leaves them in its listen backlog)."
    failures_section
} >"$report"

finish_report "$report" "$(( ! smoke || ${#results_given} > 0 ))"
