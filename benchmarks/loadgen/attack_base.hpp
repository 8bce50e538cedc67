#pragma once
// What every attack of attack_load shares: its options, the attack interface the run drives (setup before the
// baseline, start, a tick every 10 ms, stop, and a sentence saying what the attacker saw), and the few blocking
// HTTP exchanges the setups and the bookkeeping need (publishing a history, reading a topic's cursor). The
// attacks themselves are in attacks_http.hpp (one request at a time: bodies, pipelines, targets) and
// attacks_streams.hpp (long-lived connections: WebSocket, SSE, floods, FIN).

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "attack_loop.hpp"
#include "attack_probe.hpp"
#include "attack_wire.hpp"

namespace attack {

using namespace std::chrono_literals;

// What the command line sets (attack_load.cpp parses it).
struct options {
    std::string attack;
    std::string host = "127.0.0.1";   // the server's IPv4 address
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
    // The target's routes (run.sh passes the layout the example has; these are examples/hybrid's).
    std::string publish_path = "/api/publish";   // POST, raw body: one message
    std::string sse_path = "/events";
    std::string poll_path = "/poll";             // long poll: without ?since= it answers at once with "next"
    std::string status_path = "/status";         // short poll
    std::string ws_path = "/ws";                 // tether's pubsub protocol
    std::string topic = "news";
};

inline bool success(int status) { return status >= 200 && status <= 299; }

template <class T>
inline T or_default(T value, T fallback) {
    return value ? value : fallback;
}

inline double seconds_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// The soft and hard "Max open files" of a process (/proc/PID/limits); -1 where unknown or unlimited.
inline std::pair<long, long> descriptor_limits(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("Max open files")) continue;
        long soft = -1, hard = -1;
        std::sscanf(line.c_str() + 14, "%ld %ld", &soft, &hard);
        return {soft, hard};
    }
    return {-1, -1};
}

// "2.6 ms" below a second, "3.4 s" above.
inline std::string span(double seconds) {
    char text[32];
    if (seconds < 1) std::snprintf(text, sizeof text, "%.1f ms", seconds * 1000);
    else std::snprintf(text, sizeof text, "%.1f s", seconds);
    return text;
}

// Events per second over `seconds`, as an integer.
inline std::string per_second(std::uint64_t n, double seconds) {
    return std::to_string(seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(n) / seconds) : 0);
}

inline std::string mib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

