// fanout_load: the load generator of the fan-out benchmark (benchmarks/fanout/run.sh). It opens S subscribers
// to one topic, drives the server's publish trigger under flow control, and measures how many frames the
// server delivers per second, whether any subscriber lost messages, and how old each message is on arrival.
//
//   fanout_load ws  --port 8080 --subscribers 1000 [--size 64] [--window 64] [--batch W/4] [--duration 10] [--warmup 1]
//   fanout_load sse --port 8080 --subscribers 1000 ...
//   common: [--host 127.0.0.1] [--path /ws | /events] [--topic bench] [--handshakes 200] [--open-timeout 120]
//           [--stall-timeout 10] [--close-timeout 5] [--drain-timeout 120] [--server-pid PID]
//           [--ports P1,P2,..] [--rate R] [--body ticker] [--deflate] [--raw] [--messages N]
//
// Several servers serving one topic (nodes of a cluster, benchmarks/backplane/run.sh): --ports spreads the
// subscribers over them round-robin, while --port still names the one the publish trigger goes to. --rate R
// caps publishing at R messages/s (within the window), for latency at a given load rather than at the most
// the servers sustain; requests then go out every millisecond with what the rate allows.
//
// --body ticker asks for JSON market-data ticks instead of padding (bench_message.hpp). --deflate (ws) offers
// permessage-deflate as browsers do ("permessage-deflate; client_max_window_bits"), fails a subscriber the
// server does not agree with, and inflates compressed messages (tether's ws::deflate_session) before reading
// them. Bytes on the wire are counted either way: every byte recv() returned on the subscribers' sockets during
// the measured window, reported per delivered frame.
//
// --raw (ws) expects each message as its bare body in a text frame, no envelope (tether's fanout_server and the
// kernel floor, benchmarks/peers/floor_fanout.cpp, serve that form at /sub, the default --path with --raw; any
// pubsub route of tether serves it too, --path /ws, as a raw subscription); the subscribe request says
// "raw":true (/sub ignores it) and its "subscribed" answer is the same.
//
// --messages N replaces the timed run by a fixed workload, for instruction counts (benchmarks/callgrind/fanout.sh):
// exactly N messages are published under the same flow control, the run ends once every subscriber has all of
// them (at most --drain-timeout), and the result line counts every frame received; no warm-up, no rates. N = 0
// opens and closes the subscribers only: the baseline to subtract.
//
// What the server must speak (benchmarks/fanout/fanout_server.cpp for tether, benchmarks/peers/naive_broadcast.cpp
// for the Beast baseline):
//   ws:  GET --path upgraded to WebSocket; the client sends {"type":"subscribe","topic":"bench"} and waits for a
//        text message with "type":"subscribed"; messages then arrive as text frames {"topic":..,"id":..,"data":"B"}
//        (with --raw: text frames B).
//   sse: GET --path answered 200 text/event-stream (HTTP/1.1 chunked or not); each message is an event whose
//        data line is B; other event types ("missed", "reset") and comments are counted or ignored.
//   POST /publish?n=K&size=SIZE on a separate keep-alive connection publishes K messages and answers 204;
//   GET /sequence on it answers the sequence the next message will carry (read once, before publishing, so a
//   server that already published, say to a smoke check's curl, is measured correctly).
//   B is benchmarks/fanout/bench_message.hpp's body: "<sequence> <steady_clock ns at publish> xxx..." (or a
//   JSON tick whose first two integers are those): the sequence and time are read, the rest is not.
//
// Flow control, the heart of the method: message i+W is not requested until every subscriber has received
// message i (a sequence it skipped counts as passed, and as lost). So the server is never asked to queue more
// than W messages per subscriber, no backpressure policy is exercised, and the delivered rate is what the server
// sustains with its slowest subscriber in step. Requests go out when at least --batch messages of window are
// free (default W/4), so a server's per-request cost is amortized over many messages. Bookkeeping is O(1) per
// frame: a ring of W counters, "how many subscribers have passed sequence i".
//
// Measured (between --warmup and --warmup + --duration): delivered frames/s (data messages received by all
// subscribers together), messages/s (messages completed by every subscriber), latency percentiles (receive time
// minus the publish time in the body, both CLOCK_MONOTONIC on one machine), and with --server-pid the server's
// CPU time over the window (/proc/PID/stat) per delivered frame. Loss: per subscriber, every gap in the
// sequence; the run ends by letting the last window drain (as long as the server makes progress, at most
// --drain-timeout) and checks every subscriber got everything. No progress for --stall-timeout is an error.
//
// One thread, one level-triggered epoll loop, one recv per readable socket, frames parsed in place by tether's
// I/O-free client-side codec (ws/frame.hpp); one clock read per recv. The last stdout line is machine-readable:
// "result key=value ...". Exit status 1 on any error (failed handshake, protocol error, unexpected EOF, duplicate
// or reordered message, stall).

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tether/ws/deflate_session.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/handshake.hpp>
#include <tether/ws/permessage_deflate.hpp>

#include "../fanout/bench_message.hpp"
#include "histogram.hpp"
#include "proc_sample.hpp"

