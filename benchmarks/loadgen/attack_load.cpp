// attack_load: the adversarial load generator of benchmarks/attack/run.sh (issue 16, "Hostile clients"). It runs
// one attack against a running server for a fixed time while a normal client keeps asking for a small page,
// and reports what the attack cost: the server's RSS (baseline, peak, after), the normal client's requests
// served and their latency, and what the attacker saw (statuses, Close codes, resets, closes).
//
//   attack_load ATTACK --port N --server-pid PID [--duration 10] [--quiet 1] [--after 1]
//               [--normal-path /plaintext] [--normal-rate 50] [--normal-deadline-ms 1000] [--normal-fresh]
//               [--normal-source 127.0.0.2|any]
//               [--rss-limit-mib 4096] [knobs: --connections N --requests N --size B --history N --rate R
//               --websockets N --rcvbuf B --path P --payload plain|escape|newline]
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
// The targets are examples/hybrid (publish, /ws, /events, /poll, /status) and examples/hello (/plaintext) or
// a *_web example (/tether.js); run.sh says which attack runs against which.
//
// Method. A fresh server per attack (run.sh). The tool first runs the attack's setup, then the normal client
// alone for --quiet seconds (baseline RSS, quiet latency), then the attack for --duration seconds, then closes
// every attacking socket and waits --after seconds (RSS after). The attack stops early, and says so, when the
// server's RSS passes --rss-limit-mib (the machine must stay usable) or the server dies. Everything is bounded
// in time and count, and every socket is closed before exit.
//
// Output: progress on stderr; on stdout three lines for run.sh: "result key=value ...", "failures ..." (why the
// normal client's unserved requests failed) and "outcome ..." (what the attacker saw, in words). Exit status 0
// when the attack ran (whatever it found), 1 when the tool could not run it (setup failed), 2 on bad usage.
//
// Why a tool of its own: the attacks need byte-exact control (bodies that never end, FIN after half a header,
// frames longer than they claim, sockets that never read) that no load generator offers, and like the other
// load generators in benchmarks/loadgen it knows nothing of tether: it speaks HTTP/1.1 and RFC 6455 from its
// own few lines (attack_wire.hpp), so a misunderstanding shared with the server cannot hide a finding.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <poll.h>
#include <sys/resource.h>

#include "attack_loop.hpp"
#include "attack_probe.hpp"
#include "attack_wire.hpp"

