#pragma once
// recv, send, sendmsg and epoll_wait for the I/O loop, made through syscall(2) instead of glibc's wrappers.
//
// glibc makes these calls cancellation points (POSIX requires it of recv, send and sendmsg; epoll_wait is one
// too). In a process with more than one thread each call therefore switches asynchronous cancellation on
// before the system call and off after it: two atomic compare-and-swaps on the thread's cancellation word
// around every call. A tether server always has several threads (its I/O threads and the service thread) and
// never cancels one, so they buy nothing; perf put them at ~1.7 % of a pipelined request's user time, which
// the one-threaded kernel floor never pays. syscall(2) is not a cancellation point and reports errors through
// errno as the wrappers do.
//
// The wrappers stay where they matter or where this cannot be done: off Linux, on an architecture without
// the system call, and under the sanitizers, whose interceptors of these calls check the buffers (ASan) and
// order the threads that talk through a socket (TSan).
#include <cstddef>

#include <sys/socket.h>
#include <sys/types.h>
#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TETHER_PLAIN_SYSCALLS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define TETHER_PLAIN_SYSCALLS 0
#endif
#endif
#if !defined(TETHER_PLAIN_SYSCALLS)
#if defined(__linux__) && defined(SYS_recvfrom) && defined(SYS_sendto) && defined(SYS_sendmsg) && \
    (defined(SYS_epoll_wait) || defined(SYS_epoll_pwait))
#define TETHER_PLAIN_SYSCALLS 1
#else
#define TETHER_PLAIN_SYSCALLS 0
#endif
#endif

namespace tether::net::plain {

inline ssize_t recv(int fd, void* data, std::size_t size, int flags) noexcept {
#if TETHER_PLAIN_SYSCALLS
    return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
#else
    return ::recv(fd, data, size, flags);
#endif
}

inline ssize_t send(int fd, const void* data, std::size_t size, int flags) noexcept {
#if TETHER_PLAIN_SYSCALLS
    return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
#else
    return ::send(fd, data, size, flags);
#endif
}

inline ssize_t sendmsg(int fd, const msghdr* message, int flags) noexcept {
#if TETHER_PLAIN_SYSCALLS
    return ::syscall(SYS_sendmsg, fd, message, flags);
#else
    return ::sendmsg(fd, message, flags);
#endif
}

#if defined(__linux__)
inline int epoll_wait(int epoll_fd, epoll_event* events, int max_events, int timeout_ms) noexcept {
#if TETHER_PLAIN_SYSCALLS && defined(SYS_epoll_wait)
    return static_cast<int>(::syscall(SYS_epoll_wait, epoll_fd, events, max_events, timeout_ms));
#elif TETHER_PLAIN_SYSCALLS
    // Architectures without epoll_wait (arm64) have epoll_pwait, the same call with no signal mask.
    return static_cast<int>(::syscall(SYS_epoll_pwait, epoll_fd, events, max_events, timeout_ms, nullptr, 0));
#else
    return ::epoll_wait(epoll_fd, events, max_events, timeout_ms);
#endif
}
#endif

} // namespace tether::net::plain
