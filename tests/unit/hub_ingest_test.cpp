// A topic ordered by a sequencer (a backplane): one writer feeds it with ingest() and skip_to(), in an order
// and with an epoch decided elsewhere, and everything readers rely on must still hold: total order, no
// duplicates, gaps reported through the policy exactly as laps are, no cursor resuming across a gap or an
// epoch change, and publish() refused because its answer can only come from the sequencer.
#include "hub_test_support.hpp"

#include "tether/poll/batch.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hub = tether::hub;
using hub_test::gap;
using hub_test::manual_loop;
using hub_test::recording_delivery;
using hub_test::recording_subscriber;
using hub_test::write_all;

namespace {

constexpr std::uint64_t epoch_a = 0x1111111111111111;
constexpr std::uint64_t epoch_b = 0x2222222222222222;

/// A sequencer that keeps what it was given; the test answers for it.
struct holding_sequencer final : hub::sequencer {
    std::vector<hub::publish_request_ptr> held;
    void submit(hub::topic&, hub::publish_request_ptr request) override { held.push_back(std::move(request)); }
};

struct recorded_request final : hub::publish_request {
    recorded_request(std::string body, std::optional<std::pair<std::error_code, hub::cursor>>& out)
        : hub::publish_request{std::move(body), {}}, result{out} {}
    void complete(std::error_code error, hub::cursor stored_as) override { result = std::pair{error, stored_as}; }
    std::optional<std::pair<std::error_code, hub::cursor>>& result;
};

std::shared_ptr<hub::topic> sequenced_topic(holding_sequencer& s, std::size_t capacity = 8) {
    auto t = std::make_shared<hub::topic>("news", hub_test::two_formats(), hub::topic_options{.capacity = capacity});
    t->set_sequencer(&s);
    return t;
}

std::string body_at(hub::cursor c) { return "e" + std::to_string(c.epoch) + ":" + std::to_string(c.sequence); }

}  // namespace

TEST_CASE("a sequenced topic refuses publish() and hands submit() to its sequencer", "[hub][ingest]") {
    holding_sequencer sequencer;
    auto topic = sequenced_topic(sequencer);
    CHECK(topic->sequenced_externally());
    CHECK_THROWS_AS(topic->publish("x"), std::logic_error);

    std::optional<std::pair<std::error_code, hub::cursor>> result;
    topic->submit(std::make_unique<recorded_request>("hello", result));
    REQUIRE(sequencer.held.size() == 1);
    CHECK(sequencer.held[0]->body() == "hello");
    CHECK_FALSE(result);   // only the sequencer answers, and it has not yet
    CHECK(topic->next_sequence() == 1);   // nothing entered the ring
}

TEST_CASE("submit() on a local topic publishes and completes at once with the message's id", "[hub][ingest]") {
    auto topic = std::make_shared<hub::topic>("local", std::vector<hub::wire_format>{},
                                              hub::topic_options{.capacity = 8, .epoch = epoch_a});
    std::optional<std::pair<std::error_code, hub::cursor>> result;
    topic->submit(std::make_unique<recorded_request>("hello", result));
    REQUIRE(result);
    CHECK_FALSE(result->first);
    CHECK(result->second == hub::cursor{epoch_a, 1});
    CHECK(topic->read(1).message->encoded(0) == "hello");
}

TEST_CASE("ingest stores messages at the sequencer's ids, with its epoch, and refuses duplicates",
          "[hub][ingest]") {
    holding_sequencer sequencer;
    auto topic = sequenced_topic(sequencer);
    manual_loop loop;
    hub::reader_group<recording_delivery, hub::backpressure::drop_oldest> group{topic, loop.waker()};
    recording_subscriber s{1, 1 << 20};
    group.subscribe(s);

    // The first message this node sees is number 41 of epoch A: nothing before it is history here.
    CHECK(topic->ingest({epoch_a, 41}, "a41"));
    CHECK(topic->ingest({epoch_a, 42}, "a42"));
    CHECK_FALSE(topic->ingest({epoch_a, 42}, "again"));   // a duplicate (pub/sub and a catch-up read overlap)
    CHECK_FALSE(topic->ingest({epoch_a, 17}, "older"));
    loop.run();

    CHECK(topic->epoch() == epoch_a);
    CHECK(topic->position() == hub::cursor{epoch_a, 42});
    CHECK(topic->read(42).message->epoch() == epoch_a);
    CHECK(s.bodies == std::vector<std::string>{"[a41]", "[a42]"});
    // The subscriber joined before the first message; the 40 sequences before it were never history here.
    CHECK(s.gaps == std::vector<gap>{{1, 40}});

    CHECK(topic->resume(hub::cursor{epoch_a, 41}) == hub::resumption{true, 42});
    CHECK(topic->resume(hub::cursor{epoch_a, 40}) == hub::resumption{true, 41});
    CHECK(topic->resume(hub::cursor{epoch_a, 39}) == hub::resumption{false, 43});   // below the floor
    CHECK(topic->resume(hub::cursor{epoch_b, 41}) == hub::resumption{false, 43});
}

