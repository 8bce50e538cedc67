// Topics, reader groups and the backpressure policies, driven on one thread by a manual I/O loop.
#include "hub_test_support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub = tether::hub;
using namespace hub_test;

namespace {

template <class Policy>
using group = hub::reader_group<recording_delivery, Policy>;

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> out;
    for (auto s = first; s <= last; ++s) out.push_back(s);
    return out;
}

void publish_n(hub::topic& topic, int n, std::string const& body = "0123456789") {
    for (int i = 0; i < n; ++i) topic.publish(body);
}

// One format whose encoder throws on the body "bad", so that publishing it leaves a tombstone.
std::vector<hub::wire_format> picky_formats() {
    return {{"picky", [](hub::encode_input const& in, std::string& out) {
                 if (in.body == "bad") throw std::runtime_error("cannot encode");
                 out.append(in.body);
             }}};
}

// Sequences 1 and 3 published, 2 a tombstone.
void publish_good_bad_good(hub::topic& topic) {
    topic.publish("good");
    CHECK_THROWS_AS(topic.publish("bad"), std::runtime_error);
    topic.publish("good");
}

}  // namespace

TEST_CASE("publish encodes once per wire format, whatever the number of subscribers", "[hub][topic]") {
    int encodes = 0;
    std::vector<hub::wire_format> formats{
        {"counted", [&](hub::encode_input const& in, std::string& out) { ++encodes; out.append(in.body); }}};
    auto topic = std::make_shared<hub::topic>("t", formats);
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    std::vector<std::unique_ptr<recording_subscriber>> subscribers;
    for (int i = 0; i < 100; ++i) {
        subscribers.push_back(std::make_unique<recording_subscriber>(0, 1 << 20));
        readers.subscribe(*subscribers.back());
    }
    publish_n(*topic, 3);
    loop.run();
    CHECK(encodes == 3);
    for (auto& s : subscribers) CHECK(s->received == range(1, 3));
    CHECK(topic->stats().delivered == 300);
}

TEST_CASE("every subscriber is handed the same shared bytes, in its own format", "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t", two_formats());
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber raw_a{0, 1024}, raw_b{0, 1024}, bracketed{1, 1024};
    for (auto* s : {&raw_a, &raw_b, &bracketed}) readers.subscribe(*s);
    topic->publish("hello");
    loop.run();
    REQUIRE(raw_a.unwritten.size() == 1);
    CHECK(raw_a.unwritten[0].get() == raw_b.unwritten[0].get());
    CHECK(raw_a.unwritten[0].get() == bracketed.unwritten[0].get());
    CHECK(raw_a.bodies == std::vector<std::string>{"hello"});
    CHECK(bracketed.bodies == std::vector<std::string>{"[hello]"});
}

TEST_CASE("a burst of publishes wakes each reader group once", "[hub][topic][wake]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop first, second;
    group<hub::backpressure::drop_oldest> a{topic, first.waker()}, b{topic, second.waker()};
    recording_subscriber sa{0, 1 << 20}, sb{0, 1 << 20};
    a.subscribe(sa);
    b.subscribe(sb);

    publish_n(*topic, 50);
    CHECK(first.wakes == 1);
    CHECK(second.wakes == 1);
    first.run();
    second.run();
    CHECK(sa.received == range(1, 50));
    CHECK(sb.received == range(1, 50));

    topic->publish("again");   // drained: the flag is clear, so this wakes again
    CHECK(first.wakes == 2);
}

TEST_CASE("a live subscription starts with the next message", "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    publish_n(*topic, 3);
    recording_subscriber s{0, 1024};
    readers.subscribe(s);   // before the group even drained 1..3
    publish_n(*topic, 2);
    loop.run();
    CHECK(s.received == range(4, 5));
}

TEST_CASE("a replay from a resumed cursor delivers exactly the missed messages, then live ones",
          "[hub][topic][resume]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 16});
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    publish_n(*topic, 10);
    loop.run();

    auto const resumed = topic->resume(hub::cursor{topic->epoch(), 6});
    REQUIRE(resumed.recovered);
    recording_subscriber s{0, 1 << 20};
    readers.subscribe(s, resumed.from);
    publish_n(*topic, 2);
    loop.run();
    CHECK(s.received == range(7, 12));
    CHECK(s.gaps.empty());
}