namespace {

using namespace attack;
using namespace std::chrono_literals;

// ---- options ----------------------------------------------------------------------------------------------

struct options {
    std::string attack;
    std::uint16_t port = 0;
    int server_pid = 0;
    double duration = 10;
    double quiet = 1;
    double after = 1;
    normal_options normal;
    long rss_limit_mib = 4096;
    // Knobs; 0 (or empty) means the attack's default.
    std::uint64_t connections = 0;
    std::uint64_t requests = 0;
    std::uint64_t size = 0;
    std::uint64_t history = 0;
    std::uint64_t websockets = 0;
    double rate = 0;
    int rcvbuf = 4096;
    std::string path;
    std::string payload = "escape";
};

[[noreturn]] void usage(const std::string& why, int status = 2) {
    std::fprintf(status ? stderr : stdout,
                 "attack_load: %s\n"
                 "usage: attack_load ATTACK --port N --server-pid PID [--duration 10] [--quiet 1] [--after 1]\n"
                 "       [--normal-path /plaintext] [--normal-rate 50] [--normal-deadline-ms 1000] [--normal-fresh]\n"
                 "       [--normal-source 127.0.0.2|any]\n"
                 "       [--rss-limit-mib 4096] [--connections N] [--requests N] [--size B] [--history N]\n"
                 "       [--rate R] [--websockets N] [--rcvbuf B] [--path P] [--payload plain|escape|newline]\n"
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
        else if (arg == "--server-pid") o.server_pid = number<int>(arg, v);
        else if (arg == "--duration") o.duration = number<double>(arg, v);
        else if (arg == "--quiet") o.quiet = number<double>(arg, v);
        else if (arg == "--after") o.after = number<double>(arg, v);
        else if (arg == "--normal-path") o.normal.path = std::string(v);
        else if (arg == "--normal-rate") o.normal.rate = number<double>(arg, v);
        else if (arg == "--normal-deadline-ms") o.normal.deadline = std::chrono::milliseconds(number<int>(arg, v));
        else if (arg == "--normal-source") o.normal.source = std::string(v == "any" ? "" : v);
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
        else usage("unknown option " + std::string(arg));
    }
    if (o.port == 0) usage("--port is required");
    if (o.server_pid <= 0) usage("--server-pid is required");
    if (o.duration <= 0 || o.normal.rate <= 0) usage("--duration and --normal-rate must be positive");
    if (o.payload != "plain" && o.payload != "escape" && o.payload != "newline") usage("--payload: plain, escape or newline");
    o.normal.port = o.port;
    return o;
}

template <class T>
T or_default(T value, T fallback) {
    return value ? value : fallback;
}

// ---- small helpers ----------------------------------------------------------------------------------------

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

std::string mib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

// "413×12, 400×3"
template <class Key>
std::string counts(const std::map<Key, std::uint64_t>& m) {
    std::string out;
    for (const auto& [key, n] : m) {
        if (!out.empty()) out += ", ";
        if constexpr (std::is_same_v<Key, std::string>) out += key;
        else out += std::to_string(key);
        out += "×" + std::to_string(n);
    }
    return out.empty() ? "none" : out;
}

// A body of `size` bytes that JSON (\u0001: 6 bytes each) or SSE ("\ndata: ": 7 bytes each) encoders expand
// the most, or plain letters.
std::string payload_bytes(const std::string& kind, std::size_t size) {
    const char c = kind == "escape" ? '\x01' : kind == "newline" ? '\n' : 'x';
    return std::string(size, c);
}

// One blocking request on its own connection (setup and bookkeeping, not load): the status and up to
// body_cap bytes of the body, or status -1 and why not.
struct exchange_result {
    int status = -1;
    std::string body;
    std::string error;
};
exchange_result http_exchange(std::uint16_t port, std::string_view request, std::chrono::milliseconds timeout,
                              std::size_t body_cap = 1 << 20) {
    exchange_result r;
    const auto deadline = clock_type::now() + timeout;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {-1, {}, std::strerror(errno)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        r.error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return r;
    }
    for (std::size_t sent = 0; sent < request.size();) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            r.error = std::string("send: ") + std::strerror(errno);
            ::close(fd);
            return r;
        }
        sent += static_cast<std::size_t>(n);
    }
    response_reader reader(body_cap);
    bool done = false;
    std::vector<char> buffer(1 << 16);
    while (!done && clock_type::now() < deadline) {
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0) {
            reader.finish([&](int status, std::string_view body, bool) {
                r.status = status;
                r.body = body;
                done = true;
            });
            if (!done) r.error = n == 0 ? "closed" : std::string("recv: ") + std::strerror(errno);
            break;
        }
        if (reader.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)),
                        [&](int status, std::string_view body, bool) {
                            r.status = status;
                            r.body = body;
                            done = true;
                        }) == response_reader::npos) {
            r.error = "malformed response";
            break;
        }
    }
    if (!done && r.error.empty()) r.error = "timeout";
    ::close(fd);
    return r;
}

std::string post_request(std::string_view path, std::string_view body) {
    std::string r = "POST ";
    r.append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
    r.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    return r;
}

// The "next" cursor ("<epoch>-<sequence>") of a polling answer.
std::optional<std::string> next_cursor(std::string_view body) {
    const auto at = body.find("\"next\":\"");
    if (at == std::string_view::npos) return std::nullopt;
    const auto start = at + 8;
    const auto end = body.find('"', start);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(body.substr(start, end - start));
}
std::optional<std::pair<std::string, std::uint64_t>> split_cursor(std::string_view cursor) {
    const auto dash = cursor.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::uint64_t sequence = 0;
    const auto tail = cursor.substr(dash + 1);
    if (std::from_chars(tail.data(), tail.data() + tail.size(), sequence).ec != std::errc{}) return std::nullopt;
    return std::pair{std::string(cursor.substr(0, dash)), sequence};
}
// The topic's current sequence from GET /poll (hybrid: answers at once with "next" when given no cursor).
std::optional<std::uint64_t> topic_sequence(std::uint16_t port) {
    const auto r = http_exchange(port, "GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5s);
    if (r.status != 200) return std::nullopt;
    const auto cursor = next_cursor(r.body);
    if (!cursor) return std::nullopt;
    const auto parts = split_cursor(*cursor);
    if (!parts) return std::nullopt;
    return parts->second;
}

// Fills the hybrid example's topic: `count` POSTs of `body`. False (with a message) if the server refuses.
bool publish_history(std::uint16_t port, std::uint64_t count, const std::string& body) {
    const std::string request = post_request("/api/publish", body);
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto r = http_exchange(port, request, 10s, 256);
        if (r.status != 201) {
            std::fprintf(stderr, "attack_load: setup: POST /api/publish %" PRIu64 " answered %d %s\n", i, r.status,
                         r.error.c_str());
            return false;
        }
    }
    return true;
}

