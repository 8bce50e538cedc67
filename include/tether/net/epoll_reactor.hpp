#pragma once
// One I/O thread's event loop on Linux: readiness for every socket of the thread through one
// epoll instance of our own, the thread's posted work, and nothing else.
//
// Why not asio's per-socket async_wait: asio keeps a 168-byte descriptor_state per socket (a
// mutex and three operation queues) and allocates an operation for every pending wait, so an
// idle connection costs ~270 bytes before it holds a single byte of its own; and asio 1.22
// re-registers the descriptor (EPOLL_CTL_MOD) on every wait, a third system call per message
// next to the read and the write (asio/detail/impl/epoll_reactor.ipp, start_op). Here a socket is
// an fd and two inline callbacks, and the thread's epoll set remembers the interest in the kernel.
//
// Why the loop is ours too, not asio's io_context waiting on this epoll fd: nested, every
// readiness batch cost asio's epoll_wait, then ours, then asio's re-arm of its wait on our fd
// (the same unconditional EPOLL_CTL_MOD): three system calls where one does. So the thread
// blocks in one epoll_wait on this set, which also holds an eventfd that other threads write
// when they post work, and a timerfd, the alarm, that rings for the thread's 100 ms tick
// (net/io_thread.hpp). The tick is not the wait's timeout because a timeout costs every
// epoll_wait, sleeping or not: the kernel converts it to an end time at entry and estimates a
// slack from it (two clock reads, ep_timeout_to_timespec and select_estimate_accuracy in
// fs/eventpoll.c), ~1 % of a pipelined request by perf, where the alarm costs a read and a
// re-arm ten times a second.
// asio still runs the listeners, the resolver, the signal watch (on the server's service
// thread), asio_tcp connections and every non-Linux system.
//
// Edge-triggered: each socket is registered once, for input and output, for its whole life.
// An edge that arrives while nobody waits is remembered in the socket (read_ready/write_ready)
// and a later wait completes at once (queued, never inside the caller). A socket forgets
// readiness only when a read or write proves the kernel buffer empty or full (see
// epoll_socket.hpp); that keeps the edge-triggered contract without a wasted system call.
//
// Completions never run while the epoll results are being walked: first every ready socket
// gives up its armed callbacks into a queue, then the queue runs. A callback may therefore
// close and free any socket, including ones later in the same batch.
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <tether/net/plain_syscalls.hpp>
#include <tether/net/posted_task.hpp>

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
    epoll_reactor() {
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) throw std::system_error(errno, std::system_category(), "tether: epoll_create1");
        wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;   // level-triggered: it reports until the loop reads it
        ev.data.fd = wake_fd_;
        if (wake_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
            int error = errno;
            if (wake_fd_ >= 0) ::close(wake_fd_);
            ::close(epoll_fd_);
            throw std::system_error(error, std::system_category(), "tether: eventfd");
        }
        // steady_clock is CLOCK_MONOTONIC on Linux, so set_alarm() takes its time points as they are.
        alarm_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        ev.data.fd = alarm_fd_;   // level-triggered too: it reports until the loop reads it
        if (alarm_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, alarm_fd_, &ev) != 0) {
            int error = errno;
            if (alarm_fd_ >= 0) ::close(alarm_fd_);
            ::close(wake_fd_);
            ::close(epoll_fd_);
            throw std::system_error(error, std::system_category(), "tether: timerfd");
        }
    }
    epoll_reactor(const epoll_reactor&) = delete;
    epoll_reactor& operator=(const epoll_reactor&) = delete;
    ~epoll_reactor() {
        ::close(alarm_fd_);
        ::close(wake_fd_);
        ::close(epoll_fd_);
    }

    // On the loop's thread: the alarm rings once at `at` (a steady_clock time; one already past rings at
    // once): a later run_once() wakes for it and rung() says so. Setting it again replaces the last time.
    void set_alarm(std::chrono::steady_clock::time_point at) noexcept {
        // An all-zero time would disarm it instead (timerfd_settime(2)): the earliest time that rings.
        arm_alarm(std::max(at.time_since_epoch(), std::chrono::steady_clock::duration(1)));
    }
    // Silences the alarm (it rings no more until set again).
    void clear_alarm() noexcept {
        arm_alarm(std::chrono::nanoseconds(0));
        alarm_rang_ = false;
    }
    // Whether the alarm rang since the last call (then it is silent until set again).
    bool rung() noexcept { return std::exchange(alarm_rang_, false); }

    std::size_t sockets() const noexcept { return registered_; }

    // Any thread: runs `f` on the loop's thread, in a later turn (never inside the caller). From
    // the loop's own thread this is a push onto a vector; from another it takes a mutex, and the
    // first post into an empty queue writes the eventfd that wakes the loop.
    template <class F>
    void post(F&& f) {
        if (running_here() == this) {
            local_.emplace_back(std::forward<F>(f));
            return;
        }
        bool was_empty;
        {
            std::lock_guard lock(remote_mutex_);
            was_empty = remote_.empty();
            remote_.emplace_back(std::forward<F>(f));
        }
        // A non-empty queue already has a write on its way to the loop, which takes the whole
        // queue after reading the eventfd (see take_remote), so this post rides with it.
        if (was_empty) {
            std::uint64_t one = 1;
            [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
        }
    }

    // On the loop's thread: waits up to `timeout_ms` (-1: for ever) for readiness or posted work,
    // unless some is queued already, then runs what is ready: socket completions first, then
    // posted work. What these queue runs in the next turn, so none can starve the rest.
    void run_once(int timeout_ms) {
        loop_scope here(*this);
        if (queued_here()) timeout_ms = 0;
        std::array<epoll_event, 128> events;
        int n = plain::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
        bool woken = false;
        for (int i = 0; i < n; ++i) {   // n < 0 is EINTR (a signal): nothing to walk
            const epoll_event& e = events[static_cast<std::size_t>(i)];
            auto fd = static_cast<std::size_t>(e.data.fd);
            if (e.data.fd == wake_fd_) woken = true;
            else if (e.data.fd == alarm_fd_) take_alarm();
            else if (fd < by_fd_.size() && by_fd_[fd]) dispatch(*by_fd_[fd], e.events);
        }
        run_all(take(running_, ready_), [](completion& c) { c.callback(c.ec); });
        if (woken) take_remote();
        run_all(take(posted_now_, local_), [](posted_task& t) { t(); });
        run_all(taken_, [](posted_task& t) { t(); });
    }

    // On the loop's thread: whether anything would run without waiting (the loop may end only
    // when nothing is left).
    bool idle() {
        if (queued_here()) return false;
        std::lock_guard lock(remote_mutex_);
        return remote_.empty();
    }

    // While one lives, the calling thread counts as this loop's (its posts are local): the loop
    // holds one around its turns, and io_thread around its timer work between them.
    class loop_scope {
    public:
        explicit loop_scope(epoll_reactor& r) noexcept : previous_(std::exchange(running_here(), &r)) {}
        loop_scope(const loop_scope&) = delete;
        loop_scope& operator=(const loop_scope&) = delete;
        ~loop_scope() { running_here() = previous_; }

    private:
        epoll_reactor* previous_;
    };

private:
    friend class epoll_socket;
    struct completion {
        wait_callback callback;
        std::error_code ec;
    };

    static epoll_reactor*& running_here() noexcept {
        thread_local epoll_reactor* reactor = nullptr;
        return reactor;
    }

    void add(epoll_socket& s, int fd, std::error_code& ec) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            ec.assign(errno, std::system_category());
            return;
        }
        if (static_cast<std::size_t>(fd) >= by_fd_.size()) by_fd_.resize(static_cast<std::size_t>(fd) + 1024, nullptr);
        by_fd_[static_cast<std::size_t>(fd)] = &s;
        ++registered_;
    }
    void moved(epoll_socket& to, int fd) noexcept { by_fd_[static_cast<std::size_t>(fd)] = &to; }
    void remove(int fd) noexcept {
        // Explicit, not left to close(): a descriptor duplicated elsewhere (a forked child)
        // would otherwise stay in the set and report events for a socket that is gone.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        by_fd_[static_cast<std::size_t>(fd)] = nullptr;
        --registered_;
    }

    // Runs `callback` with `ec` in the loop's next run of completions, never inside the caller.
    void complete_later(wait_callback callback, std::error_code ec) { ready_.push_back({callback, ec}); }

    inline void dispatch(epoll_socket& s, std::uint32_t events);

    bool queued_here() const noexcept {
        return !ready_.empty() || !running_.empty() || !local_.empty() || !posted_now_.empty() || !taken_.empty();
    }

    void take_alarm() noexcept {
        std::uint64_t expirations;
        alarm_rang_ = ::read(alarm_fd_, &expirations, sizeof expirations) == sizeof expirations;
    }
    void arm_alarm(std::chrono::nanoseconds since_epoch) noexcept {
        itimerspec when{};
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
        when.it_value.tv_sec = static_cast<time_t>(seconds.count());
        when.it_value.tv_nsec = static_cast<long>((since_epoch - seconds).count());
        ::timerfd_settime(alarm_fd_, TFD_TIMER_ABSTIME, &when, nullptr);
    }

    // Read the eventfd before taking the queue: a post that lands after the take finds the
    // queue empty and writes again, so it is never left without a wake.
    void take_remote() {
        std::uint64_t count;
        [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
        std::lock_guard lock(remote_mutex_);
        take(taken_, remote_);
    }

    // Moves what `from` queued behind whatever `to` still holds (left there by a handler that
    // threw) and returns `to`, which this turn runs.
    template <class T>
    static std::vector<T>& take(std::vector<T>& to, std::vector<T>& from) {
        if (to.empty()) to.swap(from);
        else {
            for (T& item : from) to.push_back(std::move(item));
            from.clear();
        }
        return to;
    }

    // Runs each item once. A handler that throws leaves the items after it queued for the next
    // turn, as asio's io_context does, and the exception goes up to the thread's loop.
    template <class T, class Run>
    static void run_all(std::vector<T>& items, Run run) {
        std::size_t done = 0;
        try {
            for (; done < items.size(); ++done) run(items[done]);
        } catch (...) {
            items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(done + 1));
            throw;
        }
        items.clear();
    }

    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    int alarm_fd_ = -1;
    bool alarm_rang_ = false;
    std::vector<epoll_socket*> by_fd_;   // the socket registered under each descriptor
    std::vector<completion> ready_, running_;
    std::vector<posted_task> local_, posted_now_;   // posted from this thread; this turn's
    std::vector<posted_task> taken_;                // posted from others, taken for this turn
    std::mutex remote_mutex_;
    std::vector<posted_task> remote_;   // posted from others, guarded by remote_mutex_
    std::size_t registered_ = 0;
};

} // namespace tether::net

// The loop hands events to sockets (epoll_reactor::dispatch is defined with the socket).
#include <tether/net/epoll_socket.hpp>
