// net::output_queue, the write queue of WebSocket and SSE connections: owned and shared bytes leave in queue
// order through any split of partial writes, each tag gets back exactly the shared bytes it queued once they are
// fully written, a window of messages leaves in one gather write, and queued messages are released as written.
#include "hub_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tether/net/output_queue.hpp>

namespace hub = tether::hub;
using tether::net::output_queue;

namespace {

// A socket that takes at most `limit` bytes per call and `room` bytes in all (then it is full: would_block),
// and keeps what it took.
struct fake_socket {
    std::size_t limit = static_cast<std::size_t>(-1);
    std::size_t room = static_cast<std::size_t>(-1);
    std::string received;
    std::vector<std::size_t> gathered;   // buffers handed to each call
};

struct fake_transport {
    static std::size_t write_some(fake_socket& s, std::span<const asio::const_buffer> buffers, std::error_code& ec) {
        s.gathered.push_back(buffers.size());
        std::size_t const most = std::min(s.limit, s.room);
        if (most == 0) {
            ec = asio::error::would_block;
            return 0;
        }
        ec.clear();
        std::size_t taken = 0;
        for (auto const& b : buffers) {
            std::size_t const n = std::min(b.size(), most - taken);
            s.received.append(static_cast<char const*>(b.data()), n);
            taken += n;
            if (taken == most) break;
        }
        s.room -= taken;
        return taken;
    }
};

hub::payload_ptr message(std::uint64_t sequence, std::string_view bytes, std::pmr::memory_resource* memory) {
    std::string_view const encodings[] = {bytes};
    return hub::payload::make(sequence, {}, encodings, memory);
}

}  // namespace

TEST_CASE("output_queue writes owned and shared bytes in queue order through every split, and gives each tag its "
          "shared bytes back once written", "[net][output_queue]") {
    hub_test::counting_resource memory;
    int tags[3];
    for (std::size_t limit : {1u, 3u, 7u, 64u, 1000u}) {
        CAPTURE(limit);
        output_queue queue;
        std::string expected;
        std::map<void*, std::size_t> queued, given_back;
        fake_socket socket;
        socket.limit = limit;
        auto on_written = [&](void* tag, std::size_t n) { given_back[tag] += n; };
        for (std::uint64_t i = 1; i <= 300; ++i) {
            // Owned frames of several sizes (coalescing into the tail), and shared messages with three tags.
            if (i % 3 == 0) {
                std::string own(i % 11 + 1, static_cast<char>('a' + i % 26));
                if (i % 2) queue.append(own);
                else queue.append_with([&](std::string& out) { out += own; });
                expected += own;
            }
            std::string body(i % 17 + 1, static_cast<char>('A' + i % 26));
            void* tag = &tags[i % 3];
            auto m = message(i, body, &memory);
            queue.append_shared(m, m->encoded(0), tag);
            expected += body;
            queued[tag] += body.size();
            if (i % 5 == 0) {   // a write now and then, `limit` bytes per call, splitting segments
                auto const ec = queue.write<fake_transport>(socket, on_written);
                CHECK_FALSE(ec);
            }
        }
        // Drain completely with this limit (the fake socket never fills: write returns when empty).
        auto const ec = queue.write<fake_transport>(socket, on_written);
        CHECK_FALSE(ec);
        CHECK(socket.received == expected);
        CHECK(queue.empty());
        CHECK(given_back == queued);
        CHECK(memory.live() == 0);   // every queued message was released once written
        for (auto n : socket.gathered) CHECK(n <= output_queue::max_gather);
    }
}