TEST_CASE("a cursor a little ahead of this node resumes on a sequenced topic, and waits", "[hub][ingest]") {
    holding_sequencer sequencer;
    auto topic = sequenced_topic(sequencer, 8);
    for (std::uint64_t i = 1; i <= 5; ++i) topic->ingest({epoch_a, i}, body_at({epoch_a, i}));

    // Another node already delivered up to 7; this one is at 5.
    auto const resumed = topic->resume(hub::cursor{epoch_a, 7});
    CHECK(resumed == hub::resumption{true, 8});
    CHECK(topic->resume(hub::cursor{epoch_a, 6 + 8}) == hub::resumption{false, 6});   // a ring ahead: forged

    manual_loop loop;
    hub::reader_group<recording_delivery, hub::backpressure::drop_oldest> group{topic, loop.waker()};
    recording_subscriber s{0, 1 << 20};
    group.subscribe(s, resumed.from);
    for (std::uint64_t i = 6; i <= 9; ++i) topic->ingest({epoch_a, i}, body_at({epoch_a, i}));
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{8, 9});   // what it did not have, once
    CHECK(s.gaps.empty());

    // A local topic has no other node: a cursor ahead of it was never published.
    auto local = std::make_shared<hub::topic>("local", std::vector<hub::wire_format>{},
                                              hub::topic_options{.capacity = 8, .epoch = epoch_a});
    local->publish("x");
    CHECK(local->resume(hub::cursor{epoch_a, 2}) == hub::resumption{false, 2});
}

TEST_CASE("skip_to: live subscribers are told of the gap through their policy, as for a lap", "[hub][ingest]") {
    holding_sequencer sequencer;
    auto topic = sequenced_topic(sequencer, 8);
    manual_loop loop;
    hub::reader_group<recording_delivery, hub::backpressure::drop_oldest> dropping{topic, loop.waker()};
    hub::reader_group<recording_delivery, hub::backpressure::disconnect> disconnecting{topic, loop.waker()};
    hub::reader_group<recording_delivery, hub::backpressure::conflate> conflating{topic, loop.waker()};
    for (std::uint64_t i = 1; i <= 3; ++i) topic->ingest({epoch_a, i}, body_at({epoch_a, i}), "k");
    loop.run();

    recording_subscriber d{0, 1 << 20}, x{0, 1 << 20}, c{0, 1 << 20};
    dropping.subscribe(d);
    disconnecting.subscribe(x);
    conflating.subscribe(c);

    // This node was cut off while 4..20 were published and trimmed from the backplane's history.
    CHECK(topic->skip_to({epoch_a, 20}));
    CHECK_FALSE(topic->skip_to({epoch_a, 10}));   // never backwards
    loop.run();
    CHECK(d.gaps == std::vector<gap>{{4, 20}});
    CHECK(x.closed == hub::disconnect_reason::lapped);
    CHECK_FALSE(x.subscribed());
    CHECK(topic->oldest_retained() == 21);
    CHECK(topic->resume(hub::cursor{epoch_a, 3}) == hub::resumption{false, 21});
    CHECK(topic->resume(hub::cursor{epoch_a, 20}) == hub::resumption{true, 21});

    topic->ingest({epoch_a, 21}, "a21", "k");
    loop.run();
    CHECK(d.received == std::vector<std::uint64_t>{21});
    CHECK(c.received == std::vector<std::uint64_t>{21});

    // A conflating subscriber resuming from before the gap is told it may have lost a value.
    recording_subscriber late{0, 1 << 20};
    conflating.subscribe(late, 2);
    loop.run();
    REQUIRE_FALSE(late.gaps.empty());
    CHECK(late.gaps.front().first <= 4);
    CHECK(late.gaps.front().last >= 20);
    CHECK(late.received == std::vector<std::uint64_t>{21});
}

