// attack_load: the adversarial load generator of benchmarks/attack/run.sh (issue 16, "Hostile clients"). It runs
// one attack against a running server for a fixed time while a normal client keeps asking for a small page,
// and reports what the attack cost: the server's RSS (baseline, peak, after), the normal client's requests
// served and their latency, and what the attacker saw (statuses, Close codes, resets, closes).
//
//   attack_load ATTACK --port N --server-pid PID [--host 127.0.0.1] [--duration 10] [--quiet 1] [--after 1]
//               [--normal-path /plaintext] [--normal-rate 50] [--normal-deadline-ms 1000] [--normal-fresh]
//               [--normal-source 127.0.0.2|any] [--normal-cpu N]
//               [--rss-limit-mib 4096] [knobs: --connections N --requests N --size B --history N --rate R
//               --websockets N --rcvbuf B --path P --payload plain|escape|newline]
//               [routes: --publish-path /api/publish --sse-path /events --poll-path /poll --status-path /status
//               --ws-path /ws --topic news]
//
// The attacks (knobs that apply, defaults in brackets; each is one finding of the issue):
//   chunk-ext        GET /x, Transfer-Encoding: chunked, endless one-byte chunks each carrying a --size [4000]
//                    byte extension, on --connections [16]; reconnects when closed
//   pipeline-static  --requests [2000] pipelined GET --path [/tether.js] per connection on --connections [8],
//                    never read (receive buffer --rcvbuf [4096])
//   pipeline-poll    setup: --history [1024] POSTs of --size [65536] to /api/publish; then --requests [8]
//                    pipelined GET /status?since=<oldest cursor> per connection on --connections [8], never read
//   sub-churn        one WebSocket on /ws sending subscribe/unsubscribe pairs for "news" as fast as it can,
//                    at most --requests [1000000] pairs, reading the answers
//   history          POST --size [65536] byte messages to /api/publish back to back on --connections [2]
//   flood            --websockets [6000] WebSockets on /ws (answering pings) and --connections [6000] idle
//                    connections, opened 256 at a time and held; use with --normal-fresh
//   stalled-body     --connections [500] POST /api/publish with Content-Length --size [1 MiB], all but the last
//                    byte sent, then nothing
//   sse-stall        --connections [200] GET /events never read (--rcvbuf [4096]) while a publisher POSTs
//                    --size [4096] byte messages at --rate [500]/s
//   slowloris-fin    --connections [500] send a partial header and shutdown(SHUT_WR); time to the server's close
//   ws-fin           --connections [200] WebSockets send {"type":"ping"} and shutdown(SHUT_WR)
//   ws-oversize      --connections [20] at a time, each a WebSocket sending one --size [2 MiB] text message;
//                    did the Close frame (1009) arrive, or a reset? Repeated while the attack lasts
//   bad-host         --rate [1000]/s requests, one per connection, with a bad Host, absolute-form target or
//                    raw bytes >= 0x80 in the target; the status each variant got
//   publish-flood    one WebSocket on /ws publishing {"type":"publish","topic":"news",...} as fast as it can;
//                    publishes accepted (the topic's sequence before and after, from GET /poll) and the code
//                    that ended it
// The routes named above are the defaults of the route options (examples/hybrid's); run.sh passes the layout
// the example it starts actually has. A message size the publish route refuses (4xx) is halved until it is
// accepted, and the report says so: an example may cap its own messages below the library's limits. The
// targets are examples/hybrid, examples/hello (/plaintext) and a *_web example (/tether.js); run.sh says which
// attack runs against which.
//
// Method. A fresh server per attack (run.sh). The tool first runs the attack's setup, then the normal client
// alone for --quiet seconds (baseline RSS, quiet latency), then the attack for --duration seconds, then closes
// every attacking socket and waits --after seconds (RSS after). The attack stops early, and says so, when the
// server's RSS passes --rss-limit-mib (the machine must stay usable) or the server dies. Everything is bounded
// in time and count, and every socket is closed before exit.
//
// Output: progress on stderr; on stdout four lines for run.sh: "result key=value ...", "failures ..." (why the
// normal client's unserved requests failed), "outcome ..." (what the attacker saw, in words) and "unmet ..."
// (what the issue asks of the server under this attack, beyond memory and latency, that it did not do). Exit status 0
// when the attack ran (whatever it found), 1 when the tool could not run it (setup failed), 2 on bad usage.
//
// Why a tool of its own: the attacks need byte-exact control (bodies that never end, FIN after half a header,
// frames longer than they claim, sockets that never read) that no load generator offers, and like the other
// load generators in benchmarks/loadgen it knows nothing of tether: it speaks HTTP/1.1 and RFC 6455 from its
// own few lines (attack_wire.hpp), so a misunderstanding shared with the server cannot hide a finding.
//
// Layout: attack_wire.hpp (HTTP/1.1 and WebSocket framing), attack_loop.hpp (the epoll loop and what every
// connection saw), attack_probe.hpp (the RSS sampler and the normal client, on their own threads),
// attack_base.hpp (options, the attack interface, setup helpers), attacks_http.hpp and attacks_streams.hpp
// (the attacks); this file parses the command line and runs the phases.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <sys/resource.h>