// ---- the attacks ------------------------------------------------------------------------------------------

class attack_base : public hooks {
public:
    explicit attack_base(const options& o) : o_(o) {}
    void bind(loop& l) { loop_ = &l; }
    virtual bool setup() { return true; }   // before the baseline; may block
    virtual void start() = 0;
    virtual void tick(clock_type::time_point) {}
    // The attack has ended; sockets are still open (the loop closes them after outcome()).
    virtual void stop() { running_ = false; }
    virtual std::string outcome() = 0;
    [[nodiscard]] virtual bool counts_close_wait() const { return false; }
    void close_wait_seen(int peak) { close_wait_peak_ = peak; }   // the sampler's, over the attack

protected:
    [[nodiscard]] std::string saw() {   // the loop's tally, in words
        tally& t = loop_->seen();
        std::string s = "opened " + std::to_string(t.opened);
        if (t.connect_failed) s += ", connect failed " + std::to_string(t.connect_failed);
        if (!t.statuses.empty()) s += "; statuses " + counts(t.statuses);
        if (!t.close_codes.empty()) s += "; Close codes " + counts(t.close_codes);
        s += "; server closed " + std::to_string(t.eof) + " (FIN), reset " + std::to_string(t.resets);
        if (t.ws_without_close) s += ", WebSockets ended with no Close frame " + std::to_string(t.ws_without_close);
        if (!t.errors.empty()) s += "; errors " + counts(t.errors);
        return s;
    }
    // Opens another connection while the attack runs and fewer than `limit` were ever opened.
    bool may_open(std::uint64_t limit) { return running_ && opens_ < limit; }

    const options& o_;
    loop* loop_ = nullptr;
    bool running_ = true;
    int close_wait_peak_ = 0;
    std::uint64_t opens_ = 0;
};

// 1. Chunk extensions: the raw chunked bytes are kept until the request completes, ~4 KiB per body byte.
class chunk_ext final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        const std::string unit = "1;" + std::string(or_default<std::uint64_t>(o_.size, 4000), 'e') + "\r\na\r\n";
        while (block_.size() < (256u << 10)) block_ += unit;
        for (std::uint64_t i = 0; i < connections(); ++i) open();
    }
    void on_connected(conn& c) override {
        loop_->send(c, "GET /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        loop_->stream(c, block_.data(), block_.size(), UINT64_MAX);
    }
    void on_end(conn&, end_reason, int) override {
        if (may_open(connections() * 1000)) open();
    }
    std::string outcome() override {
        return "sent " + mib(loop_->seen().bytes_written) + " MiB of chunk extensions on " +
               std::to_string(connections()) + " connections (reopened when closed); " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 16); }
    void open() {
        ++opens_;
        loop_->open(0);
    }
    std::string block_;
};

// 2. Pipelined requests on sockets that never read: every answer found in one read is queued before the
// backlog is checked.
class pipeline final : public attack_base {
public:
    pipeline(const options& o, bool polls) : attack_base(o), polls_(polls) {}
    bool setup() override {
        if (!polls_) {
            request_ = "GET " + (o_.path.empty() ? std::string("/tether.js") : o_.path) + " HTTP/1.1\r\nHost: x\r\n\r\n";
            return true;
        }
        // A long history, then the oldest cursor the topic still recovers from: the halving search copes
        // with a server that keeps fewer messages (or bytes) than were published.
        const std::uint64_t history = or_default<std::uint64_t>(o_.history, 1024);
        if (!publish_history(o_.port, history, payload_bytes(o_.payload, or_default<std::uint64_t>(o_.size, 65536))))
            return false;
        const auto first = http_exchange(o_.port, "GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5s);
        const auto cursor = first.status == 200 ? next_cursor(first.body) : std::nullopt;
        const auto parts = cursor ? split_cursor(*cursor) : std::nullopt;
        if (!parts) {
            std::fprintf(stderr, "attack_load: setup: GET /poll gave no cursor (%d %s)\n", first.status, first.error.c_str());
            return false;
        }
        for (std::uint64_t gap = std::min(parts->second, history); gap > 0; gap /= 2) {
            const std::string since = parts->first + "-" + std::to_string(parts->second - gap);
            const std::string probe = "GET /status?since=" + since + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            const auto r = http_exchange(o_.port, probe, 30s, 512u << 20);
            if (r.status == 200 && r.body.find("\"recovered\":true") != std::string::npos) {
                request_ = "GET /status?since=" + since + " HTTP/1.1\r\nHost: x\r\n\r\n";
                answer_bytes_ = r.body.size();
                replay_ = gap;
                return true;
            }
        }
        std::fprintf(stderr, "attack_load: setup: no cursor the topic recovers from\n");
        return false;
    }
    void start() override {
        for (std::uint64_t i = 0; i < requests(); ++i) block_ += request_;
        for (std::uint64_t i = 0; i < connections(); ++i) {
            ++opens_;
            loop_->open(0, false, o_.rcvbuf);
        }
    }
    void on_connected(conn& c) override { loop_->stream(c, block_.data(), block_.size(), block_.size()); }
    void stop() override {
        attack_base::stop();
        written_ = loop_->seen().bytes_written / request_.size();
        still_open_ = loop_->live();
    }
    std::string outcome() override {
        std::string s = std::to_string(written_) + " of " + std::to_string(requests() * connections()) +
                        " pipelined requests written on " + std::to_string(connections()) +
                        " connections that never read";
        if (polls_)
            s += " (cursor " + std::to_string(replay_) + " messages back: " + mib(answer_bytes_) + " MiB per answer)";
        return s + "; still open at the end " + std::to_string(still_open_) + "; " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 8); }
    std::uint64_t requests() const { return or_default<std::uint64_t>(o_.requests, polls_ ? 8 : 2000); }
    bool polls_;
    std::string request_;
    std::string block_;
    std::uint64_t answer_bytes_ = 0;
    std::uint64_t replay_ = 0;
    std::uint64_t written_ = 0;
    std::size_t still_open_ = 0;
};

