# Shared by the scenario scripts (attack/, backplane/, callgrind/, fanout/, http/, metrics/, tls/, ws/run.sh):
# sourced, not run.
#   bench_args NAME "$@"         the preamble they share: script_dir, repo_root, command_line (for the
#                                results' header) and smoke (--smoke); --help prints the calling
#                                script's opening comment; anything else exits 2
#   bench_init NAME TOOL...      log prefix, required tools, a work directory, and the EXIT trap that stops
#                                every process the script started (by PID: TERM, then KILL after 0.5 s)
#   track_pid PID / forget_pid PID
#   bench_build TARGET...        sets build_dir (BUILD_DIR as it is, or <repo>/build-bench configured in Release
#                                and the targets built) and build_type; warns loudly when it is not Release
#   find_binary PATH             PATH under build_dir, else the same file name anywhere in it (tether built as a
#                                subproject), else PATH (missing: the caller checks -x)
#   raise_fd_limit N             soft limit up to the hard one; exits 2 when N sockets (+64) still do not fit
#   function_costs PROFILE       self Ir per function of a callgrind profile (callgrind/run.sh, callgrind/fanout.sh)
#   cpu_ticks PID / cpu_ticks_total PID   "utime stime" of a process in clock ticks / their sum
# Expects repo_root to be set.

bench_args() {
    local name=$1 arg
    shift
    script_dir=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
    repo_root=$(cd "$script_dir/../.." && pwd)
    command_line="benchmarks/$name${*:+ $*}"
    smoke=0
    for arg in "$@"; do
        case $arg in
            --smoke) smoke=1 ;;
            -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[1]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) echo "$name: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
        esac
    done
}

log() { printf '[%s] %s\n' "$bench_name" "$*" >&2; }
loud() { printf '\n[%s] !!! %s\n\n' "$bench_name" "$*" >&2; }

bench_init() {
    bench_name=$1; shift
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$bench_name: '$tool' is required" >&2; exit 2; }
    done
    live_pids=()
    work_dir=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local pid
    for pid in "${live_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            sleep 0.5
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work_dir"
}

track_pid() { live_pids+=("$1"); }
forget_pid() {
    local keep=() pid
    for pid in "${live_pids[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    live_pids=("${keep[@]}")
}

bench_build() {
    if [[ -n ${BUILD_DIR:-} ]]; then
        build_dir=$BUILD_DIR
        log "using existing build $build_dir (not rebuilding)"
    else
        build_dir=$repo_root/build-bench
        log "configuring and building $build_dir (Release)"
        cmake -S "$repo_root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
            -DTETHER_BUILD_TESTS=OFF -DTETHER_BUILD_EXAMPLES=ON -DTETHER_BUILD_BENCHMARKS=ON >&2
        local target
        for target in "$@"; do
            cmake --build "$build_dir" --target "$target" -j "$(nproc)" >&2 \
                || loud "building target '$target' failed; what needs it is skipped"
        done
    fi
    build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
    [[ $build_type == Release ]] || loud "build type of $build_dir is '${build_type:-unset}', not Release: numbers are not comparable"
}

find_binary() {
    local usual=$build_dir/$1 found
    if [[ -x $usual ]]; then echo "$usual"; return; fi
    found=$(find "$build_dir" -path '*/CMakeFiles' -prune -o -type f -name "$(basename "$1")" -perm -u+x -print 2>/dev/null | head -1)
    echo "${found:-$usual}"
}

raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if (( $(ulimit -n) < $1 + 64 )); then
        echo "$bench_name: the file descriptor limit ($(ulimit -n)) is too low for $1 connections" >&2
        exit 2
    fi
}

# pick_servers: servers=(the names in $SERVERS whose server_binary exists); the others are skipped,
# loudly, and a missing tether is added to failures (there is nothing to measure without it).
pick_servers() {
    servers=()
    local name bin
    for name in $SERVERS; do
        bin=$(server_binary "$name")
        if [[ -x $bin ]]; then
            servers+=("$name")
        else
            loud "SKIPPING $name: $bin is missing"
            if [[ $name == tether ]]; then failures+=("tether: binary $bin is missing"); fi
        fi
    done
}

