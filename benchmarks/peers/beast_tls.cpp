// Boost.Beast peer for the TLS benchmark (benchmarks/tls/run.sh): HTTPS and WSS on one port, over
// beast::ssl_stream, the way Beast's advanced_server_flex example serves them.
//
//   GET /plaintext -> 200 text/plain "Hello, World!" (the bytes tether's `hello` sends), keep-alive
//   GET /ws with an upgrade -> a WebSocket echo (for memory per idle wss connection)
//
// Why it is written this way: Beast at its fastest while staying idiomatic, as peers/beast_http.cpp and
// peers/beast_ws.cpp are for plaintext.
//   - One io_context per thread with concurrency hint 1; nothing shared, no strands.
//   - ssl_stream<tcp_stream> (asio::ssl::stream underneath, memory BIOs); no per-operation timers armed on
//     the HTTP side (expires_never after the handshake), Beast's suggested WebSocket timeouts after an
//     upgrade; TLS 1.2 and 1.3, the same certificate and key files as tether and nginx, OpenSSL defaults
//     otherwise (session tickets on).
//   - The session loop of http_server_async: async_read into a flat_buffer kept for the connection's life,
//     async_write a response<string_body>, repeat.
//
// Usage: beast_tls --cert FILE --key FILE [--host 127.0.0.1] [--port 8443] [--threads 1]
// Prints "listening on https://HOST:PORT" once listening. SIGINT/SIGTERM stop it.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

struct options {
    std::string host = "127.0.0.1", cert, key;
    unsigned short port = 8443;
    unsigned threads = 1;
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s --cert FILE --key FILE [--host ADDR] [--port N] [--threads N]\n", argv0);
    std::exit(2);
}

options parse_options(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        std::string_view value = argv[++i];
        auto number = [&](auto& out) {
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
            if (ec != std::errc{} || end != value.data() + value.size()) usage(argv[0]);
        };
        if (arg == "--host") opt.host = std::string(value);
        else if (arg == "--port") number(opt.port);
        else if (arg == "--threads") number(opt.threads);
        else if (arg == "--cert") opt.cert = std::string(value);
        else if (arg == "--key") opt.key = std::string(value);
        else usage(argv[0]);
    }
    if (opt.cert.empty() || opt.key.empty()) usage(argv[0]);
    if (opt.threads == 0) opt.threads = 1;
    return opt;
}

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
    explicit ws_session(beast::ssl_stream<beast::tcp_stream>&& stream) : ws_(std::move(stream)) {}
    void start(http::request<http::string_body> req) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code ec) {
        if (!ec) read();
    }
    void read() { ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this())); }
    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return;
        ws_.text(ws_.got_text());
        ws_.async_write(buffer_.data(), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
    }
    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return;
        buffer_.consume(buffer_.size());
        read();
    }
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
    beast::flat_buffer buffer_;
};

class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket&& socket, ssl::context& ctx) : stream_(std::move(socket), ctx) {}
    void start() {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));   // the handshake only
        stream_.async_handshake(ssl::stream_base::server, beast::bind_front_handler(&http_session::on_handshake, shared_from_this()));
    }

private:
    void on_handshake(beast::error_code ec) {
        if (ec) return;
        beast::get_lowest_layer(stream_).expires_never();
        read();
    }
    void read() {
        req_ = {};
        http::async_read(stream_, buffer_, req_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
    }
    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return;
        if (websocket::is_upgrade(req_)) {
            std::make_shared<ws_session>(std::move(stream_))->start(std::move(req_));
            return;
        }
        res_ = {};
        res_.version(req_.version());
        res_.keep_alive(req_.keep_alive());
        res_.set(http::field::server, "beast");
        res_.set(http::field::content_type, "text/plain");
        if (req_.target() == "/plaintext") {
            res_.result(http::status::ok);
            res_.body() = "Hello, World!";
        } else {
            res_.result(http::status::not_found);
            res_.body() = "Not Found";
        }
        res_.prepare_payload();
        http::async_write(stream_, res_, beast::bind_front_handler(&http_session::on_write, shared_from_this()));
    }
    void on_write(beast::error_code ec, std::size_t) {
        if (ec || !res_.keep_alive()) return;
        read();
    }

    beast::ssl_stream<beast::tcp_stream> stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
    http::response<http::string_body> res_;
};

class listener {
public:
    listener(net::io_context& ioc, ssl::context& ctx, const tcp::endpoint& endpoint, bool reuse_port)
        : ioc_(ioc), ctx_(ctx), acceptor_(ioc) {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        if (reuse_port) acceptor_.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }
    tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    void start() {
        acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket socket) {
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<http_session>(std::move(socket), ctx_)->start();
            }
            if (acceptor_.is_open()) start();
        });
    }

private:
    net::io_context& ioc_;
    ssl::context& ctx_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    try {
        ssl::context ctx{ssl::context::tls_server};
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        ctx.use_certificate_chain_file(opt.cert);
        ctx.use_private_key_file(opt.key, ssl::context::pem);
        std::vector<std::unique_ptr<net::io_context>> contexts;
        std::vector<std::unique_ptr<listener>> listeners;
        tcp::endpoint endpoint{net::ip::make_address(opt.host), opt.port};
        for (unsigned i = 0; i < opt.threads; ++i) {
            contexts.push_back(std::make_unique<net::io_context>(1));
            listeners.push_back(std::make_unique<listener>(*contexts.back(), ctx, endpoint, opt.threads > 1));
            endpoint = listeners.back()->local_endpoint();
        }
        for (auto& l : listeners) l->start();
        net::signal_set signals(*contexts.front(), SIGINT, SIGTERM);
        signals.async_wait([&contexts](beast::error_code, int) {
            for (auto& c : contexts) c->stop();
        });
        std::printf("listening on https://%s:%u\n", opt.host.c_str(), unsigned{endpoint.port()});
        std::fflush(stdout);
        std::vector<std::thread> workers;
        for (unsigned i = 1; i < opt.threads; ++i) workers.emplace_back([&c = *contexts[i]] { c.run(); });
        contexts.front()->run();
        for (auto& c : contexts) c->stop();
        for (auto& w : workers) w.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "beast_tls: %s\n", e.what());
        return 1;
    }
    return 0;
}