// Frames appended each time a WebSocket's output drains, so that frames stay whole in `out` and a pong or
// Close the loop adds lands between frames.
class ws_writer {
public:
    void prepare(loop& l, std::string_view message, std::size_t per_refill) {
        batch_.clear();
        for (std::size_t i = 0; i < per_refill; ++i)
            append_frame(batch_, opcode::text, message, static_cast<std::uint32_t>(l.random()));
        per_refill_ = per_refill;
    }
    void prepare_pairs(loop& l, std::string_view a, std::string_view b, std::size_t pairs) {
        batch_.clear();
        for (std::size_t i = 0; i < pairs; ++i) {
            append_frame(batch_, opcode::text, a, static_cast<std::uint32_t>(l.random()));
            append_frame(batch_, opcode::text, b, static_cast<std::uint32_t>(l.random()));
        }
        per_refill_ = pairs;
    }
    std::size_t refill(loop& l, conn& c) {
        l.send(c, batch_);
        return per_refill_;
    }

private:
    std::string batch_;
    std::size_t per_refill_ = 0;
};

// 3. Subscribe/unsubscribe churn: unsubscribe never removed the entry and each subscribe scanned the list.
class sub_churn final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        writer_.prepare_pairs(*loop_, R"({"type":"subscribe","topic":"news"})", R"({"type":"unsubscribe","topic":"news"})",
                              256);
        loop_->open_websocket(0, "/ws");
        started_ = clock_type::now();
    }
    void on_ws_open(conn& c) override { on_drained(c); }
    void on_drained(conn& c) override {
        if (running_ && c.upgraded && !c.close_received && sent_ < limit()) sent_ += writer_.refill(*loop_, c);
    }
    void on_ws_message(conn&, std::uint8_t, std::string_view m) override {
        if (m.find("\"subscribed\"") != std::string_view::npos) ++subscribed_;
        else ++other_;
    }
    void on_end(conn&, end_reason, int) override { ended_ = clock_type::now(); }
    void stop() override {
        attack_base::stop();
        if (ended_ == clock_type::time_point{}) ended_ = clock_type::now();
    }
    std::string outcome() override {
        const double s = seconds_between(started_, ended_);
        char rate[64];
        std::snprintf(rate, sizeof rate, "%.0f", s > 0 ? static_cast<double>(subscribed_) / s : 0.0);
        return std::to_string(sent_) + " subscribe/unsubscribe pairs queued, " + std::to_string(subscribed_) +
               " answered \"subscribed\" (" + rate + "/s), " + std::to_string(other_) + " other answers; " + saw();
    }

private:
    std::uint64_t limit() const { return or_default<std::uint64_t>(o_.requests, 1'000'000); }
    ws_writer writer_;
    std::uint64_t sent_ = 0;
    std::uint64_t subscribed_ = 0;
    std::uint64_t other_ = 0;
    clock_type::time_point started_{};
    clock_type::time_point ended_{};
};

