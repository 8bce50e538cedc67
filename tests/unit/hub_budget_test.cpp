// A topic's history bounded in bytes (its own budget and a shared one), and wire formats encoded only
// when someone reads them.
#include "hub_test_support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace hub = tether::hub;
using namespace hub_test;

namespace {

using group = hub::reader_group<recording_delivery, hub::backpressure::drop_oldest>;

std::vector<hub::wire_format> counted_formats(int& encodes_a, int& encodes_b) {
    return {{"a", [&](hub::encode_input const& in, std::string& out) { ++encodes_a; out.append(in.body); }},
            {"b", [&](hub::encode_input const& in, std::string& out) {
                 ++encodes_b;
                 out.append("<").append(in.body).append(">");
             }}};
}

}  // namespace

TEST_CASE("history is bounded in bytes: the oldest messages are evicted and read as lapped", "[hub][budget]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{hub::raw_format()},
                                              hub::topic_options{.capacity = 1024, .max_bytes = 100'000});
    std::string body(1000, 'x');
    for (int i = 0; i < 500; ++i) topic->publish(body);
    // Each message is charged its block (header + 1,000 bytes): about a hundred fit.
    CHECK(topic->history_bytes() <= 100'000);
    CHECK(topic->history_bytes() > 90'000);
    auto const oldest = topic->oldest_retained();
    CHECK(oldest > 400);
    CHECK(oldest < 420);
    CHECK(topic->read(oldest - 1).state == hub::ring::slot_state::lapped);
    CHECK(topic->read(oldest).state == hub::ring::slot_state::ready);
    CHECK(topic->read(500).state == hub::ring::slot_state::ready);
    // A cursor below the floor cannot be resumed; one above it can.
    CHECK_FALSE(topic->resume(hub::cursor{topic->epoch(), oldest - 2}).recovered);
    CHECK(topic->resume(hub::cursor{topic->epoch(), oldest}).recovered);
}

TEST_CASE("evicted messages free their memory at once", "[hub][budget]") {
    counting_resource memory;
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{hub::raw_format()},
                                              hub::topic_options{.capacity = 4096, .memory = &memory, .max_bytes = 50'000});
    std::string body(1000, 'x');
    for (int i = 0; i < 2000; ++i) topic->publish(body);
    CHECK(memory.live() <= 50);   // ~48 messages fit the budget; the ring alone would keep 2,000
}

TEST_CASE("the newest message is kept even when it alone exceeds the budget", "[hub][budget]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{hub::raw_format()},
                                              hub::topic_options{.capacity = 16, .max_bytes = 100});
    topic->publish(std::string(1000, 'a'));
    topic->publish(std::string(1000, 'b'));
    CHECK(topic->read(1).state == hub::ring::slot_state::lapped);
    REQUIRE(topic->read(2).state == hub::ring::slot_state::ready);
    CHECK(topic->read(2).message->encoded(0) == std::string(1000, 'b'));
}

TEST_CASE("a shared budget bounds several topics together", "[hub][budget]") {
    auto shared = std::make_shared<hub::history_budget>(60'000);
    auto options = hub::topic_options{.capacity = 1024, .shared_budget = shared};
    auto a = std::make_shared<hub::topic>("a", std::vector<hub::wire_format>{hub::raw_format()}, options);
    auto b = std::make_shared<hub::topic>("b", std::vector<hub::wire_format>{hub::raw_format()}, options);
    std::string body(1000, 'x');
    for (int i = 0; i < 200; ++i) {
        a->publish(body);
        b->publish(body);
    }
    CHECK(shared->used.load() <= 60'000 + 2'000);
    CHECK(shared->used.load() == a->history_bytes() + b->history_bytes());
    b.reset();   // a topic going away gives its share back
    CHECK(shared->used.load() == a->history_bytes());
}

TEST_CASE("a ring lap gives back exactly what the overwritten message was charged", "[hub][budget]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{hub::raw_format()},
                                              hub::topic_options{.capacity = 8});
    for (int i = 0; i < 100; ++i) topic->publish(std::string(100, 'x'));
    auto const one = topic->read(100).message->allocated_bytes();
    CHECK(topic->history_bytes() == static_cast<std::int64_t>(8 * one));
}

TEST_CASE("lazy formats: only formats with subscribers are encoded at publish", "[hub][lazy]") {
    int encodes_a = 0, encodes_b = 0;
    auto topic = std::make_shared<hub::topic>("t", counted_formats(encodes_a, encodes_b),
                                              hub::topic_options{.capacity = 64, .lazy_formats = true});
    topic->publish("one");   // nobody subscribed: no format encoded, the body is kept
    CHECK(encodes_a == 0);
    CHECK(encodes_b == 0);
    manual_loop loop;
    group readers{topic, loop.waker()};
    recording_subscriber reader_a{0, 1 << 20};
    readers.subscribe(reader_a);
    topic->publish("two");
    loop.run();
    CHECK(encodes_a == 1);   // "a" has a subscriber now
    CHECK(encodes_b == 0);
    REQUIRE(reader_a.bodies.size() == 1);
    CHECK(reader_a.bodies[0] == "two");

    // A replay in format "b" builds it once, for the messages asked, and shares it after.
    recording_subscriber reader_b{1, 1 << 20};
    readers.subscribe(reader_b, 1);
    loop.run();
    CHECK(reader_b.bodies == std::vector<std::string>{"<one>", "<two>"});
    CHECK(encodes_b == 2);
    CHECK(topic->encoding(*topic->read(1).message, 1) == "<one>");
    CHECK(encodes_b == 2);
    // Unsubscribed: no longer encoded at publish.
    readers.unsubscribe(reader_a);
    readers.unsubscribe(reader_b);
    topic->publish("three");
    CHECK(encodes_a == 1);
    CHECK(encodes_b == 2);
    CHECK(topic->subscribers_by_format()[0].load() == 0);
}

TEST_CASE("a lazily built encoding is charged to the history and given back with the message", "[hub][lazy]") {
    int encodes_a = 0, encodes_b = 0;
    auto topic = std::make_shared<hub::topic>("t", counted_formats(encodes_a, encodes_b),
                                              hub::topic_options{.capacity = 4, .lazy_formats = true});
    topic->publish(std::string(100, 'x'));
    auto const before = topic->history_bytes();
    auto message = topic->read(1).message;
    auto built = topic->encoding(*message, 1);
    CHECK(built.size() == 102);
    CHECK(topic->history_bytes() > before + 100);
    for (int i = 0; i < 4; ++i) topic->publish("y");   // laps message 1 out of the ring
    auto const one_small = topic->read(5).message->allocated_bytes();
    CHECK(topic->history_bytes() == static_cast<std::int64_t>(4 * one_small));
    // Built after it left the history: shared with whoever holds it, charged to nobody.
    auto late = topic->encoding(*message, 0);
    CHECK(late.size() == 100);
    CHECK(topic->history_bytes() == static_cast<std::int64_t>(4 * one_small));
}

TEST_CASE("concurrent publishers under a byte budget keep the charge exact", "[hub][budget]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{hub::raw_format()},
                                              hub::topic_options{.capacity = 256, .max_bytes = 20'000, .lazy_formats = true});
    std::vector<std::thread> publishers;
    for (int t = 0; t < 4; ++t)
        publishers.emplace_back([&] {
            std::string body(300, 'p');
            for (int i = 0; i < 5000; ++i) topic->publish(body);
        });
    std::thread reader([&] {
        for (int i = 0; i < 20000; ++i) {
            if (auto latest = topic->latest()) (void)topic->encoding(*latest, 0);
        }
    });
    for (auto& p : publishers) p.join();
    reader.join();
    // Whatever interleaving happened, the charge equals what the retained messages hold.
    std::int64_t held = 0;
    for (auto s = topic->oldest_retained(); s < topic->next_sequence(); ++s)
        if (auto r = topic->read(s); r.state == hub::ring::slot_state::ready) held += static_cast<std::int64_t>(r.message->allocated_bytes());
    CHECK(topic->history_bytes() == held);
    CHECK(held <= 20'000 + 1'000);
}
