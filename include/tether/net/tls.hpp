#pragma once
// transport::tls<Next>: TLS (https, wss) over any transport (epoll_tcp, asio_tcp, a test one),
// chosen per listener at run time.
//
// Why one transport type for plaintext and TLS, rather than a TLS-only type: examples and
// applications switch to https with `--cert/--key` at run time, and a server may listen both
// ways (a plaintext listener that redirects to https). A compile-time-only TLS transport would
// force two server instantiations for that. Here the socket is the next layer's socket plus one
// pointer to a TLS session, null for plaintext: a plaintext connection pays 8 bytes and one
// predictable branch per read and write (benchmarks/RESULTS.md measures it).
//
// The session (net/tls/session.hpp) talks to OpenSSL through a BIO that calls Next's own
// read_some/write_some, so readiness stays exact in the layer below. What this layer adds to
// waiting:
// - bytes already inside the session (decrypted, or read before OpenSSL existed) complete a
//   wait for readability at once, posted through the next layer (Next::post_ready);
// - a handshake blocked on a full send buffer waits for writability instead.
//
// Requirements on Next beyond transport_policy: a post_ready(socket&, handler) that runs the
// handler soon with no error, never inside the caller; optionally maybe_readable(socket&),
// which lets the session skip a read system call that would only say EAGAIN.
#include <asio.hpp>
#include <cstddef>
#include <system_error>
#include <utility>

#include <tether/net/io_thread.hpp>
#include <tether/net/tls/context.hpp>
#include <tether/net/tls/session.hpp>

namespace tether::transport {

template <class Next>
struct tls {
    using protocol = typename Next::protocol;
    using next_layer = Next;
    using session_type = net::tls::session<Next>;
    static constexpr bool own_loop = net::uses_own_loop<Next>();

    class socket {
    public:
        explicit socket(typename Next::socket next) noexcept : next_(std::move(next)) {}
        socket(socket&& other) noexcept : next_(std::move(other.next_)), session_(std::exchange(other.session_, nullptr)) {
            if (session_) session_->rebind(next_);   // the BIO reaches the socket through the session
        }
        socket& operator=(socket&&) = delete;
        socket(const socket&) = delete;
        socket& operator=(const socket&) = delete;
        ~socket() { delete session_; }

        auto remote_endpoint(std::error_code& ec) const { return next_.remote_endpoint(ec); }
        typename Next::socket& next_layer() noexcept { return next_; }
        // The TLS session, or nullptr on a plaintext listener.
        const session_type* session() const noexcept { return session_; }

    private:
        friend struct tls;
        typename Next::socket next_;
        session_type* session_ = nullptr;
    };

    // A plaintext connection.
    static socket adopt(net::io_thread& thread, int fd, std::error_code& ec) {
        return socket(Next::adopt(thread, fd, ec));
    }
    // A connection accepted by a TLS listener; `ctx` is its reference to the listener's context.
    static socket adopt(net::io_thread& thread, int fd, net::tls::ctx_ptr ctx, std::error_code& ec) {
        socket s(Next::adopt(thread, fd, ec));
        if (!ec) s.session_ = new session_type(std::move(ctx), s.next_);
        return s;
    }

    static void prepare(socket& s, std::error_code& ec) { Next::prepare(s.next_, ec); }

    template <class Handler>
    static void async_wait_readable(socket& s, Handler&& h) {
        if (s.session_) {
            if (s.session_->buffered()) return Next::post_ready(s.next_, std::forward<Handler>(h));
            if (s.session_->read_wants_write()) return Next::async_wait_writable(s.next_, std::forward<Handler>(h));
        }
        Next::async_wait_readable(s.next_, std::forward<Handler>(h));
    }
    template <class Handler>
    static void async_wait_writable(socket& s, Handler&& h) {
        Next::async_wait_writable(s.next_, std::forward<Handler>(h));
    }

    static std::size_t read_some(socket& s, char* data, std::size_t size, std::error_code& ec) {
        if (!s.session_) return Next::read_some(s.next_, data, size, ec);
        return s.session_->read_some(data, size, ec);
    }
    template <class ConstBufferSequence>
    static std::size_t write_some(socket& s, const ConstBufferSequence& buffers, std::error_code& ec) {
        if (!s.session_) return Next::write_some(s.next_, buffers, ec);
        return s.session_->write_some(buffers, ec);
    }

    // close_notify first (RFC 8446 §6.1), then TCP's FIN.
    static void shutdown_send(socket& s) {
        if (s.session_) s.session_->shutdown();
        Next::shutdown_send(s.next_);
    }
    // At once: no close_notify, and the session's memory goes with it.
    static void close(socket& s) {
        delete std::exchange(s.session_, nullptr);
        Next::close(s.next_);
    }

    static bool handshaking(const socket& s) noexcept { return s.session_ && s.session_->handshaking(); }

    static net::channel channel_of(const socket& s) noexcept {
        if (!s.session_) return net::channel::cleartext;
        return s.session_->cleartext() ? net::channel::cleartext_on_tls_port : net::channel::tls;
    }
};

} // namespace tether::transport
