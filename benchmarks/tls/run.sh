#!/usr/bin/env bash
# TLS benchmark: tether against nginx (Debian nginx-light, `return 200`, one process) and Boost.Beast's
# ssl_stream (peers/beast_tls.cpp), side by side, with one RSA-2048 certificate made here for all of them.
#   keepalive  HTTPS keep-alive GET /plaintext with wrk (64 connections): requests/s, server CPU µs/request
#   handshake  new connections/s with a full handshake, and with a resumed one (session ticket), each with one
#              request (benchmarks/loadgen/tls_load.cpp, 16 in flight): rate and server CPU µs/connection
#   idle       user-space memory per idle connection, 10,000 open: wss (tether vs Beast) and https keep-alive
#              (tether vs nginx: what any server holding an OpenSSL connection pays)
#   plaintext  what a plaintext connection pays for a TLS-capable transport: `hello` (transport::tls<tcp>, the
#              default) against the same server on transport::tcp, plain HTTP keep-alive with wrk
# RSA-2048 because a server signs with it at several times the client's verification cost, so handshake
# rates measure the server, not the load generator (with ECDSA P-256 the client's verify costs more than
# the server's sign). Servers pinned to SERVER_CPU, load to CLIENT_CPU, interleaved, REPS repetitions,
# medians. Every process is stopped by PID on exit; nginx runs from a temporary prefix on a free port.
#
#   benchmarks/tls/run.sh                 # DUR=10 s, REPS=3, writes benchmarks/results/tls.md
#   benchmarks/tls/run.sh --smoke         # 1 s, 1 rep, 300 idle connections
#
# Environment: BUILD_DIR, DUR [10], REPS [3], WARMUP [1], CONNS [64], CONCURRENCY [16], IDLE_CONNS [10000],
# HOLD [3], SERVER_CPU [0], CLIENT_CPU [1], TLS_SCENARIOS ["keepalive handshake idle plaintext"], RESULTS.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_args tls/run.sh "$@"
DUR=${DUR:-10}; REPS=${REPS:-3}; WARMUP=${WARMUP:-1}; CONNS=${CONNS:-64}; CONCURRENCY=${CONCURRENCY:-16}
IDLE_CONNS=${IDLE_CONNS:-10000}; HOLD=${HOLD:-3}
if (( smoke )); then DUR=1; REPS=1; WARMUP=0; IDLE_CONNS=300; HOLD=2; fi
SERVER_CPU=${SERVER_CPU:-0}; CLIENT_CPU=${CLIENT_CPU:-1}
TLS_SCENARIOS=${TLS_SCENARIOS:-"keepalive handshake idle plaintext"}
suffix=""; (( smoke )) && suffix=-smoke
RESULTS=${RESULTS:-$repo_root/benchmarks/results/tls$suffix.md}
clk_tck=$(getconf CLK_TCK)

bench_init tls/run.sh wrk openssl nginx taskset cmake ss
raise_fd_limit "$IDLE_CONNS"
bench_build hello ws_echo tls_load peer_beast_tls hello_tcp_transport openssl_memory

pki=$work_dir/pki
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/key.pem" -out "$pki/cert.pem" -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
tls_args=(--cert "$pki/cert.pem" --key "$pki/key.pem")
tls_load=$(find_binary benchmarks/tls/tls_load)

server_binary() {
    case $1 in
        tether) find_binary examples/hello ;;
        tether-ws) find_binary examples/ws_echo ;;
        tether-tcp) find_binary benchmarks/tls/hello_tcp_transport ;;
        beast) find_binary benchmarks/tls/peer_beast_tls ;;
        nginx) command -v nginx ;;
    esac
}
failures=()

# ---- nginx from a temporary prefix on a free port, one process (master_process off) -------------------
free_port() {
    local p
    for _ in $(seq 50); do
        p=$(( 20000 + RANDOM % 40000 ))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
    return 1
}
start_nginx() {   # up to two tries: a free port can be taken between the check and the bind
    start_nginx_once || start_nginx_once
}
start_nginx_once() {
    local prefix=$work_dir/nginx port
    port=$(free_port)
    mkdir -p "$prefix/tmp"
    cat >"$prefix/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections $(( IDLE_CONNS + 1000 )); }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body; proxy_temp_path $prefix/tmp/proxy; fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi; scgi_temp_path $prefix/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $pki/cert.pem;
        ssl_certificate_key $pki/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
EOF
    server_log=$prefix/stderr.log
    taskset -c "$SERVER_CPU" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$server_log" 2>&1 &
    server_pid=$!
    track_pid "$server_pid"
    server_port=$port
    for _ in $(seq 200); do
        curl -sk -m 1 -o /dev/null "https://127.0.0.1:$port/" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$prefix/error.log" "$server_log" >&2 || true
    stop_server
    return 1
}