# in_turn REP NAME...: the names in the order repetition REP (from 1) runs them, rotated one place a repetition so
# that each name takes every position in turn (the servers of the HTTP, WebSocket and fan-out stages, the modes of
# the metrics stage). A measurement inherits the machine from the one before it (the
# kernel's deferred frees and timers, cold caches, a pool of 64 threads just stopped): with one fixed order the
# same server paid for the same neighbour in every repetition, which the median then kept. Three back-to-back
# repetitions of the HTTP stage put tether's pipelined CPU a request at 0.466 us after the floor and 0.493-0.552
# right after cpp-httplib's plain run.
in_turn() {
    local rep=$1
    shift
    local n=$# i
    (( n > 0 )) || return 0
    local names=("$@")
    for (( i = 0; i < n; i++ )); do printf '%s\n' "${names[(i + rep - 1) % n]}"; done
}

# launch_server NAME ARG...: runs server_binary NAME with --port 0 ARG..., pinned to SERVER_CPU, and
# waits up to 10 s for its "listening on" line; sets server_pid, server_port, server_log. Port 0: the
# kernel picks a port no socket uses, and the server prints it. Non-zero, with the server's output
# shown and the server stopped, when it never announces itself.
launch_server() {
    local name=$1 line
    shift
    server_log=$work_dir/$name.log
    # Removed first: the child truncates the log only once it runs, and until then the wait below
    # would find the previous run's "listening on" line and a port nobody listens on any more.
    rm -f "$server_log"
    taskset -c "$SERVER_CPU" "$(server_binary "$name")" --port 0 "$@" >"$server_log" 2>&1 &
    server_pid=$!
    track_pid "$server_pid"
    for _ in $(seq 200); do
        line=$(grep -s -m1 -o 'listening on https\?://[^ ]*' "$server_log" || true)
        if [[ -n $line ]]; then
            server_port=${line##*:}
            server_port=${server_port%%/*}
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "--- $name output:" >&2; cat "$server_log" >&2 || true
    stop_server
    return 1
}

# cpu_ticks PID: "utime stime" of the whole process (all threads) in clock ticks, /proc/PID/stat fields 14 and 15
# (split after the ")" that ends the command name, which may hold spaces); cpu_ticks_total PID: their sum.
cpu_ticks() {
    local stat fields
    stat=$(<"/proc/$1/stat")
    read -r -a fields <<<"${stat##*) }"
    echo "${fields[11]} ${fields[12]}"
}
cpu_ticks_total() { local user sys; read -r user sys <<<"$(cpu_ticks "$1")"; echo $(( user + sys )); }

# stop_pid PID SECONDS: TERM, up to SECONDS for it to exit, then KILL; reaped and forgotten. Returns 1 when
# it had to be killed.
stop_pid() {
    local pid=$1 tenths=$(( $2 * 10 )) killed=0 i
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < tenths; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        killed=1
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
    return $killed
}

# stop_server: the server launch_server started, given 5 s to stop.
stop_server() {
    [[ -n ${server_pid:-} ]] || return 0
    stop_pid "$server_pid" 5 || log "server $server_pid ignored SIGTERM for 5 s; killed"
    server_pid=""
}

# Self Ir per function from a profile (callgrind_annotate's listing), as "Ir<TAB>name": the name without its
# source file, template arguments, parameter list and binary; costs of the same short name are summed.
function_costs() {
    callgrind_annotate --show=Ir --threshold=100 "$1" 2>/dev/null |
        awk '
            /PROGRAM TOTALS/ { listing = 1; next }
            listing && match($0, /^ *[0-9,]+ \( *[0-9.]+%\)  /) {
                ir = substr($0, 1, RLENGTH); sub(/\(.*/, "", ir); gsub(/[ ,]/, "", ir)
                line = substr($0, RLENGTH + 1)
                sub(/^[^:]*:/, "", line)            # the source file ("???" without debug info)
                sub(/ \[[^]]*\]$/, "", line)        # the binary
                # Template arguments collapse to <…> (innermost first), then the parameter list goes.
                while (gsub(/<[^<>]*>/, "@T@", line) > 0) {}
                gsub(/@T@/, "<…>", line); gsub(/operator\(\)/, "operator@@", line)
                p = index(line, "("); if (p > 1) line = substr(line, 1, p - 1)
                gsub(/operator@@/, "operator()", line)
                cost[line] += ir
            }
            END { for (f in cost) printf "%s\t%s\n", cost[f], f }'
}

# note_failure TEXT: adds TEXT to the report's failures, also from a function run in $(...), whose changes to
# `failures` would die with its subshell: those go through a file that failures_section reads back.
note_failure() {
    if (( BASH_SUBSHELL > 0 )); then printf '%s\n' "$*" >>"$work_dir/subshell-failures"; else failures+=("$*"); fi
}
collect_failures() {
    [[ -s $work_dir/subshell-failures ]] || return 0
    mapfile -t -O "${#failures[@]}" failures <"$work_dir/subshell-failures"
    rm -f "$work_dir/subshell-failures"
}

