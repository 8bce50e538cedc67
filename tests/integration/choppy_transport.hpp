#pragma once
// A test transport that makes the network as unhelpful as it may legally be: every read returns
// at most one byte, every other write pretends the socket is full (would_block, then a
// writability wait that completes at once), and the other writes take at most 7 bytes.
//
// Under transport::tls<choppy<...>> it drives OpenSSL's record layer through every partial
// state: a record header split across reads, a record assembled byte by byte, a handshake flight
// and a record written a few bytes at a time, and writes retried after would_block (OpenSSL's
// "same bytes again" rule, net/tls/session.hpp).
#include <algorithm>
#include <asio.hpp>
#include <cstddef>
#include <system_error>
#include <utility>

#include <tether/net/io_thread.hpp>

namespace tether::itest {

template <class Next>
struct choppy {
    using protocol = typename Next::protocol;
    static constexpr bool own_loop = net::uses_own_loop<Next>();
    static constexpr std::size_t max_write = 7;

    class socket {
    public:
        explicit socket(typename Next::socket next) : next_(std::move(next)) {}
        socket(socket&&) noexcept = default;
        auto remote_endpoint(std::error_code& ec) const { return next_.remote_endpoint(ec); }

    private:
        friend struct choppy;
        typename Next::socket next_;
        bool refuse_next_write_ = true;
        bool pretended_full_ = false;
    };

    static socket adopt(net::io_thread& thread, int fd, std::error_code& ec) { return socket(Next::adopt(thread, fd, ec)); }
    static void prepare(socket& s, std::error_code& ec) { Next::prepare(s.next_, ec); }

    template <class Handler>
    static void async_wait_readable(socket& s, Handler&& h) {
        Next::async_wait_readable(s.next_, std::forward<Handler>(h));
    }
    template <class Handler>
    static void async_wait_writable(socket& s, Handler&& h) {
        if (std::exchange(s.pretended_full_, false)) return Next::post_ready(s.next_, std::forward<Handler>(h));
        Next::async_wait_writable(s.next_, std::forward<Handler>(h));
    }
    template <class Handler>
    static void post_ready(socket& s, Handler&& h) {
        Next::post_ready(s.next_, std::forward<Handler>(h));
    }

    static std::size_t read_some(socket& s, char* data, std::size_t size, std::error_code& ec) {
        return Next::read_some(s.next_, data, std::min<std::size_t>(size, 1), ec);
    }
    template <class ConstBufferSequence>
    static std::size_t write_some(socket& s, const ConstBufferSequence& buffers, std::error_code& ec) {
        if (std::exchange(s.refuse_next_write_, !s.refuse_next_write_)) {
            s.pretended_full_ = true;
            ec = asio::error::would_block;
            return 0;
        }
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            return Next::write_some(s.next_, asio::const_buffer(b.data(), std::min(b.size(), max_write)), ec);
        }
        ec.clear();
        return 0;
    }
    static void shutdown_send(socket& s) { Next::shutdown_send(s.next_); }
    static void close(socket& s) { Next::close(s.next_); }
};

} // namespace tether::itest