TEST_CASE("the byte budget is strict: a full subscriber is parked, loses nothing while the ring holds, "
          "and resumes when its writes complete",
          "[hub][topic][budget]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 64});
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber slow{0, 35};   // room for three 10-byte messages, not four
    recording_subscriber fast{0, 1 << 20};
    readers.subscribe(slow);
    readers.subscribe(fast);

    publish_n(*topic, 10);
    loop.run();
    CHECK(slow.received == range(1, 3));
    CHECK(slow.pending_bytes() == 30);
    CHECK(slow.state() == hub::subscriber_state::parked);
    CHECK(fast.received == range(1, 10));   // one slow subscriber holds back no one

    write_all(readers, slow);
    loop.run();
    CHECK(slow.received == range(1, 6));
    CHECK(slow.pending_bytes() <= slow.byte_budget());

    while (slow.received.size() < 10) {
        write_all(readers, slow);
        loop.run();
    }
    CHECK(slow.received == range(1, 10));
    CHECK(slow.gaps.empty());
    write_all(readers, slow);
    loop.run();
    CHECK(slow.state() == hub::subscriber_state::live);
}

TEST_CASE("drop_oldest tells a lapped subscriber exactly which sequences it missed", "[hub][topic][drop_oldest]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 8});
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber s{0, 10};   // one message at a time
    readers.subscribe(s);

    for (int i = 0; i < 30; ++i) {   // the I/O thread keeps up; the subscriber's socket does not
        topic->publish("0123456789");
        loop.run();
    }
    REQUIRE(s.received == range(1, 1));
    write_all(readers, s);   // the ring now holds 23..30: 2..22 are gone
    loop.run();
    REQUIRE(s.gaps == std::vector<gap>{{2, 22}});
    CHECK(s.gap_positions == std::vector<std::size_t>{1});   // reported before 23 was delivered
    while (s.received.size() < 9) {
        write_all(readers, s);
        loop.run();
    }
    std::vector<std::uint64_t> expected{1};
    for (auto q : range(23, 30)) expected.push_back(q);
    CHECK(s.received == expected);
    CHECK(topic->stats().dropped == 21);
}

TEST_CASE("a reader group that falls a whole ring behind reports the same exact gap to all its live "
          "subscribers",
          "[hub][topic][drop_oldest]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 4});
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber a{0, 1 << 20}, b{0, 1 << 20};
    readers.subscribe(a);
    readers.subscribe(b);
    publish_n(*topic, 10);   // the I/O thread was busy: the ring holds 7..10 only
    loop.run();
    for (auto* s : {&a, &b}) {
        CHECK(s->gaps == std::vector<gap>{{1, 6}});
        CHECK(s->received == range(7, 10));
    }
}

TEST_CASE("a replay that the ring overwrites before it is sent is reported, never silently partial",
          "[hub][topic][resume]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 8});
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    publish_n(*topic, 4);
    loop.run();
    auto const resumed = topic->resume(hub::cursor{topic->epoch(), 1});
    REQUIRE(resumed.recovered);
    recording_subscriber s{0, 1 << 20};
    readers.subscribe(s, resumed.from);   // wants 2.., but before the drain runs:
    publish_n(*topic, 8);                 // 1..12 published, ring holds 5..12
    loop.run();
    CHECK(s.gaps == std::vector<gap>{{2, 4}});
    CHECK(s.received == range(5, 12));
}

TEST_CASE("conflate gives a resuming subscriber only the latest value per key, in sequence order",
          "[hub][topic][conflate]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    group<hub::backpressure::conflate> readers{topic, loop.waker()};
    recording_subscriber s{0, 8};   // room for exactly one 8-byte message
    readers.subscribe(s);

    topic->publish("EURUSD:1", "EURUSD");   // 1: delivered, fills the budget
    topic->publish("EURUSD:2", "EURUSD");   // 2: superseded by 5
    topic->publish("GBPUSD:1", "GBPUSD");   // 3: latest for GBPUSD
    topic->publish("USDJPY:1", "USDJPY");   // 4: superseded by 6
    topic->publish("EURUSD:3", "EURUSD");   // 5: latest for EURUSD
    topic->publish("USDJPY:2", "USDJPY");   // 6: latest for USDJPY
    loop.run();
    REQUIRE(s.received == std::vector<std::uint64_t>{1});

    std::vector<std::string> seen{s.bodies};
    while (s.received.size() < 4) {
        write_all(readers, s);
        loop.run();
    }
    CHECK(s.received == std::vector<std::uint64_t>{1, 3, 5, 6});
    CHECK(s.bodies == std::vector<std::string>{"EURUSD:1", "GBPUSD:1", "EURUSD:3", "USDJPY:2"});
    CHECK(s.gaps.empty());
    CHECK(readers.conflated_keys() == 3);

    write_all(readers, s);
    loop.run();
    topic->publish("GBPUSD:2", "GBPUSD");   // caught up again: live messages are not conflated
    loop.run();
    CHECK(s.received.back() == 7);
}

