// Boost.Beast peer for the HTTP plaintext benchmark (benchmarks/http/run.sh).
//
// Serves GET /plaintext -> 200 text/plain "Hello, World!" with Server and Date headers, the same bytes the
// tether `hello` example sends, so the load generator measures the servers and not the payloads.
//
// Why it is written this way: it is Beast at its fastest while staying idiomatic, so that a ratio against it
// means something.
//   - One io_context per thread, constructed with concurrency hint 1 (Asio drops its internal locking), each
//     with its own acceptor on the same port (SO_REUSEPORT when --threads > 1; the kernel spreads connections
//     across them).
//     No strands are needed because nothing is shared between threads.
//   - A plain tcp::socket, not beast::tcp_stream: http_server_fast does the same. tcp_stream's per-operation
//     timers would cost a timer re-arm per read and write, which tether avoids with a timer wheel.
//   - The classic session loop from http_server_async: async_read a request<string_body> into a flat_buffer
//     kept for the connection's life, async_write a response<string_body>, repeat while keep-alive.
//     Pipelined requests work because bytes beyond the first request stay in the flat_buffer and the next
//     async_read parses them without touching the socket (one write per response; Beast has no corking).
//   - TCP_NODELAY on accepted sockets, as every TechEmpower entry does; otherwise Nagle can hold back the
//     second of two back-to-back small writes until the peer's delayed ACK.
//
// Usage: beast_http [--host 127.0.0.1] [--port 8080] [--threads 1]
// Prints "listening on http://HOST:PORT" once every acceptor is listening. SIGINT/SIGTERM stop it cleanly.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view plaintext_body = "Hello, World!";
constexpr std::string_view server_name = "beast";

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

// RFC 9110 §5.6.7 IMF-fixdate, formatted at most once per second per thread (servers in TechEmpower do the
// same; formatting it per response would measure strftime, not the server).
class date_cache {
public:
    std::string_view now() {
        std::time_t t = std::time(nullptr);
        if (t != last_) {
            last_ = t;
            std::tm tm{};
            gmtime_r(&t, &tm);
            len_ = std::strftime(buf_.data(), buf_.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        }
        return {buf_.data(), len_};
    }

private:
    std::time_t last_ = 0;
    std::array<char, 64> buf_{};
    std::size_t len_ = 0;
};

thread_local date_cache dates;

class session : public std::enable_shared_from_this<session> {
public:
    explicit session(tcp::socket socket) : socket_(std::move(socket)) {}

    void start() { do_read(); }

private:
    void do_read() {
        req_ = {};
        http::async_read(socket_, buffer_, req_, beast::bind_front_handler(&session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream) {
            socket_.shutdown(tcp::socket::shutdown_send, ec);
            return;
        }
        if (ec) return;  // reset by peer, bad request, ... : drop the connection

        res_ = {};
        res_.version(req_.version());
        res_.keep_alive(req_.keep_alive());
        res_.set(http::field::server, server_name);
        res_.set(http::field::date, dates.now());
        if (req_.method() == http::verb::get && req_.target() == "/plaintext") {
            res_.result(http::status::ok);
            res_.set(http::field::content_type, "text/plain");
            res_.body() = plaintext_body;
        } else {
            res_.result(http::status::not_found);
            res_.set(http::field::content_type, "text/plain");
            res_.body() = "Not Found";
        }
        res_.prepare_payload();
        http::async_write(socket_, res_, beast::bind_front_handler(&session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return;
        if (!res_.keep_alive()) {
            socket_.shutdown(tcp::socket::shutdown_send, ec);
            return;
        }
        do_read();
    }

    tcp::socket socket_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
    http::response<http::string_body> res_;
};

class listener {
public:
    // reuse_port only with several threads: a lone acceptor must not silently share its port with another
    // process of the same user that happens to pick it too.
    listener(net::io_context& ioc, const tcp::endpoint& endpoint, bool reuse_port) : ioc_(ioc), acceptor_(ioc) {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        if (reuse_port) acceptor_.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
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
            listeners.push_back(std::make_unique<listener>(*contexts.back(), endpoint, opt.threads > 1));
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
        std::fprintf(stderr, "beast_http: %s\n", e.what());
        return 1;
    }
    return 0;
}
