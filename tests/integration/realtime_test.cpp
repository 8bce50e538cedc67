// app.realtime(topics...): the routes tether.js looks for by default, registered in one call, and
// the one rule that judges a client's publish whether it came over WebSocket or REST. Also the
// topic history a server rounds up to the ring's power of two.
//
// Clients: raw sockets for HTTP (the bytes the server writes) and tether's ws_client for the
// pubsub protocol. Every read has a deadline; each TEST_CASE runs its own server.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/client/ws_client.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/http/error.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::client::ws_client;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::test_server;

namespace {

struct reply {
    std::string type, topic, id, data, ref, message;
    int status = 0;
    std::optional<bool> recovered;
};

reply parse_reply(std::string_view text) {
    INFO("JSON: " << text);
    return tether::json::parse(text, [](simdjson::ondemand::document& doc) {
        auto obj = tether::json::as<simdjson::ondemand::object>(doc, "reply");
        reply r;
        r.type = tether::json::optional_field<std::string>(obj, "type").value_or("");
        r.topic = tether::json::optional_field<std::string>(obj, "topic").value_or("");
        r.id = tether::json::optional_field<std::string>(obj, "id").value_or("");
        r.data = tether::json::optional_field<std::string>(obj, "data").value_or("");
        r.ref = tether::json::optional_field<std::string>(obj, "ref").value_or("");
        r.message = tether::json::optional_field<std::string>(obj, "message").value_or("");
        r.status = tether::json::optional_field<int>(obj, "status").value_or(0);
        r.recovered = tether::json::optional_field<bool>(obj, "recovered");
        return r;
    });
}

reply receive(ws_client& c) {
    auto m = c.receive_message();
    REQUIRE(m);
    return parse_reply(m->payload);
}

std::optional<tether::itest::response> get(std::uint16_t port, std::string_view target) {
    raw_client c(port);
    REQUIRE(c.send(get_request(target)));
    return c.read_response();
}

std::optional<tether::itest::response> post(std::uint16_t port, std::string_view target, std::string_view body) {
    raw_client c(port);
    std::string request = "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
    REQUIRE(c.send(request));
    return c.read_response();
}

std::string error_message(const tether::itest::response& r) {
    return tether::json::parse(r.body, [](simdjson::ondemand::document& doc) {
        auto error = tether::json::field<simdjson::ondemand::object>(doc, "error");
        return tether::json::field<std::string>(error, "message");
    });
}

} // namespace

TEST_CASE("app.realtime registers the WebSocket, SSE, long-poll, short-poll and tether.js routes tether.js looks for") {
    test_server server{[](tether::server& app) {
        auto news = app.topic("news");
        auto prices = app.topic<tether::backpressure::conflate>("prices");
        app.topic("private");
        app.realtime(news, prices);
    }};
    auto port = server.port();
    for (std::string topic : {"news", "prices"}) {
        INFO("topic " << topic);
        auto poll = get(port, "/poll/" + topic);
        REQUIRE(poll);
        CHECK(poll->status == 200);
        CHECK(poll->body.find("\"next\":") != std::string::npos);
        auto status = get(port, "/status/" + topic);
        REQUIRE(status);
        CHECK(status->status == 200);
        CHECK(status->header("x-poll-interval-ms"));

        raw_client sse(port);
        REQUIRE(sse.send(get_request("/sse/" + topic)));
        CHECK_FALSE(sse.closed_within(300ms));   // a stream stays open
        CHECK(sse.unread().rfind("HTTP/1.1 200", 0) == 0);
        CHECK(sse.unread().find("text/event-stream") != std::string::npos);
    }
    auto client = get(port, "/tether.js");
    REQUIRE(client);
    CHECK(client->status == 200);
    CHECK(client->header("content-type")->find("javascript") != std::string::npos);
    CHECK(client->body.find("export function connect") != std::string::npos);
    // A topic the server has but did not hand to realtime is not served.
    auto other = get(port, "/poll/private");
    REQUIRE(other);
    CHECK(other->status == 404);

    ws_client ws;
    ws.connect("127.0.0.1", port, "/ws", {.timeout = 5s});
    ws.send_text(R"({"type":"subscribe","topic":"prices"})");
    auto subscribed = receive(ws);
    CHECK(subscribed.type == "subscribed");
    CHECK(subscribed.topic == "prices");
    ws.send_text(R"({"type":"subscribe","topic":"private"})");
    auto refused = receive(ws);
    CHECK(refused.type == "error");
    CHECK(refused.status == 403);
    CHECK(refused.topic == "private");
}