// "413×12, 400×3"
template <class Key>
inline std::string counts(const std::map<Key, std::uint64_t>& m) {
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
inline std::string payload_bytes(const std::string& kind, std::size_t size) {
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
inline exchange_result http_exchange(const options& o, std::string_view request, std::chrono::milliseconds timeout,
                              std::size_t body_cap = 1 << 20) {
    exchange_result r;
    const auto deadline = clock_type::now() + timeout;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {-1, {}, std::strerror(errno)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(o.port);
    ::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);   // checked when the options were parsed
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

inline std::string post_request(std::string_view path, std::string_view body) {
    std::string r = "POST ";
    r.append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
    r.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    return r;
}

// The "next" cursor ("<epoch>-<sequence>") of a polling answer.
inline std::optional<std::string> next_cursor(std::string_view body) {
    const auto at = body.find("\"next\":\"");
    if (at == std::string_view::npos) return std::nullopt;
    const auto start = at + 8;
    const auto end = body.find('"', start);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(body.substr(start, end - start));
}
inline std::optional<std::pair<std::string, std::uint64_t>> split_cursor(std::string_view cursor) {
    const auto dash = cursor.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::uint64_t sequence = 0;
    const auto tail = cursor.substr(dash + 1);
    if (std::from_chars(tail.data(), tail.data() + tail.size(), sequence).ec != std::errc{}) return std::nullopt;
    return std::pair{std::string(cursor.substr(0, dash)), sequence};
}
inline std::string get_request(std::string_view target) {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

// The topic's current sequence from a long poll without cursor, which answers at once with "next".
inline std::optional<std::uint64_t> topic_sequence(const options& o) {
    const auto r = http_exchange(o, get_request(o.poll_path), 5s);
    if (r.status != 200) return std::nullopt;
    const auto cursor = next_cursor(r.body);
    if (!cursor) return std::nullopt;
    const auto parts = split_cursor(*cursor);
    if (!parts) return std::nullopt;
    return parts->second;
}

// The largest message of at most `wanted` bytes the publish route accepts (an example may cap its messages
// below what the library allows: hybrid validates its own): halving until one is accepted, then bisecting
// between that and the last refused size. Each accepted probe publishes one message. 0 when even one byte is
// refused, or the refusal is not a 4xx (not a size problem).
inline std::uint64_t fit_publish_size(const options& o, std::uint64_t wanted, std::string* refusal) {
    auto accepted = [&](std::uint64_t size) {
        const auto r = http_exchange(o, post_request(o.publish_path, payload_bytes(o.payload, size)), 10s, 256);
        if (success(r.status)) return 1;
        if (refusal && refusal->empty()) *refusal = std::to_string(r.status) + (r.error.empty() ? "" : " (" + r.error + ")");
        return r.status >= 400 && r.status <= 499 ? 0 : -1;
    };
    std::uint64_t refused = 0;
    std::uint64_t size = wanted;
    for (; size > 0; size /= 2) {
        const int a = accepted(size);
        if (a < 0) return 0;
        if (a > 0) break;
        refused = size;
    }
    if (size == 0 || refused == 0) return size;
    while (refused - size > 1) {   // invariant: size accepted, refused refused
        const std::uint64_t middle = size + (refused - size) / 2;
        const int a = accepted(middle);
        if (a < 0) return size;
        (a > 0 ? size : refused) = middle;
    }
    return size;
}

// Fills the target's topic: `count` POSTs of `body`. False (with a message) if the server refuses.
inline bool publish_history(const options& o, std::uint64_t count, const std::string& body) {
    const std::string request = post_request(o.publish_path, body);
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto r = http_exchange(o, request, 10s, 256);
        if (!success(r.status)) {
            std::fprintf(stderr, "attack_load: setup: POST %s %" PRIu64 " answered %d %s\n", o.publish_path.c_str(), i,
                         r.status, r.error.c_str());
            return false;
        }
    }
    return true;
}

// " (the target refuses more than N bytes: 422)" when fit_publish_size had to shrink the message.
inline std::string shrunk(std::uint64_t wanted, std::uint64_t used, const std::string& refusal) {
    if (used >= wanted) return "";
    return " (" + std::to_string(wanted) + " B refused with " + refusal + ": sent " + std::to_string(used) + " B)";
}

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
    // What issue 16 asks of the server under this attack, beyond memory and latency (a status, a Close code,
    // a prompt close, a rate limit), that it did not do; "" when it did or nothing is asked. After stop().
    virtual std::string unmet() { return ""; }
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
    // How many of our connections (those `keep` selects) the server still holds open (ESTABLISHED on its side).
    // For sockets that never read, the client cannot see the server's close: its FIN waits behind data our zero
    // window refuses, and the server's socket sits in FIN-WAIT-1 (or is gone) while ours still looks open.
    template <class Keep>
    int held_by_server(Keep&& keep) {
        std::vector<int> ports;
        loop_->for_each([&](conn& c) {
            sockaddr_in a{};
            socklen_t length = sizeof a;
            if (keep(c) && ::getsockname(c.fd, reinterpret_cast<sockaddr*>(&a), &length) == 0)
                ports.push_back(ntohs(a.sin_port));
        });
        std::sort(ports.begin(), ports.end());
        int established = 0;
        for_each_tcp_socket([&](int local, int remote, int state) {
            if (local == o_.port && state == 1 && std::binary_search(ports.begin(), ports.end(), remote)) ++established;
        });
        return established;
    }

    // Opens another connection while the attack runs and fewer than `limit` were ever opened.
    bool may_open(std::uint64_t limit) { return running_ && opens_ < limit; }

    const options& o_;
    loop* loop_ = nullptr;
    bool running_ = true;
    int close_wait_peak_ = 0;
    std::uint64_t opens_ = 0;
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

} // namespace attack
