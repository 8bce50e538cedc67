// ws_load: a WebSocket load generator for benchmarks/ws/run.sh. It speaks RFC 6455 over plain sockets and
// knows nothing of the server it drives, so the same tool measures tether and its peers side by side.
//
//   ws_load echo --port 8080 --connections 100 --size 64 --duration 10 [--pipeline 1] [--warmup 1]
//   ws_load idle --port 8080 --connections 10000 --hold 5 [--messages 0]
//   common: [--host 127.0.0.1] [--path /ws] [--handshakes 100] [--text] [--deflate] [--server-pid PID]
//           [--open-timeout 60]
//
// echo: opens N connections (at most --handshakes opening handshakes in flight), then keeps --pipeline
//   masked messages in flight on each: every echo that comes back is checked (opcode, size, every byte, order)
//   and answered with the next message. After --warmup seconds it measures for --duration seconds: echoed
//   messages/s and the latency of each message from its send time (p50/p90/p99/max). At the end it runs the
//   closing handshake on every connection (Close 1000, expects the server's Close).
// idle: opens N connections, prints "open N", waits a second for the server to settle (then samples its
//   memory), keeps them open until --hold seconds have passed since "open", answering pings, and closes them
//   cleanly. With --messages N each connection first exchanges N echoed messages of --size bytes (all
//   answered before the memory sample): the memory of connections that have been used, then gone quiet.
// --deflate offers permessage-deflate (RFC 7692; "permessage-deflate; client_max_window_bits", as browsers
//   do) and fails any connection whose server does not agree. Messages are then compressed when that makes
//   them smaller (tether's ws::deflate_session, context takeover as agreed), and compressed echoes inflated
//   before they are checked.
// With --server-pid it reads the server's /proc/PID/stat (CPU time over the measured window, all threads)
// and /proc/PID/status + smaps_rollup (VmRSS and Private_Dirty before connecting and once all are open),
// so the samples are taken at exactly the right moments rather than by a script polling on the side.
//
// Any wrong echo, protocol error, failed handshake, unexpected Close or EOF is printed and counted; the exit
// status is 1 if anything failed. The last stdout line is machine-readable: "result key=value ...".
//
// Why it is built this way: one thread and one epoll loop, so its CPU cost is easy to reason about and it can
// be pinned to one core next to a server pinned to the other. Per message it does one recv and one send per
// read batch (echoes that arrive together are answered with one send), and it never copies payload: frames
// are parsed and unmasked in place by tether's I/O-free client-side codec (ws/frame.hpp, role::client),
// compared with memcmp against a pattern, and new frames are built from that pattern. Its own RLIMIT_NOFILE
// soft limit is raised to the hard limit.

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
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

#include "histogram.hpp"
#include "proc_sample.hpp"

