#pragma once
// The listening socket and the loop that takes connections off it.
//
// One acceptor runs on an asio io_context (the server's service thread) and hands each accepted
// descriptor to a callback (the server posts it to an I/O thread round-robin). asio reports the
// listener edge-triggered, so every wake drains the queue, at most max_accepts_per_turn at a
// time (then a posted continuation lets the same thread's other work, a second listener or a
// signal, run in between).
//
// Out of descriptors (EMFILE/ENFILE) or a transient error: back off 50 ms and retry rather than
// spin, keep serving the connections we have, and say so once per episode, not on every retry.
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <tether/log.hpp>
#include <tether/net/accept.hpp>
#include <tether/net/would_block.hpp>

namespace tether::net {

template <class Logger>
class acceptor {
public:
    using protocol = asio::ip::tcp;
    // Called on the acceptor's thread with a connected, non-blocking, close-on-exec descriptor
    // and the peer's address.
    using accept_function = std::function<void(owned_fd, const sockaddr_storage&)>;

    acceptor(asio::io_context& io, const Logger& logger) : io_(io), logger_(logger), retry_(io) {}
    acceptor(const acceptor&) = delete;
    acceptor& operator=(const acceptor&) = delete;

    // Binds and listens on host:port (a name resolves to its first address). Returns the bound
    // port (port 0 picks a free one). Throws std::system_error naming the address on failure.
    std::uint16_t listen(const std::string& host, std::uint16_t port) {
        std::error_code ec;
        asio::ip::address address = asio::ip::make_address(host, ec);
        if (ec) {   // a name such as "localhost": take the first address it resolves to
            protocol::resolver resolver(io_);
            auto results = resolver.resolve(host, "", ec);
            if (ec || results.empty()) throw_listen_error(host, port, ec ? ec : asio::error::host_not_found);
            address = results.begin()->endpoint().address();
        }
        protocol::endpoint endpoint(address, port);
        auto socket = std::make_unique<protocol::acceptor>(io_);
        socket->open(endpoint.protocol(), ec);
        if (!ec) socket->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) socket->bind(endpoint, ec);
        if (!ec) socket->listen(asio::socket_base::max_listen_connections, ec);
        if (!ec) socket->non_blocking(true, ec);   // accept_queued() drains it until would_block
        if (ec) throw_listen_error(host, port, ec);
        socket_ = std::move(socket);
        return socket_->local_endpoint().port();
    }

    bool listening() const noexcept { return socket_ != nullptr; }

    // Starts taking connections; on the acceptor's thread (the io_context given above).
    void start(accept_function on_accept) {
        on_accept_ = std::move(on_accept);
        wait();
    }

    // Any thread: no more accepts; the socket closes on the acceptor's thread.
    void stop() {
        stopping_.store(true);
        asio::post(io_, [this] {
            if (socket_) {
                std::error_code ignored;
                socket_->close(ignored);
            }
            retry_.cancel();
        });
    }

private:
    static constexpr int max_accepts_per_turn = 64;

    void wait() {
        socket_->async_wait(asio::socket_base::wait_read, [this](std::error_code ec) {
            if (ec != asio::error::operation_aborted && accepting()) accept_queued(ec);
        });
    }

    // False once stop() began; the socket is closed on this thread, where these handlers run.
    bool accepting() const { return !stopping_.load() && socket_->is_open(); }

    void accept_queued(std::error_code ec) {
        for (int taken = 0; !ec; ++taken) {
            if (taken == max_accepts_per_turn) {   // let the acceptor's own thread serve its connections
                asio::post(io_, [this] {
                    if (accepting()) accept_queued({});
                });
                return;
            }
            sockaddr_storage peer{};
            int fd = accept_native(socket_->native_handle(), peer, ec);
            if (fd < 0) break;
            if (failed_accepts_ != 0) {
                logger_.log(log::level::info, "accepting again after " + std::to_string(failed_accepts_) + " failed attempts");
                failed_accepts_ = 0;
            }
            on_accept_(owned_fd(fd), peer);
        }
        if (net::would_block(ec)) return wait();
        if (failed_accepts_++ == 0)
            logger_.log(log::level::warning, "accept failed: " + ec.message() + "; retrying every 50 ms");
        retry_.expires_after(std::chrono::milliseconds(50));
        retry_.async_wait([this](std::error_code e) {
            if (!e && accepting()) accept_queued({});
        });
    }

    [[noreturn]] static void throw_listen_error(const std::string& host, std::uint16_t port, std::error_code ec) {
        throw std::system_error(ec, "tether: cannot listen on " + host + ":" + std::to_string(port));
    }

    asio::io_context& io_;
    const Logger& logger_;
    std::unique_ptr<protocol::acceptor> socket_;
    asio::steady_timer retry_;
    accept_function on_accept_;
    std::size_t failed_accepts_ = 0;   // in a row; touched only on the acceptor's thread
    std::atomic<bool> stopping_{false};
};

} // namespace tether::net
