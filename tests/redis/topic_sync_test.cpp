// topic_sync's decisions, one case at a time, with a recording stand-in for Redis: what a node ingests,
// fetches, skips and asks to re-epoch, whatever order the channel and the fetch answers arrive in.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tether/hub/hub.hpp>
#include <tether/redis/topic_sync.hpp>

namespace hub = tether::hub;
namespace wire = tether::redis::wire;
using tether::redis::topic_sync;

namespace {

constexpr std::uint64_t epoch_a = 0xaaaaaaaaaaaaaaaa;
constexpr std::uint64_t epoch_b = 0xbbbbbbbbbbbbbbbb;

struct never_sequencer final : hub::sequencer {
    void submit(hub::topic&, hub::publish_request_ptr) override {}
};

struct recorder final : topic_sync::requests {
    std::vector<std::uint64_t> fetches;   // from
    struct epoch_request {
        std::optional<std::uint64_t> expected;
        std::uint64_t last;
    };
    std::vector<epoch_request> epochs;
    void fetch(topic_sync&, std::uint64_t from) override { fetches.push_back(from); }
    void start_epoch(topic_sync&, std::optional<std::uint64_t> expected, std::uint64_t last) override {
        epochs.push_back({expected, last});
    }
};

std::string message(std::uint64_t epoch, std::uint64_t offset, std::string body = {}) {
    if (body.empty()) body = "b" + std::to_string(offset);
    return "m " + wire::epoch_text(epoch) + " " + std::to_string(offset) + " 0 " + body;
}

// A fetch answer holding offsets [first, last] of `epoch` (bodies "b<offset>").
struct history_builder {
    std::vector<std::string> bodies;
    wire::history build(std::uint64_t epoch, std::uint64_t first, std::uint64_t last) {
        wire::history h;
        h.exists = true;
        h.last = {epoch, last};
        bodies.clear();
        bodies.reserve(last + 1);
        for (auto o = first; o <= last && first != 0; ++o) bodies.push_back("b" + std::to_string(o));
        for (auto o = first; o <= last && first != 0; ++o) h.entries.push_back({o, {}, bodies[o - first]});
        return h;
    }
};

struct fixture {
    never_sequencer sequencer;
    std::shared_ptr<hub::topic> topic = [this] {
        auto t = std::make_shared<hub::topic>("news", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 16});
        t->set_sequencer(&sequencer);
        return t;
    }();
    recorder redis;
    topic_sync sync{topic, redis};
    history_builder histories;

    std::vector<std::string> ring() const {
        std::vector<std::string> out;
        for (auto s = topic->oldest_retained(); s < topic->next_sequence(); ++s) {
            auto r = topic->read(s);
            out.push_back(r.state == hub::ring::slot_state::ready ? std::string(r.message->encoded(0)) : "?");
        }
        return out;
    }
    // Starts a session and answers its first fetch with offsets [first, last] of `epoch`.
    void start_following(std::uint64_t epoch, std::uint64_t first, std::uint64_t last) {
        sync.on_session_start();
        sync.on_history(histories.build(epoch, first, last));
        REQUIRE(sync.in_step());
    }
};

}  // namespace

TEST_CASE("a session starts with a fetch; its answer warms the ring with Redis' history", "[redis][unit][sync]") {
    fixture f;
    f.sync.on_session_start();
    CHECK(f.redis.fetches == std::vector<std::uint64_t>{1});
    CHECK_FALSE(f.sync.in_step());
    f.sync.on_history(f.histories.build(epoch_a, 38, 40));
    CHECK(f.sync.in_step());
    CHECK(f.sync.follows_redis());
    CHECK(f.topic->epoch() == epoch_a);
    CHECK(f.topic->position() == hub::cursor{epoch_a, 40});
    CHECK(f.topic->history_floor() == 38);
    CHECK(f.ring() == std::vector<std::string>{"b38", "b39", "b40"});
}

TEST_CASE("a topic Redis has never seen: its epoch is started at once, before any message",
          "[redis][unit][sync]") {
    fixture f;
    f.sync.on_session_start();
    f.sync.on_history(wire::history{});
    REQUIRE(f.redis.epochs.size() == 1);
    CHECK_FALSE(f.redis.epochs[0].expected);
    CHECK(f.redis.epochs[0].last == 0);
    CHECK_FALSE(f.sync.in_step());
    f.sync.on_epoch_answer();
    f.sync.on_history(f.histories.build(epoch_a, 0, 0));
    CHECK(f.sync.in_step());
    CHECK(f.sync.follows_redis());
    CHECK(f.topic->epoch() == epoch_a);
    CHECK(f.topic->next_sequence() == 1);
    f.sync.on_channel_message(message(epoch_a, 1));   // the first message: no fetch, no epoch change
    CHECK(f.redis.fetches.size() == 2);
    CHECK(f.ring() == std::vector<std::string>{"b1"});
}

