#pragma once
// One server-side TLS connection over any transport below it (epoll_tcp, asio_tcp, a test
// transport): OpenSSL's record layer and handshake, driven without blocking through the same
// read_some / write_some the plaintext connections use.
//
// Why a BIO_METHOD of our own that calls the next layer, rather than memory BIOs or SSL_set_fd:
// - Memory BIOs (Beast's and asio's ssl::stream) put two more buffers between OpenSSL and the
//   socket (asio keeps 17 KiB each way per connection for its whole life) and a copy each way;
//   an idle connection could not stay under a few KiB.
// - SSL_set_fd reads and writes the descriptor behind the next layer's back: the epoll socket's
//   edge-triggered readiness flags (net/epoll_socket.hpp) would no longer know whether the
//   kernel buffer is empty, and the same code could not run on asio_tcp or a test transport.
// - Our BIO hands OpenSSL's reads and writes to Next::read_some / write_some, so readiness stays
//   exact in the layer below, there is no copy and no buffer beyond OpenSSL's own, and
//   SSL_MODE_RELEASE_BUFFERS frees those whenever they empty.
//
// Contract kept for the connections above (see http_connection.hpp):
// - read_some fills the caller's buffer as far as it can, until OpenSSL wants more bytes from
//   the socket; so a short read still means "the socket is drained". When it stops because the
//   buffer is full, decrypted bytes may remain inside OpenSSL: buffered() says so, and the
//   transport then completes a wait for readability at once (posted).
// - write_some sends at most one record per call, coalescing small gathered buffers into one
//   record of up to 16 KiB (one record, one send). After a would_block the caller presents the
//   same bytes again (our output queues keep them until reported written), at least as many as
//   before: OpenSSL's retry rule, with SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER since they may have
//   moved.
// - The handshake runs inside the first reads (the server never writes first), so it lives
//   under the connection's header deadline; a connection whose handshake stalls is closed by
//   that deadline, never answered in plaintext.
// - The first byte decides what the connection is: 0x16 (a TLS handshake record, RFC 8446
//   §5.1) starts TLS; an upper-case letter is a plaintext HTTP request sent to the TLS port,
//   after which the session passes bytes through unchanged and cleartext() is true, so the
//   server can answer 400 as nginx does (and close); anything else fails at once.
#include <asio.hpp>
#include <cstddef>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <tether/net/tls/context.hpp>
#include <tether/net/would_block.hpp>

