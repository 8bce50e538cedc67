// Three tether nodes as separate processes (the hybrid example with --redis) sharing one redis-server,
// with clients on every transport, checked with numbered payloads: one order on every node, cursors that
// resume on any node, Redis restarted with and without its AOF, a node killed with SIGKILL, presence
// counted across nodes and expiring with a dead node.
//
// Every process is started here on a free loopback port and stopped by its PID (support.hpp); every wait
// has a deadline. Built only when the hybrid example is (TETHER_HYBRID_EXAMPLE).
#ifdef TETHER_HYBRID_EXAMPLE
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clients.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using cluster_test::batch;
using cluster_test::message;
using cluster_test::sse_stream;
using cluster_test::ws_subscriber;
using redis_test::eventually;
using redis_test::redis_server;

namespace {

/// One tether node: the hybrid example, its own process, joined to the cluster through `redis_url`.
class node {
public:
    explicit node(std::string redis_url) : url_{std::move(redis_url)} { start(); }

    void start() {
        process_ = std::make_unique<redis_test::child_process>(
            std::vector<std::string>{TETHER_HYBRID_EXAMPLE, "--port", "0", "--threads", "2", "--redis", url_}, true);
        auto line = process_->wait_for_line("listening on http://127.0.0.1:", 20s);
        REQUIRE(line);
        port_ = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
    }
    void kill() { process_->kill_now(); }   // SIGKILL: no goodbye to Redis or clients
    std::uint16_t port() const noexcept { return port_; }

private:
    std::string url_;
    std::unique_ptr<redis_test::child_process> process_;
    std::uint16_t port_ = 0;
};

/// POST /api/publish/news: the id the cluster stored it under (200), or nullopt (503: not stored).
std::optional<std::string> try_publish(node const& n, std::string const& body) {
    auto r = cluster_test::http(n.port(), "POST", "/api/publish/news", body);
    REQUIRE(r);
    if (r->status == 503) return std::nullopt;
    INFO("answer: " << r->head << "\n\n" << r->body);
    REQUIRE(r->status == 200);
    auto id = tether::json::parse(r->body, [](auto& doc) { return tether::json::field<std::string>(doc, "id"); });
    return id;
}

std::vector<message> publish_numbered(node const& n, int first, int last) {
    std::vector<message> out;
    for (int i = first; i <= last; ++i) {
        auto id = try_publish(n, "m" + std::to_string(i));
        REQUIRE(id);
        out.push_back({*id, "m" + std::to_string(i)});
    }
    return out;
}

/// The topic's current position on `n` (a long poll without since answers at once with it).
std::string position(node const& n) {
    auto r = cluster_test::http(n.port(), "GET", "/poll/news");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return cluster_test::parse_batch(r->body).next;
}

batch get_batch(node const& n, std::string const& route, std::string const& since) {
    auto r = cluster_test::http(n.port(), "GET", route + "?since=" + since, {}, 30s);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return cluster_test::parse_batch(r->body);
}

/// Follows `route` (long or short polling) from `since` until `count` messages came.
std::vector<message> poll_until(node const& n, std::string const& route, std::string since, std::size_t count) {
    std::vector<message> got;
    auto const deadline = cluster_test::steady::now() + 20s;
    while (got.size() < count) {
        REQUIRE(cluster_test::steady::now() < deadline);
        auto b = get_batch(n, route, since);
        REQUIRE(b.recovered);
        got.insert(got.end(), b.messages.begin(), b.messages.end());
        since = b.next;
        if (b.messages.empty() && route == "/status/news") std::this_thread::sleep_for(20ms);
    }
    return got;
}

std::vector<message> ws_messages(ws_subscriber& ws, std::size_t count) {
    std::vector<message> got;
    while (got.size() < count) {
        auto e = ws.next_envelope();
        REQUIRE(e);
        INFO("notice: " << e->type << " " << e->message);
        REQUIRE(e->type.empty());
        got.push_back({e->id, e->data});
    }
    return got;
}

std::vector<message> sse_messages(sse_stream& sse, std::size_t count) {
    std::vector<message> got;
    while (got.size() < count) {
        auto e = sse.next();
        REQUIRE(e);
        INFO("event: " << e->type << " " << e->data);
        REQUIRE(e->type == "news");
        got.push_back({e->id, e->data});
    }
    return got;
}

std::uint64_t epoch_of(std::string const& id) {
    auto c = tether::hub::parse_cursor(id);
    REQUIRE(c);
    return c->epoch;
}

/// Until `n` is connected to Redis again (its presence query needs Redis: 503 until then).
bool connected(node const& n) {
    return eventually([&] {
        auto r = cluster_test::http(n.port(), "GET", "/api/presence");
        return r && r->status == 200;
    }, 20s);
}

/// GET /api/presence: {subscriptions, nodes}.
std::pair<std::uint64_t, std::uint64_t> presence(node const& n) {
    auto r = cluster_test::http(n.port(), "GET", "/api/presence");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return tether::json::parse(r->body, [](auto& doc) {
        auto subscriptions = tether::json::field<std::uint64_t>(doc, "subscriptions");
        return std::pair{subscriptions, tether::json::field<std::uint64_t>(doc, "nodes")};
    });
}

}  // namespace