namespace {

namespace ws = tether::ws;
using tether_bench::histogram;
using tether_bench::proc_sample;
using tether_bench::sample_process;
using clock_type = std::chrono::steady_clock;

// ---- options ----------------------------------------------------------------------------------------------

enum class transport { ws, sse };

struct options {
    transport kind = transport::ws;
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string path;
    std::string topic = "bench";
    std::size_t subscribers = 1000;
    std::size_t size = 64;
    std::size_t window = 64;
    std::size_t batch = 0;  // 0: window / 4
    double duration = 10;
    double warmup = 1;
    std::size_t handshakes = 200;
    double open_timeout = 120;
    double stall_timeout = 10;
    double close_timeout = 5;
    double drain_timeout = 120;
    int server_pid = 0;
    std::vector<unsigned short> ports;   // where subscribers connect (round-robin); empty: --port
    double rate = 0;                     // messages/s; 0: as fast as the window allows
    bool ticker = false;   // --body ticker
    bool deflate = false;  // --deflate
    bool raw = false;      // --raw
    std::int64_t messages = -1;  // --messages N: a fixed workload; -1: timed (--duration)
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "fanout_load: %s\n"
                 "usage: fanout_load ws|sse --port N [--subscribers 1000] [--size 64] [--window 64] [--batch W/4]\n"
                 "       [--duration 10] [--warmup 1] [--host 127.0.0.1] [--path /ws|/events] [--topic bench]\n"
                 "       [--handshakes 200] [--open-timeout 120] [--stall-timeout 10] [--close-timeout 5] [--drain-timeout 120] [--server-pid PID]\n"
                  "       [--ports P1,P2,..] [--rate R] [--body ticker] [--deflate] [--raw] [--messages N]\n",
                 why);
    std::exit(2);
}

template <class T>
T number(std::string_view name, std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        usage(("bad value '" + std::string(text) + "' for " + std::string(name)).c_str());
    return value;
}

options parse_options(int argc, char** argv) {
    options o;
    if (argc < 2) usage("missing mode");
    const std::string_view mode = argv[1];
    if (mode == "ws") o.kind = transport::ws;
    else if (mode == "sse") o.kind = transport::sse;
    else usage("mode must be ws or sse");
    for (int i = 2; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--deflate") {
            o.deflate = true;
            continue;
        }
        if (arg == "--raw") {
            o.raw = true;
            continue;
        }
        if (i + 1 >= argc) usage(("missing value for " + std::string(arg)).c_str());
        const std::string_view v = argv[++i];
        if (arg == "--host") o.host = std::string(v);
        else if (arg == "--port") o.port = number<unsigned short>(arg, v);
        else if (arg == "--path") o.path = std::string(v);
        else if (arg == "--topic") o.topic = std::string(v);
        else if (arg == "--subscribers") o.subscribers = number<std::size_t>(arg, v);
        else if (arg == "--size") o.size = number<std::size_t>(arg, v);
        else if (arg == "--window") o.window = number<std::size_t>(arg, v);
        else if (arg == "--batch") o.batch = number<std::size_t>(arg, v);
        else if (arg == "--duration") o.duration = number<double>(arg, v);
        else if (arg == "--warmup") o.warmup = number<double>(arg, v);
        else if (arg == "--handshakes") o.handshakes = number<std::size_t>(arg, v);
        else if (arg == "--open-timeout") o.open_timeout = number<double>(arg, v);
        else if (arg == "--stall-timeout") o.stall_timeout = number<double>(arg, v);
        else if (arg == "--close-timeout") o.close_timeout = number<double>(arg, v);
        else if (arg == "--drain-timeout") o.drain_timeout = number<double>(arg, v);
        else if (arg == "--server-pid") o.server_pid = number<int>(arg, v);
        else if (arg == "--rate") o.rate = number<double>(arg, v);
        else if (arg == "--messages") o.messages = number<std::int64_t>(arg, v);
        else if (arg == "--ports") {
            for (std::string_view rest = v; !rest.empty();) {
                const auto comma = rest.find(',');
                o.ports.push_back(number<unsigned short>(arg, rest.substr(0, comma)));
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        }
        else if (arg == "--body") {
            if (v != "ticker") usage("--body takes ticker");
            o.ticker = true;
        }
        else usage(("unknown option " + std::string(arg)).c_str());
    }
    if (o.port == 0) usage("--port is required");
    if (o.ports.empty()) o.ports.push_back(o.port);
    if (o.rate < 0) usage("--rate must not be negative");
    if (o.messages < -1) usage("--messages must not be negative");
    if (o.path.empty()) o.path = o.kind == transport::sse ? "/events" : o.raw ? "/sub" : "/ws";
    if (o.subscribers == 0 || o.handshakes == 0 || o.window == 0) usage("counts must be at least 1");
    if (o.batch == 0) o.batch = std::max<std::size_t>(1, o.window / 4);
    if (o.batch > o.window) usage("--batch must not exceed --window");
    if (o.window > 2048) usage("--window is at most 2048 (the tether server's topic history is 4096)");
    if (o.size < tether_bench::min_message_size || o.size > tether_bench::max_message_size)
        usage("--size must be 42..65536 bytes (room for the sequence and the timestamp)");
    if (o.ticker && o.size < tether_bench::min_ticker_size) usage("--body ticker needs --size 160 or more");
    if (o.deflate && o.kind != transport::ws) usage("--deflate is for ws");
    if (o.raw && o.kind != transport::ws) usage("--raw is for ws");
    return o;
}

// ---- subscribers ---------------------------------------------------------------------------------------------

enum class phase : std::uint8_t { unused, connecting, handshaking, subscribing, live, closing, done, failed };
enum class chunk_state : std::uint8_t { size_line, data, crlf };

struct subscriber {
    int fd = -1;
    phase state = phase::unused;
    bool writable_wanted = false;
    std::array<char, ws::client_key_size> key{};
    std::string in;       // handshake response; unparsed tail (partial frame header, partial chunk)
    std::string out;      // bytes not yet accepted by the kernel
    std::size_t out_sent = 0;
    std::string message;  // ws: a data message arriving in pieces; sse: decoded stream text not yet a whole event
    ws::frame_parser parser{ws::role::client, {.max_message_size = std::uint64_t{1} << 24}};
    bool chunked = false;  // sse
    chunk_state chunk = chunk_state::size_line;
    std::uint64_t chunk_left = 0;
    std::uint64_t next = 0;      // the sequence expected next
    std::uint64_t lost = 0;      // sequences skipped
    std::unique_ptr<ws::deflate_session> deflate;  // --deflate, once the server agreed
};