TEST_CASE("conflate replays the latest value of every key from a resumed cursor", "[hub][topic][conflate]") {
    auto topic = std::make_shared<hub::topic>("t");
    topic->publish("a1", "a");
    topic->publish("b1", "b");
    topic->publish("a2", "a");
    manual_loop loop;
    group<hub::backpressure::conflate> readers{topic, loop.waker()};   // created after the publishes
    loop.run();
    recording_subscriber s{0, 1 << 20};
    readers.subscribe(s, topic->resume(hub::cursor{topic->epoch(), 0}).from);
    loop.run();
    CHECK(s.bodies == std::vector<std::string>{"b1", "a2"});
}

TEST_CASE("disconnect cuts off a subscriber whose budget a live message would exceed", "[hub][topic][disconnect]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    group<hub::backpressure::disconnect> readers{topic, loop.waker()};
    recording_subscriber slow{0, 25}, fast{0, 1 << 20};
    readers.subscribe(slow);
    readers.subscribe(fast);
    publish_n(*topic, 5);
    loop.run();
    CHECK(slow.received == range(1, 2));
    CHECK(slow.closed == hub::disconnect_reason::budget_exceeded);
    CHECK_FALSE(slow.subscribed());
    CHECK(fast.received == range(1, 5));
    CHECK(topic->stats().disconnected == 1);
}

TEST_CASE("disconnect cuts off a subscriber sent a message larger than its whole budget",
          "[hub][topic][disconnect]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    group<hub::backpressure::disconnect> readers{topic, loop.waker()};
    recording_subscriber s{0, 4};
    readers.subscribe(s);
    topic->publish("too large");
    loop.run();
    CHECK(s.received.empty());
    CHECK(s.closed == hub::disconnect_reason::message_too_large);
}

TEST_CASE("under drop_oldest a message larger than the budget is reported missed", "[hub][topic][drop_oldest]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber s{0, 4};
    readers.subscribe(s);
    topic->publish("ok");
    topic->publish("too large");
    topic->publish("ok");
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{1, 3});
    CHECK(s.gaps == std::vector<gap>{{2, 2}});
}

TEST_CASE("disconnect cuts off a replaying subscriber that the ring laps", "[hub][topic][disconnect]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 4});
    manual_loop loop;
    group<hub::backpressure::disconnect> readers{topic, loop.waker()};
    publish_n(*topic, 4);
    loop.run();
    recording_subscriber s{0, 1 << 20};
    readers.subscribe(s, topic->resume(hub::cursor{topic->epoch(), 0}).from);
    publish_n(*topic, 4);   // overwrites 1..4 before the replay runs
    loop.run();
    CHECK(s.received.empty());
    CHECK(s.closed == hub::disconnect_reason::lapped);
}

namespace {
// Hooks that unsubscribe: one subscriber leaves after its first message, and takes its neighbour with it.
struct leaving_delivery : recording_delivery {
    hub::reader_group<leaving_delivery, hub::backpressure::drop_oldest>* group = nullptr;
    hub::subscriber* leaver = nullptr;
    hub::subscriber* neighbour = nullptr;
    void deliver(hub::subscriber& s, hub::payload_ptr const& message) {
        recording_delivery::deliver(s, message);
        if (&s == leaver) {
            group->unsubscribe(*neighbour);
            group->unsubscribe(s);
        }
        group->written(s, message->encoded(0).size());   // an in-memory transport writes at once
    }
};
}  // namespace

TEST_CASE("delivery hooks may unsubscribe the current and the next subscriber mid-walk", "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    hub::reader_group<leaving_delivery, hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    readers.delivery().group = &readers;
    recording_subscriber first{0, 100}, second{0, 100}, third{0, 100};
    readers.delivery().leaver = &first;
    readers.delivery().neighbour = &second;
    for (auto* s : {&first, &second, &third}) readers.subscribe(*s);
    publish_n(*topic, 2);
    loop.run();
    CHECK(first.received == range(1, 1));
    CHECK(second.received.empty());
    CHECK_FALSE(second.subscribed());
    CHECK(third.received == range(1, 2));   // in-memory writes keep it under budget
}

