// The fan-out "kernel floor" for benchmarks/fanout/run.sh: a broadcast server that does the least user-space work
// a WebSocket (RFC 6455) fan-out can do, so the benchmark can show what delivering one frame to one subscriber
// costs when nothing but the kernel is paid. tether's fanout_server is measured against it under the same
// contract, driven by the same load generator (benchmarks/loadgen/fanout_load.cpp); see floor_loop.hpp for why
// floors exist.
//
// The contract (the same as benchmarks/fanout/fanout_server.cpp's, minus what only tether's scenarios use):
//   GET /ws  (WebSocket)   a subscriber that gets each message in tether's pubsub envelope,
//                          {"topic":"bench","id":"<epoch hex>-<sequence>","data":"<body>"}, one text frame each;
//   GET /sub (WebSocket)   a subscriber that gets each message's body alone, one text frame each (tether's
//                          fanout_server serves the same raw frames there, through a topic of its own);
//     on either, the client's first text message (tether's {"type":"subscribe","topic":"bench"}) subscribes it
//     and is answered with {"type":"subscribed","topic":"bench","recovered":true,"id":..}, as tether answers;
//   POST /publish?n=K&size=B[&body=ticker]   publishes K messages (benchmarks/fanout/bench_message.hpp), then 204;
//   GET /sequence          the sequence the next message will carry.
//
// What makes it a floor, and why this shape rather than another:
//   - one thread, one edge-triggered epoll loop, raw sockets, no library (only tether's self-contained SHA-1 and
//     base64 headers, for the 101); the benchmark's contract is one server core (--threads 1);
//   - subscribers are two arrays of descriptors (one per wire form); connection state in a table indexed by fd;
//   - the messages of one read from the publisher (every POST /publish in it) are encoded once, concatenated
//     into one buffer per wire form, and each subscriber gets that buffer with ONE send() per batch: the fewest
//     system calls and the least user-space work per (message, subscriber) pair there is. uWebSockets does the
//     same by corking a loop iteration's publishes; tether's hub should reach it.
//   - a subscriber whose socket cannot take the whole send (EAGAIN or short) keeps the rest in a per-subscriber
//     backlog, appended to by later batches (so order holds) and flushed on EPOLLOUT. It stays small because the
//     load generator's window (at most W messages ahead of the slowest subscriber) flow-controls the publisher;
//     as every resource a peer can make a server hold, it has a budget anyway (max_backlog: the subscriber is
//     dropped past it).
// Not a product: it trusts its clients (fanout_load, curl): no UTF-8 check, no fragmented client messages, no
// limits beyond the ones above, and a protocol error just drops the connection.
//
// Usage: floor_fanout [--host 127.0.0.1] [--port 8080] [--threads 1]; prints "listening on http://HOST:PORT".

#include "floor_loop.hpp"
#include "floor_ws_handshake.hpp"

#include "../fanout/bench_message.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tether_floor;

constexpr const char* name = "floor_fanout";
constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t max_request_head = 8192;      // a head longer than this is not one of our clients'
constexpr std::size_t max_client_frame = 4096;      // subscribe, ping, close: all tiny
constexpr std::size_t max_backlog = 16u << 20;      // unsent bytes per connection before it is dropped
constexpr std::string_view topic_name = "bench";

enum class wire_form : std::uint8_t { envelope = 0, raw = 1 };
enum class role : std::uint8_t { http, websocket, subscriber, closing };

struct connection {
    bool live = false;
    role state = role::http;
    wire_form form = wire_form::envelope;
    bool out_armed = false;          // EPOLLOUT registered (only while backlog holds bytes)
    bool close_after_flush = false;
    std::uint32_t slot = 0;          // index in subscribers_[form] while state == subscriber
    std::string in;                  // unparsed bytes carried to the next read (a partial head or frame)
    std::string backlog;             // bytes the socket has not taken yet, in order
    std::size_t backlog_sent = 0;
};