# ---- callgrind: one server process under valgrind, for instruction counts ---------------------------------
# callgrind_server NAME LOG BINARY ARGS...: starts BINARY --port 0 --threads 1 ARGS under callgrind on
# SERVER_CPU and waits (valgrind starts slowly: up to 60 s) for its "listening on" line; sets cg_pid and
# cg_port, or notes the failure, reaps it and returns 1. A script may add valgrind options in the array
# callgrind_options (e.g. a cache simulation).
callgrind_options=()
callgrind_server() {
    local name=$1 logf=$2 bin=$3 line
    shift 3
    rm -f "$logf"   # a previous run's log must not announce a stale port (see launch_server)
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind "${callgrind_options[@]}" --callgrind-out-file="$work_dir/callgrind.%p.out" \
        "$bin" --port 0 --threads 1 "$@" >"$logf" 2>&1 &
    cg_pid=$!
    track_pid "$cg_pid"
    cg_port=""
    for _ in $(seq 600); do
        line=$(grep -s -m1 -o 'listening on http://[^ ]*' "$logf" || true)
        if [[ -n $line ]]; then cg_port=${line##*:}; cg_port=${cg_port%%/*}; return 0; fi
        kill -0 "$cg_pid" 2>/dev/null || break
        sleep 0.1
    done
    note_failure "$name: did not start under valgrind: $(tail -c 300 "$logf" | tr '\n' ' ')"
    kill -KILL "$cg_pid" 2>/dev/null || true
    wait "$cg_pid" 2>/dev/null || true
    forget_pid "$cg_pid"
    return 1
}

# callgrind_finish NAME WORK: stops cg_pid (SIGTERM; up to 60 s, valgrind writes its profile on the way out)
# and prints its total Ir (empty on failure, noted). The first profile of each NAME with work (WORK > 0) and
# without is kept as profile-NAME.out and profile-NAME-base.out, for "where do the instructions go". Every
# event's total (Ir, and D1mr, DLmr, ... under a cache simulation) goes to $work_dir/last-totals as
# "event value" lines, for callers that want more than Ir (this runs in a command substitution).
callgrind_finish() {
    local name=$1 work=$2 profile=$work_dir/callgrind.$cg_pid.out ir
    stop_pid "$cg_pid" 60 || note_failure "$name: ignored SIGTERM for 60 s under valgrind (killed; no count)"
    ir=$(awk '/^summary:/ { print $2; f = 1 } /^totals:/ && !f { print $2; f = 1 }' "$profile" 2>/dev/null | head -1)
    [[ -n $ir ]] || { note_failure "$name: no callgrind totals in $profile"; return 0; }
    awk '/^events:/ { for (i = 2; i <= NF; i++) event[i] = $i }
         /^summary:/ || (/^totals:/ && !done) { for (i = 2; i <= NF; i++) print event[i], $i; done = 1 }' \
        "$profile" >"$work_dir/last-totals"
    local kept=$work_dir/profile-$name.out
    (( work > 0 )) || kept=$work_dir/profile-$name-base.out
    [[ -e $kept ]] || cp "$profile" "$kept"
    rm -f "$profile"
    echo "$ir"
}

# failures_section: the report's closing list of what failed, if anything did (call it inside the block
# that writes the report; reads the script's `failures` array).
failures_section() {
    collect_failures
    (( ${#failures[@]} > 0 )) || return 0
    echo
    echo "Failures:"
    local f
    for f in "${failures[@]}"; do echo "- $f"; done
}

# finish_report REPORT WRITE: prints the report, copies it to $RESULTS when WRITE is 1 (empty: 0) (scripts differ in
# when: a smoke run must not overwrite the checked-in results), and exits 1 if anything failed.
finish_report() {
    local report=$1 write=${2:-0}
    collect_failures
    cat "$report"
    if (( write )); then
        mkdir -p "$(dirname "$RESULTS")"
        cp "$report" "$RESULTS"
        log "report written to $RESULTS"
    elif [[ -n ${RESULTS:-} ]]; then
        log "smoke run: report not written to $RESULTS"
    fi
    if (( ${#failures[@]} > 0 )); then
        loud "FAILED: ${failures[*]}"
        exit 1
    fi
}
