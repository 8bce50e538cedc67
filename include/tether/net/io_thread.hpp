#pragma once
// What one I/O thread owns: its io_context, its timer wheel, the read buffer every connection
// on the thread shares, and the list of those connections (for graceful stop).
//
// A connection is created on, and only ever touched by, its thread (DESIGN.md: "One I/O thread
// owns a connection for its whole life"), so nothing here is locked. Other threads reach a
// thread only through asio::post on its io_context.
#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include <tether/net/timer_wheel.hpp>

namespace tether::net {

class io_thread;

// The part of every connection the thread needs to know: a deadline entry, the links of the
// thread's connection list, and how to stop it.
class connection_base : public timer_wheel::entry {
public:
    // Server stopping: finish in-flight work, then close; idle connections close at once.
    virtual void begin_drain() = 0;
    // Drain took too long: close now.
    virtual void force_close() = 0;

protected:
    ~connection_base() = default;

private:
    friend class io_thread;
    connection_base* prev_conn_ = nullptr;
    connection_base* next_conn_ = nullptr;
};

class io_thread {
public:
    static constexpr std::size_t read_buffer_size = 64 * 1024;

    explicit io_thread(unsigned index) : index_(index), tick_(io_), read_buffer_(new char[read_buffer_size]) {}
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;

    asio::io_context& io() noexcept { return io_; }
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
        if (draining_ && connections_ == 0) tick_.cancel();   // nothing left: let run() return
    }
    std::size_t connections() const noexcept { return connections_; }

    // Starts the wheel's clock; the io_context stays busy until drain completes.
    void start_ticking() {
        tick_.expires_after(timer_wheel::resolution);
        tick_.async_wait([this](std::error_code ec) {
            if (ec) return;
            wheel_.advance(timer_wheel::clock::now());
            if (draining_ && (connections_ == 0 || timer_wheel::clock::now() >= drain_deadline_)) {
                close_all_now();
                return;
            }
            start_ticking();
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
        if (connections_ == 0) tick_.cancel();
    }
    bool draining() const noexcept { return draining_; }

private:
    void close_all_now() {
        while (head_) head_->force_close();   // each removes itself, synchronously or on completion
        tick_.cancel();
    }

    unsigned index_;
    asio::io_context io_{1};   // hint: exactly one thread runs it (posts from others stay safe)
    asio::steady_timer tick_;
    timer_wheel wheel_;
    std::unique_ptr<char[]> read_buffer_;
    connection_base* head_ = nullptr;
    std::size_t connections_ = 0;
    bool draining_ = false;
    timer_wheel::clock::time_point drain_deadline_{};
};

} // namespace tether::net