TEST_CASE("the steady state: the next message is ingested, duplicates dropped, nothing fetched",
          "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 3);
    f.sync.on_channel_message(message(epoch_a, 4));
    f.sync.on_channel_message(message(epoch_a, 4, "again"));
    f.sync.on_channel_message(message(epoch_a, 2, "old"));
    f.sync.on_channel_message(message(epoch_a, 5));
    CHECK(f.redis.fetches.size() == 1);
    CHECK(f.ring() == std::vector<std::string>{"b1", "b2", "b3", "b4", "b5"});
    f.sync.on_channel_message("not a message");
    CHECK(f.sync.malformed() == 1);
    CHECK(f.sync.in_step());
}

TEST_CASE("a gap is filled from a fetch; messages held meanwhile are replayed once, in order",
          "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 3);
    f.sync.on_channel_message(message(epoch_a, 6));   // 4 and 5 never came
    CHECK(f.redis.fetches == std::vector<std::uint64_t>{1, 4});
    f.sync.on_channel_message(message(epoch_a, 7));   // arrives while the fetch is out: held
    f.sync.on_channel_message(message(epoch_a, 8));
    CHECK(f.topic->next_sequence() == 4);
    // Redis ran the fetch after storing 6 and 7 (not 8 yet).
    f.sync.on_history(f.histories.build(epoch_a, 4, 7));
    CHECK(f.ring() == std::vector<std::string>{"b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"});
    CHECK(f.sync.in_step());
    CHECK(f.redis.fetches.size() == 2);
}

// A run of messages one script stored: "b <epoch> <first> <count>" and each one's lengths, key and body.
std::string run(std::uint64_t epoch, std::uint64_t first, std::uint64_t last) {
    std::string out = "b " + wire::epoch_text(epoch) + " " + std::to_string(first) + " " + std::to_string(last - first + 1) + " ";
    for (auto o = first; o <= last; ++o) {
        auto const body = "b" + std::to_string(o);
        out += "0 " + std::to_string(body.size()) + " " + body;
    }
    return out;
}

TEST_CASE("a run of messages is ingested in order as one arrival; a gap inside one fetches once and the "
          "fetch covers the rest of it", "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 3);
    f.sync.on_channel_message(run(epoch_a, 2, 6));   // starts with two duplicates
    CHECK(f.ring() == std::vector<std::string>{"b1", "b2", "b3", "b4", "b5", "b6"});
    CHECK(f.redis.fetches.size() == 1);
    f.sync.on_channel_message(run(epoch_a, 9, 12));   // 7 and 8 never came: one fetch, the rest not held
    CHECK(f.redis.fetches == std::vector<std::uint64_t>{1, 7});
    f.sync.on_channel_message(run(epoch_a, 13, 14));   // while the fetch is out: held whole
    CHECK(f.topic->next_sequence() == 7);
    f.sync.on_history(f.histories.build(epoch_a, 7, 12));   // Redis stored 9..12 before it ran the fetch
    CHECK(f.topic->next_sequence() == 15);
    CHECK(f.ring().back() == "b14");
    CHECK(f.sync.in_step());
    CHECK(f.redis.fetches.size() == 2);
    f.sync.on_channel_message(run(epoch_a, 15, 16) + "0");   // malformed: none of it
    CHECK(f.sync.malformed() == 1);
    CHECK(f.topic->next_sequence() == 15);
}

TEST_CASE("a gap Redis has trimmed already is skipped: readers are told through their policy",
          "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 3);
    f.sync.on_channel_message(message(epoch_a, 40));
    f.sync.on_history(f.histories.build(epoch_a, 25, 40));   // the stream keeps 16 (the ring's capacity)
    CHECK(f.topic->history_floor() == 25);
    CHECK(f.topic->position() == hub::cursor{epoch_a, 40});
    CHECK(f.topic->resume(hub::cursor{epoch_a, 3}) == hub::resumption{false, 41});
    CHECK(f.topic->resume(hub::cursor{epoch_a, 24}) == hub::resumption{true, 25});
}

TEST_CASE("a message of another epoch is adopted through a fetch, never ingested blind", "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 10);
    // Redis lost everything; another node's publish started epoch B after its position (10).
    f.sync.on_channel_message(message(epoch_b, 11));
    CHECK(f.topic->epoch() == epoch_a);
    CHECK(f.redis.fetches.back() == 11);
    f.sync.on_history(f.histories.build(epoch_b, 11, 11));
    CHECK(f.topic->epoch() == epoch_b);
    CHECK(f.topic->read(11).message->epoch() == epoch_b);
    CHECK(f.topic->resume(hub::cursor{epoch_a, 10}) == hub::resumption{false, 12});
    CHECK(f.redis.epochs.empty());
}