namespace tether::net::tls {

enum class errc {
    not_tls = 1,            // the first byte is neither a TLS record nor an HTTP request
    handshake_failed,       // OpenSSL refused the peer's handshake (version, ciphers, garbage)
    protocol_error,         // a record failed after the handshake (bad MAC, unexpected message)
    handshake_incomplete,   // a write before the handshake finished
};

inline const std::error_category& category() noexcept {
    struct tls_category final : std::error_category {
        const char* name() const noexcept override { return "tether.tls"; }
        std::string message(int e) const override {
            switch (static_cast<errc>(e)) {
            case errc::not_tls: return "not a TLS connection";
            case errc::handshake_failed: return "TLS handshake failed";
            case errc::protocol_error: return "TLS protocol error";
            case errc::handshake_incomplete: return "TLS handshake not complete";
            }
            return "unknown TLS error";
        }
    };
    static const tls_category instance;
    return instance;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

// The largest plaintext of one record (RFC 8446 §5.1).
inline constexpr std::size_t max_record_plaintext = 16 * 1024;

template <class Next>
class session {
    using next_socket = typename Next::socket;

public:
    enum class state : unsigned char { fresh, handshaking, open, cleartext, failed };

    // Takes the reference in `ctx`; `next` is the socket below, which must outlive the session
    // or be given again with rebind() when it moves.
    session(ctx_ptr ctx, next_socket& next) noexcept : ctx_(std::move(ctx)), next_(&next) {}
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session() {
        if (ssl_) SSL_free(ssl_);   // frees the BIO too
    }

    void rebind(next_socket& next) noexcept { next_ = &next; }

    bool secure() const noexcept { return state_ == state::handshaking || state_ == state::open; }
    bool cleartext() const noexcept { return state_ == state::cleartext; }
    bool handshaking() const noexcept { return state_ == state::handshaking; }
    SSL* native_handle() const noexcept { return ssl_; }

    // Bytes are waiting inside this layer: a wait for readability must complete at once.
    bool buffered() const noexcept { return more_ready_; }
    // The handshake is blocked on a full send buffer: wait for writability to continue reading.
    bool read_wants_write() const noexcept { return read_wants_write_; }

    std::size_t read_some(char* data, std::size_t size, std::error_code& ec) {
        more_ready_ = false;
        read_wants_write_ = false;
        switch (state_) {
        case state::cleartext: return Next::read_some(*next_, data, size, ec);
        case state::failed: ec = failure_ ? failure_ : make_error_code(errc::protocol_error); return 0;
        case state::fresh:
            if (!start(data, size, ec)) return state_ == state::cleartext ? size_from_start_ : 0;
            [[fallthrough]];
        case state::handshaking:
            if (!handshake(ec)) return 0;
            [[fallthrough]];
        case state::open: break;
        }
        std::size_t total = 0;
        while (total < size) {
            std::size_t got = 0;
            ERR_clear_error();   // SSL_get_error reads the thread's queue: it must start empty
            int r = SSL_read_ex(ssl_, data + total, size - total, &got);
            if (r == 1) {
                total += got;
                continue;
            }
            int e = SSL_get_error(ssl_, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                // WANT_WRITE after the handshake (a KeyUpdate answer on a full socket) is left to
                // the next write, which flushes it; waiting for readability stays correct.
                if (total == 0) ec = asio::error::would_block;
                else ec.clear();
                return total;
            }
            std::error_code terminal = e == SSL_ERROR_ZERO_RETURN ? std::error_code(asio::error::eof) : failure(e);
            if (total == 0) {
                ec = terminal;
                return 0;
            }
            failure_ = terminal;   // deliver what arrived first; the next read reports the end
            state_ = state::failed;
            ec.clear();
            return total;
        }
        more_ready_ = true;   // stopped by the caller's buffer: OpenSSL may hold more
        ec.clear();
        return total;
    }

    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers, std::error_code& ec) {
        if (state_ == state::cleartext) return Next::write_some(*next_, buffers, ec);
        if (state_ != state::open) {
            ec = state_ == state::failed && failure_ ? failure_ : make_error_code(errc::handshake_incomplete);
            return 0;
        }
        // One record's worth: the first buffer itself when it fills a record or stands alone
        // (no copy), else the leading buffers copied together.
        const char* bytes = nullptr;
        std::size_t length = 0;
        std::size_t buffers_seen = 0;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            if (buffers_seen++ == 0) {
                bytes = static_cast<const char*>(b.data());
                length = b.size();
                if (length >= max_record_plaintext) break;
                continue;
            }
            char* scratch = coalesce_buffer();
            if (buffers_seen == 2) {
                std::memcpy(scratch, bytes, length);
                bytes = scratch;
            }
            std::size_t take = std::min(b.size(), max_record_plaintext - length);
            std::memcpy(scratch + length, b.data(), take);
            length += take;
            if (length == max_record_plaintext) break;
        }
        ec.clear();
        if (length == 0) return 0;
        std::size_t written = 0;
        ERR_clear_error();
        int r = SSL_write_ex(ssl_, bytes, length, &written);
        if (r == 1) return written;
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            ec = asio::error::would_block;
            return 0;
        }
        fail(ec, failure(e));
        return 0;
    }

    // Sends close_notify (RFC 8446 §6.1) if the connection is open; best effort, never blocks.
    void shutdown() noexcept {
        if (state_ != state::open) return;
        ERR_clear_error();
        SSL_shutdown(ssl_);
        ERR_clear_error();
    }