TEST_CASE("publish on A: WebSocket, SSE, long and short polling clients on B and C get every message, in "
          "one order, under the ids A was told", "[redis][cluster]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()}, c{redis.url()};
    auto const start = position(a);
    CHECK(position(b) == start);   // one position, whichever node answers

    // Everyone starts from the same cursor, so nothing depends on when a subscription took effect.
    ws_subscriber ws_b{b.port(), "news", start}, ws_c{c.port(), "news", start};
    CHECK(ws_b.notice().recovered == true);
    sse_stream sse_b{b.port(), "/sse/news", start}, sse_c{c.port(), "/sse/news", start};

    auto const published = publish_numbered(a, 1, 30);
    for (std::size_t i = 1; i < published.size(); ++i) CHECK(epoch_of(published[i].id) == epoch_of(published[0].id));

    CHECK(ws_messages(ws_b, 30) == published);
    CHECK(ws_messages(ws_c, 30) == published);
    CHECK(sse_messages(sse_b, 30) == published);
    CHECK(sse_messages(sse_c, 30) == published);
    CHECK(poll_until(b, "/poll/news", start, 30) == published);
    CHECK(poll_until(c, "/poll/news", start, 30) == published);
    CHECK(poll_until(b, "/status/news", start, 30) == published);
    CHECK(poll_until(c, "/status/news", start, 30) == published);
}

TEST_CASE("a client moves between nodes with its cursor and misses nothing, duplicates nothing",
          "[redis][cluster]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()}, c{redis.url()};
    auto const start = position(a);
    std::vector<message> first, second;
    {
        sse_stream on_a{a.port(), "/sse/news", start};
        first = publish_numbered(c, 1, 10);
        CHECK(sse_messages(on_a, 10) == first);
    }   // the client leaves A with the id of m10
    second = publish_numbered(b, 11, 20);
    std::string const cursor = first.back().id;

    sse_stream on_b{b.port(), "/sse/news", cursor};
    CHECK(sse_messages(on_b, 10) == second);
    CHECK_FALSE(on_b.next(300ms));   // and nothing more: no duplicate

    ws_subscriber ws_c{c.port(), "news", cursor};
    CHECK(ws_c.notice().recovered == true);
    CHECK(ws_messages(ws_c, 10) == second);

    auto long_poll = get_batch(a, "/poll/news", cursor);
    CHECK(long_poll.recovered);
    CHECK(long_poll.messages == second);
    auto short_poll = get_batch(c, "/status/news", cursor);
    CHECK(short_poll.recovered);
    CHECK(short_poll.messages == second);
}

TEST_CASE("Redis killed and restarted with its AOF: publishers get 503 meanwhile, subscribers stay "
          "connected and miss nothing, the epoch is kept", "[redis][cluster]") {
    redis_test::redis_config aof;
    aof.append_only = true;
    redis_server redis{aof};
    node a{redis.url()}, b{redis.url()}, c{redis.url()};
    auto const start = position(a);
    sse_stream sse_b{b.port(), "/sse/news", start};
    ws_subscriber ws_c{c.port(), "news", start};
    auto published = publish_numbered(a, 1, 10);
    CHECK(sse_messages(sse_b, 10) == published);

    redis.kill();
    REQUIRE(eventually([&] { return !try_publish(a, "lost").has_value(); }, 20s));
    for (int i = 0; i < 3; ++i) CHECK_FALSE(try_publish(b, "lost"));   // never a 201 for what was not stored

    redis.start();
    REQUIRE(connected(a));
    REQUIRE(connected(c));
    auto const m11 = try_publish(a, "m11");
    REQUIRE(m11);
    published.push_back({*m11, "m11"});
    auto more = publish_numbered(c, 12, 20);
    published.insert(published.end(), more.begin(), more.end());
    CHECK(epoch_of(published.back().id) == epoch_of(published.front().id));

    CHECK(sse_messages(sse_b, 10) == std::vector<message>(published.begin() + 10, published.end()));
    CHECK(ws_messages(ws_c, 20) == published);
    auto resumed = get_batch(b, "/poll/news", published[4].id);
    CHECK(resumed.recovered);
    CHECK(resumed.messages == std::vector<message>(published.begin() + 5, published.end()));
}