TEST_CASE("a publish is judged by one rule over WebSocket and over the realtime REST route") {
    test_server server{[](tether::server& app) {
        auto news = app.topic("news");
        auto locked = app.topic("locked");
        app.realtime({.routes = {.publish = "/api/publish/{topic}"},
                      .pubsub = {.can_publish = [](std::string_view t) { return t == "news"; },
                                 .prepare_publish =
                                     [](std::string_view, std::string_view data) {
                                         if (data.empty()) throw tether::http::error(422, "say something");
                                         return "<" + std::string(data) + ">";
                                     },
                                 .max_message_size = 100}},
                     news, locked);
    }};
    auto port = server.port();
    ws_client watcher;
    watcher.connect("127.0.0.1", port, "/ws", {.timeout = 5s});
    watcher.send_text(R"({"type":"subscribe","topic":"news"})");
    REQUIRE(receive(watcher).type == "subscribed");

    ws_client ws;
    ws.connect("127.0.0.1", port, "/ws", {.timeout = 5s});

    SECTION("refused the same way") {
        auto empty = post(port, "/api/publish/news", "");
        REQUIRE(empty);
        CHECK(empty->status == 422);
        CHECK(error_message(*empty) == "say something");
        ws.send_text(R"({"type":"publish","topic":"news","data":"","ref":"a1"})");
        auto ws_empty = receive(ws);
        CHECK(ws_empty.type == "error");
        CHECK(ws_empty.status == 422);
        CHECK(ws_empty.message == "say something");
        CHECK(ws_empty.ref == "a1");

        auto forbidden = post(port, "/api/publish/locked", "hi");
        REQUIRE(forbidden);
        CHECK(forbidden->status == 403);
        ws.send_text(R"({"type":"publish","topic":"locked","data":"hi"})");
        auto ws_forbidden = receive(ws);
        CHECK(ws_forbidden.status == 403);
        CHECK(ws_forbidden.ref.empty());

        std::string big(101, 'x');
        auto too_big = post(port, "/api/publish/news", big);
        REQUIRE(too_big);
        CHECK(too_big->status == 413);
        // Nothing refused reached the topic.
        CHECK(server.app().find_topic("news")->handle->next_sequence() == 1);
    }

    SECTION("accepted the same way, with the id of what was published") {
        auto rest = post(port, "/api/publish/news", "one");
        REQUIRE(rest);
        CHECK(rest->status == 200);
        auto rest_reply = parse_reply(rest->body);
        CHECK(rest_reply.topic == "news");
        ws.send_text(R"({"type":"publish","topic":"news","data":"two","ref":"r2"})");
        auto ack = receive(ws);
        CHECK(ack.type == "published");
        CHECK(ack.ref == "r2");
        CHECK(ack.topic == "news");
        ws.send_text(R"({"type":"publish","topic":"news","data":"three"})");   // no ref: no answer
        ws.send_text(R"({"type":"ping"})");
        CHECK(receive(ws).type == "pong");

        auto first = receive(watcher), second = receive(watcher), third = receive(watcher);
        CHECK(first.data == "<one>");
        CHECK(first.id == rest_reply.id);
        CHECK(second.data == "<two>");
        CHECK(second.id == ack.id);
        CHECK(third.data == "<three>");
    }
}

