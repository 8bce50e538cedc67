// The server's counters as a dashboard reads them (server_stats): what is open right now on each
// transport goes up when a client connects and back down when it leaves, and short polls are
// counted as they are answered. Real clients on loopback; every wait has a deadline.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <tether/client/ws_client.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::steady;
using tether::itest::test_server;

namespace {

// Waits up to five seconds for `what` to hold of the server's stats (they change on the I/O
// threads, a moment after the client's side of an open or close).
bool stats_reach(test_server& server, const std::function<bool(const tether::server_stats&)>& what) {
    auto deadline = steady::now() + 5s;
    while (!what(server.app().stats())) {
        if (steady::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

void every_transport(tether::server& app) {
    auto news = app.topic("news");
    app.pubsub("/ws");
    app.sse("/sse/news", news);
    app.long_poll("/poll/news", news);
    app.short_poll("/status/news", news);
}

std::string next_of(const std::string& batch) {
    auto at = batch.find("\"next\":\"");
    REQUIRE(at != std::string::npos);
    at += 8;
    return batch.substr(at, batch.find('"', at) - at);
}

} // namespace

TEST_CASE("stats count each open WebSocket, SSE stream, held long poll and HTTP connection until it closes") {
    test_server server{every_transport};
    auto idle = [](const tether::server_stats& s) {
        return s.http_open == 0 && s.websockets_open == 0 && s.sse_open == 0 && s.long_polls_held == 0;
    };
    REQUIRE(stats_reach(server, idle));

    std::optional<raw_client> http(server.port());
    REQUIRE(http->send(get_request("/status/news")));
    REQUIRE(http->read_response());
    CHECK(stats_reach(server, [](auto& s) { return s.http_open == 1 && s.short_polls == 1; }));

    tether::client::ws_client ws;
    ws.connect("127.0.0.1", server.port(), "/ws", {.timeout = 5s});
    // The upgraded connection counts as a WebSocket, no longer as HTTP.
    CHECK(stats_reach(server, [](auto& s) { return s.websockets_open == 1 && s.http_open == 1; }));

    std::optional<raw_client> sse(server.port());
    REQUIRE(sse->send(get_request("/sse/news")));
    CHECK(stats_reach(server, [](auto& s) { return s.sse_open == 1 && s.http_open == 1; }));

    std::optional<raw_client> poll(server.port());
    REQUIRE(poll->send(get_request("/poll/news")));
    auto first = poll->read_response();
    REQUIRE(first);
    REQUIRE(poll->send(get_request("/poll/news?since=" + next_of(first->body))));
    CHECK(stats_reach(server, [](auto& s) { return s.long_polls_held == 1 && s.http_open == 2; }));

    poll.reset();   // the held poll's client leaves: released
    CHECK(stats_reach(server, [](auto& s) { return s.long_polls_held == 0 && s.http_open == 1; }));
    sse.reset();
    CHECK(stats_reach(server, [](auto& s) { return s.sse_open == 0; }));
    ws.close();
    CHECK(stats_reach(server, [](auto& s) { return s.websockets_open == 0; }));
    http.reset();
    CHECK(stats_reach(server, idle));
    CHECK(server.app().stats().short_polls == 1);
}

TEST_CASE("a held long poll answered by a publish stops counting as held") {
    test_server server{every_transport};
    auto news = server.app().topic("news");
    raw_client c(server.port());
    REQUIRE(c.send(get_request("/poll/news")));
    auto first = c.read_response();
    REQUIRE(first);
    REQUIRE(c.send(get_request("/poll/news?since=" + next_of(first->body))));
    REQUIRE(stats_reach(server, [](auto& s) { return s.long_polls_held == 1; }));
    news.publish("m1");
    auto answer = c.read_response();
    REQUIRE(answer);
    CHECK(answer->body.find("\"data\":\"m1\"") != std::string::npos);
    CHECK(stats_reach(server, [](auto& s) { return s.long_polls_held == 0 && s.http_open == 1; }));
}