// 4. History with no byte cap: every message kept, in every wire format.
class history final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        request_ = post_request("/api/publish", payload_bytes(o_.payload, size()));
        for (std::uint64_t i = 0; i < or_default<std::uint64_t>(o_.connections, 2); ++i) loop_->open(0);
    }
    void on_connected(conn& c) override { next(c); }
    void on_response(conn& c, int status, std::string_view) override {
        if (status == 201) ++published_;
        next(c);
    }
    void on_end(conn&, end_reason, int) override {
        if (may_open(1000)) {
            ++opens_;
            loop_->open(0);
        }
    }
    std::string outcome() override {
        return std::to_string(published_) + " messages of " + std::to_string(size()) + " B (" + o_.payload +
               " payload) published, " + mib(published_ * size()) + " MiB of payload; " + saw();
    }

private:
    std::uint64_t size() const { return or_default<std::uint64_t>(o_.size, 65536); }
    void next(conn& c) {
        if (running_ && sent_ < or_default<std::uint64_t>(o_.requests, 100'000)) {
            ++sent_;
            loop_->send(c, request_);
        }
    }
    std::string request_;
    std::uint64_t sent_ = 0;
    std::uint64_t published_ = 0;
};

// 5. Connection flood: WebSockets that answer pings and idle connections, held.
class flood final : public attack_base {
public:
    using attack_base::attack_base;
    enum role : int { websocket = 1, idle = 2 };
    void start() override { tick(clock_type::now()); }
    void tick(clock_type::time_point now) override {
        const std::uint64_t target = websockets() + idles();
        while (running_ && pending_ < 256 && opens_ < 2 * target && held_ws_ + held_idle_ + pending_ < target) {
            const bool ws = (opened_ws_ < websockets()) && (opened_ws_ <= opened_idle_ || opened_idle_ >= idles());
            ++opens_;
            conn* c = nullptr;
            if (ws) {
                ++opened_ws_;
                c = loop_->open_websocket(websocket, "/ws");
            } else {
                ++opened_idle_;
                c = loop_->open(idle);
            }
            if (c) {   // pending until connected (idle) or upgraded (WebSocket); c.count2 marks it
                c->count2 = 1;
                ++pending_;
            }
        }
        if (now - last_scan_ > 250ms) {   // give up on handshakes the server never answers
            last_scan_ = now;
            loop_->for_each([&](conn& c) {
                if (c.role == websocket && !c.upgraded && now - c.opened > 5s) {
                    ++handshake_timeouts_;
                    loop_->close(c);
                }
            });
        }
        peak_ = std::max<std::uint64_t>(peak_, held_ws_ + held_idle_);
    }
    void on_connected(conn& c) override {
        if (c.role == idle) settle(c, held_idle_);
    }
    void on_ws_open(conn& c) override { settle(c, held_ws_); }
    void on_end(conn& c, end_reason, int) override {
        if (c.count2) {
            c.count2 = 0;
            --pending_;
        } else if (c.count) {
            --(c.role == websocket ? held_ws_ : held_idle_);
        }
    }
    void stop() override {
        attack_base::stop();
        final_ws_ = held_ws_;
        final_idle_ = held_idle_;
    }
    std::string outcome() override {
        return "held " + std::to_string(final_ws_) + " WebSockets + " + std::to_string(final_idle_) +
               " idle connections at the end (" + std::to_string(peak_) + " at most) of " +
               std::to_string(websockets()) + " + " + std::to_string(idles()) + " wanted; handshake timeouts " +
               std::to_string(handshake_timeouts_) + "; " + saw();
    }

private:
    std::uint64_t websockets() const { return or_default<std::uint64_t>(o_.websockets, 6000); }
    std::uint64_t idles() const { return or_default<std::uint64_t>(o_.connections, 6000); }
    void settle(conn& c, std::uint64_t& held) {
        if (!c.count2) return;
        c.count2 = 0;
        --pending_;
        c.count = 1;
        ++held;
    }
    std::uint64_t opened_ws_ = 0, opened_idle_ = 0, held_ws_ = 0, held_idle_ = 0, pending_ = 0;
    std::uint64_t handshake_timeouts_ = 0, peak_ = 0, final_ws_ = 0, final_idle_ = 0;
    clock_type::time_point last_scan_{};
};