start() {   # start NAME [plain]: sets server_pid, server_port
    case $1 in
        nginx) start_nginx ;;
        tether-tcp) launch_server "$1" --threads 1 ;;
        # hello without /metrics, like hello_tcp_transport: the comparison is of transports alone.
        tether) if [[ ${2:-} == plain ]]; then launch_server "$1" --threads 1 --no-metrics
                else launch_server "$1" --threads 1 --no-metrics "${tls_args[@]}"; fi ;;
        *) if [[ ${2:-} == plain ]]; then launch_server "$1" --threads 1; else launch_server "$1" --threads 1 "${tls_args[@]}"; fi ;;
    esac
}

records=$work_dir/records.tsv
: >"$records"
record() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$records"; }

# wrk_run NAME SCENARIO REP URL_SCHEME [plain]: keep-alive load, one record (req/s, µs/request)
wrk_run() {
    local name=$1 scenario=$2 rep=$3 scheme=$4 out c0 c1 requests rps us errors
    start "$name" "${5:-}" || { failures+=("$name did not start"); return; }
    local url=$scheme://127.0.0.1:$server_port/plaintext
    if [[ $(curl -sk -m 5 "$url") != "Hello, World!" ]]; then failures+=("$name: GET $url is not Hello, World!"); stop_server; return; fi
    (( WARMUP > 0 )) && taskset -c "$CLIENT_CPU" timeout 60 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
    out=$work_dir/wrk-$name-$scenario-$rep.txt
    c0=$(cpu_ticks_total "$server_pid")
    taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + 30 )) wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 2s "$url" >"$out" 2>&1 || true
    c1=$(cpu_ticks_total "$server_pid")
    stop_server
    requests=$(awk '/ requests in / { print $1 }' "$out"); rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    errors=$(awk '/Non-2xx/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out")
    [[ -n $requests && $requests -gt 0 ]] || { failures+=("$name/$scenario: wrk measured nothing"); cat "$out" >&2; return; }
    us=$(awk -v t=$(( c1 - c0 )) -v hz="$clk_tck" -v r="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / r }')
    record "$name" "$scenario" "$rep" "$rps" "$us" "$errors"
    log "$(printf '%-10s %-10s rep %s: %10s req/s %7s us/request errors %s' "$name" "$scenario" "$rep" "$rps" "$us" "$errors")"
}

# load_run NAME SCENARIO REP ARGS...: tls_load against a fresh server; one record from its result line
load_run() {
    local name=$1 scenario=$2 rep=$3 out rc=0
    shift 3
    start "$name" || { failures+=("$name did not start"); return; }
    out=$work_dir/load-$name-$scenario-$rep.txt
    taskset -c "$CLIENT_CPU" timeout -k 5 $(( DUR + HOLD + 180 )) "$tls_load" "$@" --port "$server_port" \
        --server-pid "$server_pid" >"$out" 2>&1 || rc=$?
    kill -0 "$server_pid" 2>/dev/null || failures+=("$name died during $scenario")
    stop_server
    (( rc == 0 )) || { failures+=("$name/$scenario: tls_load exited with $rc: $(tail -2 "$out" | tr '\n' ' ')"); return; }
    local line; line=$(grep '^result ' "$out")
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    if [[ $scenario == idle* ]]; then
        record "$name" "$scenario" "$rep" "$(field rss_bytes_per_conn)" "$(field private_dirty_bytes_per_conn)" 0
    else
        record "$name" "$scenario" "$rep" "$(field connections_per_s)" "$(field server_cpu_us_per_connection)" "$(field failed)"
    fi
    log "$name $scenario rep $rep: ${line#result }"
}

# The reference for the idle goal: what OpenSSL allocates per idle server connection, by site (once).
openssl_table=$work_dir/openssl_memory.md
if [[ " $TLS_SCENARIOS " == *" idle "* ]]; then
    taskset -c "$SERVER_CPU" timeout 120 "$(find_binary benchmarks/tls/openssl_memory)" "${tls_args[@]}" \
        --connections $(( smoke ? 50 : 500 )) >"$openssl_table" 2>&1 || failures+=("openssl_memory failed: $(tail -2 "$openssl_table")")
fi

for (( rep = 1; rep <= REPS; rep++ )); do
    for scenario in $TLS_SCENARIOS; do
        case $scenario in
            keepalive) for s in tether nginx beast; do wrk_run "$s" keepalive "$rep" https; done ;;
            handshake)
                for s in tether nginx beast; do
                    load_run "$s" handshake-full "$rep" handshake --duration "$DUR" --warmup "$WARMUP" --concurrency "$CONCURRENCY"
                    load_run "$s" handshake-resumed "$rep" handshake --duration "$DUR" --warmup "$WARMUP" --concurrency "$CONCURRENCY" --resume
                done ;;
            idle)
                load_run tether-ws idle-wss "$rep" idle --connections "$IDLE_CONNS" --hold "$HOLD" --websocket
                load_run beast idle-wss "$rep" idle --connections "$IDLE_CONNS" --hold "$HOLD" --websocket
                load_run tether idle-https "$rep" idle --connections "$IDLE_CONNS" --hold "$HOLD"
                load_run nginx idle-https "$rep" idle --connections "$IDLE_CONNS" --hold "$HOLD" ;;
            plaintext)
                wrk_run tether plaintext "$rep" http plain
                wrk_run tether-tcp plaintext "$rep" http plain ;;
            *) echo "tls/run.sh: unknown scenario '$scenario' in TLS_SCENARIOS" >&2; exit 2 ;;
        esac
    done