namespace {

namespace ws = tether::ws;
using tether_bench::histogram;
using tether_bench::proc_sample;
using tether_bench::sample_process;
using clock_type = std::chrono::steady_clock;

// ---- options ----------------------------------------------------------------------------------------------

enum class run_mode { echo, idle };

struct options {
    run_mode mode = run_mode::echo;
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string path = "/ws";
    std::size_t connections = 100;
    std::size_t size = 64;
    double duration = 10;
    double warmup = 1;
    std::size_t pipeline = 1;
    double hold = 5;
    std::size_t handshakes = 100;
    double open_timeout = 60;
    double close_timeout = 5;
    int server_pid = 0;
    ws::opcode op = ws::opcode::binary;
    bool deflate = false;
    std::size_t messages = 0;  // idle: messages each connection exchanges before it goes quiet
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "ws_load: %s\n"
                 "usage: ws_load echo --port N [--connections 100] [--size 64] [--duration 10] [--warmup 1] "
                 "[--pipeline 1]\n"
                 "       ws_load idle --port N [--connections 10000] [--hold 5] [--messages 0]\n"
                 "common: [--host 127.0.0.1] [--path /ws] [--handshakes 100] [--text] [--deflate] [--server-pid PID] "
                 "[--open-timeout 60] [--close-timeout 5]\n",
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
    if (mode == "echo") o.mode = run_mode::echo;
    else if (mode == "idle") {
        o.mode = run_mode::idle;
        o.connections = 10000;
    }
    else usage("mode must be echo or idle");
    for (int i = 2; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--text") { o.op = ws::opcode::text; continue; }
        if (arg == "--deflate") { o.deflate = true; continue; }
        if (i + 1 >= argc) usage(("missing value for " + std::string(arg)).c_str());
        const std::string_view v = argv[++i];
        if (arg == "--host") o.host = std::string(v);
        else if (arg == "--port") o.port = number<unsigned short>(arg, v);
        else if (arg == "--path") o.path = std::string(v);
        else if (arg == "--connections") o.connections = number<std::size_t>(arg, v);
        else if (arg == "--size") o.size = number<std::size_t>(arg, v);
        else if (arg == "--duration") o.duration = number<double>(arg, v);
        else if (arg == "--warmup") o.warmup = number<double>(arg, v);
        else if (arg == "--pipeline") o.pipeline = number<std::size_t>(arg, v);
        else if (arg == "--hold") o.hold = number<double>(arg, v);
        else if (arg == "--handshakes") o.handshakes = number<std::size_t>(arg, v);
        else if (arg == "--open-timeout") o.open_timeout = number<double>(arg, v);
        else if (arg == "--close-timeout") o.close_timeout = number<double>(arg, v);
        else if (arg == "--server-pid") o.server_pid = number<int>(arg, v);
        else if (arg == "--messages") o.messages = number<std::size_t>(arg, v);
        else usage(("unknown option " + std::string(arg)).c_str());
    }
    if (o.port == 0) usage("--port is required");
    if (o.connections == 0 || o.pipeline == 0 || o.handshakes == 0) usage("counts must be at least 1");
    if (o.size > (1u << 20)) usage("--size is at most 1 MiB (the servers' default message limit)");
    return o;
}

// ---- connections -------------------------------------------------------------------------------------------

enum class phase : std::uint8_t { unused, connecting, handshaking, open, closing, done, failed };

struct connection {
    int fd = -1;
    phase state = phase::unused;
    bool writable_wanted = false;  // EPOLLOUT registered
    bool close_sent = false;
    std::array<char, ws::client_key_size> key{};
    std::string in;   // handshake response, or the unparsed tail of a frame (partial header / control frame)
    std::string out;  // bytes not yet accepted by the kernel
    std::size_t out_sent = 0;
    ws::frame_parser parser{ws::role::client, {.max_message_size = std::uint64_t{1} << 30}};
    std::uint64_t sent = 0;      // data messages sent
    std::uint64_t received = 0;  // data messages echoed and verified
    std::size_t message_offset = 0;  // payload bytes of the message being received, verified so far
    std::vector<clock_type::time_point> send_times;  // ring of --pipeline entries, indexed by sequence number
    std::unique_ptr<ws::deflate_session> deflate;  // --deflate, once the server agreed
    std::string compressed;                        // a compressed echo arriving in pieces
};

class load {
public:
    explicit load(const options& o) : opt_(o), conns_(o.connections) {
        std::random_device rd;
        rng_ = (std::uint64_t{rd()} << 32) ^ rd() ^ 0x9e3779b97f4a7c15ull;
        // Printable ASCII, so the same bytes are valid text and binary messages.
        pattern_.resize(opt_.size + pattern_period);
        for (std::size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<char>(' ' + (next_random() % 95));
        for (auto& c : conns_) c.send_times.resize(opt_.pipeline);
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) die("epoll_create1");
        address_.sin_family = AF_INET;
        address_.sin_port = htons(opt_.port);
        if (inet_pton(AF_INET, opt_.host.c_str(), &address_.sin_addr) != 1) usage("--host must be an IPv4 address");
    }

    int run() {
        const proc_sample before_open = sample_process(opt_.server_pid);
        const auto open_start = clock_type::now();
        if (!open_all()) {
            report_errors();
            std::printf("result mode=%s connections=%zu opened=%zu errors=%" PRIu64 " status=open-failed\n",
                        opt_.mode == run_mode::echo ? "echo" : "idle", opt_.connections, opened_, errors_);
            return 1;
        }
        const double open_seconds = seconds_since(open_start);
        std::printf("open %zu\n", opened_);
        std::fflush(stdout);
        std::fprintf(stderr, "ws_load: %zu connections open in %.2f s\n", opened_, open_seconds);
        return opt_.mode == run_mode::echo ? run_echo() : run_idle(before_open);
    }

private:
    static constexpr std::size_t pattern_period = 251;
    static constexpr std::size_t max_reported_errors = 20;

