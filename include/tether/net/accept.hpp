#pragma once
// Taking connections off a listening socket: a non-blocking accept that yields plain
// descriptors, and an owner that closes one if it never reaches its I/O thread. The server
// accepts on one thread and hands descriptors to the others; each transport turns a descriptor
// into its own socket type (transport::*::adopt in tcp.hpp).
#include <asio.hpp>
#include <cerrno>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tether::net {

// An accepted descriptor on its way to its I/O thread: closed if it never gets there (the
// thread stops first, or the posted work is destroyed unrun).
class owned_fd {
public:
    explicit owned_fd(int fd) noexcept : fd_(fd) {}
    owned_fd(owned_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    owned_fd& operator=(owned_fd&&) = delete;
    ~owned_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_;
};

// Accepts one pending connection from a non-blocking listening socket: a non-blocking,
// close-on-exec descriptor, or -1 with `ec` set (would_block: none pending). The peer's address
// goes to `peer` (it comes with the accept, so knowing it costs no extra system call).
inline int accept_native(int listening, sockaddr_storage& peer, std::error_code& ec) noexcept {
    for (;;) {
        socklen_t length = sizeof peer;
#if defined(__linux__)
        int fd = ::accept4(listening, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int fd = ::accept(listening, reinterpret_cast<sockaddr*>(&peer), &length);
        if (fd >= 0 && (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)) {
            ec.assign(errno, asio::error::get_system_category());
            ::close(fd);
            return -1;
        }
#endif
        if (fd >= 0) {
            ec.clear();
            return fd;
        }
        // The peer gave up while queued: not our error, take the next one.
        if (errno == EINTR || errno == ECONNABORTED) continue;
        ec.assign(errno, asio::error::get_system_category());
        return -1;
    }
}

// Writes `bytes` if the socket takes them at once, then closes it: for refusing a connection on
// the accepting thread without ever blocking it.
// Whatever the client already sent is read first: closing with unread bytes would make the
// kernel answer with a reset, which can destroy the answer before the client reads it.
inline void send_and_close(int fd, std::string_view bytes) noexcept {
    char discard[4096];
    for (int i = 0; i < 16 && ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
    }
    (void)::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
}

} // namespace tether::net
