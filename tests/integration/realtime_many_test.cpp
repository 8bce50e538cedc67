// One stream (or one poll) for many topics, as app.realtime registers them for tether.js:
// /sse?topics=a,b, /poll?topics=a,b, /status?topics=a,b. What each test pins: the composite
// cursor resumes every topic by name, even when the set of topics changes between connections;
// an unknown or refused topic fails alone while the others are served; a held poll wakes for a
// message on any of its topics; the request's budgets (topic count, held polls) hold.
//
// Clients: raw sockets (the bytes the server writes). Messages are published before a stream
// connects and resumed from a cursor at the start of history, so no test races the subscription.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/json_reader.hpp>
#include <tether/http/error.hpp>
#include <tether/hub/composite_cursor.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/server.hpp>

#include "sse_reader.hpp"
#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::sse_event;
using tether::itest::sse_reader;
using tether::itest::test_server;

namespace {

// One topic's entry of a many-topic poll answer.
struct topic_batch {
    std::vector<std::string> ids, data;
    std::string next;
    bool recovered = false;
};

struct many_answer {
    std::map<std::string, topic_batch> topics;
    std::map<std::string, int> refused;   // topic -> status
};

many_answer parse_many(std::string_view body) {
    INFO("body: " << body);
    return tether::json::parse(body, [](simdjson::ondemand::document& doc) {
        many_answer a;
        auto topics = tether::json::field<simdjson::ondemand::object>(doc, "topics");
        for (auto field : topics) {
            std::string name(std::string_view(field.unescaped_key().value()));
            simdjson::ondemand::object batch = field.value().get_object();
            topic_batch b;
            for (auto m : tether::json::field<simdjson::ondemand::array>(batch, "messages")) {
                simdjson::ondemand::object message = m.get_object();
                b.ids.emplace_back(tether::json::field<std::string>(message, "id"));
                b.data.emplace_back(tether::json::field<std::string>(message, "data"));
            }
            b.next = tether::json::field<std::string>(batch, "next");
            b.recovered = tether::json::field<bool>(batch, "recovered");
            a.topics.emplace(name, std::move(b));
        }
        auto refused = tether::json::field<simdjson::ondemand::object>(doc, "refused");
        for (auto field : refused) {
            std::string name(std::string_view(field.unescaped_key().value()));
            simdjson::ondemand::object r = field.value().get_object();
            a.refused.emplace(name, tether::json::field<int>(r, "status"));
        }
        return a;
    });
}

tether::itest::response request_once(std::uint16_t port, std::string_view target, std::string_view fields = {}) {
    raw_client c(port);
    REQUIRE(c.send(get_request(target, fields)));
    auto r = c.read_response();
    REQUIRE(r);
    return *r;
}

// "a:<epoch>-0,b:<epoch>-0": a cursor before every message of each topic.
std::string before_every_message(std::initializer_list<tether::hub::topic_handle> topics) {
    std::string out;
    for (const auto& t : topics) tether::hub::append_named_cursor(out, t->name(), {t->epoch(), 0}, out.empty());
    return out;
}

std::optional<tether::hub::cursor> cursor_for(std::string_view composite, std::string_view topic) {
    auto c = tether::hub::find_named_cursor(composite, topic, 64);
    if (!c || !c->valid) return std::nullopt;
    return c->position;
}

void realtime_set(tether::server& app) {
    auto alpha = app.topic("alpha");
    auto beta = app.topic("beta");
    auto gamma = app.topic("gamma");
    app.topic("private");   // the server's, not the realtime set's: 403 by the default can_subscribe
    app.realtime(alpha, beta, gamma);
}

} // namespace

