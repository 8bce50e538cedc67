// The backplane against a real redis-server (Debian's, started per test on a free port with its own
// directory): several backplanes in one process stand for several nodes, each with its own copy of a
// topic, as separate processes would have. (tests/redis/cluster_test.cpp does it with real processes and
// clients on every transport.) Run under TSan too: publishers, the backplane threads and readers of the
// rings all run at once.
#include <catch2/catch.hpp>

#include <asio.hpp>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <tether/redis.hpp>
#include <tether/topic.hpp>

#include "support.hpp"

namespace hub = tether::hub;
using namespace std::chrono_literals;
using redis_test::eventually;
using redis_test::redis_server;
using tether::redis::backplane;
using tether::redis::backplane_options;

namespace {

struct outcome {
    std::error_code error;
    hub::cursor id;
};

std::future<outcome> publish(hub::topic& t, std::string body, std::string key = {}) {
    auto done = std::make_shared<std::promise<outcome>>();
    auto result = done->get_future();
    tether::detail::async_submit(t, body, key, [done](std::error_code ec, hub::cursor id) { done->set_value({ec, id}); });
    return result;
}

outcome publish_now(hub::topic& t, std::string body, std::string key = {}) {
    auto f = publish(t, std::move(body), std::move(key));
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
}

backplane_options quick(std::chrono::milliseconds reconnect = 50ms) {
    backplane_options o;
    o.reconnect_min = reconnect;
    o.reconnect_max = std::max(reconnect, 200ms);
    o.command_timeout = 1000ms;
    o.presence_interval = 100ms;
    o.presence_ttl = 500ms;
    o.log = [](tether::log::level, std::string_view) {};
    return o;
}

/// One node's copy of a topic, ordered by its backplane.
struct node {
    node(std::string const& url, std::string const& name = "news", backplane_options o = quick(), std::size_t capacity = 1024,
         bool conflating = false)
        : plane{std::make_unique<backplane>(url, std::move(o))},
          topic{std::make_shared<hub::topic>(name, std::vector<hub::wire_format>{}, hub::topic_options{.capacity = capacity})} {
        plane->attach(topic, {.conflating = conflating});
    }
    bool ready() { return plane->wait_until_ready(10s); }
    /// The bodies of sequences [from, to], "?" where the ring has none.
    std::vector<std::string> bodies(std::uint64_t from, std::uint64_t to) const {
        std::vector<std::string> out;
        for (auto s = from; s <= to; ++s) {
            auto r = topic->read(s);
            out.push_back(r.state == hub::ring::slot_state::ready ? std::string(r.message->encoded(0)) : "?");
        }
        return out;
    }
    bool has(std::uint64_t sequence) const { return topic->next_sequence() > sequence; }

    std::unique_ptr<backplane> plane;
    std::shared_ptr<hub::topic> topic;
};

std::vector<std::string> numbered(int first, int last) {
    std::vector<std::string> out;
    for (int i = first; i <= last; ++i) out.push_back("m" + std::to_string(i));
    return out;
}

}  // namespace

