#pragma once
// How a publisher, on any thread, tells an I/O thread "there is news in this topic" without knowing
// anything about Asio, and at most once per batch.
//
// Each reader group (one per topic per I/O thread) owns a `wake_target`: a coalescing flag plus the
// server's wake callable, typically `[ex](tether::hub::drain_request r) { asio::post(ex, std::move(r)); }`.
// A publisher sets the flag; only the publisher that found it clear calls the wake callable, so a burst of
// a thousand publishes costs the I/O thread one posted handler. The group clears the flag *before* it reads
// the ring, so a message stored after that point either is seen by this drain or re-arms the flag.
//
// Why a separate, reference-counted object and not a pointer to the group: a publisher may still hold the
// topic's old list of targets after the group is destroyed, and a posted drain_request may still sit in the
// executor's queue. The target outlives both; its link to the group is cleared on the group's own thread,
// so a stale drain_request runs as a no-op, and close() waits out publishers that are inside the wake
// callable, so that after the group is gone the callable is never entered again.
#include "tether/hub/ref_ptr.hpp"

#include <atomic>
#include <functional>
#include <thread>
#include <utility>

namespace tether::hub {

class wake_target;

/// The handler the wake callable must run on the group's own I/O thread (post it, never call it inline
/// from the wake callable: that would run the drain on the publisher's thread).
class drain_request {
public:
    explicit drain_request(ref_ptr<wake_target> target) noexcept : target_{std::move(target)} {}
    void operator()() const;

private:
    ref_ptr<wake_target> target_;
};

/// Called from publisher threads, concurrently; must be thread-safe and should be cheap (one post).
using wake_function = std::function<void(drain_request)>;

class wake_target final : public ref_counted<wake_target> {
public:
    explicit wake_target(wake_function wake) : wake_{std::move(wake)} {}

    /// Any thread. Calls the wake callable unless a drain is already due.
    void request() {
        // acq_rel: the release half makes the caller's ring store visible to the drain that clears the flag
        // (its exchange reads this value or a later one in the flag's chain of read-modify-writes, which
        // continues our release sequence); the acquire half is for the symmetric case below.
        if (requested_.exchange(true, std::memory_order_acq_rel)) return;
        // seq_cst on both sides of this handshake with close() (a store-load pattern, which acquire/release
        // cannot order): either close() sees us in flight and waits, or we see it closed and stay out.
        in_flight_.fetch_add(1, std::memory_order_seq_cst);
        struct leave {
            std::atomic<int>& count;
            ~leave() { count.fetch_sub(1, std::memory_order_seq_cst); }
        } const guard{in_flight_};
        if (closed_.load(std::memory_order_seq_cst)) return;
        try {
            wake_(drain_request{ref_ptr<wake_target>::share(this)});
        } catch (...) {
            // Nothing was posted: re-open the flag so that a later publish can try again.
            requested_.store(false, std::memory_order_release);
            throw;
        }
    }

    /// Owner thread, at the start of a drain. acq_rel pairs with request() above.
    void clear_request() noexcept { requested_.exchange(false, std::memory_order_acq_rel); }

    /// Owner thread. Links the target to the function that drains its group.
    void bind(void* group, void (*drain)(void*)) noexcept {
        group_ = group;
        drain_ = drain;
    }

    /// Owner thread, when the group goes away: unlinks it, and waits for publishers that are inside the
    /// wake callable right now (a few instructions: the callable only posts).
    void close() noexcept {
        group_ = nullptr;
        closed_.store(true, std::memory_order_seq_cst);
        while (in_flight_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    }

    /// Owner thread: runs the drain if the group still exists.
    void run() const {
        if (group_ != nullptr) drain_(group_);
    }

private:
    wake_function const wake_;
    std::atomic<bool> requested_{false};
    std::atomic<bool> closed_{false};
    std::atomic<int> in_flight_{0};
    // Owner thread only: written by bind()/close() and read by run(), all on the group's I/O thread.
    void* group_ = nullptr;
    void (*drain_)(void*) = nullptr;
};

inline void drain_request::operator()() const { target_->run(); }

}  // namespace tether::hub