done

# ---- report ------------------------------------------------------------------------------------------
summary() {   # summary FIELD NAME SCENARIO -> median min max
    awk -F'\t' -v f="$1" -v s="$2" -v m="$3" '$1 == s && $2 == m { print $f }' "$records" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%s %s %s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}
median() { summary "$@" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v x="$1" 'BEGIN { if (x == "") print "–"; else printf "%.0f", x }'; }
row() {   # row NAME SCENARIO: "median (min–max) | field5 median | errors max"
    local m lo hi
    read -r m lo hi <<<"$(summary 4 "$1" "$2")" || true
    [[ -n ${m:-} ]] || { echo "FAILED (see log) | – | –"; return; }
    echo "$(fmt "$m") ($(fmt "$lo")–$(fmt "$hi")) | $(median 5 "$1" "$2") | $(summary 6 "$1" "$2" | cut -d' ' -f3)"
}
verdict() { awk -v r="$1" -v goal="$2" -v dir="$3" 'BEGIN { if (r == "n/a") print "n/a"; else if ((dir == "le" && r <= goal) || (dir == "ge" && r >= goal)) print "met"; else print "**missed**" }'; }

report=$work_dir/report.md
{
    echo "# TLS: tether vs nginx vs Boost.Beast ssl_stream"
    echo
    echo "- command: \`DUR=$DUR REPS=$REPS WARMUP=$WARMUP CONNS=$CONNS CONCURRENCY=$CONCURRENCY IDLE_CONNS=$IDLE_CONNS $command_line\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r); load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- tools: $(openssl version), $(nginx -v 2>&1 | cut -d' ' -f3) (nginx-light, \`master_process off\`, one process, \`return 200\`),"\
         "Boost $(awk '/define BOOST_LIB_VERSION/ { gsub("\"", ""); print $3 }' /usr/include/boost/version.hpp 2>/dev/null) (beast::ssl_stream), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), build type ${build_type:-unset}"
    echo "- one RSA-2048 certificate for every server; TLS 1.2 and 1.3 allowed, the client gets TLS 1.3 (TLS_AES_256_GCM_SHA384) from each"
    echo "- load: \`taskset -c $CLIENT_CPU wrk -t1 -c$CONNS -d${DUR}s https://127.0.0.1:PORT/plaintext\`; \`tls_load handshake --concurrency $CONCURRENCY [--resume]\`;"\
         "\`tls_load idle --connections $IDLE_CONNS [--websocket]\`; servers on CPU $SERVER_CPU, one thread each, a fresh process per run"
    (( smoke )) && echo "- **smoke run**: 1 s, 1 repetition, $IDLE_CONNS idle connections; a correctness check, not a measurement"
    echo
    echo "## Keep-alive requests over TLS"
    echo
    echo "| server | requests/s median (min–max) | server CPU µs/request | errors |"
    echo "|---|---|---|---|"
    for s in tether nginx beast; do echo "| $s | $(row "$s" keepalive) |"; done
    echo
    echo "## New connections per second (handshake + one request)"
    echo
    echo "| server | handshake | connections/s median (min–max) | server CPU µs/connection | failed |"
    echo "|---|---|---|---|---|"
    for h in full resumed; do for s in tether nginx beast; do echo "| $s | $h | $(row "$s" handshake-$h) |"; done; done
    echo
    echo "## Memory per idle connection ($IDLE_CONNS open)"
    echo
    echo "| server | connection | bytes/connection (RSS) median (min–max) | bytes/connection (Private_Dirty) | – |"
    echo "|---|---|---|---|---|"
    for p in "tether-ws idle-wss" "beast idle-wss" "tether idle-https" "nginx idle-https"; do
        read -r s sc <<<"$p"; echo "| ${s%-ws} | ${sc#idle-} | $(row "$s" "$sc") |"
    done
    if [[ -s $openssl_table ]]; then
        echo
        echo "Why under 8 KiB is out of reach while OpenSSL holds the connection: what OpenSSL itself allocates per idle"
        echo "server connection after the handshake (\`benchmarks/tls/openssl_memory\`, tether's server in-process, allocations"
        echo "on its I/O thread by OpenSSL source line; nginx and Beast hold the same objects per connection):"
        echo
        grep '^|' "$openssl_table"
    fi
    echo
    echo "## Plaintext on the TLS-capable transport"
    echo
    echo "| server | requests/s median (min–max) | server CPU µs/request | errors |"
    echo "|---|---|---|---|"
    echo "| tether, transport::tls<tcp> (the default) | $(row tether plaintext) |"
    echo "| tether, transport::tcp | $(row tether-tcp plaintext) |"
    echo
    echo "## Ratios and goals"
    echo
    ka_cpu=$(ratio "$(median 5 tether keepalive)" "$(median 5 nginx keepalive)")
    hs_full=$(ratio "$(median 4 tether handshake-full)" "$(median 4 nginx handshake-full)")
    hs_res=$(ratio "$(median 4 tether handshake-resumed)" "$(median 4 nginx handshake-resumed)")
    idle_tether=$(median 4 tether-ws idle-wss)
    echo "| metric | tether/nginx | tether/beast | goal | |"
    echo "|---|---|---|---|---|"
    echo "| keep-alive requests/s | $(ratio "$(median 4 tether keepalive)" "$(median 4 nginx keepalive)") | $(ratio "$(median 4 tether keepalive)" "$(median 4 beast keepalive)") | | |"
    echo "| keep-alive CPU µs/request | $ka_cpu | $(ratio "$(median 5 tether keepalive)" "$(median 5 beast keepalive)") | ≤ 1.10× nginx | $(verdict "$ka_cpu" 1.10 le) |"
    echo "| full handshakes/s | $hs_full | $(ratio "$(median 4 tether handshake-full)" "$(median 4 beast handshake-full)") | ≥ nginx | $(verdict "$hs_full" 1 ge) |"
    hs_full_cpu=$(ratio "$(median 5 tether handshake-full)" "$(median 5 nginx handshake-full)")
    hs_res_cpu=$(ratio "$(median 5 tether handshake-resumed)" "$(median 5 nginx handshake-resumed)")
    echo "| full handshake, server CPU µs/connection | $hs_full_cpu | $(ratio "$(median 5 tether handshake-full)" "$(median 5 beast handshake-full)") | ≤ nginx | $(verdict "$hs_full_cpu" 1 le) |"
    echo "| resumed handshakes/s | $hs_res | $(ratio "$(median 4 tether handshake-resumed)" "$(median 4 beast handshake-resumed)") | ≥ nginx | $(verdict "$hs_res" 1 ge) |"
    echo "| resumed handshake, server CPU µs/connection | $hs_res_cpu | $(ratio "$(median 5 tether handshake-resumed)" "$(median 5 beast handshake-resumed)") | ≤ nginx | $(verdict "$hs_res_cpu" 1 le) |"
    echo "| bytes per idle wss connection | – | $(ratio "$idle_tether" "$(median 4 beast idle-wss)") | < 8 KiB | $(awk -v b="$idle_tether" 'BEGIN { if (b == "") print "n/a"; else print (b < 8192 ? "met" : "**missed**") }') ($(fmt "$idle_tether") B) |"
    echo "| bytes per idle https connection | $(ratio "$(median 4 tether idle-https)" "$(median 4 nginx idle-https)") | – | | |"
    echo "| plaintext CPU µs/request, tls<tcp> / tcp | $(ratio "$(median 5 tether plaintext)" "$(median 5 tether-tcp plaintext)") | – | ≈ 1 | |"
    echo
    echo "Connections/s is bounded by the load generator when the server's CPU is not saturated (the"
    echo "handshake runs leave it well under 100% busy on a shared 2-core machine): compare server CPU per connection."
    echo "Server CPU is utime + stime of the server process (/proc/PID/stat) over the measured window, divided by"
    echo "requests or connections; RSS per connection is (VmRSS with all connections open − before) ÷ connections."
    failures_section
} >"$report"

finish_report "$report" 1