// 6. Stalled bodies: most of a 1 MiB body, then silence, on many connections.
class stalled_body final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        block_.assign(64 * 1024, 'a');
        for (std::uint64_t i = 0; i < connections(); ++i) loop_->open(0);
    }
    void on_connected(conn& c) override {
        loop_->send(c, "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " + std::to_string(size()) + "\r\n\r\n");
        loop_->stream(c, block_.data(), block_.size(), size() - 1);
    }
    void stop() override {
        attack_base::stop();
        still_open_ = loop_->live();
    }
    std::string outcome() override {
        return std::to_string(connections()) + " connections sent " + mib(loop_->seen().bytes_written) +
               " MiB of " + std::to_string(size()) + "-byte bodies, all but the last byte, then stalled; still open " +
               std::to_string(still_open_) + "; " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 500); }
    std::uint64_t size() const { return or_default<std::uint64_t>(o_.size, 1u << 20); }
    std::string block_;
    std::size_t still_open_ = 0;
};

// 7. SSE streams that never read, on a busy topic.
class sse_stall final : public attack_base {
public:
    using attack_base::attack_base;
    enum role : int { stream = 1, publisher = 2 };
    void start() override {
        request_ = post_request("/api/publish", payload_bytes(o_.payload, or_default<std::uint64_t>(o_.size, 4096)));
        for (std::uint64_t i = 0; i < streams(); ++i) {
            if (conn* c = loop_->open(stream, false, o_.rcvbuf))
                loop_->send(*c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
        }
        publisher_ = loop_->open(publisher);
        started_ = clock_type::now();
    }
    void tick(clock_type::time_point now) override {
        due_ = static_cast<std::uint64_t>(seconds_between(started_, now) * or_default(o_.rate, 500.0));
        if (publisher_ && publisher_->connected) publish(*publisher_);
    }
    void on_response(conn& c, int status, std::string_view) override {
        --in_flight_;
        ++(status == 201 ? published_ : failed_);
        publish(c);
    }
    void on_end(conn& c, end_reason, int) override {
        if (c.role != publisher) return;
        publisher_ = nullptr;
        sent_ -= in_flight_;
        in_flight_ = 0;
        if (may_open(100)) {
            ++opens_;
            publisher_ = loop_->open(publisher);
        }
    }
    void stop() override {
        attack_base::stop();
        loop_->for_each([&](conn& c) { still_open_ += c.role == stream; });
    }
    std::string outcome() override {
        return std::to_string(streams()) + " SSE streams never read while " + std::to_string(published_) +
               " messages were published; streams still open at the end " + std::to_string(still_open_) + "; " + saw();
    }

private:
    std::uint64_t streams() const { return or_default<std::uint64_t>(o_.connections, 200); }
    void publish(conn& c) {   // pipelined, up to 16 in flight, to keep the rate when answers are slow
        while (running_ && in_flight_ < 16 && sent_ < due_) {
            ++in_flight_;
            ++sent_;
            loop_->send(c, request_);
        }
    }
    std::string request_;
    conn* publisher_ = nullptr;
    std::uint64_t in_flight_ = 0, sent_ = 0, due_ = 0, published_ = 0, failed_ = 0, still_open_ = 0;
    clock_type::time_point started_{};
};

// 8. Data then FIN: a partial header, or a WebSocket message, followed by shutdown(SHUT_WR). How long does the
// server take to close, and how many of its sockets sit in CLOSE-WAIT meanwhile?
class fin_after_data final : public attack_base {
public:
    fin_after_data(const options& o, bool websocket) : attack_base(o), websocket_(websocket) {}
    [[nodiscard]] bool counts_close_wait() const override { return true; }
    void start() override {
        for (std::uint64_t i = 0; i < connections(); ++i) {
            if (websocket_) loop_->open_websocket(0, "/ws");
            else loop_->open(0);
        }
    }
    void on_connected(conn& c) override {
        if (websocket_) return;
        loop_->send(c, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaa");
        fin(c);
    }
    void on_ws_open(conn& c) override {
        loop_->send_frame(c, opcode::text, R"({"type":"ping"})");
        fin(c);
    }
    void on_ws_message(conn&, std::uint8_t, std::string_view m) override { pongs_ += m.find("pong") != std::string_view::npos; }
    void on_end(conn& c, end_reason why, int) override {
        if (why == end_reason::by_us || c.mark == clock_type::time_point{}) return;
        ++closed_;
        close_us_.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - c.mark).count()));
    }
    void stop() override {
        attack_base::stop();
        close_wait_now_ = count_close_wait(o_.port);
    }
    std::string outcome() override {
        std::string s = std::to_string(connections()) +
                        (websocket_ ? " WebSockets sent a message and FIN" : " connections sent a partial header and FIN");
        if (websocket_) s += " (" + std::to_string(pongs_) + " answered)";
        s += "; the server closed " + std::to_string(closed_) + " of them within the attack";
        if (closed_) {
            char t[96];
            std::snprintf(t, sizeof t, " (median %.1f ms, max %.1f ms after the FIN)",
                          static_cast<double>(close_us_.quantile(0.5)) / 1000.0,
                          static_cast<double>(close_us_.max()) / 1000.0);
            s += t;
        }
        return s + "; server sockets in CLOSE-WAIT: " + std::to_string(close_wait_peak_) + " at most, " +
               std::to_string(close_wait_now_) + " at the end; " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, websocket_ ? 200 : 500); }
    void fin(conn& c) {
        c.mark = clock_type::now();
        loop_->finish_output(c);
    }
    bool websocket_;
    tether_bench::histogram close_us_;   // from the FIN to the server's close
    std::uint64_t closed_ = 0, pongs_ = 0;
    int close_wait_now_ = 0;
};

