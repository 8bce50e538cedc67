#pragma once
// attack_load's event loop: many non-blocking client sockets on one level-triggered epoll set, and the
// bookkeeping every attack shares, so that each attack is only what it sends and how it reacts.
//
// A connection (conn) is opened by the loop, which counts what the server did to it: connect failures, EOF,
// resets, the status of every response it read (responses are split by attack_wire's response_reader, so a
// pipelined stream is counted response by response) and, once upgraded by a 101, the code of every Close frame.
// Pings are answered with pongs and a Close with a Close, as any client would; data frames go to the attack.
//
// Output is either bytes queued with send() or a stream: `total` bytes taken cyclically from a shared block
// (stream()), so that 500 connections each sending 1 MiB, or an endless run of chunk extensions, cost the tool
// one block, not a copy per connection. A connection can be opened without reading (read = false): then only
// the peer's FIN or a reset is watched (EPOLLRDHUP), the kernel's receive buffer fills and the server's output
// backs up, which is the point of the pipelining and SSE attacks.
//
// The attack implements `hooks`; the loop calls them from poll(). A conn stays valid until on_end returns.

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attack_probe.hpp"
#include "attack_wire.hpp"

namespace attack {

enum class end_reason : std::uint8_t { connect_failed, eof, reset, error, by_us };

struct conn {
    int fd = -1;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    int role = 0;                 // the attack's tag
    bool connected = false;
    bool reading = true;
    bool write_armed = false;
    bool fin_after_output = false;
    bool fin_sent = false;
    bool flushing = false;        // inside flush(): hooks that queue more leave the writing to it
    bool upgraded = false;        // a 101 arrived: frames from now on
    bool close_sent = false;      // our Close frame
    bool close_received = false;  // theirs
    std::string out;
    std::size_t out_offset = 0;
    const char* source = nullptr;  // a shared block, streamed cyclically after `out`
    std::size_t source_size = 0;
    std::size_t source_at = 0;
    std::uint64_t source_left = 0;
    response_reader http;
    frame_reader frames;
    clock_type::time_point opened{};
    clock_type::time_point mark{};  // the attack's own time stamp
    std::uint64_t count = 0;        // the attack's own counters
    std::uint64_t count2 = 0;
    std::uint64_t written = 0;
    [[nodiscard]] bool output_pending() const { return out_offset < out.size() || source_left > 0; }
};

struct hooks {
    virtual ~hooks() = default;
    virtual void on_connected(conn&) {}
    virtual void on_response(conn&, int /*status*/, std::string_view /*body*/) {}
    virtual void on_ws_open(conn&) {}
    virtual void on_ws_message(conn&, std::uint8_t /*opcode*/, std::string_view) {}
    virtual void on_drained(conn&) {}   // everything queued was taken by the kernel
    virtual void on_end(conn&, end_reason, int /*error*/) {}
};

// What the attacker saw, over all its connections.
struct tally {
    std::uint64_t opened = 0;
    std::uint64_t connect_failed = 0;
    std::uint64_t eof = 0;          // the server closed (FIN)
    std::uint64_t resets = 0;       // the server reset
    std::uint64_t by_us = 0;
    std::uint64_t ws_without_close = 0;   // upgraded, then closed by the server with no Close frame
    std::uint64_t bytes_written = 0;
    std::uint64_t bytes_read = 0;
    std::map<std::string, std::uint64_t> errors;
    std::map<int, std::uint64_t> statuses;
    std::map<int, std::uint64_t> close_codes;
};

class loop {
public:
    loop(const std::string& host, std::uint16_t port, hooks& h) : hooks_(h), host_(host), port_(port) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) die("epoll_create1");
        address_.sin_family = AF_INET;
        address_.sin_port = htons(port);
        if (inet_pton(AF_INET, host.c_str(), &address_.sin_addr) != 1) {
            std::fprintf(stderr, "attack_load: '%s' is not an IPv4 address\n", host.c_str());
            std::exit(2);
        }
        rng_ ^= static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count());
    }
    ~loop() {
        close_all();
        ::close(epoll_);
    }
    loop(const loop&) = delete;
    loop& operator=(const loop&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] tally& seen() { return tally_; }
    [[nodiscard]] std::size_t live() const { return live_; }
    [[nodiscard]] std::size_t connecting() const { return connecting_; }
    std::uint64_t random() {   // xorshift64*: mask keys and nonces; unpredictability is not the point here
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        return rng_ * 0x2545f4914f6cdd1dull;
    }

    // Starts a connection; nullptr when the tool itself is out of descriptors (counted as an error).
    // rcvbuf > 0 shrinks the receive buffer before connecting, so it fixes the advertised window.
    conn* open(int role, bool reading = true, int rcvbuf = 0) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            ++tally_.errors[std::string("socket: ") + std::strerror(errno)];
            return nullptr;
        }
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        conn& c = allocate();
        c.fd = fd;
        c.role = role;
        c.reading = reading;
        c.opened = clock_type::now();
        ++connecting_;
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0 && errno != EINPROGRESS) {
            end(c, end_reason::connect_failed, errno);
            return nullptr;
        }
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = key(c);
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl(ADD)");
        return &c;
    }
    conn* open_websocket(int role, std::string_view path) {
        conn* c = open(role);
        if (c) {
            const std::string key = random_key(random(), random());
            c->out = websocket_request(path, host_ + ":" + std::to_string(port_), key);
        }
        return c;
    }

    // Bytes queued after shutdown(SHUT_WR) are dropped: the peer's Close or ping may still arrive and the
    // loop's automatic answer has nowhere to go.
    void send(conn& c, std::string_view bytes) {
        if (c.fd < 0 || c.fin_sent) return;
        if (c.out_offset == c.out.size()) {
            c.out.clear();
            c.out_offset = 0;
        }
        c.out.append(bytes);
        if (c.connected && !c.flushing) flush(c);
    }
    // A control frame cannot go out in the middle of a streamed frame's payload (RFC 6455 §5.4 allows it
    // between fragments only), so while a stream is being written, pongs and Close echoes are not sent. The
    // only WebSocket streams are the oversized messages, which the server refuses anyway.
    void send_frame(conn& c, std::uint8_t op, std::string_view payload) {
        if ((op & 0x8) && c.source_left > 0) return;
        std::string frame;
        append_frame(frame, op, payload, static_cast<std::uint32_t>(random()));
        send(c, frame);
    }
    // After what is queued: `total` bytes from `block` (cyclically, starting at `from`).
    void stream(conn& c, const char* block, std::size_t size, std::uint64_t total, std::size_t from = 0) {
        c.source = block;
        c.source_size = size;
        c.source_at = from % size;
        c.source_left = total;
        if (c.connected && !c.flushing) flush(c);
    }
    // shutdown(SHUT_WR) once everything queued has left.
    void finish_output(conn& c) {
        c.fin_after_output = true;
        if (c.connected && !c.flushing) flush(c);
    }
    void close(conn& c) { end(c, end_reason::by_us, 0); }
    void close_all() {
        for (auto& c : conns_)
            if (c->fd >= 0) close(*c);
    }
    template <class F>
    void for_each(F&& f) {
        for (auto& c : conns_)
            if (c->fd >= 0) f(*c);
    }

    // One round of events, waiting at most timeout_ms.
    void poll(int timeout_ms) {
        // Slots ended in the previous round become reusable only now: an ended conn may still be on the
        // stack of a reader that called the hook that ended it.
        free_.insert(free_.end(), ended_.begin(), ended_.end());
        ended_.clear();
        std::array<epoll_event, 256> events{};
        const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const auto slot = static_cast<std::uint32_t>(events[i].data.u64 & 0xffffffffu);
            const auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
            if (slot >= conns_.size()) continue;
            conn& c = *conns_[slot];
            if (c.fd < 0 || c.generation != generation) continue;   // ended earlier in this round
            const std::uint32_t ev = events[i].events;
            if (!c.connected) {
                on_connect(c);
                continue;
            }
            if (ev & EPOLLOUT) flush(c);
            if (c.fd < 0 || c.generation != generation) continue;
            if (c.reading) {
                if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read(c);
            } else if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0 && (ev & EPOLLRDHUP)) end(c, end_reason::eof, 0);
                else end(c, err == ECONNRESET || err == EPIPE || err == 0 ? end_reason::reset : end_reason::error, err);
            }
        }
    }