TEST_CASE("a subscriber that is destroyed leaves its group", "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    {
        recording_subscriber s{0, 100};
        readers.subscribe(s);
    }
    publish_n(*topic, 2);
    loop.run();   // would touch freed memory if the subscriber had stayed linked (ASan checks this)
    CHECK(readers.position() == 3);
}

TEST_CASE("a destroyed reader group is never woken again, and its queued drain does nothing", "[hub][topic][wake]") {
    auto topic = std::make_shared<hub::topic>("t");
    manual_loop loop;
    {
        group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
        topic->publish("x");
        CHECK(loop.wakes == 1);
    }
    loop.run();   // the queued drain_request outlived its group
    topic->publish("y");
    CHECK(loop.wakes == 1);
}

TEST_CASE("a message whose encoder throws is reported missed instead of stalling readers", "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t", picky_formats());
    manual_loop loop;
    group<hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber s{0, 100};
    readers.subscribe(s);
    publish_good_bad_good(*topic);
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{1, 3});
    CHECK(s.gaps == std::vector<gap>{{2, 2}});
}

TEST_CASE("latest() is the newest published message, for short polling", "[hub][topic]") {
    hub::topic topic{"t", {}, {.capacity = 4}};
    CHECK_FALSE(topic.latest());
    topic.publish("a");
    topic.publish("b");
    REQUIRE(topic.latest());
    CHECK(topic.latest()->encoded(0) == "b");
    CHECK(topic.latest()->sequence() == 2);
}

TEST_CASE("the registry opens each topic once and finds it by name", "[hub][registry]") {
    hub::registry hub{two_formats(), {.capacity = 16}};
    CHECK_FALSE(hub.find("prices"));
    auto const a = hub.open("prices");
    auto const b = hub.open("prices");
    CHECK(a == b);
    CHECK(hub.find("prices") == a);
    CHECK(a->capacity() == 16);
    CHECK(a->format_index("bracketed") == 1);
    CHECK(hub.open("news") != a);
    CHECK(hub.size() == 2);
    CHECK(hub.open("news")->epoch() != a->epoch());
}

namespace {
// A transport that takes the bytes the group looked up (deliver with three arguments).
struct bytes_delivery : recording_delivery {
    std::vector<std::string> handed;   // what the group handed over, in delivery order
    std::size_t mismatches = 0;        // handed bytes that were not the subscriber's own format
    void deliver(hub::subscriber& s, hub::payload_ptr const& message, std::string_view bytes) {
        if (bytes != message->encoded(s.format()) || bytes.data() != message->encoded(s.format()).data()) ++mismatches;
        handed.emplace_back(bytes);
        recording_delivery::deliver(s, message);
    }
};
}  // namespace

TEST_CASE("a group hands each subscriber its own format's shared bytes, looked up once per format and message",
          "[hub][topic]") {
    int encodes = 0;
    std::vector<hub::wire_format> formats{
        hub::raw_format("raw"),
        {"lazy", [&](hub::encode_input const& in, std::string& out) {
             ++encodes;
             out += '<';
             out.append(in.body);
             out += '>';
         }}};
    auto topic = std::make_shared<hub::topic>("t", formats, hub::topic_options{.capacity = 64, .lazy_formats = true});
    manual_loop loop;
    hub::reader_group<bytes_delivery, hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    // Formats interleaved in the walk, so the group's per-message lookup switches format back and forth.
    std::vector<std::unique_ptr<recording_subscriber>> subscribers;
    for (int i = 0; i < 6; ++i) {
        subscribers.push_back(std::make_unique<recording_subscriber>(static_cast<std::size_t>(i % 2), 1 << 20));
        readers.subscribe(*subscribers.back());
    }
    topic->publish("a");
    topic->publish("b");
    loop.run();
    CHECK(readers.delivery().mismatches == 0);
    CHECK(readers.delivery().handed.size() == 12);
    CHECK(encodes == 2);   // the lazy format is built once per message, however many subscribers read it
    for (int i = 0; i < 6; ++i) {
        CHECK(subscribers[i]->received == range(1, 2));
        CHECK(subscribers[i]->bodies ==
              (i % 2 ? std::vector<std::string>{"<a>", "<b>"} : std::vector<std::string>{"a", "b"}));
    }
}

