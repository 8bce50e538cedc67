#pragma once
// A connected, non-blocking TCP socket whose readiness comes from its I/O thread's
// epoll_reactor (see epoll_reactor.hpp for why not asio's). 48 bytes: the descriptor, the
// reactor, one inline callback per direction and what the last edge said.
//
// The connection code sees the same contract as with an asio socket: at most one wait per
// direction, a wait completes with operation_aborted when the socket closes, and reads and
// writes never block (would_block means "wait again").
#include <asio.hpp>
#include <array>
#include <cerrno>
#include <cstddef>
#include <system_error>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <tether/net/epoll_reactor.hpp>
#include <tether/net/plain_syscalls.hpp>

namespace tether::net {

class epoll_socket {
public:
    epoll_socket() = default;
    // Takes ownership of `fd` (connected, non-blocking) and registers it; on failure the
    // descriptor is closed and `ec` says why.
    epoll_socket(epoll_reactor& reactor, int fd, std::error_code& ec) : reactor_(&reactor), fd_(fd) {
        reactor.add(*this, fd, ec);
        if (ec) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    // Moving keeps the registration (a protocol upgrade hands the socket to a new connection).
    epoll_socket(epoll_socket&& other) noexcept
        : reactor_(other.reactor_), read_wait_(other.read_wait_.take()), write_wait_(other.write_wait_.take()),
          fd_(std::exchange(other.fd_, -1)), read_ready_(other.read_ready_), write_ready_(other.write_ready_),
          peer_shut_down_(other.peer_shut_down_) {
        if (fd_ >= 0) reactor_->moved(*this, fd_);
    }
    epoll_socket& operator=(epoll_socket&&) = delete;
    epoll_socket(const epoll_socket&) = delete;
    epoll_socket& operator=(const epoll_socket&) = delete;
    ~epoll_socket() { close(); }

    bool is_open() const noexcept { return fd_ >= 0; }
    int native_handle() const noexcept { return fd_; }

    template <class Handler>
    void async_wait_readable(Handler&& handler) {
        wait(read_wait_, read_ready_, wait_callback(std::forward<Handler>(handler)));
    }
    template <class Handler>
    void async_wait_writable(Handler&& handler) {
        wait(write_wait_, write_ready_, wait_callback(std::forward<Handler>(handler)));
    }

    // Runs `handler` soon with no error, from the reactor's queue (never inside the caller).
    template <class Handler>
    void post_ready(Handler&& handler) {
        reactor_->complete_later(wait_callback(std::forward<Handler>(handler)), {});
    }
    // What the last edge and read said: false once a read found the receive queue empty.
    bool read_ready() const noexcept { return read_ready_; }

    std::size_t read_some(char* data, std::size_t size, std::error_code& ec) {
        for (;;) {
            ssize_t n = plain::recv(fd_, data, size, 0);
            if (n > 0) {
                // A short read emptied the receive queue; the next arrival raises a new edge. Not
                // when the peer has shut down its side: that edge came with the data (EPOLLRDHUP)
                // and will not come again, so the socket stays ready until a read returns the EOF.
                if (static_cast<std::size_t>(n) < size && !peer_shut_down_) read_ready_ = false;
                ec.clear();
                return static_cast<std::size_t>(n);
            }
            if (n == 0) {
                ec = asio::error::eof;
                return 0;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) read_ready_ = false;
            ec.assign(errno, asio::error::get_system_category());
            return 0;
        }
    }

    // Gathers up to max_iov buffers into one sendmsg (MSG_NOSIGNAL: a peer that went away is
    // an error code, not SIGPIPE). A single buffer, the usual case (a response, a fan-out's joined
    // run), goes with send(): sendmsg first copies in and checks the message header and the iovec
    // array, ~0.3 us of kernel time a call to a loopback peer (benchmarks/micro/send_cost: 5.90 vs
    // 5.62 us for 4,480 bytes, 5.38 vs 5.03 us for 64).
    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers, std::error_code& ec) {
        std::array<iovec, max_iov> iov;
        std::size_t count = 0, total = 0;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && count < max_iov; ++it) {
            asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            iov[count++] = iovec{const_cast<void*>(b.data()), b.size()};
            total += b.size();
        }
        ec.clear();
        if (total == 0) return 0;
        for (;;) {
            ssize_t n = count == 1 ? plain::send(fd_, iov[0].iov_base, total, MSG_NOSIGNAL) : send_gathered(iov.data(), count);
            if (n >= 0) {
                if (static_cast<std::size_t>(n) < total) write_ready_ = false;   // the send buffer is full
                return static_cast<std::size_t>(n);
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) write_ready_ = false;
            ec.assign(errno, asio::error::get_system_category());
            return 0;
        }
    }

    void set_no_delay(std::error_code& ec) noexcept {
        int on = 1;
        if (::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) ec.assign(errno, std::system_category());
        else ec.clear();
    }

    asio::ip::tcp::endpoint remote_endpoint(std::error_code& ec) const {
        asio::ip::tcp::endpoint endpoint;
        socklen_t length = static_cast<socklen_t>(endpoint.capacity());
        if (::getpeername(fd_, endpoint.data(), &length) != 0) {
            ec.assign(errno, std::system_category());
            return {};
        }
        endpoint.resize(length);
        ec.clear();
        return endpoint;
    }

    void shutdown_send() noexcept {
        if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
    }

    // Deregisters and closes; a pending wait completes with operation_aborted, later.
    void close() noexcept {
        if (fd_ < 0) return;
        reactor_->remove(fd_);
        ::close(fd_);
        fd_ = -1;
        if (read_wait_) reactor_->complete_later(read_wait_.take(), asio::error::operation_aborted);
        if (write_wait_) reactor_->complete_later(write_wait_.take(), asio::error::operation_aborted);
    }

private:
    // The message header is built only for a write that gathers: one buffer needs none.
    ssize_t send_gathered(iovec* iov, std::size_t count) noexcept {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = count;
        return plain::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    }

    friend class epoll_reactor;
    static constexpr std::size_t max_iov = 64;

    void wait(wait_callback& slot, bool ready, wait_callback callback) {
        if (fd_ < 0) return reactor_->complete_later(callback, asio::error::bad_descriptor);
        if (ready) return reactor_->complete_later(callback, {});
        slot = callback;
    }

    // Called by the reactor with what epoll reported; armed callbacks go to `ready`.
    void on_events(std::uint32_t events, std::vector<epoll_reactor::completion>& ready) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            read_ready_ = true;
            if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_shut_down_ = true;
            if (read_wait_) ready.push_back({read_wait_.take(), {}});
        }
        if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
            write_ready_ = true;
            if (write_wait_) ready.push_back({write_wait_.take(), {}});
        }
    }

    epoll_reactor* reactor_ = nullptr;
    wait_callback read_wait_, write_wait_;
    int fd_ = -1;
    bool read_ready_ = false;
    bool write_ready_ = true;       // a new socket's send buffer is empty
    bool peer_shut_down_ = false;   // EPOLLRDHUP/HUP seen: reads end in EOF, never EAGAIN
};

inline void epoll_reactor::dispatch(epoll_socket& s, std::uint32_t events) { s.on_events(events, ready_); }

} // namespace tether::net