    // -- helpers --
    [[noreturn]] static void die(const char* what) {
        std::fprintf(stderr, "ws_load: %s: %s\n", what, std::strerror(errno));
        std::exit(1);
    }
    static double seconds_since(clock_type::time_point t) {
        return std::chrono::duration<double>(clock_type::now() - t).count();
    }
    std::uint64_t next_random() {  // xorshift64*: mask keys and nonces; unpredictability is not the point here
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        return rng_ * 0x2545f4914f6cdd1dull;
    }
    std::size_t index_of(const connection& c) const { return static_cast<std::size_t>(&c - conns_.data()); }

    void error(connection& c, const std::string& what) {
        ++errors_;
        if (errors_ <= max_reported_errors)
            std::fprintf(stderr, "ws_load: ERROR connection %zu: %s\n", index_of(c), what.c_str());
        else if (errors_ == max_reported_errors + 1)
            std::fprintf(stderr, "ws_load: (further errors counted, not printed)\n");
        fail(c);
    }
    void fail(connection& c) {
        if (c.state == phase::connecting || c.state == phase::handshaking) --opening_;
        if (c.fd >= 0) close(c.fd);
        c.fd = -1;
        c.state = phase::failed;
        c.in.clear();
        c.in.shrink_to_fit();
        c.out.clear();
        c.out.shrink_to_fit();
        ++finished_;
    }
    void finish(connection& c) {
        if (c.fd >= 0) close(c.fd);
        c.fd = -1;
        c.state = phase::done;
        ++finished_;
        ++clean_closes_;
    }
    void report_errors() const {
        if (errors_ > 0) std::fprintf(stderr, "ws_load: %" PRIu64 " error(s)\n", errors_);
    }

