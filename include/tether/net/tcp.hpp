#pragma once
// The plain TCP transport policies. A transport tells the server what socket type a connection
// owns, how an accepted descriptor becomes one, and how bytes move through it without
// blocking; the connection code only calls these functions, so a TLS transport (later) can
// change them without touching HTTP or WebSocket.
//
// Reads are readiness-based (wait, then a non-blocking read into the I/O thread's shared
// buffer) rather than async_read_some into a per-connection buffer: an idle connection then
// owns no read buffer at all (README.md, "Architecture": an idle connection owns no buffer).
//
// tcp (the default on Linux) takes readiness from the I/O thread's own epoll set: a socket is
// 48 bytes and a pending wait allocates nothing. asio_tcp is the same contract on asio's
// sockets, for other systems; it costs ~270 bytes more per idle connection.
#include <asio.hpp>
#include <cerrno>
#include <cstddef>
#include <system_error>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

#include <tether/net/io_thread.hpp>
#if defined(__linux__)
#include <tether/net/epoll_socket.hpp>
#endif

namespace tether::transport {

// asio's sockets and reactor: portable.
struct asio_tcp {
    using protocol = asio::ip::tcp;
    // Bound to the io_context's own executor rather than asio's type-erased any_io_executor:
    // 48 bytes less in every socket and in every pending wait.
    using socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

    static socket adopt(net::io_thread& thread, int fd, std::error_code& ec) {
        socket s(thread.io().get_executor());
        sockaddr_storage local{};
        socklen_t length = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
            ec.assign(errno, asio::error::get_system_category());
            ::close(fd);
            return s;
        }
        s.assign(local.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
        if (ec) ::close(fd);
        return s;
    }

    static void prepare(socket& s, std::error_code& ec) {
        s.set_option(asio::ip::tcp::no_delay(true), ec);   // responses are whole; never wait for Nagle
        if (!ec) s.non_blocking(true, ec);
    }

    template <class Handler>
    static void async_wait_readable(socket& s, Handler&& h) {
        s.async_wait(asio::socket_base::wait_read, std::forward<Handler>(h));
    }
    template <class Handler>
    static void async_wait_writable(socket& s, Handler&& h) {
        s.async_wait(asio::socket_base::wait_write, std::forward<Handler>(h));
    }
    // Runs `h` soon with no error, from the io_context (used by transport::tls).
    template <class Handler>
    static void post_ready(socket& s, Handler&& h) {
        asio::post(s.get_executor(), [h = std::forward<Handler>(h)]() mutable { h(std::error_code{}); });
    }

    // Non-blocking; would_block means "wait again".
    static std::size_t read_some(socket& s, char* data, std::size_t size, std::error_code& ec) {
        return s.read_some(asio::buffer(data, size), ec);
    }
    template <class ConstBufferSequence>
    static std::size_t write_some(socket& s, const ConstBufferSequence& buffers, std::error_code& ec) {
        return s.write_some(buffers, ec);
    }

    static void shutdown_send(socket& s) {
        std::error_code ignored;
        s.shutdown(asio::socket_base::shutdown_send, ignored);
    }
    static void close(socket& s) {
        std::error_code ignored;
        s.close(ignored);
    }
};

#if defined(__linux__)
// Readiness from the I/O thread's own epoll set (net/epoll_reactor.hpp).
struct epoll_tcp {
    using protocol = asio::ip::tcp;
    using socket = net::epoll_socket;
    static constexpr bool own_loop = true;   // its I/O threads run their own epoll loop (net/io_thread.hpp)

    static socket adopt(net::io_thread& thread, int fd, std::error_code& ec) { return socket(thread.reactor(), fd, ec); }
    static void prepare(socket& s, std::error_code& ec) { s.set_no_delay(ec); }

    template <class Handler>
    static void async_wait_readable(socket& s, Handler&& h) {
        s.async_wait_readable(std::forward<Handler>(h));
    }
    template <class Handler>
    static void async_wait_writable(socket& s, Handler&& h) {
        s.async_wait_writable(std::forward<Handler>(h));
    }
    template <class Handler>
    static void post_ready(socket& s, Handler&& h) {
        s.post_ready(std::forward<Handler>(h));
    }
    // False when the last read proved the receive queue empty and no edge came since.
    static bool maybe_readable(const socket& s) noexcept { return s.read_ready(); }
    static std::size_t read_some(socket& s, char* data, std::size_t size, std::error_code& ec) {
        return s.read_some(data, size, ec);
    }
    template <class ConstBufferSequence>
    static std::size_t write_some(socket& s, const ConstBufferSequence& buffers, std::error_code& ec) {
        return s.write_some(buffers, ec);
    }
    static void shutdown_send(socket& s) { s.shutdown_send(); }
    static void close(socket& s) { s.close(); }
};
using tcp = epoll_tcp;
#else
using tcp = asio_tcp;
#endif

} // namespace tether::transport