namespace {
// Throws once, on the chosen subscriber's first delivery of the chosen sequence.
struct throwing_delivery : recording_delivery {
    hub::subscriber* victim = nullptr;
    std::uint64_t at = 0;
    bool thrown = false;
    void deliver(hub::subscriber& s, hub::payload_ptr const& message) {
        if (&s == victim && message->sequence() == at && !thrown) {
            thrown = true;
            throw std::runtime_error("hook failed");
        }
        recording_delivery::deliver(s, message);
    }
};
}  // namespace

TEST_CASE("a drain hands out new messages in runs, subscriber by subscriber: longer than one run, a subscriber "
          "out of budget mid-run, another that had some already, and a hook that throws",
          "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 512});
    manual_loop loop;
    hub::reader_group<throwing_delivery, hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber roomy{0, 1 << 20}, tight{0, 705}, late{0, 1 << 20};   // tight: 70 of 10 bytes, not 71
    readers.subscribe(roomy);
    readers.subscribe(tight);
    publish_n(*topic, 150);   // more than two runs of 64 before the one drain
    readers.subscribe(late);  // live from 151 on
    publish_n(*topic, 50);
    loop.run();
    CHECK(roomy.received == range(1, 200));
    CHECK(tight.received == range(1, 70));   // parked in the middle of the second run
    CHECK(tight.state() == hub::subscriber_state::parked);
    CHECK(late.received == range(151, 200));
    while (tight.received.size() < 200) {
        write_all(readers, tight);
        loop.run();
    }
    CHECK(tight.received == range(1, 200));
    CHECK(tight.gaps.empty());

    // A hook that throws mid-run: the drain stops there, and the next one offers the run again; those that
    // had a message already skip it by their cursors, so nobody gets one twice, and only the message whose
    // hook failed is lost, to that subscriber alone.
    readers.delivery().victim = &late;
    readers.delivery().at = 230;
    publish_n(*topic, 100);
    CHECK_THROWS_AS(loop.run(), std::runtime_error);
    readers.drain();
    loop.run();
    CHECK(roomy.received == range(1, 300));
    auto expected = range(151, 229);
    for (auto s : range(231, 300)) expected.push_back(s);
    CHECK(late.received == expected);
    write_all(readers, tight);
    loop.run();
    while (tight.received.size() < 300) {
        write_all(readers, tight);
        loop.run();
    }
    CHECK(tight.received == range(1, 300));
}

namespace {
// Takes runs as joined blocks: records each run's size and bytes, and the sequences it stands for.
struct joining_delivery : recording_delivery {
    struct joined {
        std::uint64_t first;
        std::size_t count;
        std::string bytes;
        bool more_follow;
    };
    std::vector<std::pair<hub::subscriber*, joined>> runs;
    void deliver_run(hub::subscriber& s, hub::payload_ptr const& first, hub::payload_ptr const& block,
                     std::string_view bytes, std::size_t count, bool more_follow) {
        auto& r = static_cast<recording_subscriber&>(s);
        CHECK(bytes.data() >= block->encoded(0).data());   // inside the block it is handed to keep
        CHECK(bytes.data() + bytes.size() == block->encoded(0).data() + block->encoded(0).size());
        for (std::size_t i = 0; i < count; ++i) r.received.push_back(first->sequence() + i);
        r.unwritten_bytes += bytes.size();
        r.unwritten.push_back(block);
        runs.push_back({&s, {first->sequence(), count, std::string(bytes), more_follow}});
    }
    std::vector<joined> runs_of(hub::subscriber const& s) const {
        std::vector<joined> out;
        for (auto const& [who, run] : runs)
            if (who == &s) out.push_back(run);
        return out;
    }
};

std::string bodies_joined(std::uint64_t first, std::uint64_t last, bool bracketed) {
    std::string out;
    for (auto s = first; s <= last; ++s) {
        auto body = "m" + std::to_string(s);
        out += bracketed ? "[" + body + "]" : body;
    }
    return out;
}
}  // namespace

