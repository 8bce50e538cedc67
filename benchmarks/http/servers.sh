# The HTTP stage's servers and load, shared by run.sh and alternating.sh: sourced, not run. Expects build_dir
# (bench_build), script_dir, IDLE_THREADS, CONNS, DEPTH and CLIENT_CPU to be set.
#   server_binary NAME            the binary of tether (hello), beast, floor, floor-mt, strict or httplib
#   server_extra_args NAME        what it is started with beyond --port and --threads: hello without /metrics (the
#                                 peers count nothing; benchmarks/metrics/run.sh measures what counting costs),
#                                 floor-mt with its idle threads
#   wrk_command SECONDS MODE PORT sets wrk_cmd: wrk on CLIENT_CPU against PORT's /plaintext, plain or pipelined
#                                 (pipeline.lua, DEPTH requests a write), bounded by wrk -d and a hard timeout

server_binary() {
    case $1 in
        tether) echo "$build_dir/examples/hello" ;;
        beast) echo "$build_dir/benchmarks/peer_beast_http" ;;
        floor | floor-mt) echo "$build_dir/benchmarks/peer_floor_http" ;;
        strict) echo "$build_dir/benchmarks/peer_floor_http_strict" ;;
        httplib) echo "$build_dir/benchmarks/peer_httplib" ;;
        *) echo "unknown HTTP server '$1'" >&2; exit 2 ;;
    esac
}

server_extra_args() {
    case $1 in
        tether) echo "--no-metrics" ;;
        floor-mt) echo "--idle-threads $IDLE_THREADS" ;;
    esac
}

wrk_command() {
    local seconds=$1 mode=$2 port=$3
    wrk_cmd=(taskset -c "$CLIENT_CPU" timeout -k 5 $(( seconds + 30 ))
             wrk -t1 -c"$CONNS" -d"${seconds}s" --timeout 2s)
    if [[ $mode == pipelined ]]; then
        wrk_cmd+=(-s "$script_dir/pipeline.lua" "http://127.0.0.1:$port/plaintext" -- "$DEPTH")
    else
        wrk_cmd+=("http://127.0.0.1:$port/plaintext")
    fi
}