TEST_CASE("two nodes publishing from several threads: one order, the same ids and messages on both",
          "[redis][server]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());

    constexpr int threads = 4, per_thread = 100;
    std::mutex mutex;
    std::map<std::uint64_t, std::string> stored;   // what each completion said
    std::set<std::uint64_t> epochs;
    int failures = 0;   // Catch2 assertions are for the test's own thread only
    std::vector<std::thread> publishers;
    for (int p = 0; p < threads; ++p) {
        publishers.emplace_back([&, p] {
            auto& target = p % 2 == 0 ? *a.topic : *b.topic;
            std::vector<std::future<outcome>> pending;
            for (int i = 0; i < per_thread; ++i) pending.push_back(publish(target, "p" + std::to_string(p) + ":" + std::to_string(i)));
            for (int i = 0; i < per_thread; ++i) {
                auto r = pending[static_cast<std::size_t>(i)].get();
                std::lock_guard lock{mutex};
                if (r.error) ++failures;
                stored.emplace(r.id.sequence, "p" + std::to_string(p) + ":" + std::to_string(i));
                epochs.insert(r.id.epoch);
            }
        });
    }
    for (auto& t : publishers) t.join();
    REQUIRE(failures == 0);
    REQUIRE(stored.size() == threads * per_thread);
    REQUIRE(epochs.size() == 1);
    REQUIRE(stored.begin()->first == 1);
    REQUIRE(stored.rbegin()->first == threads * per_thread);   // offsets 1..N, each once

    REQUIRE(eventually([&] { return a.has(threads * per_thread) && b.has(threads * per_thread); }));
    std::vector<std::string> expected;
    for (auto const& [sequence, body] : stored) expected.push_back(body);
    CHECK(a.bodies(1, threads * per_thread) == expected);
    CHECK(b.bodies(1, threads * per_thread) == expected);
    CHECK(a.topic->epoch() == *epochs.begin());
    CHECK(b.topic->epoch() == *epochs.begin());
    // Each publisher's own messages kept their order.
    for (int p = 0; p < threads; ++p) {
        int last = -1;
        for (auto const& body : expected) {
            if (body.rfind("p" + std::to_string(p) + ":", 0) != 0) continue;
            int const index = std::stoi(body.substr(body.find(':') + 1));
            CHECK(index > last);
            last = index;
        }
    }
    CHECK(a.plane->stats().stored + b.plane->stats().stored == threads * per_thread);
}

TEST_CASE("a node that starts late warms its ring from Redis' history, and resumes any cursor in it",
          "[redis][server]") {
    redis_server redis;
    node a{redis.url(), "news", quick(), 16};
    REQUIRE(a.ready());
    for (auto const& body : numbered(1, 40)) REQUIRE_FALSE(publish_now(*a.topic, body).error);

    node late{redis.url(), "news", quick(), 16};
    REQUIRE(late.ready());
    CHECK(late.topic->position() == a.topic->position());
    CHECK(late.topic->oldest_retained() == 25);   // a ring's worth: the newest 16
    CHECK(late.bodies(25, 40) == numbered(25, 40));
    CHECK(late.topic->resume(hub::cursor{a.topic->epoch(), 30}) == hub::resumption{true, 31});
    CHECK(late.topic->resume(hub::cursor{a.topic->epoch(), 10}).recovered == false);
    auto inspect = redis.connect();
    CHECK(std::stoi(inspect.text({"XLEN", "tether:{news}:stream"}).value_or("0")) >= 16);   // at least (MAXLEN ~)
}

TEST_CASE("Redis unreachable: publish fails at once and says so; once it is up the node connects and stores",
          "[redis][server]") {
    redis_test::redis_config later;
    later.start = false;
    redis_server redis{later};
    node a{redis.url()};
    auto r = publish_now(*a.topic, "too early");
    CHECK(r.error == tether::redis::errc::not_connected);
    CHECK_FALSE(a.plane->connected());

    redis.start();
    REQUIRE(a.ready());
    r = publish_now(*a.topic, "hello");
    CHECK_FALSE(r.error);
    CHECK(r.id.sequence == 1);
}

