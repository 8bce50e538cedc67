// naive_broadcast: the baseline of the fan-out benchmark (benchmarks/fanout/run.sh), a Boost.Beast server that
// broadcasts the way Beast's own chat examples do (example/websocket/server/chat-multi, and the single-threaded
// CppCon 2018 chat it grew from):
//   - each message is built once into a std::shared_ptr<std::string const>;
//   - the server loops over its sessions and hands every one that pointer;
//   - each session keeps a queue of such pointers and has one async_write in flight at a time: on completion
//     it pops the front and writes the next. One write (one frame, one send) per message per session.
// This is the fair baseline because it already shares the bytes; what it does not do is batch: no gather
// write of several queued messages, no coalesced wake-up, one completion handler per message per session.
//
// It speaks exactly what tether's fanout_server speaks, so fanout_load drives both identically:
//   GET /ws (WebSocket)      client sends {"type":"subscribe","topic":"bench"}; the server answers
//                            {"type":"subscribed","topic":"bench"} and from then on sends each message as one
//                            text frame {"topic":"bench","id":"<seq>","data":"<body>"}
//   GET /events (SSE)        HTTP/1.1 chunked text/event-stream, one chunk per message:
//                            "id: <seq>\nevent: bench\ndata: <body>\n\n"
//   POST /publish?n=K&size=B publishes K messages (benchmarks/fanout/bench_message.hpp), answers 204
//   GET /sequence            the sequence the next message will carry (text)
//
// Threads: one io_context per thread with concurrency hint 1, an acceptor each (SO_REUSEPORT), and a session
// list per thread (no lock, no strand). A publish on one thread builds the shared strings once and posts one
// broadcast to each other thread, which loops over its own sessions: with --threads 1 (the benchmark) it is the
// single-threaded chat server exactly. WebSocket options as in peers/beast_ws.cpp: suggested server timeouts,
// no permessage-deflate, no auto-fragment, TCP_NODELAY.
//
// Usage: naive_broadcast [--host 127.0.0.1] [--port 8080] [--threads 1]
// Prints "listening on http://HOST:PORT" once every acceptor listens. SIGINT/SIGTERM stop it.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <sys/socket.h>

#include "../fanout/bench_message.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    unsigned threads = 1;
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--host ADDR] [--port N] [--threads N]\n", argv0);
    std::exit(2);
}

options parse_options(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        std::string_view value = argv[++i];
        std::size_t n = 0;
        if (arg == "--host") opt.host = std::string(value);
        else if (arg == "--port" && tether_bench::parse_number(value, n) && n <= 65535) opt.port = static_cast<unsigned short>(n);
        else if (arg == "--threads" && tether_bench::parse_number(value, n) && n >= 1 && n <= 256) opt.threads = static_cast<unsigned>(n);
        else usage(argv[0]);
    }
    return opt;
}

using shared_bytes = std::shared_ptr<std::string const>;

// A subscriber of either kind: it takes a message and queues it.
class subscriber {
public:
    virtual ~subscriber() = default;
    virtual void send(shared_bytes const& ws_frame_text, shared_bytes const& sse_chunk) = 0;
};

// The chat example's shared_state, one per I/O thread.
struct room {
    std::unordered_set<subscriber*> sessions;
    void broadcast(shared_bytes const& ws_text, shared_bytes const& sse_chunk) {
        for (auto* s : sessions) s->send(ws_text, sse_chunk);
    }
};

struct server_state {
    // rooms before contexts: destroying a context destroys its pending handlers, and with them sessions that
    // take themselves out of their room.
    std::vector<std::unique_ptr<room>> rooms;   // rooms[i] is used only on contexts[i]'s thread
    std::vector<std::unique_ptr<net::io_context>> contexts;
    std::atomic<std::uint64_t> next_sequence{0};
};

// ---- WebSocket subscriber -----------------------------------------------------------------------------------
class ws_session : public subscriber, public std::enable_shared_from_this<ws_session> {
public:
    ws_session(tcp::socket&& socket, room& r) : ws_(std::move(socket)), room_(r) {}
    ~ws_session() override { room_.sessions.erase(this); }