constexpr std::uint64_t control_id = ~std::uint64_t{0};

class load {
public:
    explicit load(const options& o) : opt_(o), subs_(o.subscribers) {
        std::random_device rd;
        rng_ = (std::uint64_t{rd()} << 32) ^ rd() ^ 0x9e3779b97f4a7c15ull;
        std::size_t ring = 1;
        while (ring < opt_.window + 1) ring <<= 1;
        passed_.assign(ring, 0);
        ring_mask_ = ring - 1;
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) die("epoll_create1");
        address_.sin_family = AF_INET;
        address_.sin_port = htons(opt_.port);
        if (inet_pton(AF_INET, opt_.host.c_str(), &address_.sin_addr) != 1) usage("--host must be an IPv4 address");
        for (auto port : opt_.ports) {
            subscriber_addresses_.push_back(address_);
            subscriber_addresses_.back().sin_port = htons(port);
        }
    }

    int run() {
        const auto open_start = clock_type::now();
        if (!open_all()) {
            report_errors();
            std::printf("result mode=%s subscribers=%zu opened=%zu errors=%" PRIu64 " status=open-failed\n", mode_name(),
                        opt_.subscribers, live_, errors_);
            return 1;
        }
        std::fprintf(stderr, "fanout_load: %zu %s subscribers live in %.2f s\n", live_, mode_name(),
                     seconds_since(open_start));
        if (!open_control()) {
            report_errors();
            std::printf("result mode=%s subscribers=%zu errors=%" PRIu64 " status=control-failed\n", mode_name(),
                        opt_.subscribers, errors_);
            return 1;
        }
        return opt_.messages >= 0 ? measure_fixed() : measure();
    }

