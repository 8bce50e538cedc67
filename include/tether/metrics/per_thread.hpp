#pragma once
// Values one thread writes and any thread reads: the server keeps its counters, gauges and
// histograms per I/O thread and sums them when /metrics is scraped (server/metrics.hpp).
//
// Why one writer per value. An I/O thread owns its connections (net/io_thread.hpp), so it is the
// only thread that ever changes its own counters. An increment is then a relaxed load and a relaxed
// store of the same atomic, which compile to plain moves: no locked instruction (a fetch_add is a
// `lock xadd` even uncontended) and no lock on the request path. A reader on another thread (the
// scrape) sees some recent value, never a torn one, and since every access is atomic there is no
// data race for TSan to report. The price is a rule: a value written by two threads would lose
// increments, so each owner (thread_state, io_thread) writes only its own.
//
// Rejected: one shared atomic per counter (every I/O thread would write the same cache line on
// every request, which is what per-thread counters exist to avoid); thread_local values (a scrape
// on one thread could not reach the others'); a lock per update.
//
// Cache lines: each owner keeps its values in a block aligned to `cache_line` (two 64-byte lines,
// since Intel's adjacent-line prefetcher moves lines in pairs), so no other thread's values, and
// no other object, share a line with them. The scrape's reads pull a line into the shared state
// once per scrape, which is the only traffic.
//
// Histograms have fixed upper bounds known at compile time (a Buckets type), store a count per
// bucket (not cumulative, so an observation is two increments) and the sum in nanoseconds as an
// integer; the text format's cumulative `le` buckets, _count and _sum are built when read.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tether::metrics {

inline constexpr std::size_t cache_line = 128;

// A total that only grows; one writer.
class counter {
public:
    // Inline always: a load and a store, which gcc otherwise left as a call on every request.
    [[gnu::always_inline]] void add(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (open connections, requests in flight); one writer. Each
// thread's own value is exact; a sum over threads is a snapshot, not a consistent cut.
class gauge {
public:
    void add(std::int64_t n = 1) noexcept { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void sub(std::int64_t n = 1) noexcept { add(-n); }
    void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> value_{0};
};

// A histogram's counts summed over threads: per bucket (the last is +Inf), not cumulative.
template <std::size_t Bounds>
struct histogram_snapshot {
    std::array<std::uint64_t, Bounds + 1> buckets{};
    std::uint64_t sum_ns = 0;

    std::uint64_t count() const noexcept {
        std::uint64_t n = 0;
        for (auto b : buckets) n += b;
        return n;
    }
};

// Buckets: a type with `static constexpr std::array<std::uint64_t, N> upper_ns`, ascending.
template <class Buckets>
class histogram {
public:
    static constexpr std::size_t bounds = Buckets::upper_ns.size();
    using snapshot = histogram_snapshot<bounds>;

    // An observation goes to the first bucket whose upper bound is >= it (the text format's `le`).
    // The bounds are few (under 20), so a linear scan from the smallest, where most observations
    // land, beats a binary search.
    void observe(std::uint64_t ns) noexcept {
        std::size_t i = 0;
        while (i < bounds && ns > Buckets::upper_ns[i]) ++i;
        buckets_[i].add();
        sum_ns_.add(ns);
    }

    void add_to(snapshot& s) const noexcept {
        for (std::size_t i = 0; i <= bounds; ++i) s.buckets[i] += buckets_[i].value();
        s.sum_ns += sum_ns_.value();
    }

private:
    std::array<counter, bounds + 1> buckets_{};
    counter sum_ns_;
};

// Request handling times: 100 µs to 10 s. The low end matters for a server that answers most
// requests in microseconds; the high end covers deferred replies and held long polls.
struct latency_buckets {
    static constexpr std::array<std::uint64_t, 16> upper_ns{
        100'000,     250'000,     500'000,       1'000'000,     2'500'000,     5'000'000,
        10'000'000,  25'000'000,  50'000'000,    100'000'000,   250'000'000,   500'000'000,
        1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
};

// How late an I/O thread's 100 ms tick fires: 1 ms and under is a healthy loop (epoll_wait's
// timeout has millisecond resolution), seconds is a handler blocking its thread.
struct loop_lag_buckets {
    static constexpr std::array<std::uint64_t, 13> upper_ns{
        1'000'000,   2'500'000,   5'000'000,     10'000'000,    25'000'000,    50'000'000,    100'000'000,
        250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
};

} // namespace tether::metrics