TEST_CASE("a parked subscriber whose replay runs into a skipped range is told, then catches up",
          "[hub][ingest]") {
    holding_sequencer sequencer;
    auto topic = sequenced_topic(sequencer, 16);
    manual_loop loop;
    hub::reader_group<recording_delivery, hub::backpressure::drop_oldest> group{topic, loop.waker()};
    recording_subscriber s{0, 4};   // room for one 3-byte body at a time
    group.subscribe(s);
    topic->ingest({epoch_a, 1}, "a01");
    topic->ingest({epoch_a, 2}, "a02");
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{1});   // parked at 2
    topic->skip_to({epoch_a, 9});
    topic->ingest({epoch_a, 10}, "a10");
    loop.run();
    write_all(group, s);
    loop.run();
    CHECK(s.received == std::vector<std::uint64_t>{1, 2});
    write_all(group, s);
    loop.run();
    CHECK(s.gaps == std::vector<gap>{{3, 9}});
    CHECK(s.received == std::vector<std::uint64_t>{1, 2, 10});
}

TEST_CASE("an epoch change: old cursors no longer resume, and every message carries its own epoch",
          "[hub][ingest]") {
    holding_sequencer sequencer;
    auto topic = sequenced_topic(sequencer, 8);
    manual_loop loop;
    hub::reader_group<recording_delivery, hub::backpressure::drop_oldest> group{topic, loop.waker()};
    recording_subscriber s{0, 1 << 20};
    group.subscribe(s);
    topic->ingest({epoch_a, 1}, "a1");
    topic->ingest({epoch_a, 2}, "a2");
    // The backplane lost its history; the new epoch continues the sequence numbers (it never goes back).
    topic->ingest({epoch_b, 3}, "b3");
    loop.run();

    CHECK(topic->epoch() == epoch_b);
    CHECK(s.received == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(s.gaps.empty());   // no gap: the transport sees the epoch on the message and resets its client
    CHECK(topic->read(2).message->epoch() == epoch_a);
    CHECK(topic->read(3).message->epoch() == epoch_b);
    CHECK(topic->resume(hub::cursor{epoch_a, 2}) == hub::resumption{false, 4});
    CHECK(topic->resume(hub::cursor{epoch_b, 2}) == hub::resumption{true, 3});   // the epoch's first message
    CHECK(topic->resume(hub::cursor{epoch_b, 1}) == hub::resumption{false, 4});  // before the epoch began

    // A poll batch names one epoch: one from the old epoch's cursor stops where the epoch ends.
    std::string out;
    auto const r = tether::poll::append_batch(out, *topic, 2, true, {10, 1 << 20}, 0, epoch_a);
    CHECK(r.count == 1);
    CHECK(r.next == hub::cursor{epoch_a, 2});
    out.clear();
    auto const fresh = tether::poll::append_batch(out, *topic, 3, true, {10, 1 << 20}, 0);
    CHECK(fresh.count == 1);
    CHECK(fresh.next == hub::cursor{epoch_b, 3});
}

TEST_CASE("a message whose encoder threw is a tombstone: latest() and poll batches step over it",
          "[hub][ingest]") {
    holding_sequencer sequencer;
    std::vector<hub::wire_format> formats{{"picky", [](hub::encode_input const& in, std::string& out) {
                                               if (in.body == "bad") throw std::runtime_error("no");
                                               out.append(in.body);
                                           }}};
    auto topic = std::make_shared<hub::topic>("t", formats, hub::topic_options{.capacity = 8});
    topic->set_sequencer(&sequencer);
    topic->ingest({epoch_a, 1}, "ok1");
    topic->ingest({epoch_a, 2}, "bad");
    CHECK(topic->read(2).message->tombstone());
    CHECK(topic->latest()->sequence() == 1);
    topic->ingest({epoch_a, 3}, "ok3");

    std::string out;
    auto const r = tether::poll::append_batch(out, *topic, 1, true, {10, 1 << 20}, 0, epoch_a);
    CHECK(r.count == 2);
    CHECK(r.next == hub::cursor{epoch_a, 3});
    CHECK(out == R"({"messages":[ok1,ok3],"next":"1111111111111111-3","recovered":false})");
}

namespace {

/// A tiny event loop (one per reader thread), like an io_context: post() from anywhere, run() on its thread.
class loop_thread {
public:
    loop_thread() : thread_{[this] { run(); }} {}
    ~loop_thread() {
        {
            std::lock_guard lock{mutex_};
            stopped_ = true;
        }
        ready_.notify_one();
        thread_.join();
    }
    void post(std::function<void()> task) {
        {
            std::lock_guard lock{mutex_};
            tasks_.push_back(std::move(task));
        }
        ready_.notify_one();
    }
    hub::wake_function waker() {
        return [this](hub::drain_request r) { post(std::move(r)); };
    }
    /// Runs `f` on the loop and waits for it.
    template <class F>
    void run_and_wait(F f) {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        post([&] {
            f();
            std::lock_guard lock{m};
            done = true;
            cv.notify_one();
        });
        std::unique_lock lock{m};
        cv.wait(lock, [&] { return done; });
    }

private:
    void run() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock{mutex_};
                ready_.wait(lock, [&] { return stopped_ || !tasks_.empty(); });
                if (tasks_.empty()) return;
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            task();
        }
    }
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> tasks_;
    bool stopped_ = false;
    std::thread thread_;
};