TEST_CASE("one SSE stream carries many topics, fails an unknown or refused topic alone, and resumes each by name") {
    test_server server{realtime_set};
    auto alpha = server.app().topic("alpha");
    auto beta = server.app().topic("beta");
    auto gamma = server.app().topic("gamma");
    alpha.publish("a1");
    beta.publish("b1");
    alpha.publish("a2");

    std::string start = before_every_message({alpha.handle(), beta.handle()});
    std::string id_after_b1;
    {
        sse_reader sse(server.port(), "/sse?topics=alpha,nope,beta,private&lastEventId=" + start);
        auto events = sse.next_n(5);
        // The refusals come first, each naming its topic and why; the stream goes on for the others.
        CHECK(events[0].type == "tether:refused");
        CHECK(events[0].data == R"({"topic":"nope","status":404,"message":"no such topic: nope"})");
        CHECK(events[1].type == "tether:refused");
        CHECK(events[1].data.find(R"("topic":"private","status":403)") != std::string::npos);
        // Replayed per topic (each topic's history in order; the topics' interleaving is not a promise).
        std::vector<std::string> alpha_data, beta_data;
        for (std::size_t i = 2; i < 5; ++i) {
            REQUIRE(events[i].id);
            CHECK(cursor_for(*events[i].id, "alpha"));
            CHECK(cursor_for(*events[i].id, "beta"));
            CHECK_FALSE(cursor_for(*events[i].id, "nope"));   // only admitted topics have a position
            (events[i].type == "alpha" ? alpha_data : beta_data).push_back(events[i].data);
            if (events[i].data == "b1") id_after_b1 = *events[i].id;
        }
        CHECK(alpha_data == std::vector<std::string>{"a1", "a2"});
        CHECK(beta_data == std::vector<std::string>{"b1"});
        auto last = cursor_for(*events[4].id, "alpha");
        REQUIRE(last);
        CHECK(last->sequence == 2);
    }
    REQUIRE_FALSE(id_after_b1.empty());
    beta.publish("b2");
    gamma.publish("g1");

    SECTION("a reconnect with another set of topics resumes each by name; a new one starts live") {
        auto b1 = cursor_for(id_after_b1, "beta");
        auto a_then = cursor_for(id_after_b1, "alpha");
        REQUIRE(b1);
        REQUIRE(a_then);
        // beta first now, gamma new (no cursor: live), alpha resumed from where the id says.
        sse_reader sse(server.port(), "/sse?topics=beta,gamma,alpha", "Last-Event-ID: " + id_after_b1 + "\r\n");
        std::size_t expected_alpha = 2 - a_then->sequence;   // alpha messages after the id
        auto events = sse.next_n(1 + expected_alpha);
        std::vector<std::string> seen;
        for (auto& e : events) seen.push_back(e.type + ":" + e.data);
        CHECK(std::count(seen.begin(), seen.end(), "beta:b2") == 1);
        CHECK(std::find(seen.begin(), seen.end(), "beta:b1") == seen.end());    // not again
        CHECK(std::find(seen.begin(), seen.end(), "gamma:g1") == seen.end());   // before it joined
        CHECK(sse.quiet_for(300ms));
        gamma.publish("g2");   // live on the resumed stream (subscribed: the replay above came through it)
        auto live = sse.next();
        REQUIRE(live);
        CHECK(live->type == "gamma");
        CHECK(live->data == "g2");
        REQUIRE(live->id);
        auto g = cursor_for(*live->id, "gamma");
        REQUIRE(g);
        CHECK(g->sequence == 2);
        CHECK(cursor_for(*live->id, "beta")->sequence == 2);
    }
    SECTION("a cursor that does not parse is a reset for its topic alone") {
        std::string id = "alpha:zzz," + std::string(id_after_b1.substr(id_after_b1.find("beta:")));
        sse_reader sse(server.port(), "/sse?topics=alpha,beta&lastEventId=" + id);
        auto first = sse.next();
        REQUIRE(first);
        CHECK(first->type == "tether:reset");
        CHECK(first->data == R"({"topic":"alpha","recovered":false})");
        auto second = sse.next();
        REQUIRE(second);
        CHECK(second->type == "beta");
        CHECK(second->data == "b2");
    }
}

TEST_CASE("a many-topic SSE stream refuses a topic list it cannot serve, and guards like the per-topic routes") {
    struct user {
        std::string name;
    };
    test_server server{[](tether::server& app) {
        auto news = app.topic("news");
        auto staff = app.topic("staff");
        app.realtime(tether::realtime_options<user>{
                         .pubsub = {.authorize =
                                        [](const tether::http::request& req, user& u) {
                                            auto name = req.header("x-user");
                                            if (!name) throw tether::http::error(401, "who are you");
                                            u.name = std::string(*name);
                                        },
                                    .can_subscribe = [](const user& u, std::string_view t) { return t == "news" || u.name == "boss"; }},
                         .max_topics_per_request = 3},
                     news, staff);
    }};
    auto port = server.port();
    CHECK(request_once(port, "/sse?topics=news").status == 401);
    CHECK(request_once(port, "/sse", "X-User: ann\r\n").status == 400);
    CHECK(request_once(port, "/sse?topics=,,", "X-User: ann\r\n").status == 400);
    CHECK(request_once(port, "/sse?topics=a,b,c,d", "X-User: ann\r\n").status == 400);   // over max_topics_per_request
    {
        sse_reader sse(port, "/sse?topics=news,staff", "X-User: ann\r\n");
        auto e = sse.next();
        REQUIRE(e);
        CHECK(e->type == "tether:refused");
        CHECK(e->data == R"({"topic":"staff","status":403,"message":"not allowed to subscribe to staff"})");
    }
    {
        sse_reader sse(port, "/sse?topics=news,staff", "X-User: boss\r\n");
        CHECK(sse.quiet_for(200ms));   // both admitted: nothing to refuse
    }
}

