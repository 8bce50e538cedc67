#!/usr/bin/env bash
# A/B of user-space and kernel CPU per pipelined HTTP request, from perf's samples of the server, for changes too
# small for the full HTTP stage to resolve (it reads utime and stime, whose 5-s runs move by ±10 % here).
#
#   AB="before=/tmp/hello.old,--no-metrics after=build/release/examples/hello,--no-metrics \
#       floor=build/release/benchmarks/peer_floor_http" benchmarks/http/user_time_ab.sh
#
# Each round runs every server of AB in turn (so a drift of the host reaches all of them alike): a fresh process on
# SERVER_CPU, one second of warm-up load, then `perf record -F 4999` on it while `wrk -t1 -cCONNECTIONS -dDURs -s
# pipeline.lua -- DEPTH` runs on CLIENT_CPU. µs per request = samples in that part ÷ 4,999 ÷ wrk's requests. It
# prints one line per run and, at the end, each server's median over the rounds. Single runs of one build spread by
# about ±4 % in user time; the median of 3 rounds told apart changes of ~10 % (RESULTS.md, HTTP section).
#
# Environment (defaults in brackets):
#   AB                        "name=binary[,arg...] ...": the servers, each started as `binary --port 0 --threads 1
#                             arg...` (hello wants --no-metrics to match the HTTP stage; the floors take no argument)
#   ROUNDS [3]  DUR [5]  DEPTH [16]  CONNECTIONS [64]  PATH_TO [/plaintext]
#   SERVER_CPU [0]  CLIENT_CPU [1]
# Needs perf (with permission to sample another process: perf_event_paranoid ≤ 1, or root), wrk and taskset.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
bench_args http/user_time_ab.sh "$@"
bench_init user_time_ab perf wrk taskset awk
AB=${AB:?"set AB to the servers to compare, e.g. AB=\"before=/path/hello,--no-metrics after=/path/hello,--no-metrics\""}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5} DEPTH=${DEPTH:-16} CONNECTIONS=${CONNECTIONS:-64} PATH_TO=${PATH_TO:-/plaintext}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
script=$script_dir/pipeline.lua

declare -A binary_of args_of
names=()
for spec in $AB; do
    name=${spec%%=*}
    IFS=, read -r -a parts <<<"${spec#*=}"
    [[ -x ${parts[0]} ]] || { echo "user_time_ab: ${parts[0]} (for $name) is not an executable" >&2; exit 2; }
    binary_of[$name]=${parts[0]}
    args_of[$name]="${parts[*]:1}"
    names+=("$name")
done
server_binary() { echo "${binary_of[$1]}"; }   # for lib.sh's launch_server

load() {   # load SECONDS: pipelined wrk on CLIENT_CPU; prints wrk's request count
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$1"s -s "$script" \
        "http://127.0.0.1:$server_port$PATH_TO" -- "$DEPTH" | awk '/requests in/ { print $1 }'
}

results=$work_dir/results.tsv
for round in $(seq "$ROUNDS"); do
    for name in "${names[@]}"; do
        # shellcheck disable=SC2086  # the arguments are words
        launch_server "$name" --threads 1 ${args_of[$name]} || { loud "$name did not start"; exit 1; }
        load 1 >/dev/null
        profile=$work_dir/$name.$round.data
        perf record -q -F 4999 -p "$server_pid" -o "$profile" -- sleep $((DUR + 1)) >/dev/null 2>&1 &
        perf_pid=$!
        track_pid "$perf_pid"
        sleep 0.3
        requests=$(load "$DUR")
        wait "$perf_pid" || true
        forget_pid "$perf_pid"
        stop_server
        perf report -i "$profile" --no-children --sort dso -F sample,dso 2>/dev/null | awk -v name="$name" \
            -v round="$round" -v requests="$requests" '
            !/^#/ && NF >= 2 { if ($2 ~ /kernel/) kernel += $1; else user += $1 }
            END { printf "%s\t%s\t%.4f\t%.4f\t%d\n", name, round, user / 4999 / requests * 1e6,
                         kernel / 4999 / requests * 1e6, requests }' >>"$results"
        tail -1 "$results" | awk -F'\t' '{ printf "round %s  %-12s user %s  kernel %s µs/request (%s requests)\n", $2, $1, $3, $4, $5 }'
    done
done

echo
echo "| server | user µs/request, median of $ROUNDS | kernel µs/request, median | runs (user) |"
echo "|---|---|---|---|"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for name in "${names[@]}"; do
    user=$(awk -F'\t' -v name="$name" '$1 == name { print $3 }' "$results" | median)
    kernel=$(awk -F'\t' -v name="$name" '$1 == name { print $4 }' "$results" | median)
    runs=$(awk -F'\t' -v name="$name" '$1 == name { printf "%s%s", (n++ ? " / " : ""), $3 }' "$results")
    echo "| $name | $user | $kernel | $runs |"
done