TEST_CASE("a run of new messages reaches a subscriber that takes joined runs as one block of its format's bytes, "
          "in order; a tombstone, a full budget or a lone message take the per-message path",
          "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t", two_formats(), hub::topic_options{.capacity = 512});
    manual_loop loop;
    hub::reader_group<joining_delivery, hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber plain{0, 1 << 20}, bracketed{1, 1 << 20}, single{0, 1 << 20}, late{0, 1 << 20};
    recording_subscriber tight{0, 22};   // "m1".."m9" are 2 bytes, "m10" on 3: room for m1..m10, not the run
    for (auto* s : {&plain, &bracketed, &late, &tight}) s->take_joined_runs(true);
    for (auto* s : {&plain, &bracketed, &single, &tight}) readers.subscribe(*s);
    auto publish = [&](std::uint64_t from, std::uint64_t to) {
        for (auto s = from; s <= to; ++s) topic->publish("m" + std::to_string(s));
    };
    publish(1, 5);
    readers.subscribe(late);   // live from 6: in the middle of the coming run
    publish(6, 20);
    loop.run();

    for (auto* s : {&plain, &bracketed, &single}) CHECK(s->received == range(1, 20));
    auto const& d = readers.delivery();
    REQUIRE(d.runs_of(plain).size() == 1);
    CHECK(d.runs_of(plain)[0].count == 20);
    CHECK(d.runs_of(plain)[0].bytes == bodies_joined(1, 20, false));
    REQUIRE(d.runs_of(bracketed).size() == 1);
    CHECK(d.runs_of(bracketed)[0].bytes == bodies_joined(1, 20, true));
    CHECK(d.runs_of(single).empty());   // did not ask: one delivery per message
    CHECK(single.bodies.size() == 20);
    REQUIRE(d.runs_of(late).size() == 1);   // the rest of the run, from its own cursor
    CHECK(d.runs_of(late)[0].first == 6);
    CHECK(d.runs_of(late)[0].bytes == bodies_joined(6, 20, false));
    CHECK_FALSE(d.runs_of(plain)[0].more_follow);   // the drain found nothing behind it
    CHECK(late.received == range(6, 20));
    // Without room for the rest of the run: message by message, parked exactly where the budget ends.
    CHECK(d.runs_of(tight).empty());
    CHECK(tight.received == range(1, 10));
    CHECK(tight.state() == hub::subscriber_state::parked);
    // The joined bytes count against the budget like single messages, and written() gives them back.
    CHECK(plain.pending_bytes() == bodies_joined(1, 20, false).size());
    write_all(readers, plain);
    CHECK(plain.pending_bytes() == 0);

    // More than one run's worth in one drain: runs of 64 (max_run), each one block.
    publish(21, 170);
    loop.run();
    CHECK(plain.received == range(1, 170));
    auto plain_runs = d.runs_of(plain);
    REQUIRE(plain_runs.size() == 4);
    CHECK(plain_runs[1].first == 21);
    CHECK(plain_runs[1].count == 64);
    CHECK(plain_runs[2].first == 85);
    CHECK(plain_runs[3].first == 149);
    CHECK(plain_runs[3].count == 22);
    // Only the last run of the drain says nothing follows: a transport may write that one at once, and
    // holds the others to send with it.
    CHECK(plain_runs[1].more_follow);
    CHECK(plain_runs[2].more_follow);
    CHECK_FALSE(plain_runs[3].more_follow);
    std::string all;
    for (auto const& r : plain_runs) all += r.bytes;
    CHECK(all == bodies_joined(1, 170, false));

    // A lone new message is not worth a copy.
    write_all(readers, plain);
    publish(171, 171);
    loop.run();
    CHECK(d.runs_of(plain).size() == 4);
    CHECK(plain.received.back() == 171);
}

TEST_CASE("a run holding a tombstone, or past the size worth copying, goes message by message", "[hub][topic]") {
    auto topic = std::make_shared<hub::topic>("t", picky_formats());
    manual_loop loop;
    hub::reader_group<joining_delivery, hub::backpressure::drop_oldest> readers{topic, loop.waker()};
    recording_subscriber s{0, 1 << 20};
    s.take_joined_runs(true);
    readers.subscribe(s);
    publish_good_bad_good(*topic);
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{1, 3});
    CHECK(s.gaps == std::vector<gap>{{2, 2}});
    CHECK(readers.delivery().runs.empty());

    std::string const big(40 * 1024, 'x');   // two of them: past what a joined run copies
    topic->publish(big);
    topic->publish(big);
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{1, 3, 4, 5});
    CHECK(readers.delivery().runs.empty());
    topic->publish("a");
    topic->publish("b");
    loop.run();
    REQUIRE(readers.delivery().runs.size() == 1);
    CHECK(readers.delivery().runs[0].second.bytes == "ab");
}
