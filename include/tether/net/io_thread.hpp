#pragma once
// What one I/O thread owns: its loop, its timer wheel, the read buffer every connection on the
// thread shares, and the list of those connections (for graceful stop).
//
// The loop: on Linux, with a transport whose sockets are epoll_sockets (epoll_tcp and what wraps
// it: uses_own_loop below), the thread runs its own epoll loop (net/epoll_reactor.hpp: one
// epoll_wait per turn, posts through an eventfd); otherwise asio's io_context (asio_tcp, other
// systems). post() and run() hide which.
//
// Loop lag: the wheel's 100 ms tick is the loop's timer (on the own loop, the reactor's alarm), so
// how late it fires is how long this thread's loop took to come back to it: a handler that blocks
// the thread shows up here, in the /metrics histogram and in liveness (server/health.hpp).
// Measuring it costs one subtraction per tick, since the tick reads the clock anyway;
// current_lag() also sees a thread that is blocked right now, whose next tick is overdue.
//
// A connection is created on, and only ever touched by, its thread (the threading rule: "One I/O thread
// owns a connection for its whole life"), so nothing here is locked. Other threads reach a
// thread only through post().
#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tether/metrics/per_thread.hpp>
#include <tether/net/admission.hpp>
#include <tether/net/timer_wheel.hpp>
#if defined(__linux__)
#include <tether/net/epoll_reactor.hpp>
#endif

namespace tether::http {
class request;
}

namespace tether::net {

class io_thread;

// What a connection's bytes travel over, as the server sees it: TLS, cleartext, or cleartext
// sent to a TLS listener (a client that typed http:// for an https port).
enum class channel : unsigned char { cleartext, tls, cleartext_on_tls_port };

// Whether a TLS handshake is under way (it counts as the header section: same deadline).
template <class Transport, class Socket>
bool handshaking(const Socket& s) noexcept {
    if constexpr (requires { Transport::handshaking(s); }) return Transport::handshaking(s);
    else return false;
}

// The channel of a transport's socket; transports without TLS are always cleartext.
template <class Transport, class Socket>
channel channel_of(const Socket& s) noexcept {
    if constexpr (requires { Transport::channel_of(s); }) return Transport::channel_of(s);
    else return channel::cleartext;
}

// Whether a transport's sockets are readied by the I/O thread's own epoll loop (a transport
// says so with `static constexpr bool own_loop = true`; wrappers pass on their inner one's).
template <class Transport>
constexpr bool uses_own_loop() noexcept {
    if constexpr (requires { Transport::own_loop; }) return Transport::own_loop;
    else return false;
}

// The part of every connection the thread needs to know: a deadline entry, the links of the
// thread's connection list, how to stop it, and its hold on the server's connection caps
// (admission.hpp), which moves with it through a protocol upgrade.
class connection_base : public timer_wheel::entry {
public:
    admission ticket;

    // Server stopping: finish in-flight work, then close; idle connections close at once.
    virtual void begin_drain() = 0;
    // Drain took too long: close now.
    virtual void force_close() = 0;
    // The thread's once-per-turn write pass reached this corked connection (see io_thread::cork).
    virtual void on_uncork() {}
    // The peer's IP address as text (a system call: only for the handlers that need it).
    virtual std::string peer_address() const { return {}; }
    // TLS or not (the server adds HSTS, redirects, or refuses plain HTTP on a TLS port).
    virtual net::channel security() const noexcept { return channel::cleartext; }
    // The client `req` stands for: the peer, or behind a trusted proxy the forwarded client.
    virtual address_key client_key(const http::request&) const { return {}; }

protected:
    ~connection_base() = default;

private:
    friend class io_thread;
    connection_base* prev_conn_ = nullptr;
    connection_base* next_conn_ = nullptr;
};

// Keeps a connection alive until the completion handler it guards returns, so a handler that
// closes its connection half-way never touches freed memory. Taken when an operation starts
// (++pending), released by constructing one of these at the top of its completion handler.
template <class Connection>
class op_guard {
public:
    explicit op_guard(Connection& c) noexcept : c_(c) {}
    op_guard(const op_guard&) = delete;
    op_guard& operator=(const op_guard&) = delete;
    ~op_guard() {
        --c_.pending_ops_;
        c_.destroy_if_done();
    }

private:
    Connection& c_;
};

class io_thread;

// Posting to an I/O thread from something that may outlive it (a deferred reply's handle kept by
// a worker after the server is gone): the gate says whether the thread is still there, under a
// mutex the thread takes once, when it goes. Costs a lock per post, so only for rare posts.
class post_gate {
public:
    explicit post_gate(io_thread& thread) : thread_(&thread) {}
    template <class F>
    bool post(F&& f);
    void close() {
        std::lock_guard lock(mutex_);
        thread_ = nullptr;
    }

private:
    std::mutex mutex_;
    io_thread* thread_;
};

class io_thread {
public:
    static constexpr std::size_t read_buffer_size = 64 * 1024;