#include "attack_base.hpp"
#include "attacks_http.hpp"
#include "attacks_streams.hpp"

namespace {

using namespace attack;
using namespace std::chrono_literals;

// ---- options ----------------------------------------------------------------------------------------------

[[noreturn]] void usage(const std::string& why, int status = 2) {
    std::fprintf(status ? stderr : stdout,
                 "attack_load: %s\n"
                 "usage: attack_load ATTACK --port N --server-pid PID [--host 127.0.0.1] [--duration 10] [--quiet 1]\n"
                 "       [--after 1]\n"
                 "       [--normal-path /plaintext] [--normal-rate 50] [--normal-deadline-ms 1000] [--normal-fresh]\n"
                 "       [--normal-source 127.0.0.2|any] [--normal-cpu N]\n"
                 "       [--rss-limit-mib 4096] [--connections N] [--requests N] [--size B] [--history N]\n"
                 "       [--rate R] [--websockets N] [--rcvbuf B] [--path P] [--payload plain|escape|newline]\n"
                 "       [--publish-path /api/publish] [--sse-path /events] [--poll-path /poll] [--status-path /status]\n"
                 "       [--ws-path /ws] [--topic news]\n"
                 "attacks: chunk-ext pipeline-static pipeline-poll sub-churn history flood stalled-body sse-stall\n"
                 "         slowloris-fin ws-fin ws-oversize bad-host publish-flood\n",
                 why.c_str());
    std::exit(status);
}

template <class T>
T number(std::string_view name, std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        usage("bad value '" + std::string(text) + "' for " + std::string(name));
    return value;
}

options parse_options(int argc, char** argv) {
    options o;
    if (argc < 2) usage("missing attack");
    o.attack = argv[1];
    if (o.attack == "--help" || o.attack == "-h") usage("the attacks are described at the top of attack_load.cpp", 0);
    for (int i = 2; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--normal-fresh") {
            o.normal.fresh = true;
            continue;
        }
        if (i + 1 >= argc) usage("missing value for " + std::string(arg));
        const std::string_view v = argv[++i];
        if (arg == "--port") o.port = number<std::uint16_t>(arg, v);
        else if (arg == "--host") o.host = std::string(v);
        else if (arg == "--server-pid") o.server_pid = number<int>(arg, v);
        else if (arg == "--duration") o.duration = number<double>(arg, v);
        else if (arg == "--quiet") o.quiet = number<double>(arg, v);
        else if (arg == "--after") o.after = number<double>(arg, v);
        else if (arg == "--normal-path") o.normal.path = std::string(v);
        else if (arg == "--normal-rate") o.normal.rate = number<double>(arg, v);
        else if (arg == "--normal-deadline-ms") o.normal.deadline = std::chrono::milliseconds(number<int>(arg, v));
        else if (arg == "--normal-source") o.normal.source = std::string(v == "any" ? "" : v);
        else if (arg == "--normal-cpu") o.normal.cpu = number<int>(arg, v);
        else if (arg == "--rss-limit-mib") o.rss_limit_mib = number<long>(arg, v);
        else if (arg == "--connections") o.connections = number<std::uint64_t>(arg, v);
        else if (arg == "--requests") o.requests = number<std::uint64_t>(arg, v);
        else if (arg == "--size") o.size = number<std::uint64_t>(arg, v);
        else if (arg == "--history") o.history = number<std::uint64_t>(arg, v);
        else if (arg == "--websockets") o.websockets = number<std::uint64_t>(arg, v);
        else if (arg == "--rate") o.rate = number<double>(arg, v);
        else if (arg == "--rcvbuf") o.rcvbuf = number<int>(arg, v);
        else if (arg == "--path") o.path = std::string(v);
        else if (arg == "--payload") o.payload = std::string(v);
        else if (arg == "--publish-path") o.publish_path = std::string(v);
        else if (arg == "--sse-path") o.sse_path = std::string(v);
        else if (arg == "--poll-path") o.poll_path = std::string(v);
        else if (arg == "--status-path") o.status_path = std::string(v);
        else if (arg == "--ws-path") o.ws_path = std::string(v);
        else if (arg == "--topic") o.topic = std::string(v);
        else usage("unknown option " + std::string(arg));
    }
    if (o.port == 0) usage("--port is required");
    if (o.server_pid <= 0) usage("--server-pid is required");
    if (o.duration <= 0 || o.normal.rate <= 0) usage("--duration and --normal-rate must be positive");
    if (o.payload != "plain" && o.payload != "escape" && o.payload != "newline") usage("--payload: plain, escape or newline");
    in_addr check{};
    if (inet_pton(AF_INET, o.host.c_str(), &check) != 1) usage("--host must be an IPv4 address");
    o.normal.host = o.host;
    o.normal.port = o.port;
    return o;
}