// 9. An oversized WebSocket message: does the Close (1009) reach the client, or a reset first?
class ws_oversize final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        mask_ = static_cast<std::uint32_t>(loop_->random());
        block_.assign(64 * 1024, 'a');   // a multiple of 4, so the mask lines up on every lap of the block
        mask_payload(block_.data(), block_.size(), mask_);
        for (std::uint64_t i = 0; i < connections(); ++i) open();
    }
    void on_ws_open(conn& c) override {
        std::string header;
        append_frame_header(header, opcode::text, size(), mask_);
        loop_->send(c, header);
        loop_->stream(c, block_.data(), block_.size(), size());
        c.mark = clock_type::now();
    }
    void on_drained(conn& c) override {
        if (c.upgraded && c.count == 0) {   // the whole message left: the server must answer now
            c.count = 1;
            c.mark = clock_type::now();
        }
    }
    void tick(clock_type::time_point now) override {
        loop_->for_each([&](conn& c) {   // no answer for 5 s after the whole message left: give up
            if (c.count == 1 && !c.close_received && now - c.mark > 5s) {
                ++no_answer_;
                loop_->close(c);
            }
        });
    }
    void on_end(conn& c, end_reason why, int) override {
        if (c.upgraded && why != end_reason::by_us) {
            ++attempts_;
            if (c.close_received) ++got_close_;
            else if (why == end_reason::reset) ++reset_first_;
            else ++eof_first_;
        }
        if (may_open(100'000)) open();
    }
    std::string outcome() override {
        return std::to_string(attempts_) + " messages of " + mib(size()) + " MiB: the Close frame arrived " +
               std::to_string(got_close_) + " times, a reset came first " + std::to_string(reset_first_) +
               ", EOF with no Close " + std::to_string(eof_first_) + ", no answer in 5 s " +
               std::to_string(no_answer_) + "; " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 20); }
    std::uint64_t size() const { return or_default<std::uint64_t>(o_.size, 2u << 20); }
    void open() {
        ++opens_;
        loop_->open_websocket(0, "/ws");
    }
    std::string block_;
    std::uint32_t mask_ = 0;
    std::uint64_t attempts_ = 0, got_close_ = 0, reset_first_ = 0, eof_first_ = 0, no_answer_ = 0;
};

// 10. Host and target validation (RFC 9112 §3.2, §3.2.2; RFC 9110 §4.2.3): one request per connection.
class bad_host final : public attack_base {
public:
    using attack_base::attack_base;
    struct variant {
        const char* name;
        std::string request;
        std::map<std::string, std::uint64_t> seen;
    };
    void start() override {
        const std::string path = o_.path.empty() ? "/plaintext" : o_.path;
        const std::string tail = " HTTP/1.1\r\nConnection: close\r\n";
        variants_ = {
            {"Host 'a b'", "GET " + path + tail + "Host: a b\r\n\r\n", {}},
            {"Host 'a, b'", "GET " + path + tail + "Host: a, b\r\n\r\n", {}},
            {"Host 'user@evil'", "GET " + path + tail + "Host: user@evil\r\n\r\n", {}},
            {"absolute-form, other Host", "GET http://evil.example" + path + tail + "Host: 127.0.0.1\r\n\r\n", {}},
            {"target byte 0xC3 0xA9", "GET " + path + "\xC3\xA9" + tail + "Host: 127.0.0.1\r\n\r\n", {}},
            {"(control) no Host", "GET " + path + tail + "\r\n", {}},
            {"(control) two Hosts", "GET " + path + tail + "Host: a\r\nHost: b\r\n\r\n", {}},
        };
        started_ = clock_type::now();
    }
    void tick(clock_type::time_point now) override {
        const auto due = static_cast<std::uint64_t>(seconds_between(started_, now) * or_default(o_.rate, 1000.0));
        while (running_ && opens_ < due && loop_->live() < 64) {
            conn* c = loop_->open(static_cast<int>(opens_ % variants_.size()));
            ++opens_;
            if (c) loop_->send(*c, variants_[static_cast<std::size_t>(c->role)].request);
        }
    }
    void on_response(conn& c, int status, std::string_view) override {
        ++variants_[static_cast<std::size_t>(c.role)].seen[std::to_string(status)];
        c.count = 1;
        loop_->close(c);
    }
    void on_end(conn& c, end_reason why, int) override {
        if (c.count || why == end_reason::by_us) return;
        ++variants_[static_cast<std::size_t>(c.role)].seen[why == end_reason::reset ? "reset" : "no answer"];
    }
    std::string outcome() override {
        std::string s;
        for (const auto& v : variants_) s += std::string(v.name) + " → " + counts(v.seen) + "; ";
        return s + "(" + std::to_string(opens_) + " requests)";
    }

private:
    std::vector<variant> variants_;
    clock_type::time_point started_{};
};