    // own_loop: run this thread on its epoll loop (Linux; see uses_own_loop), else on asio.
    io_thread(unsigned index, [[maybe_unused]] bool own_loop) : index_(index), tick_(io_), read_buffer_(new char[read_buffer_size]) {
#if defined(__linux__)
        own_loop_ = own_loop;
#endif
    }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    ~io_thread() { gate_->close(); }

    const std::shared_ptr<post_gate>& gate() const noexcept { return gate_; }

    // asio's io_context: what asio_tcp sockets are bound to; runs only when the thread is not on
    // its own loop. Reach the thread with post(), which knows which.
    asio::io_context& io() noexcept { return io_; }

    // Any thread: runs `f` on this thread, later (never inside the caller).
    template <class F>
    void post(F&& f) {
#if defined(__linux__)
        if (own_loop_) return reactor_.post(std::forward<F>(f));
#endif
        asio::post(io_, std::forward<F>(f));
    }

    // On the thread: serves until the thread has drained (drain()), or, before start_ticking(),
    // until nothing is left to do. An exception from a handler comes out of here; calling run()
    // again goes on with what is left.
    void run() {
#if defined(__linux__)
        if (own_loop_) {
            epoll_reactor::loop_scope here(reactor_);
            // The wait has no timeout: the tick is the reactor's alarm (see epoll_reactor.hpp for why), so the
            // clock is read only when it rings.
            for (;;) {
                if (!ticking_ && reactor_.sockets() == 0 && reactor_.idle()) return;
                reactor_.run_once(-1);
                // An absolute CLOCK_MONOTONIC timerfd does not ring before its time (timerfd_settime(2)), and
                // only start_ticking() sets it, so a rung alarm is a due tick.
                if (ticking_ && reactor_.rung()) on_tick(timer_wheel::clock::now(), next_tick_);
            }
        }
#endif
        io_.run();
    }
#if defined(__linux__)
    epoll_reactor& reactor() noexcept { return reactor_; }
#endif
    unsigned index() const noexcept { return index_; }
    timer_wheel& wheel() noexcept { return wheel_; }
    char* read_buffer() noexcept { return read_buffer_.get(); }

    void add(connection_base& c) noexcept {
        c.next_conn_ = head_;
        c.prev_conn_ = nullptr;
        if (head_) head_->prev_conn_ = &c;
        head_ = &c;
        ++connections_;
    }
    void remove(connection_base& c) noexcept {
        if (c.prev_conn_) c.prev_conn_->next_conn_ = c.next_conn_;
        else head_ = c.next_conn_;
        if (c.next_conn_) c.next_conn_->prev_conn_ = c.prev_conn_;
        c.prev_conn_ = c.next_conn_ = nullptr;
        --connections_;
        if (draining_ && connections_ == 0) stop_ticking();   // nothing left: let run() return
    }
    std::size_t connections() const noexcept { return connections_; }

    // Write batching across connections: a connection that produced output outside its own read
    // handler (a broadcast, a timer) is queued here, and one posted pass per loop turn lets each
    // write once, however many messages it received in that turn. The connection counts the
    // queue as a pending operation, so it outlives its place in the list.
    void cork(connection_base& c) {
        corked_.push_back(&c);
        if (uncork_posted_) return;
        uncork_posted_ = true;
        post([this] {
            uncork_posted_ = false;
            std::vector<connection_base*> batch;
            batch.swap(corked_);
            for (connection_base* c : batch) c->on_uncork();
            batch.clear();
            if (corked_.empty()) corked_.swap(batch);   // keep the capacity for the next turn
        });
    }