TEST_CASE("Redis restarted without persistence: a new epoch, and every client is told (recovered:false, "
          "event: reset) instead of a silent gap", "[redis][cluster]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()}, c{redis.url()};
    auto const start = position(a);
    sse_stream sse_b{b.port(), "/sse/news", start};
    ws_subscriber ws_c{c.port(), "news", start};
    auto const before = publish_numbered(a, 1, 5);
    CHECK(sse_messages(sse_b, 5) == before);
    CHECK(ws_messages(ws_c, 5) == before);

    redis.kill_and_forget();
    redis.start();
    REQUIRE(connected(a));
    auto const id = try_publish(a, "after");
    REQUIRE(id);
    CHECK(epoch_of(*id) != epoch_of(before.back().id));
    CHECK(tether::hub::parse_cursor(*id)->sequence > tether::hub::parse_cursor(before.back().id)->sequence);

    // The live SSE stream: event: reset, then the new epoch's message.
    auto reset = sse_b.next();
    REQUIRE(reset);
    CHECK(reset->type == "reset");
    auto next = sse_b.next();
    REQUIRE(next);
    CHECK(next->id == *id);
    // The live WebSocket: a subscribed notice with recovered:false, then the message.
    auto notice = ws_c.next_envelope();
    REQUIRE(notice);
    CHECK(notice->type == "subscribed");
    CHECK(notice->recovered == false);
    auto m = ws_c.next_envelope();
    REQUIRE(m);
    CHECK(m->id == *id);
    // Clients coming back with a cursor of the lost epoch, on any node (once it follows the new epoch:
    // until then it still holds the old history, and serving it would be correct too).
    for (auto* n : {&a, &b, &c}) REQUIRE(eventually([&] { return epoch_of(position(*n)) == epoch_of(*id); }, 20s));
    sse_stream back{c.port(), "/sse/news", before.back().id};
    auto first = back.next();
    REQUIRE(first);
    CHECK(first->type == "reset");
    ws_subscriber ws_back{b.port(), "news", before.back().id};
    CHECK(ws_back.notice().recovered == false);
    CHECK_FALSE(get_batch(a, "/poll/news", before.back().id).recovered);
    CHECK_FALSE(get_batch(c, "/status/news", before.back().id).recovered);
}

TEST_CASE("a node killed with SIGKILL: its clients resume exactly on another node; restarted, it serves "
          "the cluster's history", "[redis][cluster]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()}, c{redis.url()};
    auto const start = position(a);
    auto first = publish_numbered(a, 1, 5);
    std::string cursor;
    {
        sse_stream on_b{b.port(), "/sse/news", start};
        CHECK(sse_messages(on_b, 5) == first);
        cursor = first.back().id;
        b.kill();
        CHECK_FALSE(on_b.next(5s));   // the stream ended with the process
        CHECK(on_b.ended());
    }
    auto second = publish_numbered(a, 6, 10);   // the others carry on
    sse_stream on_c{c.port(), "/sse/news", cursor};
    CHECK(sse_messages(on_c, 5) == second);

    b.start();   // a new process, a new port, an empty ring: warmed from Redis before it listens
    sse_stream back_on_b{b.port(), "/sse/news", cursor};
    CHECK(sse_messages(back_on_b, 5) == second);
    auto third = publish_numbered(b, 11, 12);
    CHECK(sse_messages(on_c, 2) == third);
}

TEST_CASE("presence counts subscriptions on every node, and forgets a node that died", "[redis][cluster]") {
    redis_server redis;
    node a{redis.url()}, b{redis.url()}, c{redis.url()};
    auto const start = position(a);
    std::vector<std::unique_ptr<sse_stream>> on_a;
    for (int i = 0; i < 2; ++i) on_a.push_back(std::make_unique<sse_stream>(a.port(), "/sse/news", start));
    std::vector<std::unique_ptr<ws_subscriber>> on_b;
    for (int i = 0; i < 3; ++i) on_b.push_back(std::make_unique<ws_subscriber>(b.port(), "news", start));

    REQUIRE(eventually([&] { return presence(c) == std::pair<std::uint64_t, std::uint64_t>{5, 2}; }, 15s));
    CHECK(presence(a).first == 5);

    b.kill();   // its entry is never removed: it expires
    REQUIRE(eventually([&] { return presence(c) == std::pair<std::uint64_t, std::uint64_t>{2, 1}; }, 15s));
    on_a.clear();
    REQUIRE(eventually([&] { return presence(a).first == 0; }, 15s));
}
#endif
