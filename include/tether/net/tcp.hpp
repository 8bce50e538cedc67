#pragma once
// The plain TCP transport policy. A transport tells the server what socket type a connection
// owns and how bytes move through it without blocking; the connection code only calls these
// functions, so a TLS transport (later) can change them without touching HTTP or WebSocket.
//
// Reads are readiness-based (async_wait, then a non-blocking read into the I/O thread's shared
// buffer) rather than async_read_some into a per-connection buffer: an idle connection then
// owns no read buffer at all, which is what keeps it under 1 KiB (DESIGN.md, "Connections and
// memory").
#include <asio.hpp>
#include <cstddef>
#include <system_error>

namespace tether::transport {

struct tcp {
    using protocol = asio::ip::tcp;
    // Bound to the io_context's own executor rather than asio's type-erased any_io_executor:
    // 48 bytes less in every socket and in every pending wait, which is most of an idle
    // connection's budget.
    using socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

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

} // namespace tether::transport