    // The tick's lateness, written by this thread, read by any.
    struct alignas(metrics::cache_line) loop_lag {
        metrics::histogram<metrics::loop_lag_buckets> lateness;
        metrics::gauge last_tick_ns;       // steady_clock time of the last tick; 0 before the first
        metrics::gauge last_lateness_ns;
    };
    const loop_lag& lag() const noexcept { return lag_; }

    // How late this thread is at `now`, from any thread: the last tick's lateness, or by how much
    // the next tick is overdue if that is more. Nothing before the first tick.
    std::optional<std::chrono::nanoseconds> current_lag(timer_wheel::clock::time_point now) const noexcept {
        std::int64_t last = lag_.last_tick_ns.value();
        if (last == 0) return std::nullopt;
        auto overdue = now.time_since_epoch() - std::chrono::nanoseconds(last) - timer_wheel::resolution;
        return std::max({std::chrono::nanoseconds(lag_.last_lateness_ns.value()),
                         std::chrono::duration_cast<std::chrono::nanoseconds>(overdue), std::chrono::nanoseconds(0)});
    }

    // Starts the wheel's clock; the loop keeps running until drain completes.
    void start_ticking() {
#if defined(__linux__)
        if (own_loop_) {
            ticking_ = true;
            next_tick_ = timer_wheel::clock::now() + timer_wheel::resolution;
            reactor_.set_alarm(next_tick_);
            return;
        }
#endif
        tick_.expires_after(timer_wheel::resolution);
        tick_.async_wait([this](std::error_code ec) {
            if (!ec) on_tick(timer_wheel::clock::now(), tick_.expiry());
        });
    }

    // Runs on this thread: stop taking work, let connections finish, force what is left at
    // the deadline.
    void drain(std::chrono::milliseconds within) {
        if (draining_) return;
        draining_ = true;
        drain_deadline_ = timer_wheel::clock::now() + within;
        for (connection_base* c = head_; c;) {
            connection_base* next = c->next_conn_;   // begin_drain may destroy c
            c->begin_drain();
            c = next;
        }
        if (connections_ == 0) stop_ticking();
    }
    bool draining() const noexcept { return draining_; }

private:
    void on_tick(timer_wheel::clock::time_point now, timer_wheel::clock::time_point due) {
        auto late = std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count();
        if (late < 0) late = 0;
        lag_.lateness.observe(static_cast<std::uint64_t>(late));
        lag_.last_lateness_ns.set(late);
        lag_.last_tick_ns.set(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
        wheel_.advance(now);
        if (draining_ && (connections_ == 0 || timer_wheel::clock::now() >= drain_deadline_)) {
            close_all_now();
            return;
        }
        start_ticking();
    }

    void stop_ticking() {
#if defined(__linux__)
        if (ticking_) reactor_.clear_alarm();
        ticking_ = false;
#endif
        tick_.cancel();
    }

    void close_all_now() {
        while (head_) head_->force_close();   // each removes itself, synchronously or on completion
        stop_ticking();
    }

    unsigned index_;
    asio::io_context io_{1};   // hint: exactly one thread runs it (posts from others stay safe)
    std::shared_ptr<post_gate> gate_ = std::make_shared<post_gate>(*this);
#if defined(__linux__)
    epoll_reactor reactor_;
    bool own_loop_ = false;
    bool ticking_ = false;
    timer_wheel::clock::time_point next_tick_{};
#endif
    asio::steady_timer tick_;   // the tick on asio's loop
    timer_wheel wheel_;
    std::unique_ptr<char[]> read_buffer_;
    connection_base* head_ = nullptr;
    std::size_t connections_ = 0;
    std::vector<connection_base*> corked_;
    bool uncork_posted_ = false;
    bool draining_ = false;
    timer_wheel::clock::time_point drain_deadline_{};
    loop_lag lag_;
};

template <class F>
bool post_gate::post(F&& f) {
    std::lock_guard lock(mutex_);
    if (!thread_) return false;
    thread_->post(std::forward<F>(f));
    return true;
}

} // namespace tether::net
