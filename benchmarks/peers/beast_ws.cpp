// Boost.Beast peer for the WebSocket benchmark (benchmarks/ws/run.sh): an echo server, text and binary
// preserved, at any path (Beast's accept does not look at the request target; the load generator uses /ws).
//
// Why it is written this way: it is Beast's own websocket_server_async example at its fastest while staying
// idiomatic, so that a ratio against it means something.
//   - One io_context per thread, constructed with concurrency hint 1, each with its own acceptor on the same
//     port (SO_REUSEPORT); nothing is shared between threads, so no strands. Same shape as peers/beast_http.cpp.
//   - websocket::stream<beast::tcp_stream>, as the Beast examples write it, with the timeouts Beast suggests for
//     a server (stream_base::timeout::suggested: 30 s handshake, 300 s idle, no keep-alive pings); the
//     tcp_stream's own timer is never armed (no expires_after), so the WebSocket layer alone owns timeouts, as
//     in the example. tether's echo server has a liveness timer too (a ping every 30 s, from its timer wheel),
//     so neither side skips timeout bookkeeping. Beast's costs a timer re-arm per read (update_timer).
//   - The echo loop of websocket_server_async: async_read a message into a flat_buffer kept for the session's
//     life, async_write it back with the same opcode (ws.text(ws.got_text())), consume, read again.
//   - permessage-deflate off (Beast's default, set explicitly) and auto_fragment off, so one message is one
//     frame each way, as with tether; read_message_max 1 MiB, tether's default message limit.
//   - TCP_NODELAY on accepted sockets.
//
// Usage: beast_ws [--host 127.0.0.1] [--port 8080] [--threads 1]
// Prints "listening on http://HOST:PORT" once every acceptor is listening. SIGINT/SIGTERM stop it cleanly.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>

namespace beast = boost::beast;
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

template <class T>
T parse_number(std::string_view text, const char* argv0) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) usage(argv0);
    return value;
}

options parse_options(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        std::string_view value = argv[++i];
        if (arg == "--host") opt.host = std::string(value);
        else if (arg == "--port") opt.port = parse_number<unsigned short>(value, argv[0]);
        else if (arg == "--threads") opt.threads = parse_number<unsigned>(value, argv[0]);
        else usage(argv[0]);
    }
    if (opt.threads == 0) opt.threads = 1;
    return opt;
}

class session : public std::enable_shared_from_this<session> {
public:
    explicit session(tcp::socket&& socket) : ws_(std::move(socket)) {}

    void start() {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        websocket::permessage_deflate pmd;
        pmd.server_enable = false;
        pmd.client_enable = false;
        ws_.set_option(pmd);
        ws_.auto_fragment(false);
        ws_.read_message_max(std::uint64_t{1} << 20);
        ws_.async_accept(beast::bind_front_handler(&session::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code ec) {
        if (ec) return;
        do_read();
    }

    void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&session::on_read, shared_from_this())); }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return;  // closed (websocket::error::closed), reset, protocol error: the session ends
        ws_.text(ws_.got_text());
        ws_.async_write(buffer_.data(), beast::bind_front_handler(&session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return;
        buffer_.consume(buffer_.size());
        do_read();
    }

    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
};

class listener {
public:
    listener(net::io_context& ioc, const tcp::endpoint& endpoint) : ioc_(ioc), acceptor_(ioc) {
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
        acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket socket) {
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<session>(std::move(socket))->start();
            }
            if (acceptor_.is_open()) do_accept();
        });
    }

    net::io_context& ioc_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    try {
        std::vector<std::unique_ptr<net::io_context>> contexts;
        std::vector<std::unique_ptr<listener>> listeners;
        tcp::endpoint endpoint{net::ip::make_address(opt.host), opt.port};
        for (unsigned i = 0; i < opt.threads; ++i) {
            contexts.push_back(std::make_unique<net::io_context>(1));
            listeners.push_back(std::make_unique<listener>(*contexts.back(), endpoint));
            endpoint = listeners.back()->local_endpoint();  // --port 0: the others join the port the first got
        }
        for (auto& l : listeners) l->start();

        net::signal_set signals(*contexts.front(), SIGINT, SIGTERM);
        signals.async_wait([&contexts](beast::error_code, int) {
            for (auto& c : contexts) c->stop();
        });

        std::printf("listening on http://%s:%u\n", opt.host.c_str(), unsigned{endpoint.port()});
        std::fflush(stdout);

        std::vector<std::thread> workers;
        for (unsigned i = 1; i < opt.threads; ++i) workers.emplace_back([&c = *contexts[i]] { c.run(); });
        contexts.front()->run();
        for (auto& c : contexts) c->stop();
        for (auto& w : workers) w.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "beast_ws: %s\n", e.what());
        return 1;
    }
    return 0;
}