TEST_CASE("app.realtime refuses a topic name that cannot be a path segment, and a publish route with no publisher rule") {
    tether::server app{{.port = 0}};
    auto spaced = app.topic("two words");
    auto news = app.topic("news");
    CHECK_THROWS_AS(app.realtime(spaced), std::invalid_argument);
    CHECK_THROWS_AS(app.realtime({.routes = {.publish = "/publish/{topic}"}}, news), std::invalid_argument);
    CHECK_THROWS_AS(app.realtime({.routes = {.sse = "/events"}}, news), std::invalid_argument);
}

TEST_CASE("a topic's history is rounded up to a power of two and keeps at least what was asked") {
    tether::server app{{.port = 0}};
    auto thousand = app.topic("thousand", {.history = 1000});
    CHECK(thousand.history() == 1024);
    CHECK(app.topic("tiny", {.history = 0}).history() == 2);
    CHECK(app.topic("exact", {.history = 256}).history() == 256);
    CHECK_THROWS_AS(app.topic("huge", {.history = (std::size_t{1} << 30) + 1}), std::invalid_argument);
    for (int i = 0; i < 1000; ++i) thousand.publish("m");
    // 1000 back from the newest is still there to replay.
    auto resume = thousand.core().resume(tether::hub::cursor{thousand.position().epoch, 0});
    CHECK(resume.recovered);
    CHECK(resume.from == 1);
}

TEST_CASE("app.realtime's authorize and can_subscribe guard SSE and polls as they guard the WebSocket, and prepare_publish sees the sender") {
    struct user {
        std::string name;
    };
    test_server server{[](tether::server& app) {
        auto news = app.topic("news");
        auto staff = app.topic("staff");
        app.realtime(tether::realtime_options<user>{
                         .routes = {.publish = "/api/publish/{topic}"},
                         .pubsub = {.authorize =
                                        [](const tether::http::request& req, user& u) {
                                            auto name = req.header("x-user");
                                            if (!name) throw tether::http::error(401, "who are you");
                                            u.name = std::string(*name);
                                        },
                                    .can_subscribe = [](const user& u, std::string_view t) { return t == "news" || u.name == "boss"; },
                                    .can_publish = [](const user&, std::string_view) { return true; },
                                    .prepare_publish = [](const user& u, std::string_view, std::string_view data) {
                                        return u.name + ": " + std::string(data);
                                    }}},
                     news, staff);
    }};
    const auto port = server.port();
    const auto status_of = [port](std::string_view target, std::string_view fields = {}) {
        raw_client c(port);
        REQUIRE(c.send(get_request(target, fields)));
        auto r = c.read_response();
        REQUIRE(r);
        return r->status;
    };
    for (std::string_view route : {"/sse/news", "/poll/news", "/status/news"}) {
        INFO(route);
        CHECK(status_of(route) == 401);
    }
    for (std::string_view route : {"/sse/staff", "/poll/staff", "/status/staff"}) {
        INFO(route);
        CHECK(status_of(route, "X-User: ann\r\n") == 403);
    }
    CHECK(status_of("/poll/news", "X-User: ann\r\n") == 200);
    CHECK(status_of("/status/staff", "X-User: boss\r\n") == 200);

    raw_client c(port);
    REQUIRE(c.send("POST /api/publish/news HTTP/1.1\r\nHost: t\r\nX-User: ann\r\nContent-Length: 2\r\n\r\nhi"));
    auto published = c.read_response();
    REQUIRE(published);
    CHECK(published->status == 200);
    raw_client reader(port);
    REQUIRE(reader.send(get_request("/status/news?since=0000000000000000-0", "X-User: ann\r\n")));
    auto batch = reader.read_response();
    REQUIRE(batch);
    CHECK(batch->body.find(R"("data":"ann: hi")") != std::string::npos);
}