private:
    static constexpr std::size_t max_reported_errors = 20;

    const char* mode_name() const { return opt_.kind == transport::ws ? "ws" : "sse"; }
    [[noreturn]] static void die(const char* what) {
        std::fprintf(stderr, "fanout_load: %s: %s\n", what, std::strerror(errno));
        std::exit(1);
    }
    static double seconds_since(clock_type::time_point t) {
        return std::chrono::duration<double>(clock_type::now() - t).count();
    }
    static clock_type::duration seconds(double s) {
        return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
    }
    std::uint64_t next_random() {  // xorshift64*: mask keys and nonces
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        return rng_ * 0x2545f4914f6cdd1dull;
    }
    std::size_t index_of(const subscriber& c) const { return static_cast<std::size_t>(&c - subs_.data()); }

    void complain(const std::string& what) {
        ++errors_;
        if (errors_ <= max_reported_errors) std::fprintf(stderr, "fanout_load: ERROR %s\n", what.c_str());
        else if (errors_ == max_reported_errors + 1) std::fprintf(stderr, "fanout_load: (further errors counted, not printed)\n");
    }
    void error(subscriber& c, const std::string& what) {
        complain("subscriber " + std::to_string(index_of(c)) + ": " + what);
        fail(c);
    }
    void fail(subscriber& c) {
        if (c.state == phase::connecting || c.state == phase::handshaking || c.state == phase::subscribing) --opening_;
        if (c.state == phase::live) --live_;
        if (c.fd >= 0) close(c.fd);
        c.fd = -1;
        c.state = phase::failed;
        c.in = {};
        c.out = {};
        c.message = {};
        ++finished_;
        aborted_ = true;  // a subscriber gone mid-run would stall the window; the run is void anyway
    }
    void report_errors() const {
        if (errors_ > 0) std::fprintf(stderr, "fanout_load: %" PRIu64 " error(s)\n", errors_);
    }

    void watch(int fd, std::uint64_t id, bool writable, bool& wanted) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
        ev.data.u64 = id;
        if (epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev) != 0) die("epoll_ctl(MOD)");
        wanted = writable;
    }

    // Writes as much of `out` as the kernel takes; false on a hard error.
    bool flush_bytes(int fd, std::uint64_t id, std::string& out, std::size_t& sent, bool& wanted, std::string& why) {
        while (sent < out.size()) {
            const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    if (!wanted) watch(fd, id, true, wanted);
                    return true;
                }
                why = std::string("send: ") + std::strerror(errno);
                return false;
            }
            sent += static_cast<std::size_t>(n);
        }
        out.clear();
        sent = 0;
        if (wanted) watch(fd, id, false, wanted);
        return true;
    }
    void flush(subscriber& c) {
        std::string why;
        if (!flush_bytes(c.fd, index_of(c), c.out, c.out_sent, c.writable_wanted, why)) error(c, why);
    }

    int connect_socket(std::uint64_t id) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const sockaddr_in& to = id == control_id ? address_ : subscriber_addresses_[id % subscriber_addresses_.size()];
        if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = id;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl(ADD)");
        return fd;
    }

    // ---- opening: connect, handshake / GET, subscribe ----
    void start_connect(subscriber& c) {
        c.state = phase::connecting;
        ++opening_;
        c.fd = connect_socket(index_of(c));
        if (c.fd < 0) error(c, std::string("connect: ") + std::strerror(errno));
    }

    void on_connected(subscriber& c) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return error(c, std::string("connect: ") + std::strerror(err));
        const std::string host = opt_.host + ":" + std::to_string(opt_.port);
        if (opt_.kind == transport::ws) {
            std::array<std::uint8_t, 16> nonce{};
            for (std::size_t i = 0; i < nonce.size(); i += 8) {
                const std::uint64_t r = next_random();
                std::memcpy(nonce.data() + i, &r, 8);
            }
            const std::string key = ws::make_client_key(nonce);
            std::memcpy(c.key.data(), key.data(), c.key.size());
            c.out = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n" +
                    (opt_.deflate ? "Sec-WebSocket-Extensions: " + ws::format_deflate_offer({}) + "\r\n" : std::string()) +
                    "\r\n";
        } else {
            c.out = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/event-stream\r\n\r\n";
        }
        c.out_sent = 0;
        c.state = phase::handshaking;
        watch(c.fd, index_of(c), false, c.writable_wanted);
        flush(c);
    }

    static std::string_view header_value(std::string_view head, std::string_view name) {
        std::string_view rest = head.substr(std::min(head.size(), head.find("\r\n") + 2));
        while (!rest.empty()) {
            const auto eol = rest.find("\r\n");
            const std::string_view line = rest.substr(0, eol);
            rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
            const auto colon = line.find(':');
            if (colon == std::string_view::npos || !ws::iequals_ascii(line.substr(0, colon), name)) continue;
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
            return v;
        }
        return {};
    }

    // The response head is complete in c.in: checks it and leaves what followed it in c.in.
    bool on_response_head(subscriber& c) {
        const auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > 16384) error(c, "response header over 16 KiB");
            return false;
        }
        const std::string_view head(c.in.data(), end + 2);
        const std::string_view expected = opt_.kind == transport::ws ? "HTTP/1.1 101" : "HTTP/1.1 200";
        if (!head.starts_with(expected) && !(opt_.kind == transport::sse && head.starts_with("HTTP/1.0 200"))) {
            error(c, "refused: " + std::string(head.substr(0, head.find("\r\n"))));
            return false;
        }
        if (opt_.kind == transport::ws) {
            if (!ws::is_valid_accept(std::string_view(c.key.data(), c.key.size()), header_value(head, "sec-websocket-accept"))) {
                error(c, "handshake: missing or wrong Sec-WebSocket-Accept");
                return false;
            }
            if (opt_.deflate) {
                const ws::deflate_request offers[] = {ws::deflate_request{}};
                std::optional<ws::deflate_params> agreed;
                const std::string problem =
                    ws::check_deflate_response(header_value(head, "sec-websocket-extensions"), offers, agreed);
                if (!problem.empty() || !agreed) {
                    error(c, "handshake: permessage-deflate not agreed" + (problem.empty() ? "" : ": " + problem));
                    return false;
                }
                c.deflate = std::make_unique<ws::deflate_session>(ws::role::client, *agreed, ws::deflate_options{});
                c.parser = ws::frame_parser(ws::role::client, {.max_message_size = std::uint64_t{1} << 24, .allowed_rsv = ws::rsv1});
            }
            c.in.erase(0, end + 4);
            c.state = phase::subscribing;
            std::string request = R"({"type":"subscribe","topic":")" + opt_.topic + (opt_.raw ? R"(","raw":true})" : "\"}");
            append_masked(c, ws::opcode::text, request);
            return true;
        }
        std::string te(header_value(head, "transfer-encoding"));
        std::transform(te.begin(), te.end(), te.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        c.chunked = te.find("chunked") != std::string::npos;
        c.in.erase(0, end + 4);
        become_live(c);   // the server subscribed the stream before it answered
        return true;
    }

    void become_live(subscriber& c) {
        c.state = phase::live;
        --opening_;
        ++live_;
    }

    bool open_all() {
        const auto deadline = clock_type::now() + seconds(opt_.open_timeout);
        std::size_t next = 0;
        while (live_ < opt_.subscribers) {
            if (aborted_) return false;
            while (next < subs_.size() && opening_ < opt_.handshakes) start_connect(subs_[next++]);
            if (clock_type::now() > deadline) {
                complain("only " + std::to_string(live_) + " of " + std::to_string(opt_.subscribers) +
                         " subscribers live within the open timeout");
                return false;
            }
            poll(10);
        }
        return errors_ == 0;
    }

    // ---- the publisher's control connection: POST /publish?n=K&size=B, keep-alive ----
    bool open_control() {
        control_fd_ = connect_socket(control_id);
        if (control_fd_ < 0) {
            complain(std::string("control connect: ") + std::strerror(errno));
            return false;
        }
        const auto deadline = clock_type::now() + std::chrono::seconds(10);
        while (!control_open_ && !aborted_ && clock_type::now() < deadline) poll(10);
        if (!control_open_) {
            complain("control connection did not open");
            return false;
        }
        control_out_ = "GET /sequence HTTP/1.1\r\nHost: " + opt_.host + "\r\n\r\n";
        flush_control();
        while (!have_base_ && !aborted_ && clock_type::now() < deadline) poll(10);
        if (!have_base_) {
            complain("no answer to GET /sequence");
            return false;
        }
        requested_ = complete_ = base_;
        for (auto& c : subs_) c.next = base_;
        return true;
    }
    void on_control_event(std::uint32_t ev) {
        if (!control_open_) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(control_fd_, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                complain(std::string("control connect: ") + std::strerror(err));
                aborted_ = true;
                return;
            }
            control_open_ = true;
            watch(control_fd_, control_id, false, control_writable_wanted_);
            return;
        }
        if (ev & EPOLLOUT) flush_control();
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_control();
    }
    void flush_control() {
        std::string why;
        if (!flush_bytes(control_fd_, control_id, control_out_, control_sent_, control_writable_wanted_, why)) {
            complain("control: " + why);
            aborted_ = true;
        }
    }
    void read_control() {
        const ssize_t n = recv(control_fd_, read_buffer_.data(), read_buffer_.size(), 0);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            complain(n == 0 ? "control: server closed the connection" : std::string("control: recv: ") + std::strerror(errno));
            aborted_ = true;
            return;
        }
        control_in_.append(read_buffer_.data(), static_cast<std::size_t>(n));
        for (;;) {  // responses: status line + headers, and a body only if Content-Length says so
            const auto end = control_in_.find("\r\n\r\n");
            if (end == std::string::npos) break;
            const std::string_view head(control_in_.data(), end + 2);
            std::size_t body = 0;
            const auto cl = header_value(head, "content-length");
            if (!cl.empty()) std::from_chars(cl.data(), cl.data() + cl.size(), body);
            if (control_in_.size() < end + 4 + body) break;
            if (!head.starts_with("HTTP/1.1 204") && !head.starts_with("HTTP/1.1 200")) {
                complain("control request refused: " + std::string(head.substr(0, head.find("\r\n"))) + " " +
                         control_in_.substr(end + 4, body));
                aborted_ = true;
            } else if (!have_base_) {  // the answer to GET /sequence
                const char* digits = control_in_.data() + end + 4;
                const auto r = std::from_chars(digits, digits + body, base_);
                if (r.ec != std::errc{} || body == 0) {
                    complain("GET /sequence: not a number");
                    aborted_ = true;
                }
                have_base_ = true;
            }
            ++responses_;
            control_in_.erase(0, end + 4 + body);
        }
    }
    // Requests as much as the window allows, once at least --batch messages of it are free.
    void maybe_publish() {
        if (!publishing_ || aborted_) return;
        std::uint64_t free = complete_ + opt_.window - requested_;
        if (opt_.rate > 0) {   // paced: what the rate allows by now, whenever it is at least one message
            const auto due = base_ + static_cast<std::uint64_t>(opt_.rate * seconds_since(rate_start_));
            free = std::min(free, due > requested_ ? due - requested_ : 0);
            if (free == 0) return;
        } else if (free < opt_.batch) {
            return;
        }
        std::uint64_t n = std::min<std::uint64_t>(free, tether_bench::max_publish_batch);
        if (opt_.messages >= 0) {  // a fixed workload: never past it; its last request may be short of --batch
            const std::uint64_t end = base_ + static_cast<std::uint64_t>(opt_.messages);
            n = std::min<std::uint64_t>(n, end - requested_);
            if (n == 0) return;
        }
        control_out_ += "POST /publish?n=" + std::to_string(n) + "&size=" + std::to_string(opt_.size) +
                        (opt_.ticker ? "&body=ticker" : "") + " HTTP/1.1\r\nHost: " +
                        opt_.host + "\r\nContent-Length: 0\r\n\r\n";
        requested_ += n;
        ++requests_;
        flush_control();
    }

    // ---- receiving ----
    void poll(int timeout_ms) {
        std::array<epoll_event, 512> events{};
        const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const auto ev = events[i].events;
            if (events[i].data.u64 == control_id) {
                on_control_event(ev);
                continue;
            }
            subscriber& c = subs_[events[i].data.u64];
            if (c.state == phase::connecting) {
                on_connected(c);
                continue;
            }
            if (c.fd < 0) continue;
            if (ev & EPOLLOUT) flush(c);
            if (c.fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) on_readable(c);
        }
        maybe_publish();
    }

    void on_readable(subscriber& c) {
        const ssize_t n = recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
        if (n == 0) {
            if (c.state == phase::closing) return finish(c);
            return error(c, "unexpected EOF");
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            if (c.state == phase::closing) return finish(c);
            return error(c, std::string("recv: ") + std::strerror(errno));
        }
        ++recvs_;
        if (measuring_) wire_bytes_ += static_cast<std::uint64_t>(n);
        now_ = clock_type::now();
        std::span<char> fresh(read_buffer_.data(), static_cast<std::size_t>(n));
        if (c.state == phase::handshaking) {
            c.in.append(fresh.data(), fresh.size());
            if (!on_response_head(c)) return;
            std::string pending = std::move(c.in);
            c.in.clear();
            if (!pending.empty()) consume(c, std::span<char>(pending));
        } else if (!c.in.empty()) {
            c.in.append(fresh.data(), fresh.size());
            std::string pending = std::move(c.in);
            c.in.clear();
            consume(c, std::span<char>(pending));
        } else {
            consume(c, fresh);
        }
        if (c.fd >= 0 && !c.out.empty()) flush(c);
    }

    void consume(subscriber& c, std::span<char> input) {
        if (opt_.kind == transport::ws) consume_frames(c, input);
        else consume_stream(c, input);
    }

    // WebSocket: frames parsed in place; what the parser did not take stays in c.in.
    void consume_frames(subscriber& c, std::span<char> input) {
        std::size_t used = 0;
        for (;;) {
            const ws::parse_result r = c.parser.next(input.subspan(used));
            used += r.consumed;
            if (r.status == ws::parse_status::need_more) break;
            if (r.status == ws::parse_status::error)
                return error(c, "protocol error from server: " + std::string(c.parser.error_reason()));
            if (r.status == ws::parse_status::header) continue;
            const auto op = c.parser.header().op;
            if (ws::is_control(op)) {
                if (op == ws::opcode::ping) {
                    append_masked(c, ws::opcode::pong, r.payload);
                    continue;
                }
                if (op == ws::opcode::pong) continue;
                if (c.state == phase::closing) return finish(c);
                const auto info = ws::parse_close_payload(r.payload);
                return error(c, "unexpected Close from server, code " +
                                    std::to_string(info ? static_cast<unsigned>(info->code) : 0u));
            }
            if (c.parser.message_compressed()) {
                c.message.append(r.payload);
                if (r.message_end) {
                    on_compressed_message(c);
                    c.message.clear();
                }
            } else if (r.message_end && c.message.empty()) {
                on_ws_message(c, r.payload);
            } else {
                c.message.append(r.payload);
                if (r.message_end) {
                    on_ws_message(c, c.message);
                    c.message.clear();
                }
            }
            if (c.fd < 0) return;
        }
        if (used < input.size()) c.in.assign(input.data() + used, input.size() - used);
    }

    // A compressed message, whole in c.message: inflated (the session keeps the window the server agreed to
    // keep), then read like any other.
    void on_compressed_message(subscriber& c) {
        thread_local std::string plain;
        plain.clear();
        c.deflate->begin_message();
        ws::inflate_status s = c.deflate->inflate(c.message, plain, std::size_t{1} << 24);
        if (s == ws::inflate_status::ok) s = c.deflate->end_message(plain, std::size_t{1} << 24);
        if (s != ws::inflate_status::ok) return error(c, "a compressed message does not inflate");
        ++compressed_frames_;
        on_ws_message(c, plain);
    }

    void on_ws_message(subscriber& c, std::string_view text) {
        static constexpr std::string_view data_key = R"("data":")";
        if (opt_.raw && c.state != phase::subscribing) return on_body(c, text);  // the body itself
        if (text.starts_with(R"({"topic":)")) {
            const auto at = text.find(data_key);
            if (at == std::string_view::npos) return error(c, "message without data: " + std::string(text.substr(0, 80)));
            return on_body(c, text.substr(at + data_key.size()));
        }
        if (text.find(R"("type":"subscribed")") != std::string_view::npos) {
            if (c.state == phase::subscribing) become_live(c);
            return;
        }
        if (text.find(R"("type":"missed")") != std::string_view::npos) {
            ++missed_notices_;
            return;
        }
        error(c, "unexpected message: " + std::string(text.substr(0, 120)));
    }

    // SSE: de-chunk (when chunked) into c.message, then take whole events ("\n\n"-terminated) off its front.
    void consume_stream(subscriber& c, std::span<char> input) {
        if (!c.chunked) {
            c.message.append(input.data(), input.size());
            return take_events(c);
        }
        std::string_view rest(input.data(), input.size());
        while (!rest.empty()) {
            if (c.chunk == chunk_state::size_line) {
                const auto eol = rest.find("\r\n");
                if (eol == std::string_view::npos) break;
                std::uint64_t size = 0;
                const auto r = std::from_chars(rest.data(), rest.data() + eol, size, 16);
                if (r.ec != std::errc{}) return error(c, "bad chunk size line");
                if (size == 0) return error(c, "the server ended the event stream");
                c.chunk_left = size;
                c.chunk = chunk_state::data;
                rest.remove_prefix(eol + 2);
            } else if (c.chunk == chunk_state::data) {
                const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(c.chunk_left, rest.size()));
                c.message.append(rest.data(), take);
                rest.remove_prefix(take);
                c.chunk_left -= take;
                if (c.chunk_left == 0) c.chunk = chunk_state::crlf;
            } else {
                if (rest.size() < 2) break;
                if (!rest.starts_with("\r\n")) return error(c, "chunk not followed by CRLF");
                rest.remove_prefix(2);
                c.chunk = chunk_state::size_line;
            }
        }
        if (!rest.empty()) c.in.assign(rest.data(), rest.size());
        take_events(c);
    }

    void take_events(subscriber& c) {
        std::size_t start = 0;
        for (;;) {
            const auto end = c.message.find("\n\n", start);
            if (end == std::string::npos) break;
            on_event(c, std::string_view(c.message).substr(start, end + 1 - start));
            if (c.fd < 0) return;
            start = end + 2;
        }
        if (start > 0) c.message.erase(0, start);
    }

    // One event block (lines ending in \n); comments (":...") and id lines are ignored.
    void on_event(subscriber& c, std::string_view block) {
        std::string_view type, data;
        bool has_data = false;
        while (!block.empty()) {
            const auto eol = block.find('\n');
            const std::string_view line = block.substr(0, eol);
            block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 1);
            if (line.starts_with("event: ")) type = line.substr(7);
            else if (line.starts_with("data: ")) {
                data = line.substr(6);
                has_data = true;
            }
        }
        if (!has_data) return;  // a comment-only block (heartbeat) or a bare id
        if (type == "missed") {
            ++missed_notices_;
            return;
        }
        if (!type.empty() && type != opt_.topic) return;  // "reset" and other notices
        on_body(c, data);
    }

    // A message body: its first two integers are the sequence and the publish time ("<sequence> <ns> xxx..."
    // or {"seq":<sequence>,"ts":<ns>,...}, quotes escaped or not).
    void on_body(subscriber& c, std::string_view body) {
        std::uint64_t seq = 0;
        std::int64_t sent_ns = 0;
        const char* p = body.data();
        const char* end = body.data() + body.size();
        const auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
        while (p != end && !digit(*p)) ++p;
        auto r = std::from_chars(p, end, seq);
        if (r.ec != std::errc{} || r.ptr == end) return error(c, "malformed body");
        p = r.ptr;
        while (p != end && !digit(*p)) ++p;
        r = std::from_chars(p, end, sent_ns);
        if (r.ec != std::errc{}) return error(c, "malformed body");
        if (seq < c.next) return error(c, "message " + std::to_string(seq) + " after " + std::to_string(c.next - 1) + " (duplicate or reordered)");
        if (seq >= requested_) return error(c, "message " + std::to_string(seq) + " was never requested");
        ++frames_;
        if (measuring_) {
            const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now_.time_since_epoch()).count();
            latency_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ns - sent_ns)));
        }
        if (seq > c.next) {
            c.lost += seq - c.next;
            lost_ += seq - c.next;
        }
        for (std::uint64_t k = c.next; k <= seq; ++k) ++passed_[k & ring_mask_];
        c.next = seq + 1;
        while (complete_ < requested_ && passed_[complete_ & ring_mask_] >= opt_.subscribers) {
            passed_[complete_ & ring_mask_] = 0;
            ++complete_;
            last_progress_ = now_;
        }
    }

    // ---- closing ----
    void append_masked(subscriber& c, ws::opcode op, std::string_view payload) {
        const std::uint64_t r = next_random();
        ws::mask_key key{};
        std::memcpy(key.data(), &r, key.size());
        ws::append_frame(c.out, op, payload, true, key);
    }
    void finish(subscriber& c) {
        if (c.fd >= 0) close(c.fd);
        c.fd = -1;
        c.state = phase::done;
        ++finished_;
        ++clean_closes_;
    }
    // WebSocket: Close 1000 on every subscriber, wait for the server's Close; SSE: just close.
    std::size_t close_all() {
        if (opt_.kind == transport::sse) {
            for (auto& c : subs_)
                if (c.fd >= 0) finish(c);
            return 0;
        }
        for (auto& c : subs_) {
            if (c.state != phase::live) continue;
            append_masked(c, ws::opcode::close, ws::close_payload(ws::close_code::normal));
            c.state = phase::closing;
            flush(c);
        }
        const auto until = clock_type::now() + seconds(opt_.close_timeout);
        while (finished_ < subs_.size() && clock_type::now() < until) poll(10);
        std::size_t unclosed = 0;
        for (auto& c : subs_) {
            if (c.fd < 0) continue;
            ++unclosed;
            close(c.fd);
            c.fd = -1;
        }
        return unclosed;
    }

    // ---- the measurement ----
    void loop_until(clock_type::time_point until) {
        while (!aborted_) {
            const auto now = clock_type::now();
            if (now >= until) return;
            if (requested_ > complete_ && now - last_progress_ > seconds(opt_.stall_timeout)) {
                complain("stalled: message " + std::to_string(complete_) + " not delivered to every subscriber within " +
                         std::to_string(opt_.stall_timeout) + " s (" + std::to_string(requested_ - complete_) +
                         " in flight)");
                aborted_ = true;
                return;
            }
            poll(static_cast<int>(std::clamp<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count(), 1, opt_.rate > 0 ? 1 : 10)));
        }
    }

    // --messages N: N messages to every subscriber, then close; everything received is counted.
    int measure_fixed() {
        const std::uint64_t end = base_ + static_cast<std::uint64_t>(opt_.messages);
        publishing_ = true;
        last_progress_ = clock_type::now();
        maybe_publish();
        const auto start = clock_type::now();
        const auto deadline = start + seconds(opt_.drain_timeout);
        while (!aborted_ && complete_ < end && clock_type::now() < deadline)
            loop_until(std::min(clock_type::now() + std::chrono::milliseconds(100), deadline));
        publishing_ = false;
        const double wall = seconds_since(start);
        if (!aborted_ && complete_ < end)
            complain(std::to_string(end - complete_) + " message(s) had not reached every subscriber within the drain timeout");
        const std::size_t unclosed = close_all();
        report_errors();
        const bool ok = errors_ == 0 && !aborted_;
        std::printf("result mode=%s subscribers=%zu size=%zu window=%zu batch=%zu seconds=%.3f messages=%" PRIu64
                    " frames=%" PRIu64 " publish_requests=%" PRIu64 " lost=%" PRIu64 " unclosed=%zu errors=%" PRIu64
                    " status=%s\n",
                    mode_name(), opt_.subscribers, opt_.size, opt_.window, opt_.batch, wall, complete_ - base_, frames_,
                    requests_, lost_, unclosed, errors_, ok ? "ok" : "failed");
        return ok ? 0 : 1;
    }

    int measure() {
        publishing_ = true;
        rate_start_ = clock_type::now();
        last_progress_ = clock_type::now();
        maybe_publish();
        loop_until(clock_type::now() + seconds(opt_.warmup));

        rusage self0{};
        getrusage(RUSAGE_SELF, &self0);
        const proc_sample cpu0 = sample_process(opt_.server_pid);
        const std::uint64_t frames0 = frames_, complete0 = complete_, recvs0 = recvs_, requests0 = requests_,
                            compressed0 = compressed_frames_;
        const auto t0 = clock_type::now();
        measuring_ = true;
        loop_until(t0 + seconds(opt_.duration));
        measuring_ = false;
        const auto t1 = clock_type::now();
        const proc_sample cpu1 = sample_process(opt_.server_pid);
        rusage self1{};
        getrusage(RUSAGE_SELF, &self1);
        const std::uint64_t frames = frames_ - frames0, messages = complete_ - complete0, recvs = recvs_ - recvs0,
                            requests = requests_ - requests0, compressed = compressed_frames_ - compressed0;

        // Let the last window drain: every subscriber must end with every requested message.
        // A slow server may need a while for W x S frames: wait as long as it makes progress (loop_until's stall
        // check), at most --drain-timeout.
        publishing_ = false;
        const auto drain_start = clock_type::now();
        while (!aborted_ && complete_ < requested_ && clock_type::now() < drain_start + seconds(opt_.drain_timeout))
            loop_until(std::min(clock_type::now() + std::chrono::milliseconds(100), drain_start + seconds(opt_.drain_timeout)));
        const double drain_seconds = seconds_since(drain_start);
        if (!aborted_ && complete_ < requested_)
            complain("after the run, " + std::to_string(requested_ - complete_) + " message(s) had not reached every "
                     "subscriber within the drain timeout");
        std::size_t with_loss = 0;
        std::uint64_t max_lost = 0;
        for (const auto& c : subs_) {
            if (c.lost > 0) ++with_loss;
            max_lost = std::max(max_lost, c.lost);
        }
        const std::size_t live_at_end = live_;
        const std::size_t unclosed = close_all();
        report_errors();

        const double wall = std::chrono::duration<double>(t1 - t0).count();
        const auto cpu_of = [](const rusage& r) {
            return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
                   static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
        };
        const double client_cpu = cpu_of(self1) - cpu_of(self0);
        const double server_cpu = cpu1.cpu_seconds >= 0 && cpu0.cpu_seconds >= 0 ? cpu1.cpu_seconds - cpu0.cpu_seconds : -1;
        const double frame_rate = static_cast<double>(frames) / wall;
        const auto us = [&](double q) { return static_cast<double>(latency_.quantile(q)) / 1e3; };
        std::fprintf(stderr,
                     "fanout_load: %s %zu subscribers x %zu B, window %zu: %" PRIu64 " frames in %.2f s = %.0f frames/s"
                     " (%.0f messages/s); latency p50 %.0f us, p99 %.0f us, max %.0f us; lost %" PRIu64
                     "; %.1f frames per recv; client CPU %.0f%%",
                     mode_name(), opt_.subscribers, opt_.size, opt_.window, frames, wall, frame_rate,
                     static_cast<double>(messages) / wall, us(0.5), us(0.99), static_cast<double>(latency_.max()) / 1e3,
                     lost_, recvs ? static_cast<double>(frames) / static_cast<double>(recvs) : 0.0, 100 * client_cpu / wall);
        if (server_cpu >= 0) std::fprintf(stderr, "; server CPU %.0f%%", 100 * server_cpu / wall);
        std::fprintf(stderr, "\n");
        const bool ok = errors_ == 0 && !aborted_;
        std::printf("result mode=%s subscribers=%zu size=%zu window=%zu batch=%zu seconds=%.3f frames=%" PRIu64
                    " frames_per_s=%.0f messages=%" PRIu64 " msgs_per_s=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f"
                    " max_us=%.1f client_cpu_s=%.3f server_cpu_s=%.3f server_cpu_us_per_frame=%.4f"
                    " frames_per_recv=%.2f publish_requests=%" PRIu64 " lost=%" PRIu64 " subscribers_with_loss=%zu"
                    " max_lost=%" PRIu64 " missed_notices=%" PRIu64 " drain_s=%.2f live_at_end=%zu unclosed=%zu"
                    " wire_bytes=%" PRIu64 " wire_bytes_per_frame=%.1f compressed_frames=%" PRIu64 " errors=%" PRIu64
                    " status=%s\n",
                    mode_name(), opt_.subscribers, opt_.size, opt_.window, opt_.batch, wall, frames, frame_rate, messages,
                    static_cast<double>(messages) / wall, us(0.5), us(0.9), us(0.99),
                    static_cast<double>(latency_.max()) / 1e3, client_cpu, server_cpu,
                    server_cpu >= 0 && frames > 0 ? server_cpu * 1e6 / static_cast<double>(frames) : -1.0,
                    recvs ? static_cast<double>(frames) / static_cast<double>(recvs) : 0.0, requests, lost_, with_loss,
                    max_lost, missed_notices_, drain_seconds, live_at_end, unclosed, wire_bytes_,
                    frames ? static_cast<double>(wire_bytes_) / static_cast<double>(frames) : 0.0, compressed, errors_,
                    ok ? "ok" : "failed");
        return ok ? 0 : 1;
    }

    options opt_;
    std::vector<subscriber> subs_;
    std::array<char, 256 * 1024> read_buffer_{};
    sockaddr_in address_{};                          // --port: the publish trigger
    std::vector<sockaddr_in> subscriber_addresses_;  // --ports
    clock_type::time_point rate_start_{};
    int epoll_ = -1;
    std::uint64_t rng_ = 0;
    std::size_t opening_ = 0;
    std::size_t live_ = 0;
    std::size_t finished_ = 0;
    std::size_t clean_closes_ = 0;
    bool aborted_ = false;
    // publisher
    int control_fd_ = -1;
    bool control_open_ = false;
    bool control_writable_wanted_ = false;
    std::string control_out_, control_in_;
    std::size_t control_sent_ = 0;
    bool publishing_ = false;
    bool have_base_ = false;
    std::uint64_t base_ = 0;         // the first sequence of this run (GET /sequence)
    std::uint64_t requested_ = 0;   // messages asked of the server: sequences [0, requested_)
    std::uint64_t complete_ = 0;    // every subscriber has passed sequences [0, complete_)
    std::vector<std::uint32_t> passed_;  // passed_[i & mask]: subscribers that have passed sequence i
    std::uint64_t ring_mask_ = 0;
    std::uint64_t requests_ = 0, responses_ = 0;
    // measurement
    clock_type::time_point now_{}, last_progress_{};
    bool measuring_ = false;
    std::uint64_t frames_ = 0, recvs_ = 0, lost_ = 0, missed_notices_ = 0, errors_ = 0;
    std::uint64_t wire_bytes_ = 0;         // recv()ed on subscriber sockets while measuring
    std::uint64_t compressed_frames_ = 0;  // messages that arrived compressed (RSV1)
    histogram latency_;
};

rlim_t raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    const rlim_t fd_limit = raise_fd_limit();
    if (fd_limit < opt.subscribers + 16) {
        std::fprintf(stderr, "fanout_load: RLIMIT_NOFILE is %llu, too low for %zu subscribers\n",
                     static_cast<unsigned long long>(fd_limit), opt.subscribers);
        return 2;
    }
    auto generator = std::make_unique<load>(opt);  // on the heap: it holds the 256 KiB read buffer
    return generator->run();
}