TEST_CASE("Redis without the topic we follow: ask for a new epoch after our position, then read again",
          "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 10);
    f.sync.on_session_end();   // Redis restarted without persistence
    f.sync.on_session_start();
    f.sync.on_history(wire::history{});
    REQUIRE(f.redis.epochs.size() == 1);
    CHECK_FALSE(f.redis.epochs[0].expected);
    CHECK(f.redis.epochs[0].last == 10);
    CHECK_FALSE(f.sync.in_step());
    f.sync.on_epoch_answer();
    CHECK(f.redis.fetches.back() == 11);
    f.sync.on_history(f.histories.build(epoch_b, 0, 10));   // the new epoch, nothing in it yet
    CHECK(f.sync.in_step());
    CHECK(f.topic->epoch() == epoch_b);
    CHECK(f.topic->next_sequence() == 11);
}

TEST_CASE("Redis behind what we delivered (an AOF that lost writes): a new epoch, never a reused id",
          "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 10);
    f.sync.on_session_end();
    f.sync.on_session_start();
    f.sync.on_history(f.histories.build(epoch_a, 1, 8));   // same epoch, but 9 and 10 are gone
    REQUIRE(f.redis.epochs.size() == 1);
    CHECK(f.redis.epochs[0].expected == epoch_a);
    CHECK(f.redis.epochs[0].last == 10);
    CHECK(f.ring().back() == "b10");   // nothing of ours was overwritten

    // Likewise a new epoch that another node started below our position.
    f.sync.on_epoch_answer();
    f.sync.on_history(f.histories.build(epoch_b, 7, 9));
    REQUIRE(f.redis.epochs.size() == 2);
    CHECK(f.redis.epochs[1].expected == epoch_b);
    CHECK(f.topic->epoch() == epoch_a);
}

TEST_CASE("messages that arrived before a fetch was sent are covered by its answer; later ones replay",
          "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 2);
    f.sync.on_channel_message(message(epoch_a, 5));    // gap: fetch from 3
    f.sync.on_channel_message(message(epoch_b, 99));   // a stale message of an epoch that is already gone
    // The answer (sent after message 5 arrived, but before 99): 3..5 of A.
    f.sync.on_history(f.histories.build(epoch_a, 3, 5));
    CHECK(f.ring().back() == "b5");
    // 99 arrived after the fetch went out, so it is replayed: another epoch, so one more fetch...
    CHECK(f.redis.fetches.back() == 6);
    // ...whose answer says A is current: the stale message is then covered and dropped.
    f.sync.on_history(f.histories.build(epoch_a, 3, 5));
    CHECK(f.sync.in_step());
    CHECK(f.topic->epoch() == epoch_a);
    CHECK(f.redis.fetches.size() == 3);
}

TEST_CASE("held messages are bounded: past the bound they are dropped and fetched again", "[redis][unit][sync]") {
    never_sequencer sequencer;
    auto topic = std::make_shared<hub::topic>("news", std::vector<hub::wire_format>{}, hub::topic_options{.capacity = 16});
    topic->set_sequencer(&sequencer);
    recorder redis;
    topic_sync sync{topic, redis, {4, 1 << 20}};
    history_builder histories;
    sync.on_session_start();
    for (int i = 1; i <= 10; ++i) sync.on_channel_message(message(epoch_a, static_cast<std::uint64_t>(i)));
    sync.on_history(histories.build(epoch_a, 1, 3));
    CHECK(redis.fetches == std::vector<std::uint64_t>{1, 4});   // the overflow asked again at once
    sync.on_history(histories.build(epoch_a, 4, 10));
    CHECK(sync.in_step());
    CHECK(topic->next_sequence() == 11);
}

TEST_CASE("a session that ends forgets what it asked; the next one asks again", "[redis][unit][sync]") {
    fixture f;
    f.start_following(epoch_a, 1, 2);
    f.sync.on_channel_message(message(epoch_a, 9));
    f.sync.on_session_end();
    f.sync.on_history(f.histories.build(epoch_a, 3, 9));   // a late answer of the old session: ignored
    CHECK(f.topic->next_sequence() == 3);
    f.sync.on_session_start();
    f.sync.on_history(f.histories.build(epoch_a, 3, 12));
    CHECK(f.topic->position() == hub::cursor{epoch_a, 12});
    CHECK(f.sync.in_step());
}