    void run(http::request<http::string_body> req) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        websocket::permessage_deflate pmd;
        pmd.server_enable = false;
        pmd.client_enable = false;
        ws_.set_option(pmd);
        ws_.auto_fragment(false);
        ws_.read_message_max(std::uint64_t{1} << 16);
        ws_.text(true);
        ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
    }

    void send(shared_bytes const& ws_text, shared_bytes const&) override { enqueue(ws_text); }

private:
    void on_accept(beast::error_code ec) {
        if (ec) return;
        do_read();
    }
    void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this())); }
    void on_read(beast::error_code ec, std::size_t) {
        if (ec) {
            room_.sessions.erase(this);
            return;
        }
        const std::string_view text(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        if (text.find("\"subscribe\"") != std::string_view::npos && text.find("\"bench\"") != std::string_view::npos) {
            if (room_.sessions.insert(this).second)
                enqueue(std::make_shared<std::string const>(R"({"type":"subscribed","topic":"bench"})"));
        } else {
            enqueue(std::make_shared<std::string const>(R"({"type":"error","message":"only subscribe to bench"})"));
        }
        buffer_.consume(buffer_.size());
        do_read();
    }
    // The chat example's on_send / on_write: one write in flight, the rest queued.
    void enqueue(shared_bytes const& message) {
        queue_.push_back(message);
        if (queue_.size() > 1) return;
        ws_.async_write(net::buffer(*queue_.front()), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
    }
    void on_write(beast::error_code ec, std::size_t) {
        if (ec) {
            room_.sessions.erase(this);
            queue_.clear();
            return;
        }
        queue_.pop_front();
        if (!queue_.empty())
            ws_.async_write(net::buffer(*queue_.front()), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
    }

    websocket::stream<beast::tcp_stream> ws_;
    room& room_;
    beast::flat_buffer buffer_;
    std::deque<shared_bytes> queue_;
};

// ---- SSE subscriber -------------------------------------------------------------------------------------------
class sse_session : public subscriber, public std::enable_shared_from_this<sse_session> {
public:
    sse_session(tcp::socket&& socket, room& r) : socket_(std::move(socket)), room_(r) {}
    ~sse_session() override { room_.sessions.erase(this); }

    void run() {
        room_.sessions.insert(this);
        enqueue(std::make_shared<std::string const>(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"));
        do_read();
    }
    void send(shared_bytes const&, shared_bytes const& sse_chunk) override { enqueue(sse_chunk); }

private:
    // Reads only to notice the client going away.
    void do_read() {
        socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) {
                self->room_.sessions.erase(self.get());
                return;
            }
            self->do_read();
        });
    }
    void enqueue(shared_bytes const& message) {
        queue_.push_back(message);
        if (queue_.size() > 1) return;
        write_front();
    }
    void write_front() {
        net::async_write(socket_, net::buffer(*queue_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) {
                self->room_.sessions.erase(self.get());
                self->queue_.clear();
                return;
            }
            self->queue_.pop_front();
            if (!self->queue_.empty()) self->write_front();
        });
    }

    tcp::socket socket_;
    room& room_;
    std::deque<shared_bytes> queue_;
    char discard_[512];
};

// ---- HTTP: upgrade, SSE, publish ------------------------------------------------------------------------------
class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket&& socket, server_state& s, std::size_t thread) : stream_(std::move(socket)), state_(s), thread_(thread) {}
    void run() { do_read(); }