/// Checks every delivery against the id it claims: the body names the epoch and sequence it was ingested at.
struct checking_delivery {
    void deliver(hub::subscriber& s, hub::payload_ptr const& message) {
        auto& r = static_cast<recording_subscriber&>(s);
        if (message->encoded(0) != body_at({message->epoch(), message->sequence()})) r.closed = hub::disconnect_reason::message_too_large;
        if (!r.received.empty() && message->sequence() <= r.received.back()) r.closed = hub::disconnect_reason::message_too_large;
        r.received.push_back(message->sequence());
    }
    void missed(hub::subscriber& s, std::uint64_t first, std::uint64_t last) {
        static_cast<recording_subscriber&>(s).gaps.push_back({first, last});
    }
    void disconnect(hub::subscriber& s, hub::disconnect_reason reason) {
        static_cast<recording_subscriber&>(s).closed = reason;
    }
};

}  // namespace

TEST_CASE("one writer ingests, skips and changes epochs while reader threads drain and clients resume",
          "[hub][ingest][threads]") {
    holding_sequencer sequencer;
    auto topic = std::make_shared<hub::topic>("stress", std::vector<hub::wire_format>{},
                                              hub::topic_options{.capacity = 64});
    topic->set_sequencer(&sequencer);
    constexpr std::uint64_t last_sequence = 20000;

    struct reader {
        loop_thread loop;
        std::unique_ptr<hub::reader_group<checking_delivery, hub::backpressure::drop_oldest>> group;
        std::vector<std::unique_ptr<recording_subscriber>> subs;
    };
    std::vector<std::unique_ptr<reader>> readers;
    for (int i = 0; i < 2; ++i) {
        auto r = std::make_unique<reader>();
        r->loop.run_and_wait([&] {
            r->group = std::make_unique<hub::reader_group<checking_delivery, hub::backpressure::drop_oldest>>(
                topic, r->loop.waker());
            for (int k = 0; k < 4; ++k) {
                r->subs.push_back(std::make_unique<recording_subscriber>(0, 1 << 30));
                r->group->subscribe(*r->subs.back());
            }
        });
        readers.push_back(std::move(r));
    }

    // Clients resuming from whatever cursor they last saw, on another thread, all along.
    std::atomic<bool> writing{true};
    std::atomic<int> bad_resumes{0};
    std::thread resumer{[&] {
        while (writing.load()) {
            auto const at = topic->position();
            auto const r = topic->resume(at);
            // The topic's own position always resumes (it may have moved on, but never behind it).
            if (r.recovered && r.from <= at.sequence) ++bad_resumes;
            if (auto latest = topic->latest(); latest && latest->sequence() > topic->next_sequence()) ++bad_resumes;
        }
    }};

    // The writer: mostly in order, sometimes a skipped range, every 5000 a new epoch.
    std::uint64_t epoch = epoch_a;
    for (std::uint64_t seq = 1; seq <= last_sequence; ++seq) {
        if (seq % 5000 == 0) ++epoch;
        if (seq % 777 == 0) seq += 50;   // a gap longer than nothing, shorter than the ring
        topic->ingest({epoch, seq}, body_at({epoch, seq}));
    }
    writing = false;
    resumer.join();
    CHECK(bad_resumes == 0);

    auto const head = topic->next_sequence();
    for (auto& r : readers) {
        for (;;) {
            bool done = false;
            r->loop.run_and_wait([&] { done = r->group->position() == head; });
            if (done) break;
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        r->loop.run_and_wait([&] {
            for (auto& s : r->subs) {
                CHECK_FALSE(s->closed);   // a wrong body, a repeat or a reorder would have set it
                // Every sequence accounted for exactly once: delivered, or inside a reported gap.
                std::uint64_t accounted = s->received.size();
                for (auto const& g : s->gaps) accounted += g.last - g.first + 1;
                CHECK(accounted == head - 1);
                CHECK(s->received.back() == head - 1);
            }
            r->group.reset();
            r->subs.clear();
        });
    }
}