// 11. Publish flood over WebSocket pubsub: how many publishes does the server accept, and what stops it?
class publish_flood final : public attack_base {
public:
    using attack_base::attack_base;
    bool setup() override {
        const auto s = topic_sequence(o_.port);
        if (!s) {
            std::fprintf(stderr, "attack_load: setup: GET /poll gave no sequence\n");
            return false;
        }
        before_ = *s;
        return true;
    }
    void start() override {
        const std::string data(or_default<std::uint64_t>(o_.size, 16), 'x');
        writer_.prepare(*loop_, R"({"type":"publish","topic":"news","data":")" + data + "\"}", 256);
        loop_->open_websocket(0, "/ws");
        started_ = clock_type::now();
    }
    void on_ws_open(conn& c) override { on_drained(c); }
    void on_drained(conn& c) override {
        if (running_ && c.upgraded && !c.close_received && sent_ < or_default<std::uint64_t>(o_.requests, 100'000'000))
            sent_ += writer_.refill(*loop_, c);
    }
    void on_ws_message(conn&, std::uint8_t, std::string_view m) override {
        ++answers_;
        if (first_answer_.empty()) first_answer_ = std::string(m.substr(0, 120));
    }
    void on_end(conn&, end_reason why, int) override {
        if (why != end_reason::by_us) ended_ = clock_type::now();
    }
    void stop() override {
        attack_base::stop();
        const bool closed_by_server = ended_ != clock_type::time_point{};
        if (!closed_by_server) ended_ = clock_type::now();
        loop_->close_all();   // stop publishing before counting
        const auto after = topic_sequence(o_.port);
        accepted_ = after ? *after - before_ : 0;
        counted_ = after.has_value();
        closed_by_server_ = closed_by_server;
    }
    std::string outcome() override {
        const double s = seconds_between(started_, ended_);
        char rate[64];
        std::snprintf(rate, sizeof rate, "%.0f", s > 0 ? static_cast<double>(accepted_) / s : 0.0);
        char over[32];
        std::snprintf(over, sizeof over, "%.1f", s);
        std::string out = std::to_string(sent_) + " publishes queued; " +
                          (counted_ ? std::to_string(accepted_) + " accepted (" + rate + "/s over " + over + " s)"
                                    : std::string("accepted: unknown (GET /poll failed)"));
        out += closed_by_server_ ? "; the server ended the connection" : "; the server never stopped it";
        if (answers_) out += "; " + std::to_string(answers_) + " answers, first: " + first_answer_;
        return out + "; " + saw();
    }

private:
    ws_writer writer_;
    std::uint64_t before_ = 0, accepted_ = 0, sent_ = 0, answers_ = 0;
    bool counted_ = false, closed_by_server_ = false;
    std::string first_answer_;
    clock_type::time_point started_{}, ended_{};
};

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
    loop l(o.port, *attack);
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
                " quiet_attempted=%" PRIu64 " quiet_p99_ms=%s close_wait_peak=%d\n",
                o.attack.c_str(), attacked, stopped.c_str(), baseline, peak, peak - baseline, after_rss, n.served,
                n.attempted, quantile(n, 0.5).c_str(), quantile(n, 0.99).c_str(),
                n.served ? ms(n.latency.max()).c_str() : "n/a", q.served, q.attempted, quantile(q, 0.99).c_str(),
                close_wait_peak);
    std::printf("failures %s\n", counts(n.failures).c_str());
    std::printf("outcome %s\n", outcome.c_str());
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
