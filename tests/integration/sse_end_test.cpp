// A Server-Sent Events stream that has an end: on_request may throw sse::stop_reconnecting, which
// answers 204 No Content, the one answer that stops a browser's EventSource from reconnecting
// (WHATWG HTML §9.2.3). Raw sockets on loopback; every read has a deadline.
#include <catch2/catch.hpp>

#include <string>

#include <tether/server.hpp>

#include "test_server.hpp"

using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::test_server;

TEST_CASE("an SSE route's on_request can end the stream for good with 204 and no body") {
    test_server server{[](tether::server& app) {
        app.sse("/answer", {.on_request = [](const tether::http::request& req, tether::sse::no_user_data&) {
                                if (req.header("last-event-id") == "done") throw tether::sse::stop_reconnecting{};
                            }});
    }};
    raw_client c(server.port());
    REQUIRE(c.send(get_request("/answer", "Last-Event-ID: done\r\n")));
    auto r = c.read_response();
    INFO(c.last_error());
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->body.empty());
    CHECK_FALSE(r->header("content-length"));
    CHECK_FALSE(r->header("content-type"));
    // The connection stays usable; a request without the id gets a stream.
    REQUIRE(c.send(get_request("/answer")));
    CHECK_FALSE(c.closed_within(std::chrono::milliseconds(200)));
    CHECK(c.unread().rfind("HTTP/1.1 200", 0) == 0);
    CHECK(c.unread().find("text/event-stream") != std::string::npos);
}