private:
    [[noreturn]] static void die(const char* what) {
        std::fprintf(stderr, "attack_load: %s: %s\n", what, std::strerror(errno));
        std::exit(1);
    }
    static std::uint64_t key(const conn& c) { return (std::uint64_t{c.generation} << 32) | c.slot; }

    conn& allocate() {
        std::uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        } else {
            slot = static_cast<std::uint32_t>(conns_.size());
            conns_.push_back(std::make_unique<conn>());
        }
        const std::uint32_t generation = conns_[slot]->generation + 1;
        *conns_[slot] = conn{};
        conns_[slot]->slot = slot;
        conns_[slot]->generation = generation;
        ++live_;
        return *conns_[slot];
    }

    void watch(conn& c) {
        epoll_event ev{};
        ev.events = EPOLLRDHUP | (c.reading ? EPOLLIN : 0u) | (c.write_armed ? EPOLLOUT : 0u);
        ev.data.u64 = key(c);
        if (epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev) != 0) die("epoll_ctl(MOD)");
    }

    void on_connect(conn& c) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return end(c, end_reason::connect_failed, err);
        c.connected = true;
        --connecting_;
        ++tally_.opened;
        const std::uint32_t generation = c.generation;
        watch(c);
        hooks_.on_connected(c);
        if (c.fd >= 0 && c.generation == generation) flush(c);
    }

    void flush(conn& c) {
        struct guard {
            conn& c;
            explicit guard(conn& x) : c(x) { c.flushing = true; }
            ~guard() { c.flushing = false; }
            guard(const guard&) = delete;
            guard& operator=(const guard&) = delete;
        } in_flush(c);
        const std::uint32_t generation = c.generation;
        std::size_t budget = 256u << 10;   // per call, so that fast connections cannot hold the loop
        for (;;) {
            while (c.out_offset < c.out.size() && budget > 0) {
                const std::size_t want = std::min(c.out.size() - c.out_offset, budget);
                const ssize_t n = ::send(c.fd, c.out.data() + c.out_offset, want, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) return write_failed(c);
                c.out_offset += static_cast<std::size_t>(n);
                account(c, static_cast<std::size_t>(n), budget);
            }
            while (c.out_offset == c.out.size() && c.source_left > 0 && budget > 0) {
                const std::size_t want = static_cast<std::size_t>(
                    std::min<std::uint64_t>({c.source_left, c.source_size - c.source_at, budget}));
                const ssize_t n = ::send(c.fd, c.source + c.source_at, want, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) return write_failed(c);
                c.source_at = (c.source_at + static_cast<std::size_t>(n)) % c.source_size;
                c.source_left -= static_cast<std::uint64_t>(n);
                account(c, static_cast<std::size_t>(n), budget);
            }
            if (c.output_pending()) return arm(c, true);   // the budget ran out: come back when writable
            if (c.out_offset == c.out.size()) {
                c.out.clear();
                c.out_offset = 0;
            }
            if (c.fin_after_output && !c.fin_sent) {
                ::shutdown(c.fd, SHUT_WR);
                c.fin_sent = true;
            }
            hooks_.on_drained(c);
            if (c.fd < 0 || c.generation != generation) return;
            if (!c.output_pending() || budget == 0) return arm(c, c.output_pending());
        }
    }
    void account(conn& c, std::size_t n, std::size_t& budget) {
        c.written += n;
        tally_.bytes_written += n;
        budget = n >= budget ? 0 : budget - n;
    }
    void arm(conn& c, bool writable) {
        if (c.write_armed == writable) return;
        c.write_armed = writable;
        watch(c);
    }
    void write_failed(conn& c) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return arm(c, true);
        end(c, e == ECONNRESET || e == EPIPE ? end_reason::reset : end_reason::error, e);
    }

    void read(conn& c) {
        const std::uint32_t generation = c.generation;
        for (int round = 0; round < 4; ++round) {
            const ssize_t n = ::recv(c.fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
            if (n == 0) {
                if (!c.upgraded) c.http.finish([&](int status, std::string_view body, bool) { response(c, status, body); });
                if (c.fd >= 0 && c.generation == generation) end(c, end_reason::eof, 0);
                return;
            }
            if (n < 0) {
                const int e = errno;
                if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return;
                return end(c, e == ECONNRESET ? end_reason::reset : end_reason::error, e);
            }
            tally_.bytes_read += static_cast<std::uint64_t>(n);
            consume(c, std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
            if (c.fd < 0 || c.generation != generation) return;
            if (static_cast<std::size_t>(n) < buffer_.size()) return;
        }
    }

    void consume(conn& c, std::string_view data) {
        const std::uint32_t generation = c.generation;
        if (!c.upgraded) {
            const std::size_t used =
                c.http.feed(data, [&](int status, std::string_view body, bool) { response(c, status, body); });
            if (c.fd < 0 || c.generation != generation) return;
            if (used == response_reader::npos) {
                ++tally_.errors["malformed response"];
                return end(c, end_reason::error, 0);
            }
            if (!c.upgraded) return;
            data.remove_prefix(used);
        }
        const bool ok = c.frames.feed(data, [&](bool, std::uint8_t op, std::string_view payload) {
            if (c.fd < 0 || c.generation != generation) return;
            if (op == opcode::ping) {
                send_frame(c, opcode::pong, payload);
            } else if (op == opcode::close) {
                if (!c.close_received) ++tally_.close_codes[close_code(payload)];
                c.close_received = true;
                if (!c.close_sent) {   // echo the code (RFC 6455 §5.5.1), then wait for the server's FIN
                    c.close_sent = true;
                    send_frame(c, opcode::close, payload.substr(0, 2));
                }
            } else if (op != opcode::pong) {
                hooks_.on_ws_message(c, op, payload);
            }
        });
        if (!ok && c.fd >= 0 && c.generation == generation) {
            ++tally_.errors["malformed frame"];
            end(c, end_reason::error, 0);
        }
    }

    void response(conn& c, int status, std::string_view body) {
        ++tally_.statuses[status];
        if (status == 101) c.upgraded = true;
        const std::uint32_t generation = c.generation;
        hooks_.on_response(c, status, body);
        if (status == 101 && c.fd >= 0 && c.generation == generation) hooks_.on_ws_open(c);
    }

    void end(conn& c, end_reason why, int err) {
        if (c.fd < 0) return;
        if (!c.connected) {
            --connecting_;
            if (why != end_reason::by_us) {
                ++tally_.connect_failed;
                ++tally_.errors[std::string("connect: ") + std::strerror(err)];
            }
        } else {
            switch (why) {
            case end_reason::eof: ++tally_.eof; break;
            case end_reason::reset: ++tally_.resets; break;
            case end_reason::error: ++tally_.errors[err ? std::strerror(err) : "protocol"]; break;
            case end_reason::by_us: ++tally_.by_us; break;
            case end_reason::connect_failed: break;
            }
            if (c.upgraded && !c.close_received && why != end_reason::by_us) ++tally_.ws_without_close;
        }
        hooks_.on_end(c, why, err);
        epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c.fd = -1;
        c.out.clear();
        c.out.shrink_to_fit();
        ++c.generation;   // stale events of this round no longer match
        ended_.push_back(c.slot);
        --live_;
    }

    hooks& hooks_;
    std::string host_;
    std::uint16_t port_;
    int epoll_ = -1;
    sockaddr_in address_{};
    std::vector<std::unique_ptr<conn>> conns_;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint32_t> ended_;
    std::size_t live_ = 0;
    std::size_t connecting_ = 0;
    tally tally_;
    std::array<char, 65536> buffer_{};
    std::uint64_t rng_ = 0x9e3779b97f4a7c15ull;
};

} // namespace attack