TEST_CASE("output_queue reports a tag's bytes only when its segments are fully written", "[net][output_queue]") {
    output_queue queue;
    int a = 0, b = 0;
    auto m1 = message(1, "0123456789", nullptr);
    auto m2 = message(2, "abcdefghij", nullptr);
    queue.append("hdr");
    queue.append_shared(m1, m1->encoded(0), &a);
    queue.append_shared(m2, m2->encoded(0), &b);
    std::map<void*, std::size_t> given_back;
    auto on_written = [&](void* tag, std::size_t n) { given_back[tag] += n; };
    fake_socket socket;
    socket.limit = 12;   // 12 bytes per call: every segment is split once
    CHECK_FALSE(queue.write<fake_transport>(socket, on_written));
    CHECK(socket.received == "hdr0123456789abcdefghij");
    CHECK(given_back[&a] == 10);
    CHECK(given_back[&b] == 10);

    output_queue partial;
    partial.append_shared(m1, m1->encoded(0), &a);
    partial.append_shared(m2, m2->encoded(0), &b);
    given_back.clear();
    fake_socket stuck;
    stuck.room = 9;   // then the socket is full
    CHECK(partial.write<fake_transport>(stuck, on_written) == asio::error::would_block);
    CHECK(given_back.empty());   // m1 is one byte short
    CHECK(partial.size() == 11);
    stuck.room = 1;
    CHECK(partial.write<fake_transport>(stuck, on_written) == asio::error::would_block);
    CHECK(given_back[&a] == 10);
    CHECK(given_back.count(&b) == 0);
    stuck.room = 100;
    CHECK_FALSE(partial.write<fake_transport>(stuck, on_written));
    CHECK(given_back[&b] == 10);
    CHECK(stuck.received == "0123456789abcdefghij");
}

TEST_CASE("output_queue sends a window of 64 queued messages in one gather write", "[net][output_queue]") {
    output_queue queue;
    int tag = 0;
    std::vector<hub::payload_ptr> messages;
    for (std::uint64_t i = 1; i <= 64; ++i) {
        messages.push_back(message(i, std::string(64, 'x'), nullptr));
        queue.append_shared(messages.back(), messages.back()->encoded(0), &tag);
    }
    std::size_t calls = 0, reported = 0;
    fake_socket socket;
    CHECK_FALSE(queue.write<fake_transport>(socket, [&](void*, std::size_t n) {
        ++calls;
        reported += n;
    }));
    CHECK(socket.gathered == std::vector<std::size_t>{64});
    CHECK(calls == 1);   // one run of one tag: reported once, with the total
    CHECK(reported == 64 * 64);
}

TEST_CASE("output_queue that never quite drains keeps order and releases what it wrote", "[net][output_queue]") {
    hub_test::counting_resource memory;
    output_queue queue;
    int tag = 0;
    std::string expected;
    std::size_t given_back = 0, queued = 0;
    fake_socket socket;
    auto on_written = [&](void*, std::size_t n) { given_back += n; };
    for (std::uint64_t i = 1; i <= 3000; ++i) {
        std::string body(i % 29 + 1, static_cast<char>('a' + i % 26));
        auto m = message(i, body, &memory);
        queue.append_shared(m, m->encoded(0), &tag);
        queue.append(body);   // and an owned copy, so both the segment array and the owned bytes grow
        expected += body;
        expected += body;
        queued += body.size();
        // Write all but the last 5 bytes: the queue holds something at every step.
        socket.room = queue.size() > 5 ? queue.size() - 5 : 0;
        if (socket.room != 0) CHECK(queue.write<fake_transport>(socket, on_written) == asio::error::would_block);
        CHECK(queue.size() == std::min<std::size_t>(expected.size(), 5));
        CHECK(memory.live() <= 2);   // only the message(s) still partly queued are alive
    }
    socket.room = static_cast<std::size_t>(-1);
    CHECK_FALSE(queue.write<fake_transport>(socket, on_written));
    CHECK(socket.received == expected);
    CHECK(given_back == queued);
    CHECK(memory.live() == 0);
}

TEST_CASE("output_queue::clear reports every tag and releases every message", "[net][output_queue]") {
    hub_test::counting_resource memory;
    output_queue queue;
    int a = 0, b = 0;
    std::map<void*, std::size_t> given_back;
    {
        auto m1 = message(1, "first", &memory);
        auto m2 = message(2, "second", &memory);
        queue.append_shared(m1, m1->encoded(0), &a);
        queue.append("own");
        queue.append_shared(m2, m2->encoded(0), &b);
    }
    CHECK(memory.live() == 2);
    queue.clear([&](void* tag, std::size_t n) { given_back[tag] += n; });
    CHECK(queue.empty());
    CHECK(memory.live() == 0);
    CHECK(given_back == std::map<void*, std::size_t>{{&a, 5}, {&b, 6}});
    queue.release_memory();
    queue.append("again");   // usable after clear and release
    fake_socket socket;
    CHECK_FALSE(queue.write<fake_transport>(socket, [](void*, std::size_t) {}));
    CHECK(socket.received == "again");
}