private:
    void do_read() {
        req_ = {};
        http::async_read(stream_, buffer_, req_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
    }
    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return;
        room& r = *state_.rooms[thread_];
        if (websocket::is_upgrade(req_)) {
            std::make_shared<ws_session>(stream_.release_socket(), r)->run(std::move(req_));
            return;
        }
        const std::string_view target(req_.target().data(), req_.target().size());
        const auto q = target.find('?');
        const std::string_view path = target.substr(0, q);
        if (req_.method() == http::verb::get && path == "/events") {
            std::make_shared<sse_session>(stream_.release_socket(), r)->run();
            return;
        }
        auto res = std::make_shared<http::response<http::string_body>>(http::status::no_content, req_.version());
        res->keep_alive(req_.keep_alive());
        tether_bench::publish_request p;
        if (req_.method() == http::verb::get && path == "/sequence") {
            res->result(http::status::ok);
            res->set(http::field::content_type, "text/plain");
            res->body() = std::to_string(state_.next_sequence.load(std::memory_order_relaxed));
            res->prepare_payload();
        } else if (req_.method() == http::verb::post && path == "/publish" &&
            tether_bench::parse_publish_query(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1), p)) {
            publish(p);
        } else {
            res->result(http::status::not_found);
            res->body() = "not found\n";
            res->prepare_payload();
        }
        http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code e, std::size_t) {
            if (e || !res->keep_alive()) return;
            self->do_read();
        });
    }

    // Builds each message once per wire format and broadcasts the shared strings.
    void publish(const tether_bench::publish_request& p) {
        std::string body;
        const std::uint64_t first = state_.next_sequence.fetch_add(p.count, std::memory_order_relaxed);
        for (std::size_t i = 0; i < p.count; ++i) {
            const std::uint64_t seq = first + i;
            tether_bench::make_message(body, seq, p.size);
            const std::string id = std::to_string(seq);
            auto ws_text = std::make_shared<std::string const>(R"({"topic":"bench","id":")" + id + R"(","data":")" + body + "\"}");
            const std::string event = "id: " + id + "\nevent: bench\ndata: " + body + "\n\n";
            char hex[20];
            const auto end = std::to_chars(hex, hex + sizeof hex, event.size(), 16).ptr;
            auto sse_chunk = std::make_shared<std::string const>(std::string(hex, end) + "\r\n" + event + "\r\n");
            for (std::size_t t = 0; t < state_.rooms.size(); ++t) {
                if (t == thread_) {
                    state_.rooms[t]->broadcast(ws_text, sse_chunk);
                } else {
                    net::post(*state_.contexts[t], [r = state_.rooms[t].get(), ws_text, sse_chunk] { r->broadcast(ws_text, sse_chunk); });
                }
            }
        }
    }

    beast::tcp_stream stream_;
    server_state& state_;
    std::size_t thread_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
};

class listener {
public:
    listener(server_state& s, std::size_t thread, const tcp::endpoint& endpoint)
        : state_(s), thread_(thread), acceptor_(*s.contexts[thread]) {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }
    tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    void start() { do_accept(); }

private:
    void do_accept() {
        acceptor_.async_accept(*state_.contexts[thread_], [this](beast::error_code ec, tcp::socket socket) {
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<http_session>(std::move(socket), state_, thread_)->run();
            }
            if (acceptor_.is_open()) do_accept();
        });
    }
    server_state& state_;
    std::size_t thread_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    try {
        server_state state;
        std::vector<std::unique_ptr<listener>> listeners;
        tcp::endpoint endpoint{net::ip::make_address(opt.host), opt.port};
        for (unsigned i = 0; i < opt.threads; ++i) {
            state.contexts.push_back(std::make_unique<net::io_context>(1));
            state.rooms.push_back(std::make_unique<room>());
        }
        for (unsigned i = 0; i < opt.threads; ++i) {
            listeners.push_back(std::make_unique<listener>(state, i, endpoint));
            endpoint = listeners.back()->local_endpoint();  // --port 0: the others join the port the first got
        }
        for (auto& l : listeners) l->start();

        net::signal_set signals(*state.contexts.front(), SIGINT, SIGTERM);
        signals.async_wait([&state](beast::error_code, int) {
            for (auto& c : state.contexts) c->stop();
        });

        std::printf("listening on http://%s:%u\n", opt.host.c_str(), unsigned{endpoint.port()});
        std::fflush(stdout);

        std::vector<std::thread> workers;
        for (unsigned i = 1; i < opt.threads; ++i) workers.emplace_back([&c = *state.contexts[i]] { c.run(); });
        state.contexts.front()->run();
        for (auto& c : state.contexts) c->stop();
        for (auto& w : workers) w.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "naive_broadcast: %s\n", e.what());
        return 1;
    }
    return 0;
}