TEST_CASE("Redis killed and restarted with its AOF: publishers told while it is down, then the same epoch "
          "and no gap or duplicate on any node", "[redis][server]") {
    redis_test::redis_config aof;
    aof.append_only = true;
    redis_server redis{aof};
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    for (auto const& body : numbered(1, 20)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    auto const epoch = a.topic->epoch();
    REQUIRE(eventually([&] { return b.has(20); }));

    redis.kill();
    // Every publish while it is down fails; none is reported stored.
    REQUIRE(eventually([&] { return publish_now(*a.topic, "lost").error == tether::redis::errc::not_connected; }));
    for (int i = 0; i < 5; ++i) CHECK(publish_now(*b.topic, "lost").error);

    redis.start();
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    for (auto const& body : numbered(21, 30)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    REQUIRE(eventually([&] { return b.has(30); }));
    CHECK(b.topic->epoch() == epoch);
    CHECK(b.bodies(1, 30) == numbered(1, 30));
    CHECK(b.topic->resume(hub::cursor{epoch, 20}) == hub::resumption{true, 21});
}

TEST_CASE("Redis restarted without persistence: a new epoch, continuing after the old position, on every node, "
          "even before anyone publishes", "[redis][server]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    for (auto const& body : numbered(1, 20)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    auto const old_epoch = a.topic->epoch();
    REQUIRE(eventually([&] { return b.has(20); }));

    redis.kill_and_forget();
    redis.start();
    REQUIRE(eventually([&] { return a.topic->epoch() != old_epoch && b.topic->epoch() != old_epoch; }));
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    CHECK(a.topic->epoch() == b.topic->epoch());
    CHECK(b.topic->next_sequence() == 21);   // sequences never go back
    CHECK(b.topic->resume(hub::cursor{old_epoch, 20}).recovered == false);
    auto r = publish_now(*b.topic, "first of the new epoch");
    CHECK(r.id == hub::cursor{b.topic->epoch(), 21});
    REQUIRE(eventually([&] { return a.has(21); }));
    CHECK(a.bodies(21, 21) == std::vector<std::string>{"first of the new epoch"});
}

TEST_CASE("FLUSHALL at run time: the next publish starts a new epoch after the old position", "[redis][server]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    for (auto const& body : numbered(1, 5)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    auto const old_epoch = a.topic->epoch();
    auto inspect = redis.connect();
    REQUIRE(inspect.text({"FLUSHALL"}) == "OK");   // perhaps before a itself has ingested all five
    auto r = publish_now(*a.topic, "after the flush");
    REQUIRE_FALSE(r.error);
    CHECK(r.id.epoch != old_epoch);
    CHECK(r.id.sequence == 6);
    REQUIRE(eventually([&] { return b.has(6) && b.topic->epoch() == r.id.epoch; }));
    CHECK(b.topic->read(6).message->epoch() == r.id.epoch);
    CHECK(b.topic->read(5).message->epoch() == old_epoch);
}

TEST_CASE("a node whose connections are cut catches up from the stream without a gap", "[redis][server]") {
    redis_server redis;
    node a{redis.url()};
    node b{"unix://" + redis.socket_path(), "news", quick(300ms)};   // b alone talks over the unix socket
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    for (auto const& body : numbered(1, 5)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    auto inspect = redis.connect();
    CHECK(inspect.text({"CLIENT", "KILL", "LADDR", redis.socket_path() + ":0"}) == "2");   // b's two connections
    for (auto const& body : numbered(6, 15)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    REQUIRE(eventually([&] { return b.has(15); }));
    CHECK(b.bodies(1, 15) == numbered(1, 15));
    CHECK(b.topic->history_floor() == 1);   // nothing was skipped
    CHECK(b.plane->stats().connects == 2);
}

TEST_CASE("a burst of publishes is stored in runs, one script each, with the ids in submit order", "[redis][server]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    auto inspect = redis.connect();
    REQUIRE(inspect.text({"CONFIG", "RESETSTAT"}) == "OK");
    std::vector<std::future<outcome>> pending;
    for (auto const& body : numbered(1, 1000)) pending.push_back(publish(*a.topic, body, body.size() % 2 ? "k" : ""));
    for (std::size_t i = 0; i < pending.size(); ++i) {
        REQUIRE(pending[i].wait_for(10s) == std::future_status::ready);
        auto const r = pending[i].get();
        REQUIRE_FALSE(r.error);
        CHECK(r.id.sequence == i + 1);
    }
    // A's own ring fills from the stream too, like B's: its publishes are answered (ids) before they are read back.
    REQUIRE(eventually([&] { return a.has(1000) && b.has(1000); }));
    CHECK(b.bodies(1, 1000) == numbered(1, 1000));
    CHECK(a.bodies(1, 1000) == numbered(1, 1000));
    // While one run is out, what is submitted waits and goes as the next: far fewer scripts than messages
    // (each run at most 128), and every node received the runs as such.
    auto const stats = inspect.text({"INFO", "commandstats"}).value();
    auto const at = stats.find("cmdstat_evalsha:calls=");
    REQUIRE(at != std::string::npos);
    auto const scripts = std::stoul(stats.substr(at + 22));
    INFO(scripts << " scripts for 1000 messages");
    CHECK(scripts >= 1000 / 128);
    CHECK(scripts < 500);
    CHECK(inspect.text({"XLEN", "tether:{news}:stream"}) == "1000");
}

TEST_CASE("a node away for longer than the history skips what Redis no longer has", "[redis][server]") {
    redis_server redis;
    node a{redis.url(), "news", quick(), 16};
    node b{redis.url(), "news", quick(), 16};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    for (auto const& body : numbered(1, 5)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    REQUIRE(eventually([&] { return b.has(5); }));
    b.plane.reset();   // b's link to Redis is down (its topic and subscribers stay)
    for (auto const& body : numbered(6, 40)) REQUIRE_FALSE(publish_now(*a.topic, body).error);
    b.plane = std::make_unique<backplane>(redis.url(), quick());
    b.plane->attach(b.topic, {});
    REQUIRE(b.ready());
    CHECK(b.topic->next_sequence() == 41);
    CHECK(b.topic->history_floor() == 25);
    CHECK(b.bodies(25, 40) == numbered(25, 40));
    CHECK(b.topic->resume(hub::cursor{b.topic->epoch(), 5}).recovered == false);   // 6..24 are gone for good
}

TEST_CASE("the stream keeps the byte budget too", "[redis][server]") {
    redis_server redis;
    auto o = quick();
    o.history_bytes = 100;
    node a{redis.url(), "news", o, 16};
    REQUIRE(a.ready());
    auto inspect = redis.connect();
    // What the stream holds, counted by Redis itself: the bytes of every entry's body and key.
    auto held = [&] {
        return std::stoi(inspect.text({"EVAL",
                                       "local n = 0 for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do "
                                       "n = n + #e[2][2] + #e[2][4] end return n",
                                       "1", "tether:{news}:stream"})
                             .value());
    };
    // Trimmed in steps (down to 7/8 of the budget, so that a publish rarely trims), never above it.
    for (int i = 0; i < 30; ++i) {
        REQUIRE_FALSE(publish_now(*a.topic, std::string(20, static_cast<char>('a' + i % 26))).error);
        INFO("after " << i + 1 << " messages");
        CHECK(held() <= 100);
        CHECK(held() >= std::min(20 * (i + 1), 100 * 7 / 8 - 20));
    }
    // One message larger than the whole budget is still kept (the newest always is).
    REQUIRE_FALSE(publish_now(*a.topic, std::string(300, 'x')).error);
    CHECK(inspect.text({"XLEN", "tether:{news}:stream"}) == "1");
    // And the budget holds again from there.
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(publish_now(*a.topic, std::string(30, 'y')).error);
    CHECK(held() <= 100);
    CHECK(held() >= 60);
}

TEST_CASE("Redis forgot our scripts (SCRIPT FLUSH, a restart): publishing goes on", "[redis][server]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    REQUIRE_FALSE(publish_now(*a.topic, "one").error);
    auto inspect = redis.connect();
    REQUIRE(inspect.text({"SCRIPT", "FLUSH"}) == "OK");
    auto r = publish_now(*a.topic, "two");
    CHECK_FALSE(r.error);
    CHECK(r.id.sequence == 2);
    REQUIRE(eventually([&] { return b.has(2); }));
}

TEST_CASE("a hung Redis: unanswered publishes are bounded, fail after the command timeout, and the node "
          "reconnects when Redis answers again", "[redis][server]") {
    redis_server redis;
    auto o = quick();
    o.max_unanswered = 4;
    node a{redis.url(), "news", o};
    REQUIRE(a.ready());
    REQUIRE_FALSE(publish_now(*a.topic, "before").error);
    redis.pause();
    std::vector<std::future<outcome>> pending;
    for (int i = 0; i < 10; ++i) pending.push_back(publish(*a.topic, "during " + std::to_string(i)));
    int overloaded = 0, other = 0;
    for (auto& f : pending) {
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        auto r = f.get();
        REQUIRE(r.error);   // nothing is reported stored while Redis says nothing
        (r.error == tether::redis::errc::overloaded ? overloaded : other) += 1;
    }
    CHECK(overloaded >= 6);
    CHECK(other >= 1);   // the ones that went out fail after the timeout (indeterminate or not connected)
    redis.resume();
    REQUIRE(a.ready());
    auto r = publish_now(*a.topic, "after");
    CHECK_FALSE(r.error);
}

TEST_CASE("presence adds up subscriptions and users across nodes; a node's entries go with it",
          "[redis][server]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()};
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    a.topic->counters().subscribers += 2;   // what the transports count
    b.topic->counters().subscribers += 3;
    a.plane->join("news", "ann");
    b.plane->join("news", "bob");
    b.plane->join("news", "ann");
    auto query = [&](backplane& from) {
        auto f = from.async_presence("news", asio::use_future);
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        return f.get();
    };
    REQUIRE(eventually([&] { return query(*a.plane).subscriptions == 5; }));
    auto p = query(*b.plane);
    CHECK(p.nodes == 2);
    CHECK(p.users == std::vector<std::string>{"ann", "bob"});

    b.plane.reset();   // a clean shutdown takes its entries away at once
    p = query(*a.plane);
    CHECK(p.subscriptions == 2);
    CHECK(p.nodes == 1);

    // A node that dies without a word: its entry (written here by hand, with a short life) expires.
    auto inspect = redis.connect();
    REQUIRE(inspect.text({"EVAL", std::string(tether::redis::scripts::presence_update), "2", "tether:{news}:presence",
                          "tether:{news}:presence:ttl", "dead-node", "7\nzed", "1500"}) == "1");
    CHECK(query(*a.plane).subscriptions == 9);
    REQUIRE(eventually([&] { return query(*a.plane).subscriptions == 2; }));
    CHECK(query(*a.plane).users == std::vector<std::string>{"ann"});
}

TEST_CASE("a conflating topic keeps its newest value per key in Redis", "[redis][server]") {
    redis_server redis;
    node a{redis.url(), "prices", quick(), 16, true};
    REQUIRE(a.ready());
    REQUIRE_FALSE(publish_now(*a.topic, "10", "ACME").error);
    REQUIRE_FALSE(publish_now(*a.topic, "20", "INIT").error);
    REQUIRE_FALSE(publish_now(*a.topic, "11", "ACME").error);
    auto f = a.plane->async_latest("prices", asio::use_future);
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    auto values = f.get();
    REQUIRE(values.size() == 2);
    CHECK(values[0].key == "INIT");
    CHECK(values[0].body == "20");
    CHECK(values[0].id == hub::cursor{a.topic->epoch(), 2});
    CHECK(values[1].key == "ACME");
    CHECK(values[1].body == "11");
}

TEST_CASE("passwords and databases: a wrong password never connects; the db separates key spaces",
          "[redis][server]") {
    redis_test::redis_config protected_by;
    protected_by.password = "s3cret";
    redis_server redis{protected_by};
    node good{redis.url(3)};
    REQUIRE(good.ready());
    REQUIRE_FALSE(publish_now(*good.topic, "x").error);
    auto inspect = redis.connect();
    CHECK(inspect.text({"EXISTS", "tether:{news}:meta"}) == "0");
    CHECK(inspect.text({"SELECT", "3"}) == "OK");
    CHECK(inspect.text({"EXISTS", "tether:{news}:meta"}) == "1");

    std::string const wrong = "redis://:nope@127.0.0.1:" + std::to_string(redis.port()) + "/0";
    node bad{wrong};
    CHECK_FALSE(bad.plane->wait_until_ready(500ms));
    CHECK(publish_now(*bad.topic, "x").error == tether::redis::errc::not_connected);
}

TEST_CASE("after the backplane is gone its topics refuse publishes instead of dangling", "[redis][server]") {
    redis_server redis;
    auto topic = std::make_shared<hub::topic>("news", std::vector<hub::wire_format>{}, hub::topic_options{});
    {
        backplane plane{redis.url(), quick()};
        plane.attach(topic, {});
        REQUIRE(plane.wait_until_ready(10s));
    }
    CHECK(publish_now(*topic, "x").error == tether::redis::errc::stopped);
    CHECK_THROWS_AS(topic->publish("y"), std::logic_error);
}