TEST_CASE("one long poll covers many topics: each entry is its topic's batch, refusals fail alone, news on any wakes it") {
    test_server server{[](tether::server& app) {
        auto alpha = app.topic("alpha");
        auto beta = app.topic("beta");
        auto gamma = app.topic("gamma");
        app.topic("private");
        app.realtime({.long_poll = {.max_held_per_client = 1}}, alpha, beta, gamma);
    }};
    auto alpha = server.app().topic("alpha");
    auto beta = server.app().topic("beta");
    auto port = server.port();
    alpha.publish("a1");

    // First contact: positions only, at once; the unknown and the refused topic named.
    auto first = parse_many(request_once(port, "/poll?topics=alpha,beta,nope,private").body);
    REQUIRE(first.topics.size() == 2);
    CHECK(first.topics["alpha"].ids.empty());
    CHECK(first.topics["alpha"].next == tether::hub::to_string({alpha.handle()->epoch(), 1}));
    CHECK(first.topics["beta"].next == tether::hub::to_string({beta.handle()->epoch(), 0}));
    CHECK(first.refused == std::map<std::string, int>{{"nope", 404}, {"private", 403}});

    std::string since = "alpha:" + first.topics["alpha"].next + ",beta:" + first.topics["beta"].next;
    SECTION("held until a message on any topic, then every topic's batch") {
        raw_client held(port);
        REQUIRE(held.send(get_request("/poll?topics=alpha,beta&since=" + since)));
        CHECK(held.open_and_quiet_for(300ms));   // nothing new: held
        // The client's cap of held polls (1) covers the many-topic route too.
        CHECK(request_once(port, "/poll?topics=alpha,beta&since=" + since).status == 429);
        beta.publish("b1");
        auto r = held.read_response();
        REQUIRE(r);
        REQUIRE(r->status == 200);
        auto answer = parse_many(r->body);
        CHECK(answer.topics["alpha"].ids.empty());
        CHECK(answer.topics["alpha"].next == first.topics["alpha"].next);   // unchanged
        CHECK(answer.topics["beta"].data == std::vector<std::string>{"b1"});
        CHECK(answer.topics["beta"].next == answer.topics["beta"].ids.back());
        CHECK(answer.topics["beta"].recovered);
    }
    SECTION("news already there is answered at once, in order per topic") {
        alpha.publish("a2");
        beta.publish("b1");
        alpha.publish("a3");
        auto answer = parse_many(request_once(port, "/poll?topics=beta,alpha&since=" + since).body);
        CHECK(answer.topics["alpha"].data == std::vector<std::string>{"a2", "a3"});
        CHECK(answer.topics["beta"].data == std::vector<std::string>{"b1"});
    }
    SECTION("a cursor that does not parse is recovered:false for that topic; a topic without one gets its position") {
        alpha.publish("a2");
        auto answer = parse_many(request_once(port, "/poll?topics=alpha,beta,gamma&since=alpha:nonsense,beta:" + first.topics["beta"].next).body);
        CHECK_FALSE(answer.topics["alpha"].recovered);
        CHECK(answer.topics["beta"].recovered);
        CHECK(answer.topics["beta"].ids.empty());
        CHECK(answer.topics["gamma"].recovered);
        CHECK(answer.topics["gamma"].ids.empty());
    }
}

TEST_CASE("one short poll covers many topics, with an ETag that changes when any of them does") {
    test_server server{realtime_set};
    auto alpha = server.app().topic("alpha");
    auto beta = server.app().topic("beta");
    auto port = server.port();
    alpha.publish("a1");
    std::string since = before_every_message({alpha.handle(), beta.handle()});
    auto r = request_once(port, "/status?topics=alpha,beta&since=" + since);
    REQUIRE(r.status == 200);
    CHECK(r.header("x-poll-interval-ms"));
    auto etag = r.header("etag");
    REQUIRE(etag);
    auto answer = parse_many(r.body);
    CHECK(answer.topics["alpha"].data == std::vector<std::string>{"a1"});
    CHECK(answer.topics["beta"].ids.empty());

    auto again = request_once(port, "/status?topics=alpha,beta&since=" + since, "If-None-Match: " + std::string(*etag) + "\r\n");
    CHECK(again.status == 304);
    beta.publish("b1");
    auto changed = request_once(port, "/status?topics=alpha,beta&since=" + since, "If-None-Match: " + std::string(*etag) + "\r\n");
    REQUIRE(changed.status == 200);
    CHECK(parse_many(changed.body).topics["beta"].data == std::vector<std::string>{"b1"});
    CHECK(changed.header("etag") != etag);
    CHECK(request_once(port, "/status?topics=" + std::string(65 * 2, ',')).status == 400);   // no names at all
}
