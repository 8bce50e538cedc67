#pragma once
// Shared by the hub tests: a subscriber that records what it was given, the delivery hooks that fill it, a
// single-threaded stand-in for an I/O thread's queue, and a memory resource that counts live messages.
#include "tether/hub/hub.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hub_test {

namespace hub = tether::hub;

struct gap {
    std::uint64_t first;
    std::uint64_t last;
    friend bool operator==(gap const&, gap const&) = default;
};

/// A connection, as far as the hub is concerned: what it received, in order, and what it still has to write.
struct recording_subscriber : hub::subscriber {
    using hub::subscriber::subscriber;
    std::vector<std::uint64_t> received;          // sequences, in delivery order
    std::vector<std::string> bodies;              // the bytes of its format, in delivery order
    std::vector<gap> gaps;
    std::vector<std::uint64_t> gap_positions;     // received.size() when each gap was reported
    std::optional<hub::disconnect_reason> closed;
    std::vector<hub::payload_ptr> unwritten;      // the "socket buffer"
    std::size_t unwritten_bytes = 0;
};

struct recording_delivery {
    void deliver(hub::subscriber& s, hub::payload_ptr const& message) {
        auto& r = static_cast<recording_subscriber&>(s);
        r.received.push_back(message->sequence());
        r.bodies.emplace_back(message->encoded(s.format()));
        r.unwritten_bytes += message->encoded(s.format()).size();
        r.unwritten.push_back(message);
    }
    void missed(hub::subscriber& s, std::uint64_t first, std::uint64_t last) {
        auto& r = static_cast<recording_subscriber&>(s);
        r.gaps.push_back({first, last});
        r.gap_positions.push_back(r.received.size());
    }
    void disconnect(hub::subscriber& s, hub::disconnect_reason reason) {
        static_cast<recording_subscriber&>(s).closed = reason;
    }
};

/// "The socket wrote everything": hands the budget back to the group.
template <class Group>
void write_all(Group& group, recording_subscriber& s) {
    auto const bytes = std::exchange(s.unwritten_bytes, 0);
    s.unwritten.clear();
    group.written(s, bytes);
}

/// A single-threaded I/O loop: the wake callable queues drain requests, run() executes them.
struct manual_loop {
    std::vector<hub::drain_request> queue;
    int wakes = 0;

    hub::wake_function waker() {
        return [this](hub::drain_request request) {
            ++wakes;
            queue.push_back(std::move(request));
        };
    }
    void run() {
        while (!queue.empty()) {
            auto batch = std::move(queue);
            queue.clear();
            for (auto& request : batch) request();
        }
    }
};

/// Counts allocations that are still alive (thread-safe), to prove memory stays bounded.
class counting_resource : public std::pmr::memory_resource {
public:
    std::size_t live() const noexcept { return live_.load(std::memory_order_relaxed); }
    std::size_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }
    std::size_t total() const noexcept { return total_.load(std::memory_order_relaxed); }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        auto const now = live_.fetch_add(1, std::memory_order_relaxed) + 1;
        total_.fetch_add(1, std::memory_order_relaxed);
        auto seen = peak_.load(std::memory_order_relaxed);
        while (now > seen && !peak_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
        }
        return std::pmr::new_delete_resource()->allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        live_.fetch_sub(1, std::memory_order_relaxed);
        std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
    }
    bool do_is_equal(std::pmr::memory_resource const& other) const noexcept override { return this == &other; }

    std::atomic<std::size_t> live_{0};
    std::atomic<std::size_t> peak_{0};
    std::atomic<std::size_t> total_{0};
};

/// Two formats, to check that each subscriber gets its own: the body as is, and the body in brackets.
inline std::vector<hub::wire_format> two_formats() {
    return {hub::raw_format("raw"),
            {"bracketed", [](hub::encode_input const& in, std::string& out) {
                 out += '[';
                 out.append(in.body);
                 out += ']';
             }}};
}

}  // namespace hub_test