std::unique_ptr<attack_base> make_attack(const options& o) {
    const std::string& a = o.attack;
    if (a == "chunk-ext") return std::make_unique<chunk_ext>(o);
    if (a == "pipeline-static") return std::make_unique<pipeline>(o, false);
    if (a == "pipeline-poll") return std::make_unique<pipeline>(o, true);
    if (a == "sub-churn") return std::make_unique<sub_churn>(o);
    if (a == "history") return std::make_unique<history>(o);
    if (a == "flood") return std::make_unique<flood>(o);
    if (a == "stalled-body") return std::make_unique<stalled_body>(o);
    if (a == "sse-stall") return std::make_unique<sse_stall>(o);
    if (a == "slowloris-fin") return std::make_unique<fin_after_data>(o, false);
    if (a == "ws-fin") return std::make_unique<fin_after_data>(o, true);
    if (a == "ws-oversize") return std::make_unique<ws_oversize>(o);
    if (a == "bad-host") return std::make_unique<bad_host>(o);
    if (a == "publish-flood") return std::make_unique<publish_flood>(o);
    usage("unknown attack '" + a + "'");
}

// ---- the run ----------------------------------------------------------------------------------------------

std::string ms(std::uint64_t ns) {
    char t[32];
    std::snprintf(t, sizeof t, "%.1f", static_cast<double>(ns) / 1e6);
    return t;
}

void raise_descriptor_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

void sleep_seconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

