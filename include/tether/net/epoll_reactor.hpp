#pragma once
// Readiness for every socket of one I/O thread through one epoll instance of our own (Linux).
//
// Why not asio's per-socket async_wait: asio keeps a 168-byte descriptor_state per socket (a
// mutex and three operation queues) and allocates an operation for every pending wait, so an
// idle connection costs ~270 bytes before it holds a single byte of its own; and asio 1.22
// re-registers the descriptor (EPOLL_CTL_MOD) on every wait, a third system call per message
// next to the read and the write (asio/detail/impl/epoll_reactor.ipp, start_op). Here a socket is
// an fd and two inline callbacks; the thread's epoll set remembers the interest in the kernel,
// and the only asio operation is one wait on the epoll fd itself, per thread.
//
// Edge-triggered: each socket is registered once, for input and output, for its whole life.
// An edge that arrives while nobody waits is remembered in the socket (read_ready/write_ready)
// and a later wait completes at once (posted, never inside the caller). A socket forgets
// readiness only when a read or write proves the kernel buffer empty or full (see
// epoll_socket.hpp); that keeps the edge-triggered contract without a wasted system call.
//
// Completions never run while the epoll results are being walked: first every ready socket
// gives up its armed callbacks into a queue, then the queue runs. A callback may therefore
// close and free any socket, including ones later in the same batch.
#include <asio.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <type_traits>
#include <vector>

#include <sys/epoll.h>

namespace tether::net {

// A completion handler that captures at most one pointer (every connection passes
// `[this](std::error_code)`), stored inline: a pending wait never allocates.
class wait_callback {
public:
    wait_callback() = default;
    template <class Handler>
    explicit wait_callback(Handler handler) noexcept {
        static_assert(sizeof(Handler) <= sizeof(storage_) && alignof(Handler) <= alignof(void*) &&
                          std::is_trivially_copyable_v<Handler> && std::is_trivially_destructible_v<Handler>,
                      "a wait handler must capture at most one pointer (e.g. [this](std::error_code) {...})");
        ::new (static_cast<void*>(storage_)) Handler(handler);
        invoke_ = [](void* storage, std::error_code ec) { (*static_cast<Handler*>(storage))(ec); };
    }
    explicit operator bool() const noexcept { return invoke_ != nullptr; }

    // Empties this callback and returns what it held.
    wait_callback take() noexcept {
        wait_callback taken = *this;
        invoke_ = nullptr;
        return taken;
    }
    void operator()(std::error_code ec) { invoke_(storage_, ec); }

private:
    void (*invoke_)(void*, std::error_code) = nullptr;
    alignas(void*) unsigned char storage_[sizeof(void*)]{};
};

class epoll_socket;

class epoll_reactor {
public:
    explicit epoll_reactor(asio::io_context& io) : io_(io), epoll_(io) {
        int fd = ::epoll_create1(EPOLL_CLOEXEC);
        if (fd < 0) throw std::system_error(errno, std::system_category(), "tether: epoll_create1");
        epoll_.assign(fd);   // owned (and closed) by the descriptor from here on
    }
    epoll_reactor(const epoll_reactor&) = delete;
    epoll_reactor& operator=(const epoll_reactor&) = delete;

    std::size_t sockets() const noexcept { return registered_; }

private:
    friend class epoll_socket;
    struct completion {
        wait_callback callback;
        std::error_code ec;
    };

    void add(epoll_socket& s, int fd, std::error_code& ec) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
            ec.assign(errno, std::system_category());
            return;
        }
        if (static_cast<std::size_t>(fd) >= by_fd_.size()) by_fd_.resize(static_cast<std::size_t>(fd) + 1024, nullptr);
        by_fd_[static_cast<std::size_t>(fd)] = &s;
        if (registered_++ == 0 && !waiting_) wait();
    }
    void moved(epoll_socket& to, int fd) noexcept { by_fd_[static_cast<std::size_t>(fd)] = &to; }
    void remove(int fd) noexcept {
        // Explicit, not left to close(): a descriptor duplicated elsewhere (a forked child)
        // would otherwise stay in the set and report events for a socket that is gone.
        ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
        by_fd_[static_cast<std::size_t>(fd)] = nullptr;
        if (--registered_ == 0 && waiting_) {
            std::error_code ignored;
            epoll_.cancel(ignored);   // no sockets: let io_context::run() return
        }
    }

    // Runs `callback` with `ec` soon, from the io_context, never from inside the caller.
    void complete_later(wait_callback callback, std::error_code ec) {
        ready_.push_back({callback, ec});
        if (!dispatching_) schedule_run();
    }

    void schedule_run() {
        if (run_posted_) return;
        run_posted_ = true;
        asio::post(io_, [this] {
            run_posted_ = false;
            run_ready();
        });
    }

    void wait() {
        waiting_ = true;
        epoll_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
            waiting_ = false;
            if (!ec) poll();
            if (registered_ != 0 && !waiting_) wait();
        });
    }

    inline void poll();

    void run_ready() {
        dispatching_ = true;
        running_.swap(ready_);
        for (completion& c : running_) c.callback(c.ec);
        running_.clear();
        dispatching_ = false;
        // Completions queued by those callbacks wait for the next turn, so a connection that
        // keeps finding its socket ready cannot starve the others.
        if (!ready_.empty()) schedule_run();
    }

    asio::io_context& io_;
    asio::posix::stream_descriptor epoll_;
    std::vector<epoll_socket*> by_fd_;   // the socket registered under each descriptor
    std::vector<completion> ready_, running_;
    std::size_t registered_ = 0;
    bool waiting_ = false, dispatching_ = false, run_posted_ = false;
};

} // namespace tether::net