    void watch(connection& c, bool writable) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
        ev.data.u64 = index_of(c);
        if (epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev) != 0) die("epoll_ctl(MOD)");
        c.writable_wanted = writable;
    }

    // -- opening --
    void start_connect(connection& c) {
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            c.state = phase::connecting;
            ++opening_;
            return error(c, std::string("socket: ") + std::strerror(errno));
        }
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.state = phase::connecting;
        ++opening_;
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0 && errno != EINPROGRESS)
            return error(c, std::string("connect: ") + std::strerror(errno));
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = index_of(c);
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) != 0) die("epoll_ctl(ADD)");
    }

    void on_connected(connection& c) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return error(c, std::string("connect: ") + std::strerror(err));
        std::array<std::uint8_t, 16> nonce{};
        for (std::size_t i = 0; i < nonce.size(); i += 8) {
            const std::uint64_t r = next_random();
            std::memcpy(nonce.data() + i, &r, 8);
        }
        const std::string key = ws::make_client_key(nonce);
        std::memcpy(c.key.data(), key.data(), c.key.size());
        c.out = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + opt_.host + ":" + std::to_string(opt_.port) +
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                "\r\nSec-WebSocket-Version: 13\r\n" +
                (opt_.deflate ? "Sec-WebSocket-Extensions: " + ws::format_deflate_offer({}) + "\r\n" : std::string()) +
                "\r\n";
        c.out_sent = 0;
        c.state = phase::handshaking;
        watch(c, false);
        flush(c);
    }

    // Returns false if the connection failed. Leaves frame bytes that followed the 101 in c.in.
    bool on_handshake_bytes(connection& c) {
        const auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > 16384) error(c, "handshake response header over 16 KiB");
            return c.state != phase::failed;
        }
        const std::string_view head(c.in.data(), end + 2);
        if (!head.starts_with("HTTP/1.1 101")) {
            const auto eol = head.find("\r\n");
            error(c, "handshake refused: " + std::string(head.substr(0, eol)));
            return false;
        }
        std::string_view accept, extensions;
        std::string_view rest = head.substr(head.find("\r\n") + 2);
        while (!rest.empty()) {
            const auto eol = rest.find("\r\n");
            const std::string_view line = rest.substr(0, eol);
            rest = rest.substr(eol + 2);
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
            if (ws::iequals_ascii(line.substr(0, colon), "sec-websocket-accept")) accept = value;
            if (ws::iequals_ascii(line.substr(0, colon), "sec-websocket-extensions")) extensions = value;
        }
        if (!ws::is_valid_accept(std::string_view(c.key.data(), c.key.size()), accept)) {
            error(c, "handshake: missing or wrong Sec-WebSocket-Accept");
            return false;
        }
        if (opt_.deflate) {
            const ws::deflate_request offers[] = {ws::deflate_request{}};
            std::optional<ws::deflate_params> agreed;
            const std::string problem = ws::check_deflate_response(extensions, offers, agreed);
            if (!problem.empty() || !agreed) {
                error(c, "handshake: permessage-deflate not agreed" + (problem.empty() ? "" : ": " + problem));
                return false;
            }
            c.deflate = std::make_unique<ws::deflate_session>(ws::role::client, *agreed, ws::deflate_options{.threshold = 0});
            c.parser = ws::frame_parser(ws::role::client, {.max_message_size = std::uint64_t{1} << 30, .allowed_rsv = ws::rsv1});
        }
        c.in.erase(0, end + 4);
        c.state = phase::open;
        --opening_;
        ++opened_;
        return true;
    }

    bool open_all() {
        const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                      std::chrono::duration<double>(opt_.open_timeout));
        std::size_t next = 0;
        while (opened_ + failed_opens() < opt_.connections) {
            while (next < conns_.size() && opening_ < opt_.handshakes) start_connect(conns_[next++]);
            if (clock_type::now() > deadline) {
                std::fprintf(stderr, "ws_load: ERROR only %zu of %zu connections opened within %.0f s\n", opened_,
                             opt_.connections, opt_.open_timeout);
                ++errors_;
                return false;
            }
            poll(10);
        }
        return errors_ == 0;
    }
    std::size_t failed_opens() const { return finished_; }

    // -- the event loop --
    void poll(int timeout_ms) {
        std::array<epoll_event, 512> events{};
        const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            connection& c = conns_[events[i].data.u64];
            const auto ev = events[i].events;
            if (c.state == phase::connecting) {
                on_connected(c);
                continue;
            }
            if (c.fd < 0) continue;
            if (ev & EPOLLOUT) flush(c);
            if (c.fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) on_readable(c);
        }
    }

    void on_readable(connection& c) {
        const ssize_t n = recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
        if (n == 0) {
            if (c.state == phase::closing && c.parser.close_received()) return finish(c);
            return error(c, c.state == phase::handshaking ? "EOF during the opening handshake"
                                                          : "unexpected EOF (no Close frame)");
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            return error(c, std::string("recv: ") + std::strerror(errno));
        }
        const std::span<char> fresh(read_buffer_.data(), static_cast<std::size_t>(n));
        if (c.state == phase::handshaking) {
            c.in.append(fresh.data(), fresh.size());
            if (!on_handshake_bytes(c) || c.state != phase::open) return;
            if (c.in.empty()) return;
            std::string pending = std::move(c.in);
            c.in.clear();
            consume(c, std::span<char>(pending));
        } else if (c.in.empty()) {
            consume(c, fresh);
        } else {
            c.in.append(fresh.data(), fresh.size());
            std::string pending = std::move(c.in);
            c.in.clear();
            consume(c, std::span<char>(pending));
        }
        if (c.fd >= 0) flush(c);
    }

    // Parses frames from `input`; keeps what the parser did not consume in c.in. Queues replies in c.out.
    void consume(connection& c, std::span<char> input) {
        std::size_t used = 0;
        for (;;) {
            const ws::parse_result r = c.parser.next(input.subspan(used));
            used += r.consumed;
            if (r.status == ws::parse_status::need_more) break;
            if (r.status == ws::parse_status::error)
                return error(c, "protocol error from server: " + std::string(c.parser.error_reason()));
            if (r.status == ws::parse_status::header) {
                const auto op = c.parser.header().op;
                if (ws::is_data(op) && op != ws::opcode::continuation && op != opt_.op)
                    return error(c, "echo has opcode " + std::string(ws::to_string(op)) + ", sent " +
                                        std::string(ws::to_string(opt_.op)));
                continue;
            }
            const auto op = c.parser.header().op;
            if (ws::is_control(op)) {
                if (!on_control(c, op, r.payload)) return;
                if (c.fd < 0) return;
                continue;
            }
            if (c.parser.message_compressed()) {
                c.compressed.append(r.payload);
                if (!r.message_end) continue;
                if (!on_compressed(c)) return;
                continue;
            }
            if (!on_data(c, r.payload, r.message_end)) return;
        }
        if (used < input.size()) c.in.assign(input.data() + used, input.size() - used);
    }

    bool on_control(connection& c, ws::opcode op, std::string_view payload) {
        if (op == ws::opcode::ping) {
            ++pings_;
            append_masked(c, ws::opcode::pong, payload);
            return true;
        }
        if (op == ws::opcode::pong) return true;
        // Close.
        if (!c.close_sent) {
            const auto info = ws::parse_close_payload(payload);
            error(c, "unexpected Close from server, code " +
                         std::to_string(info ? static_cast<unsigned>(info->code) : 0u));
            return false;
        }
        finish(c);  // our Close was answered: the closing handshake is complete (§7.1.2)
        return false;
    }

    // A whole compressed echo: inflated (with the session's context), then checked like any other.
    bool on_compressed(connection& c) {
        thread_local std::string plain;
        plain.clear();
        c.deflate->begin_message();
        ws::inflate_status s = c.deflate->inflate(c.compressed, plain, opt_.size);
        if (s == ws::inflate_status::ok) s = c.deflate->end_message(plain, opt_.size);
        c.compressed.clear();
        if (s != ws::inflate_status::ok) {
            error(c, "a compressed echo does not inflate");
            return false;
        }
        return on_data(c, plain, true);
    }

    bool on_data(connection& c, std::string_view piece, bool message_end) {
        if (c.received >= c.sent) {
            error(c, "a data message arrived that was never sent");
            return false;
        }
        const std::size_t start = static_cast<std::size_t>((c.received * 7 + index_of(c)) % pattern_period);
        if (c.message_offset + piece.size() > opt_.size) {
            error(c, "echo longer than the " + std::to_string(opt_.size) + "-byte message sent");
            return false;
        }
        if (std::memcmp(piece.data(), pattern_.data() + start + c.message_offset, piece.size()) != 0) {
            error(c, "echo content differs from message " + std::to_string(c.received) + " sent");
            return false;
        }
        c.message_offset += piece.size();
        if (!message_end) return true;
        if (c.message_offset != opt_.size) {
            error(c, "echo of " + std::to_string(c.message_offset) + " bytes for a " + std::to_string(opt_.size) +
                         "-byte message");
            return false;
        }
        const auto now = clock_type::now();
        if (measuring_) {
            ++measured_messages_;
            latency_.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.send_times[c.received % opt_.pipeline])
                    .count()));
        }
        ++c.received;
        c.message_offset = 0;
        if (sending_) send_message(c, now);
        return true;
    }

    void append_masked(connection& c, ws::opcode op, std::string_view payload) {
        const std::uint64_t r = next_random();
        ws::mask_key key{};
        std::memcpy(key.data(), &r, key.size());
        ws::append_frame(c.out, op, payload, true, key);
    }

    void send_message(connection& c, clock_type::time_point now) {
        const std::size_t start = static_cast<std::size_t>((c.sent * 7 + index_of(c)) % pattern_period);
        c.send_times[c.sent % opt_.pipeline] = now;
        const std::string_view message(pattern_.data() + start, opt_.size);
        if (c.deflate) {
            thread_local std::string z;
            z.clear();
            if (c.deflate->compress(message, z)) {
                const std::uint64_t r = next_random();
                ws::mask_key key{};
                std::memcpy(key.data(), &r, key.size());
                ws::append_frame(c.out, opt_.op, z, true, key, ws::rsv1);
                ++c.sent;
                return;
            }
        }
        append_masked(c, opt_.op, message);
        ++c.sent;
    }

    void send_close(connection& c) {
        if (c.state != phase::open) return;
        append_masked(c, ws::opcode::close, ws::close_payload(ws::close_code::normal));
        c.close_sent = true;
        c.state = phase::closing;
        flush(c);
    }

    void flush(connection& c) {
        while (c.out_sent < c.out.size()) {
            const ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    if (!c.writable_wanted) watch(c, true);
                    return;
                }
                return error(c, std::string("send: ") + std::strerror(errno));
            }
            c.out_sent += static_cast<std::size_t>(n);
        }
        c.out.clear();
        c.out_sent = 0;
        if (c.writable_wanted) watch(c, false);
    }

    // Runs the event loop until `until`, or until every connection is finished.
    void loop_until(clock_type::time_point until) {
        while (finished_ < conns_.size()) {
            const auto now = clock_type::now();
            if (now >= until) return;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
            poll(static_cast<int>(std::clamp<long long>(left, 1, 10)));
        }
    }

    // Sends Close 1000 on every open connection and waits for the servers' Close replies.
    std::size_t close_all() {
        for (auto& c : conns_)
            if (c.state == phase::open) send_close(c);
        loop_until(clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                           std::chrono::duration<double>(opt_.close_timeout)));
        std::size_t unclosed = 0;
        for (auto& c : conns_) {
            if (c.state == phase::closing || c.state == phase::open) {
                ++unclosed;
                error(c, "no Close reply within the close timeout");
            }
        }
        return unclosed;
    }

    static clock_type::duration seconds(double s) {
        return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
    }

    // -- echo --
    int run_echo() {
        sending_ = true;
        const auto start = clock_type::now();
        for (auto& c : conns_) {
            if (c.state != phase::open) continue;
            for (std::size_t k = 0; k < opt_.pipeline; ++k) send_message(c, start);
            flush(c);
        }
        loop_until(start + seconds(opt_.warmup));

        rusage self0{};
        getrusage(RUSAGE_SELF, &self0);
        const proc_sample cpu0 = sample_process(opt_.server_pid);
        const auto t0 = clock_type::now();
        measuring_ = true;
        loop_until(t0 + seconds(opt_.duration));
        measuring_ = false;
        const auto t1 = clock_type::now();
        const proc_sample cpu1 = sample_process(opt_.server_pid);
        rusage self1{};
        getrusage(RUSAGE_SELF, &self1);
        sending_ = false;

        const double wall = std::chrono::duration<double>(t1 - t0).count();
        const auto cpu_of = [](const rusage& r) {
            return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
                   static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
        };
        const double client_cpu = cpu_of(self1) - cpu_of(self0);
        const double server_cpu = cpu1.cpu_seconds >= 0 && cpu0.cpu_seconds >= 0 ? cpu1.cpu_seconds - cpu0.cpu_seconds : -1;
        const std::size_t live = static_cast<std::size_t>(
            std::count_if(conns_.begin(), conns_.end(), [](const connection& c) { return c.state == phase::open; }));
        const std::size_t unclosed = close_all();
        report_errors();

        const double rate = static_cast<double>(measured_messages_) / wall;
        const auto us = [&](double q) { return static_cast<double>(latency_.quantile(q)) / 1e3; };
        std::fprintf(stderr,
                     "ws_load: echo %zu connections x %zu B, pipeline %zu: %" PRIu64 " messages in %.2f s = %.0f msg/s; "
                     "latency p50 %.1f us, p99 %.1f us, max %.1f us; client CPU %.0f%%",
                     opt_.connections, opt_.size, opt_.pipeline, measured_messages_, wall, rate, us(0.5), us(0.99),
                     static_cast<double>(latency_.max()) / 1e3, 100 * client_cpu / wall);
        if (server_cpu >= 0) std::fprintf(stderr, "; server CPU %.0f%%", 100 * server_cpu / wall);
        std::fprintf(stderr, "\n");
        std::printf("result mode=echo connections=%zu size=%zu pipeline=%zu seconds=%.3f messages=%" PRIu64
                    " msgs_per_s=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f client_cpu_s=%.3f"
                    " server_cpu_s=%.3f server_cpu_us_per_msg=%.3f live_at_end=%zu unclosed=%zu pings=%" PRIu64
                    " closed_cleanly=%zu errors=%" PRIu64 " status=%s\n",
                    opt_.connections, opt_.size, opt_.pipeline, wall, measured_messages_, rate, us(0.5), us(0.9),
                    us(0.99), static_cast<double>(latency_.max()) / 1e3, client_cpu, server_cpu,
                    server_cpu >= 0 && measured_messages_ > 0 ? server_cpu * 1e6 / static_cast<double>(measured_messages_) : -1.0,
                    live, unclosed, pings_, clean_closes_, errors_, errors_ == 0 ? "ok" : "failed");
        return errors_ == 0 ? 0 : 1;
    }

    // -- idle --
    int run_idle(const proc_sample& before) {
        if (opt_.messages > 0) {   // use every connection a little, then let it go quiet
            const auto now = clock_type::now();
            for (auto& c : conns_) {
                if (c.state != phase::open) continue;
                for (std::size_t k = 0; k < opt_.messages; ++k) send_message(c, now);
                flush(c);
            }
            const auto deadline = now + seconds(opt_.open_timeout);
            const auto answered = [&] {
                return std::all_of(conns_.begin(), conns_.end(),
                                   [](const connection& c) { return c.state != phase::open || c.received == c.sent; });
            };
            while (!answered() && clock_type::now() < deadline) poll(10);
            if (!answered()) {
                ++errors_;
                std::fprintf(stderr, "ws_load: ERROR not every message was echoed within %.0f s\n", opt_.open_timeout);
            }
        }
        loop_until(clock_type::now() + std::chrono::seconds(1));  // let the server finish its side of the upgrades
        const proc_sample after = sample_process(opt_.server_pid);
        const std::size_t open_now = static_cast<std::size_t>(
            std::count_if(conns_.begin(), conns_.end(), [](const connection& c) { return c.state == phase::open; }));
        if (opt_.server_pid > 0)
            std::fprintf(stderr, "ws_load: server VmRSS %ld -> %ld KiB, Private_Dirty %ld -> %ld KiB for %zu connections\n",
                         before.rss_kib, after.rss_kib, before.private_dirty_kib, after.private_dirty_kib, open_now);
        std::fflush(stderr);
        loop_until(clock_type::now() + seconds(std::max(0.0, opt_.hold - 1)));
        const std::size_t live = static_cast<std::size_t>(
            std::count_if(conns_.begin(), conns_.end(), [](const connection& c) { return c.state == phase::open; }));
        if (live != opt_.connections && errors_ == 0) {
            ++errors_;
            std::fprintf(stderr, "ws_load: ERROR %zu of %zu connections still open after the hold\n", live,
                         opt_.connections);
        }
        const std::size_t unclosed = close_all();
        report_errors();
        const auto per_conn = [&](long b, long a) {
            return b >= 0 && a >= 0 ? static_cast<double>(a - b) * 1024.0 / static_cast<double>(opt_.connections) : -1.0;
        };
        std::printf("result mode=idle deflate=%d messages=%zu connections=%zu opened=%zu live_after_hold=%zu rss_before_kib=%ld"
                    " rss_after_kib=%ld rss_bytes_per_conn=%.0f private_dirty_before_kib=%ld"
                    " private_dirty_after_kib=%ld private_dirty_bytes_per_conn=%.0f unclosed=%zu pings=%" PRIu64
                    " closed_cleanly=%zu errors=%" PRIu64 " status=%s\n",
                    opt_.deflate ? 1 : 0, opt_.messages, opt_.connections, opened_, live, before.rss_kib, after.rss_kib,
                    per_conn(before.rss_kib, after.rss_kib), before.private_dirty_kib, after.private_dirty_kib,
                    per_conn(before.private_dirty_kib, after.private_dirty_kib), unclosed, pings_, clean_closes_, errors_,
                    errors_ == 0 ? "ok" : "failed");
        return errors_ == 0 ? 0 : 1;
    }

    options opt_;
    std::vector<connection> conns_;
    std::string pattern_;
    std::array<char, 256 * 1024> read_buffer_{};
    sockaddr_in address_{};
    int epoll_ = -1;
    std::uint64_t rng_ = 0;
    std::size_t opening_ = 0;   // connects and handshakes in flight
    std::size_t opened_ = 0;
    std::size_t finished_ = 0;  // done or failed
    std::size_t clean_closes_ = 0;
    bool sending_ = false;
    bool measuring_ = false;
    std::uint64_t measured_messages_ = 0;
    std::uint64_t errors_ = 0;
    std::uint64_t pings_ = 0;
    histogram latency_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit.
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
    if (fd_limit < opt.connections + 16) {
        std::fprintf(stderr, "ws_load: RLIMIT_NOFILE is %llu, too low for %zu connections\n",
                     static_cast<unsigned long long>(fd_limit), opt.connections);
        return 2;
    }
    auto generator = std::make_unique<load>(opt);  // on the heap: it holds the 256 KiB read buffer
    return generator->run();
}
