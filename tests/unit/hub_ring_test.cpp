// The history ring and the shared-ownership pieces under it: payload, ref_ptr, atomic_ref_ptr.
#include "hub_test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string_view>
#include <thread>
#include <vector>

namespace hub = tether::hub;
using hub_test::counting_resource;

namespace {

hub::payload_ptr message(std::uint64_t sequence, std::pmr::memory_resource* memory = nullptr,
                         std::string_view key = {}) {
    std::string const body = "m" + std::to_string(sequence);
    std::string_view const encodings[] = {body};
    return hub::payload::make(sequence, key, encodings, memory);
}

}  // namespace

TEST_CASE("a payload holds its key and one byte string per wire format in one allocation", "[hub][payload]") {
    counting_resource memory;
    {
        std::string_view const encodings[] = {"{\"p\":1}", "", "data: {\"p\":1}\n\n"};
        auto const p = hub::payload::make(7, "EURUSD", encodings, &memory);
        CHECK(memory.live() == 1);
        CHECK(p->sequence() == 7);
        CHECK(p->key() == "EURUSD");
        REQUIRE(p->format_count() == 3);
        CHECK(p->encoded(0) == "{\"p\":1}");
        CHECK(p->encoded(1).empty());
        CHECK(p->encoded(2) == "data: {\"p\":1}\n\n");

        auto const copy = p;   // sharing never copies bytes
        CHECK(copy->encoded(0).data() == p->encoded(0).data());
        CHECK(p->use_count() == 2);
    }
    CHECK(memory.live() == 0);
}

TEST_CASE("atomic_ref_ptr keeps exact reference counts through load, exchange and compare_exchange",
          "[hub][ref_ptr]") {
    counting_resource memory;
    {
        hub::atomic_ref_ptr<hub::payload const> slot{message(1, &memory)};
        auto const a = slot.load();
        CHECK(a->use_count() == 2);   // the slot's and ours

        auto expected = hub::payload_ptr{};
        CHECK_FALSE(slot.compare_exchange(expected, message(2, &memory)));   // slot does not hold null
        CHECK(expected == a);                                                // refreshed to what it holds
        CHECK(memory.live() == 1);                                           // the rejected one is gone

        CHECK(slot.compare_exchange(expected, message(3, &memory)));
        CHECK(a->use_count() == 2);   // ours and `expected`'s; the slot let go
        CHECK(slot.load()->sequence() == 3);

        auto const old = slot.exchange(message(4, &memory));
        CHECK(old->sequence() == 3);
        CHECK(old->use_count() == 1);
    }
    CHECK(memory.live() == 0);
}

TEST_CASE("the ring's capacity must be a power of two", "[hub][ring]") {
    CHECK_THROWS_AS(hub::ring{0}, std::invalid_argument);
    CHECK_THROWS_AS(hub::ring{1}, std::invalid_argument);
    CHECK_THROWS_AS(hub::ring{12}, std::invalid_argument);
    CHECK(hub::ring{16}.capacity() == 16);
}

TEST_CASE("a ring slot reads as pending, then ready, then lapped", "[hub][ring]") {
    hub::ring ring{4};
    CHECK(ring.read(1).state == hub::ring::slot_state::pending);

    REQUIRE(ring.publish(message(1)));
    auto const r = ring.read(1);
    CHECK(r.state == hub::ring::slot_state::ready);
    CHECK(r.message->sequence() == 1);

    SECTION("a later sequence of the same slot is still pending") {
        CHECK(ring.read(5).state == hub::ring::slot_state::pending);
    }
    SECTION("once the slot is reused, the old sequence is lapped, detected in O(1)") {
        REQUIRE(ring.publish(message(5)));
        auto const lapped = ring.read(1);
        CHECK(lapped.state == hub::ring::slot_state::lapped);
        CHECK(lapped.message->sequence() == 5);
        CHECK(ring.read(5).state == hub::ring::slot_state::ready);
    }
    SECTION("a publisher that stalled a whole lap cannot move a slot backwards") {
        REQUIRE(ring.publish(message(9)));
        CHECK_FALSE(ring.publish(message(5)));
        CHECK(ring.read(9).state == hub::ring::slot_state::ready);
        CHECK(ring.read(5).state == hub::ring::slot_state::lapped);
    }
}

TEST_CASE("a message held by a reader outlives its slot being overwritten", "[hub][ring]") {
    counting_resource memory;
    hub::ring ring{2};
    REQUIRE(ring.publish(message(1, &memory)));
    auto const held = ring.read(1).message;
    REQUIRE(ring.publish(message(3, &memory)));
    REQUIRE(ring.publish(message(5, &memory)));
    CHECK(held->sequence() == 1);
    CHECK(held->encoded(0) == "m1");
    CHECK(memory.live() == 2);   // the ring's newest and our held one
}

TEST_CASE("concurrent publishers and readers on a tiny ring never lose a reference", "[hub][ring][threads]") {
    // Four publishers race for 4 slots while three readers hammer them: every read must see a whole,
    // correctly numbered message, and at the end exactly the messages still in the ring are alive.
    counting_resource memory;
    constexpr std::uint64_t per_publisher = 20'000;
    constexpr int publishers = 4;
    {
        hub::ring ring{4};
        std::atomic<std::uint64_t> next{1};
        std::atomic<bool> done{false};
        std::atomic<std::uint64_t> dropped{0};
        std::vector<std::thread> threads;
        for (int p = 0; p < publishers; ++p) {
            threads.emplace_back([&] {
                for (std::uint64_t i = 0; i < per_publisher; ++i) {
                    auto const s = next.fetch_add(1, std::memory_order_relaxed);
                    if (!ring.publish(message(s, &memory))) dropped.fetch_add(1, std::memory_order_relaxed);
                }
            });
        }
        std::atomic<std::uint64_t> bad{0};
        for (int r = 0; r < 3; ++r) {
            threads.emplace_back([&] {
                std::uint64_t s = 1;
                while (!done.load(std::memory_order_acquire)) {
                    auto const found = ring.read(s);
                    if (found.message && found.message->encoded(0) != "m" + std::to_string(found.message->sequence())) {
                        bad.fetch_add(1, std::memory_order_relaxed);
                    }
                    if (found.state == hub::ring::slot_state::ready) {
                        ++s;
                    } else if (found.state == hub::ring::slot_state::lapped) {
                        s = found.message->sequence();
                    }
                }
            });
        }
        for (int p = 0; p < publishers; ++p) threads[static_cast<std::size_t>(p)].join();
        done.store(true, std::memory_order_release);
        for (auto& t : threads) {
            if (t.joinable()) t.join();
        }
        CHECK(bad.load() == 0);
        CHECK(memory.total() == publishers * per_publisher);
        CHECK(memory.live() == 4);
    }
    CHECK(memory.live() == 0);
}