private:
    // The first bytes of the connection decide what it is. Returns true when TLS has started
    // (the bytes are kept for OpenSSL); false with `ec` set, or false in cleartext mode with the
    // bytes left in `data` for the caller (size_from_start_).
    bool start(char* data, std::size_t size, std::error_code& ec) {
        std::size_t n = Next::read_some(*next_, data, size, ec);
        if (ec || n == 0) return false;
        auto first = static_cast<unsigned char>(data[0]);
        if (first == 0x16) {   // ContentType handshake (RFC 8446 §5.1)
            ssl_ = SSL_new(ctx_.get());
            BIO* bio = ssl_ ? BIO_new(bio_method()) : nullptr;
            if (!bio) {
                ERR_clear_error();
                return fail(ec, make_error_code(errc::handshake_failed));
            }
            BIO_set_data(bio, this);
            BIO_set_init(bio, 1);
            SSL_set_bio(ssl_, bio, bio);
            SSL_set_accept_state(ssl_);
            ctx_.reset();   // the SSL holds its own reference
            early_.assign(data, n);
            state_ = state::handshaking;
            return true;
        }
        if (first >= 'A' && first <= 'Z') {   // "GET / HTTP/1.1" sent to the TLS port
            ctx_.reset();
            state_ = state::cleartext;
            size_from_start_ = n;
            return false;
        }
        return fail(ec, make_error_code(errc::not_tls));
    }

    bool handshake(std::error_code& ec) {
        ERR_clear_error();
        int r = SSL_do_handshake(ssl_);
        if (r == 1) {
            state_ = state::open;
            std::string{}.swap(early_);
            return true;
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ) {
            more_ready_ = early_offset_ < early_.size();
            ec = asio::error::would_block;
            return false;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            read_wants_write_ = true;
            ec = asio::error::would_block;
            return false;
        }
        std::error_code why = failure(e);
        return fail(ec, why == asio::error::eof ? why : make_error_code(errc::handshake_failed));
    }

    bool fail(std::error_code& ec, std::error_code why) {
        state_ = state::failed;
        failure_ = why;
        ec = why;
        return false;
    }

    // Turns an SSL_get_error result into an error code, and empties OpenSSL's error queue.
    std::error_code failure(int e) {
        ERR_clear_error();
        if (e == SSL_ERROR_SYSCALL && io_error_) return io_error_;   // reset, broken pipe: the socket's own error
        if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
        return make_error_code(errc::protocol_error);
    }

    static char* coalesce_buffer() {
        thread_local char buffer[max_record_plaintext];
        return buffer;
    }

    // ---- the BIO: OpenSSL's reads and writes, through the next layer -----------------------
    static int bio_read(BIO* bio, char* out, std::size_t size, std::size_t* done) {
        auto* self = static_cast<session*>(BIO_get_data(bio));
        BIO_clear_retry_flags(bio);
        if (self->early_offset_ < self->early_.size()) {   // the bytes that identified the connection
            std::size_t n = std::min(size, self->early_.size() - self->early_offset_);
            std::memcpy(out, self->early_.data() + self->early_offset_, n);
            self->early_offset_ += n;
            *done = n;
            return 1;
        }
        // The layer below may know without a system call that its socket is drained (the epoll
        // socket's edge-triggered flag): then say "retry" at once.
        if constexpr (requires(next_socket& s) { Next::maybe_readable(s); }) {
            if (!Next::maybe_readable(*self->next_)) {
                BIO_set_retry_read(bio);
                return 0;
            }
        }
        std::error_code ec;
        std::size_t n = Next::read_some(*self->next_, out, size, ec);
        if (net::would_block(ec)) {
            BIO_set_retry_read(bio);
            return 0;
        }
        if (ec) {
            if (ec != asio::error::eof) self->io_error_ = ec;
            return 0;   // EOF or an error: OpenSSL reports SSL_ERROR_SYSCALL (or ZERO_RETURN)
        }
        *done = n;
        return 1;
    }

    static int bio_write(BIO* bio, const char* in, std::size_t size, std::size_t* done) {
        auto* self = static_cast<session*>(BIO_get_data(bio));
        BIO_clear_retry_flags(bio);
        std::error_code ec;
        std::size_t n = Next::write_some(*self->next_, asio::const_buffer(in, size), ec);
        if (net::would_block(ec)) {
            BIO_set_retry_write(bio);
            return 0;
        }
        if (ec) {
            self->io_error_ = ec;
            return 0;
        }
        *done = n;
        return 1;
    }

    static long bio_ctrl(BIO*, int command, long, void*) {
        // OpenSSL flushes after each handshake flight; our writes are never buffered here.
        return command == BIO_CTRL_FLUSH ? 1 : 0;
    }

    static BIO_METHOD* bio_method() {
        static BIO_METHOD* const method = [] {
            BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tether transport");
            BIO_meth_set_read_ex(m, bio_read);
            BIO_meth_set_write_ex(m, bio_write);
            BIO_meth_set_ctrl(m, bio_ctrl);
            return m;
        }();
        return method;
    }

    SSL* ssl_ = nullptr;
    ctx_ptr ctx_;                 // until the first byte: SSL_new is deferred so a silent connection costs no SSL
    next_socket* next_;
    std::string early_;           // bytes read before OpenSSL existed (the start of the ClientHello)
    std::size_t early_offset_ = 0;
    std::size_t size_from_start_ = 0;
    std::error_code io_error_;    // the next layer's last error, for SSL_ERROR_SYSCALL
    std::error_code failure_;     // reported by every call once the session has failed
    state state_ = state::fresh;
    bool more_ready_ = false;
    bool read_wants_write_ = false;
};

} // namespace tether::net::tls

template <>
struct std::is_error_code_enum<tether::net::tls::errc> : std::true_type {};