// RFC 6455 §5.2 server frame header for an unmasked, final text (or other) frame of `length` bytes.
void append_frame_header(std::string& out, unsigned char first_byte, std::size_t length) {
    char header[10];
    std::size_t n = 0;
    header[n++] = static_cast<char>(first_byte);
    if (length < 126) {
        header[n++] = static_cast<char>(length);
    } else if (length <= 0xffff) {
        header[n++] = 126;
        header[n++] = static_cast<char>(length >> 8);
        header[n++] = static_cast<char>(length);
    } else {
        header[n++] = 127;
        for (int shift = 56; shift >= 0; shift -= 8) header[n++] = static_cast<char>(static_cast<std::uint64_t>(length) >> shift);
    }
    out.append(header, n);
}

// A JSON string's content (RFC 8259 §7): quote, backslash and control characters escaped, the rest as is.
void append_json_escaped(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    for (char ch : text) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (u < 0x20) {
            out.append("\\u00");
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 15]);
        } else {
            out.push_back(ch);
        }
    }
}

class fanout_floor {
public:
    fanout_floor(int listen_fd, int stop_fd) : listen_fd_(listen_fd), stop_fd_(stop_fd), in_(new char[read_size]) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) die(name, "epoll_create1");
        add(listen_fd_, EPOLLIN | EPOLLET);
        add(stop_fd_, EPOLLIN);
        std::random_device rd;
        epoch_ = (std::uint64_t{rd()} << 32) ^ rd();
        char* p = epoch_hex_;
        for (int shift = 60; shift >= 0; shift -= 4) *p++ = "0123456789abcdef"[(epoch_ >> shift) & 0xf];
    }
    fanout_floor(const fanout_floor&) = delete;
    fanout_floor& operator=(const fanout_floor&) = delete;
    ~fanout_floor() {
        for (std::size_t fd = 0; fd < conns_.size(); ++fd)
            if (conns_[fd].live) close(static_cast<int>(fd));
        close(epoll_);
    }

    void run() {
        epoll_event events[256];
        for (;;) {
            const int n = epoll_wait(epoll_, events, 256, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                die(name, "epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == stop_fd_) return;
                if (fd == listen_fd_) {
                    accept_all();
                    continue;
                }
                if (!live(fd)) continue;  // closed earlier in this batch
                if ((events[i].events & EPOLLOUT) && !on_writable(fd)) continue;
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(fd);
            }
        }
    }

private:
    bool live(int fd) const { return fd >= 0 && static_cast<std::size_t>(fd) < conns_.size() && conns_[fd].live; }

    void add(int fd, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die(name, "epoll_ctl(ADD)");
    }
    void arm_out(int fd, connection& c, bool on) {
        if (c.out_armed == on) return;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET | (on ? EPOLLOUT : 0u);
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev) != 0) die(name, "epoll_ctl(MOD)");
        c.out_armed = on;
    }

    void accept_all() {
        for (;;) {
            const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno != EAGAIN) std::fprintf(stderr, "%s: accept4: %s\n", name, std::strerror(errno));
                return;
            }
            // Frames are sent as soon as a batch is complete; Nagle would hold a short batch behind an ACK.
            const int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) * 2 + 64);
            conns_[fd] = connection{};
            conns_[fd].live = true;
            add(fd, EPOLLIN | EPOLLET);
        }
    }

    void drop(int fd) {
        connection& c = conns_[fd];
        if (c.state == role::subscriber) unsubscribe(c);
        close(fd);  // also leaves the epoll set
        c = connection{};
    }

    void subscribe(int fd, connection& c) {
        auto& list = subscribers_[static_cast<std::size_t>(c.form)];
        c.slot = static_cast<std::uint32_t>(list.size());
        list.push_back(fd);
        c.state = role::subscriber;
    }
    // Swap with the last and pop: O(1), and fan_out() below steps over the swap.
    void unsubscribe(connection& c) {
        auto& list = subscribers_[static_cast<std::size_t>(c.form)];
        const int last = list.back();
        list[c.slot] = last;
        conns_[last].slot = c.slot;
        list.pop_back();
        c.state = role::closing;
    }

    // ---- output: one send, the rest kept in order --------------------------------------------------------------
    // False when the connection was dropped (a hard error, or its backlog over budget).
    bool send_or_keep(int fd, std::string_view bytes) {
        connection& c = conns_[fd];
        if (c.backlog_sent < c.backlog.size()) {  // earlier bytes are still waiting: these go behind them
            if (c.backlog.size() - c.backlog_sent + bytes.size() > max_backlog) {
                drop(fd);
                return false;
            }
            if (c.backlog_sent > c.backlog.size() / 2) {
                c.backlog.erase(0, c.backlog_sent);
                c.backlog_sent = 0;
            }
            c.backlog.append(bytes);
            return true;
        }
        ssize_t sent;
        do sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent < 0 && errno != EAGAIN) {
            drop(fd);
            return false;
        }
        const std::size_t done = sent < 0 ? 0 : static_cast<std::size_t>(sent);
        if (done < bytes.size()) {
            c.backlog.assign(bytes.substr(done));
            c.backlog_sent = 0;
            arm_out(fd, c, true);
        }
        return true;
    }

    // Flushes the backlog; false when the connection was dropped.
    bool on_writable(int fd) {
        connection& c = conns_[fd];
        while (c.backlog_sent < c.backlog.size()) {
            const ssize_t n = send(fd, c.backlog.data() + c.backlog_sent, c.backlog.size() - c.backlog_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return true;
                drop(fd);
                return false;
            }
            c.backlog_sent += static_cast<std::size_t>(n);
        }
        std::string().swap(c.backlog);  // an idle subscriber holds no buffer
        c.backlog_sent = 0;
        if (c.close_after_flush) {
            drop(fd);
            return false;
        }
        arm_out(fd, c, false);
        return true;
    }

    // ---- input -------------------------------------------------------------------------------------------------
    // Edge-triggered: reads until drained. Bytes left unparsed wait in c.in for the next read.
    void on_readable(int fd) {
        for (;;) {
            const ssize_t n = recv(fd, in_.get(), read_size, 0);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno == EAGAIN) return;
                return drop(fd);  // EOF or error
            }
            connection& c = conns_[fd];
            std::string_view data(in_.get(), static_cast<std::size_t>(n));
            const bool carried = !c.in.empty();
            if (carried) {
                c.in.append(data);
                data = c.in;
            }
            const std::size_t used = consume(fd, data);
            // The publisher's batch: everything this read published goes out now, one send per subscriber.
            if (!raw_batch_.empty() || !envelope_batch_.empty()) fan_out();
            if (!live(fd)) {
                replies_.clear();  // they were for the connection just dropped
                return;
            }
            connection& after = conns_[fd];
            if (carried) after.in.erase(0, used);
            else if (used < data.size()) after.in.assign(data.substr(used));
            if (after.in.size() > max_request_head + max_client_frame) {
                replies_.clear();
                return drop(fd);
            }
            if (!replies_.empty()) {
                std::string replies;
                replies.swap(replies_);
                if (!send_or_keep(fd, replies)) return;
                replies.clear();
                replies_.swap(replies);  // keep the capacity
            }
            if (!live(fd)) return;
            if (static_cast<std::size_t>(n) < read_size) return;
        }
    }

    // Parses what it can of `data`; returns the bytes used. May drop the connection (the caller checks).
    std::size_t consume(int fd, std::string_view data) {
        std::size_t used = 0;
        while (used < data.size() && live(fd)) {
            const std::size_t step = conns_[fd].state == role::http ? on_request(fd, data.substr(used))
                                                                     : on_frame(fd, data.substr(used));
            if (step == 0) break;
            used += step;
        }
        return used;
    }

    // One HTTP/1.1 request if it is complete: its size, or 0 (incomplete, or the connection was dropped).
    std::size_t on_request(int fd, std::string_view data) {
        const std::size_t end = data.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (data.size() > max_request_head) drop(fd);
            return 0;
        }
        const std::string_view head = data.substr(0, end + 2);
        std::size_t body = 0;
        if (const auto length = header_value(head, "content-length"); !length.empty() && !tether_bench::parse_number(length, body))
            return drop(fd), 0;
        if (data.size() < end + 4 + body) return 0;  // the body is still coming
        const std::size_t size = end + 4 + body;

        const std::size_t sp1 = head.find(' ');
        const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : head.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) return drop(fd), 0;
        const std::string_view method = head.substr(0, sp1);
        const std::string_view target = head.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::size_t question = target.find('?');
        const std::string_view path = target.substr(0, question);
        const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

        if (method == "GET" && (path == "/ws" || path == "/sub")) {
            const std::string_view key = header_value(head, "sec-websocket-key");
            if (key.empty()) return reply(fd, "400 Bad Request", {}, true), 0;
            char response[switching_protocols_max_size];
            const char* response_end = write_switching_protocols(key, response);
            connection& c = conns_[fd];
            c.state = role::websocket;
            c.form = path == "/sub" ? wire_form::raw : wire_form::envelope;
            if (!send_or_keep(fd, std::string_view(response, static_cast<std::size_t>(response_end - response)))) return 0;
            return size;
        }
        if (method == "POST" && path == "/publish") {
            tether_bench::publish_request r;
            if (!tether_bench::parse_publish_query(query, r)) return reply(fd, "400 Bad Request", {}, false), size;
            publish(r);
            replies_.append("HTTP/1.1 204 No Content\r\n\r\n");
            return size;
        }
        if (method == "GET" && path == "/sequence") {
            reply(fd, "200 OK", std::to_string(next_sequence_), false);
            return size;
        }
        reply(fd, "404 Not Found", {}, false);
        return size;
    }

    void reply(int fd, std::string_view status, std::string_view body, bool close_after) {
        replies_.append("HTTP/1.1 ").append(status).append("\r\nContent-Type: text/plain\r\nContent-Length: ");
        replies_.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
        if (close_after) {
            std::string out;
            out.swap(replies_);
            if (send_or_keep(fd, out)) {
                connection& c = conns_[fd];
                if (c.backlog.empty()) drop(fd);
                else c.close_after_flush = true;
            }
        }
    }

    // Encodes K messages once per wire form in use, appended to this batch.
    void publish(const tether_bench::publish_request& r) {
        const bool raw = !subscribers_[static_cast<std::size_t>(wire_form::raw)].empty();
        const bool envelope = !subscribers_[static_cast<std::size_t>(wire_form::envelope)].empty();
        for (std::size_t i = 0; i < r.count; ++i) {
            const std::uint64_t sequence = next_sequence_++;
            tether_bench::make_body(body_, sequence, r);
            if (raw) {
                append_frame_header(raw_batch_, 0x81, body_.size());
                raw_batch_.append(body_);
            }
            if (envelope) {
                envelope_.assign(R"({"topic":")").append(topic_name).append(R"(","id":")").append(epoch_hex_, 16);
                envelope_.push_back('-');
                envelope_.append(std::to_string(sequence)).append(R"(","data":")");
                append_json_escaped(envelope_, body_);
                envelope_.append("\"}");
                append_frame_header(envelope_batch_, 0x81, envelope_.size());
                envelope_batch_.append(envelope_);
            }
        }
    }

    // The batch to every subscriber of its form: one send each.
    void fan_out() {
        for (wire_form form : {wire_form::raw, wire_form::envelope}) {
            std::string& batch = form == wire_form::raw ? raw_batch_ : envelope_batch_;
            if (batch.empty()) continue;
            auto& list = subscribers_[static_cast<std::size_t>(form)];
            for (std::size_t i = 0; i < list.size();)
                if (send_or_keep(list[i], batch)) ++i;  // dropped: the last subscriber now sits at i
            batch.clear();
        }
    }

    // One client frame (RFC 6455 §5.2) if it is complete: its size, or 0. Client frames are all masked (§5.3);
    // fragmented messages are not expected from our clients and drop the connection.
    std::size_t on_frame(int fd, std::string_view data) {
        if (data.size() < 2) return 0;
        const auto b0 = static_cast<unsigned char>(data[0]);
        const auto b1 = static_cast<unsigned char>(data[1]);
        if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0 || (b0 & 0x80) == 0) return drop(fd), 0;
        std::size_t at = 2;
        std::uint64_t length = b1 & 0x7f;
        if (length == 126 || length == 127) {
            const std::size_t bytes = length == 126 ? 2 : 8;
            if (data.size() < at + bytes) return 0;
            length = 0;
            for (std::size_t i = 0; i < bytes; ++i) length = (length << 8) | static_cast<unsigned char>(data[at++]);
        }
        if (length > max_client_frame) return drop(fd), 0;
        if (data.size() < at + 4 + length) return 0;
        const char* mask = data.data() + at;
        at += 4;
        std::array<char, max_client_frame> payload;
        for (std::size_t i = 0; i < length; ++i) payload[i] = static_cast<char>(data[at + i] ^ mask[i & 3]);
        const std::string_view text(payload.data(), static_cast<std::size_t>(length));
        const std::size_t size = at + static_cast<std::size_t>(length);

        switch (b0 & 0x0f) {
        case 0x1:  // text: the first one subscribes (tether's {"type":"subscribe",...}); later ones are ignored
            if (conns_[fd].state == role::websocket) {
                if (text.find(R"("subscribe")") == std::string_view::npos) return drop(fd), 0;
                std::string notice;
                notice.append(R"({"type":"subscribed","topic":")").append(topic_name);
                notice.append(R"(","recovered":true,"id":")").append(epoch_hex_, 16).push_back('-');
                notice.append(std::to_string(next_sequence_ == 0 ? 0 : next_sequence_ - 1)).append("\"}");
                std::string frame;
                append_frame_header(frame, 0x81, notice.size());
                frame.append(notice);
                if (!send_or_keep(fd, frame)) return 0;
                subscribe(fd, conns_[fd]);
            }
            return size;
        case 0x2: case 0xa:  // binary, pong: nothing to do
            return size;
        case 0x9: {  // ping: pong with the same payload (§5.5.3)
            std::string frame;
            append_frame_header(frame, 0x8a, text.size());
            frame.append(text);
            return send_or_keep(fd, frame) ? size : 0;
        }
        case 0x8: {  // close: answered with the same payload, then the connection is closed (§5.5.1)
            connection& c = conns_[fd];
            if (c.state == role::subscriber) unsubscribe(c);
            c.state = role::closing;
            std::string frame;
            append_frame_header(frame, 0x88, text.size());
            frame.append(text);
            if (!send_or_keep(fd, frame)) return 0;
            if (conns_[fd].backlog.empty()) drop(fd);
            else conns_[fd].close_after_flush = true;
            return 0;  // nothing after a Close is read
        }
        default:
            return drop(fd), 0;
        }
    }

    int listen_fd_;
    int stop_fd_;
    int epoll_ = -1;
    std::unique_ptr<char[]> in_;  // not value-initialized: untouched pages stay out of RSS
    std::vector<connection> conns_;                 // indexed by fd
    std::array<std::vector<int>, 2> subscribers_;   // by wire_form
    std::uint64_t next_sequence_ = 0;
    std::uint64_t epoch_ = 0;
    char epoch_hex_[16]{};
    std::string body_, envelope_;                   // scratch, reused
    std::string raw_batch_, envelope_batch_;        // this read's messages, framed, per form
    std::string replies_;                           // this read's HTTP responses to the publisher
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    if (opt.threads != 1) {
        std::fprintf(stderr, "%s: one loop only (--threads 1): every subscriber must see every batch\n", name);
        return 2;
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    const int stop_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (stop_fd < 0) die(name, "signalfd");
    const int listen_fd = listen_on(name, opt.host, opt.port, false);
    auto server = std::make_unique<fanout_floor>(listen_fd, stop_fd);
    std::printf("listening on http://%s:%u\n", opt.host.c_str(), unsigned{local_port(listen_fd)});
    std::fflush(stdout);
    server->run();
    server.reset();
    close(listen_fd);
    close(stop_fd);
    return 0;
}