int run(const options& o) {
    raise_descriptor_limit();
    auto attack = make_attack(o);
    loop l(o.host, o.port, *attack);
    attack->bind(l);
    sampler rss(o.server_pid, o.port, o.rss_limit_mib * 1024, attack->counts_close_wait());
    rss.start();
    if (rss.server_gone()) {
        std::fprintf(stderr, "attack_load: no process %d\n", o.server_pid);
        return 1;
    }

    std::fprintf(stderr, "attack_load: %s: setup\n", o.attack.c_str());
    if (!attack->setup()) return 1;

    normal_client normal(o.normal);
    normal.start();
    sleep_seconds(o.quiet);
    const long baseline = rss.sample();
    const long hwm_before = rss.hwm();

    std::fprintf(stderr, "attack_load: %s: attacking for %.1f s (baseline RSS %ld KiB)\n", o.attack.c_str(), o.duration,
                 baseline);
    rss.enter(under_attack);
    normal.enter(under_attack);
    const auto start = clock_type::now();
    const auto end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration));
    attack->start();
    std::string stopped = "no";
    auto next_tick = start;
    while (clock_type::now() < end) {
        l.poll(5);
        const auto now = clock_type::now();
        if (now >= next_tick) {
            attack->tick(now);
            next_tick = now + 10ms;
        }
        if (rss.over_limit()) {
            stopped = "rss-limit";
            break;
        }
        if (rss.server_gone()) {
            stopped = "server-died";
            break;
        }
    }
    const double attacked = seconds_between(start, clock_type::now());
    rss.sample();
    const long hwm_after = rss.hwm();
    // The process-lifetime high-water mark catches a spike between two samples, but only if it moved during
    // the attack (otherwise it is the setup's).
    const long peak = std::max(rss.peak(under_attack), hwm_after > hwm_before ? hwm_after : 0L);
    const int close_wait_peak =
        attack->counts_close_wait() ? std::max(rss.close_wait_peak(under_attack), count_close_wait(o.port)) : -1;
    attack->close_wait_seen(close_wait_peak);
    attack->stop();
    const std::string outcome = attack->outcome();
    const std::string unmet = attack->unmet();

    rss.enter(after);
    normal.enter(after);
    l.close_all();
    sleep_seconds(o.after);
    const long after_rss = rss.sample();
    normal.stop();
    rss.stop();
    if (rss.server_gone() && stopped == "no") stopped = "server-died";

    const normal_stats& n = normal.stats(under_attack);
    const normal_stats& q = normal.stats(quiet);
    auto quantile = [](const normal_stats& s, double p) { return s.served ? ms(s.latency.quantile(p)) : std::string("n/a"); };
    std::printf("result attack=%s duration_s=%.1f stopped=%s baseline_kib=%ld peak_kib=%ld delta_kib=%ld after_kib=%ld "
                "served=%" PRIu64 " attempted=%" PRIu64 " p50_ms=%s p99_ms=%s max_ms=%s quiet_served=%" PRIu64
                " quiet_attempted=%" PRIu64 " quiet_p99_ms=%s close_wait_peak=%d normal_source=%s\n",
                o.attack.c_str(), attacked, stopped.c_str(), baseline, peak, peak - baseline, after_rss, n.served,
                n.attempted, quantile(n, 0.5).c_str(), quantile(n, 0.99).c_str(),
                n.served ? ms(n.latency.max()).c_str() : "n/a", q.served, q.attempted, quantile(q, 0.99).c_str(),
                close_wait_peak, normal.source().empty() ? "default" : normal.source().c_str());
    std::printf("failures %s\n", counts(n.failures).c_str());
    std::printf("outcome %s\n", outcome.c_str());
    std::printf("unmet %s\n", unmet.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "attack_load: %s: RSS %ld -> %ld KiB (after %ld), normal %" PRIu64 "/%" PRIu64
                         " served, p99 %s ms; %s\n",
                 o.attack.c_str(), baseline, peak, after_rss, n.served, n.attempted, quantile(n, 0.99).c_str(),
                 outcome.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const options o = parse_options(argc, argv);
    return run(o);
}

