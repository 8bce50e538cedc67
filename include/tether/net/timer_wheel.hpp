#pragma once
// One coarse timer wheel per I/O thread for every connection deadline on that thread
// (header read, body read, keep-alive idle, stalled writes).
//
// Why not one asio::steady_timer per connection: each costs a heap node and a heap operation
// per re-arm, and a connection re-arms on every request. Deadlines here are coarse (seconds),
// so a hashed wheel with intrusive entries makes arm/cancel O(1) with no allocation, and an
// idle connection pays only the entry embedded in it. A deadline pushed later is only written
// down, and the entry moved when the wheel reaches it (arm()).
#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace tether::net {

class timer_wheel {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds resolution{100};

    // Embedded in whatever owns a deadline; on_timer() runs on the wheel's thread.
    class entry {
    public:
        entry() = default;
        entry(const entry&) = delete;
        entry& operator=(const entry&) = delete;
        bool armed() const noexcept { return wheel_ != nullptr; }
        virtual void on_timer() = 0;

    protected:
        ~entry() { disarm(); }
        void disarm() noexcept {
            if (wheel_) wheel_->unlink(*this);
        }

    private:
        friend class timer_wheel;
        entry* prev_ = nullptr;
        entry* next_ = nullptr;
        timer_wheel* wheel_ = nullptr;
        std::uint64_t due_tick_ = 0;
    };

    explicit timer_wheel(clock::time_point start = clock::now()) noexcept : start_(start) {}
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    // (Re)arms `e` to fire no earlier than `delay` from now. The due tick is computed from the
    // clock, not from the last processed tick, which may lag now by up to one resolution: from
    // a coarse reading of it (coarse_now()), as a connection re-arms its deadline after every read.
    //
    // An armed entry whose deadline moves later (a connection's idle deadline, pushed back by every
    // request) is only given its new due tick: it stays in the slot it is in, which is never later than
    // that tick, and advance() moves it on when it reaches that slot. Moving it at once wrote into both its
    // neighbours and into the new slot's last entry, other connections' memory that the kernel's work
    // between two reads of a connection has usually pushed out of cache.
    void arm(entry& e, std::chrono::milliseconds delay, clock::time_point now = coarse_now()) noexcept {
        auto due = (now - start_ + delay + resolution - clock::duration{1}) / resolution;
        const auto due_tick = std::max<std::uint64_t>(current_tick_ + 1, static_cast<std::uint64_t>(due));
        if (e.wheel_) {
            if (due_tick >= e.due_tick_) {
                e.due_tick_ = due_tick;
                return;
            }
            unlink(e);
        }
        e.due_tick_ = due_tick;
        link(e, slots_[due_tick % slot_count]);
    }

    void cancel(entry& e) noexcept {
        if (e.wheel_) unlink(e);
    }

    // Fires every entry that is due by `now`. Entries may re-arm or cancel any entry from
    // on_timer(), and may destroy themselves.
    void advance(clock::time_point now) {
        auto target = static_cast<std::uint64_t>((now - start_) / resolution);
        while (current_tick_ < target) {
            ++current_tick_;
            auto& slot = slots_[current_tick_ % slot_count];
            // Detach the due entries first so callbacks that touch the wheel cannot disturb
            // the walk. An entry whose deadline was pushed back (arm()) moves to its due tick's slot.
            entry* due = nullptr;
            const std::size_t here = current_tick_ % slot_count;
            for (entry* e = slot.next_; e != &slot;) {
                entry* next = e->next_;
                if (e->due_tick_ <= current_tick_) {
                    unlink(*e);
                    e->next_ = due;
                    due = e;
                } else if (const std::size_t there = e->due_tick_ % slot_count; there != here) {
                    unlink(*e);
                    link(*e, slots_[there]);
                }
                e = next;
            }
            while (due) {
                entry* e = due;
                due = e->next_;
                e->next_ = nullptr;
                e->on_timer();
            }
        }
    }

    std::size_t size() const noexcept { return size_; }

    // A time no earlier than clock::now(), read without the clock's counter. On Linux steady_clock is
    // CLOCK_MONOTONIC, whose vDSO read executes rdtsc and scales it (perf of pipelined requests put ~2 %
    // of the server's user time in it, one read per batch); CLOCK_MONOTONIC_COARSE is the same clock as of
    // the last timekeeping update, a load from the vDSO page (clock_gettime(2)). It is behind by about a
    // jiffy or two (3.5 to 7.5 ms measured here, HZ 250 under a hypervisor), not by a bound the kernel
    // promises, so one whole resolution is added: a deadline still fires no earlier than asked, and at most
    // two resolutions late instead of one, which for deadlines of seconds is nothing.
    static clock::time_point coarse_now() noexcept {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
        timespec ts;
        if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0) [[likely]]
            return clock::time_point{std::chrono::seconds{ts.tv_sec} + std::chrono::nanoseconds{ts.tv_nsec}} + resolution;
#endif
        return clock::now();
    }

private:
    static constexpr std::size_t slot_count = 1024;   // ~102 s per lap; longer deadlines wait laps

    struct sentinel final : entry {
        sentinel() noexcept { prev_ = next_ = this; }
        void on_timer() override {}
        friend class timer_wheel;
    };

    void link(entry& e, sentinel& slot) noexcept {
        e.wheel_ = this;
        e.next_ = &slot;
        e.prev_ = slot.prev_;
        slot.prev_->next_ = &e;
        slot.prev_ = &e;
        ++size_;
    }

    void unlink(entry& e) noexcept {
        e.prev_->next_ = e.next_;
        e.next_->prev_ = e.prev_;
        e.prev_ = e.next_ = nullptr;
        e.wheel_ = nullptr;
        --size_;
    }

    clock::time_point start_;
    std::uint64_t current_tick_ = 0;
    std::size_t size_ = 0;
    std::array<sentinel, slot_count> slots_{};
};

} // namespace tether::net
