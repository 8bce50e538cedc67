// Hostile stream clients (WebSocket, pubsub, SSE): subscription churn, history growth, readers
// that never read, FIN behind a message, oversized messages, floods; and the hooks that decide
// who may connect, subscribe and publish. Each asserts the bound or the status/close code.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <tether/client/ws_client.hpp>

#include "hostile_support.hpp"
#include "ws_test_server.hpp"

using namespace tether::itest;
using namespace std::chrono_literals;
using tether::client::ws_client;
using tether::ws::close_code;

namespace {

std::string subscribe(std::string_view topic) { return R"({"type":"subscribe","topic":")" + std::string(topic) + "\"}"; }
std::string unsubscribe(std::string_view topic) { return R"({"type":"unsubscribe","topic":")" + std::string(topic) + "\"}"; }

// A client frame, masked as RFC 6455 §5.3 requires, for tests that write many at once.
std::string masked(tether::ws::opcode op, std::string_view payload) {
    std::string frame;
    tether::ws::append_frame(frame, op, payload, true, tether::ws::mask_key{0x12, 0x34, 0x56, 0x78});
    return frame;
}

// The next text message that is not a subscription notice.
std::string next_text(ws_client& c) {
    for (;;) {
        auto m = c.receive_message();
        if (!m) return "<closed>";
        if (m->payload.find("\"type\":\"subscribed\"") == std::string::npos) return m->payload;
    }
}

} // namespace

TEST_CASE("subscribe/unsubscribe churn is O(1) per pair and keeps nothing behind", "[hostile]") {
    test_server server([](tether::server& app) {
        app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
        auto news = app.topic("news");
        app.topic("other");
        app.pubsub("/ws", {.max_message_rate = {}});   // no rate limit: the churn itself is measured
        app.post("/publish", [news](auto& req, auto& res) {
            news.publish(req.body());
            res.status(204);
        });
    });
    rss_watch rss;
    ws_client c;
    c.connect("127.0.0.1", server.port(), "/ws");
    // 100,000 pairs in bursts of 1,000; the 1,000 "subscribed" notices of a burst are read
    // before the next, so the server's output never backs up and only the churn is measured.
    std::string burst;
    const std::string pair = masked(tether::ws::opcode::text, subscribe("other")) +
                             masked(tether::ws::opcode::text, unsubscribe("other"));
    for (int k = 0; k < 1000; ++k) burst += pair;
    std::size_t notices = 0;
    for (int i = 0; i < 100; ++i) {
        c.send_raw(burst);
        for (int k = 0; k < 1000; ++k)
            if (auto m = c.receive_message(); m && m->payload.find("\"subscribed\"") != std::string::npos) ++notices;
        if (i == 50) CHECK(normal_request_served(server.port()));
    }
    CHECK(notices == 100'000);
    CHECK(rss.peak_growth() <= with_slack(8u << 20));
    // The connection still works: subscribe and receive.
    c.send_text(subscribe("news"));
    raw_client poster{server.port()};
    poster.send("POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(next_text(c).find("\"data\":\"hello\"") != std::string::npos);
}

TEST_CASE("pubsub limits: message rate and publish rate close with 1008, subscriptions are capped", "[hostile]") {
    test_server server([](tether::server& app) {
        for (int i = 0; i < 5; ++i) app.topic("t" + std::to_string(i));
        app.pubsub("/ws", {.can_publish = [](std::string_view) { return true; },
                           .max_subscriptions = 3,
                           .max_message_rate = {.per_second = 50, .burst = 50},
                           .max_publish_rate = {.per_second = 5, .burst = 5}});
    });
    SECTION("too many subscriptions") {
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/ws");
        for (int i = 0; i < 4; ++i) c.send_text(subscribe("t" + std::to_string(i)));
        std::vector<std::string> replies;
        for (int i = 0; i < 4; ++i) replies.push_back(c.receive_message()->payload);
        CHECK(replies[3].find("too many subscriptions") != std::string::npos);
    }
    SECTION("a message flood") {
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/ws");
        for (int i = 0; i < 200; ++i) c.send_text(R"({"type":"ping"})");
        CHECK(c.wait_for_close() == close_code::policy_violation);
    }
    SECTION("a publish flood") {
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/ws");
        for (int i = 0; i < 20; ++i) c.send_text(R"({"type":"publish","topic":"t0","data":"x"})");
        CHECK(c.wait_for_close() == close_code::policy_violation);
        CHECK(c.close_reason() == "publish rate exceeded");
    }
}

TEST_CASE("topic history is bounded in bytes, per topic and for the server", "[hostile]") {
    auto options = test_server::defaults();
    options.max_history_bytes = 24u << 20;
    tether::topic<> a{nullptr}, b{nullptr};
    test_server server(
        [&](tether::server& app) {
            a = app.topic("a", {.history = 4096, .max_history_bytes = 16u << 20});
            b = app.topic("b", {.history = 4096, .max_history_bytes = 16u << 20});
            app.sse("/sse/a", a);
            app.short_poll("/status/a", a);
        },
        options);
    rss_watch rss;
    std::string body(64 * 1024, 'x');
    for (int i = 0; i < 1100; ++i) a.publish(body);   // 70 MB offered to one topic
    CHECK(a.core().history_bytes() <= (16 << 20) + (1 << 20));
    for (int i = 0; i < 1100; ++i) b.publish(body);
    CHECK(a.core().history_bytes() + b.core().history_bytes() <= (24 << 20) + (2 << 20));
    CHECK(rss.peak_growth() <= with_slack(32u << 20));
    // The oldest messages were evicted: a cursor from the start cannot be resumed, and says so.
    auto first = tether::hub::to_string({a.core().epoch(), 1});
    raw_client c{server.port()};
    c.send(get_request("/status/a?since=" + first));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body.find("\"recovered\":false") != std::string::npos);
}

TEST_CASE("an SSE stream whose client never reads is closed after send_timeout", "[hostile]") {
    auto options = test_server::defaults();
    options.send_timeout = 1s;
    tether::topic<> news{nullptr};
    test_server server(
        [&](tether::server& app) {
            news = app.topic("news");
            app.sse("/events", news);
        },
        options);
    raw_client stalled{server.port()};
    stalled.send(get_request("/events"));
    REQUIRE(eventually([&] { return server.app().admission().streams() == 1; }));
    std::string message(16 * 1024, 's');
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        while (!stop.load()) {
            news.publish(message);
            std::this_thread::sleep_for(1ms);
        }
    });
    CHECK(eventually([&] { return server.app().admission().streams() == 0; }, 20s));
    stop = true;
    publisher.join();
    raw_client probe{server.port()};
    probe.send(get_request("/nothing"));
    auto answer = probe.read_response();
    REQUIRE(answer);
    CHECK(answer->status == 404);
}

TEST_CASE("a WebSocket message followed by FIN ends the connection at once", "[hostile]") {
    tether::test::observations seen;
    test_server server([&](tether::server& app) {
        app.websocket("/ws", {.on_close = [&](auto&, close_code code, std::string_view reason) { seen.record_close(code, reason); }});
    });
    ws_client c;
    c.connect("127.0.0.1", server.port(), "/ws");
    c.send_text("last words");
    ::shutdown(c.socket().native_handle(), SHUT_WR);
    auto closed = seen.wait_for_close(1, 5s);
    REQUIRE(closed);
    CHECK(closed->code == close_code::abnormal_closure);
    CHECK(eventually([&] { return close_wait_sockets(server.port()) == 0; }, 5s));
}

TEST_CASE("a client that sends too big a message reads the 1009 Close, not a reset", "[hostile]") {
    test_server server([](tether::server& app) { app.websocket("/ws", {.max_message_size = 1 << 20}); });
    ws_client c;
    c.connect("127.0.0.1", server.port(), "/ws", {.timeout = 10s});
    std::string big(2 << 20, 'b');
    try {
        c.send_binary(big);
    } catch (const std::exception&) {
        // The server may stop reading once it decided; what matters is what the client reads.
    }
    CHECK(c.wait_for_close() == close_code::message_too_big);
}

TEST_CASE("the server's echo of a client's Close is followed by FIN, not a reset", "[hostile]") {
    test_server server([](tether::server& app) { app.websocket("/ws", {}); });
    raw_client raw{server.port()};
    raw.send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    auto r = raw.read_response();
    REQUIRE(r);
    REQUIRE(r->status == 101);
    // A masked Close (1000) and, behind it, bytes the server will never parse.
    std::string close_frame = masked(tether::ws::opcode::close, std::string("\x03\xe8", 2));
    raw.send(close_frame + std::string(64 * 1024, 'z'));
    CHECK(raw.closed_within(5s));
    CHECK_FALSE(raw.was_reset());
    CHECK(raw.unread().size() >= 4);   // the echoed Close arrived
}

TEST_CASE("origin policy: same origin and non-browser clients by default, others refused", "[hostile]") {
    test_server server([](tether::server& app) {
        app.topic("news");
        app.pubsub("/ws");
        app.sse("/sse", tether::server::sse_behaviour<>{.topics = {"news"}});
        app.pubsub("/open", {.origins = {.allowed = {"https://partner.example"}, .same_origin = false}});
    });
    auto status_for = [&](std::string_view path, std::string_view origin) {
        std::string fields = "Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n";
        if (!origin.empty()) fields += "Origin: " + std::string(origin) + "\r\n";
        std::string request = "GET " + std::string(path) + " HTTP/1.1\r\n" + fields +
                              "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        raw_client c{server.port()};
        c.send(request);
        auto r = c.read_response(5s, /*head only: an SSE body never ends*/ true);
        return r ? r->status : 0;
    };
    const std::string self = "http://127.0.0.1:" + std::to_string(server.port());
    CHECK(status_for("/ws", self) == 101);
    CHECK(status_for("/ws", "") == 101);
    CHECK(status_for("/ws", "https://evil.example") == 403);
    CHECK(status_for("/sse", "https://evil.example") == 403);
    CHECK(status_for("/sse", self) == 200);
    CHECK(status_for("/open", "https://partner.example") == 101);
    CHECK(status_for("/open", self) == 403);
}

namespace {
struct account {
    std::string name;
    bool admin = false;
};
} // namespace

TEST_CASE("pubsub authorize fills user data that can_subscribe and can_publish see", "[hostile]") {
    test_server server([](tether::server& app) {
        app.topic("public");
        app.topic("admin");
        app.pubsub<account>("/ws", {.authorize =
                                        [](const tether::http::request& req, account& who) {
                                            auto token = tether::http::find_query_param(req.query_string(), "token");
                                            if (!token) throw tether::http::error(401, "token required");
                                            who.name = *token;
                                            who.admin = *token == "root";
                                        },
                                    .can_subscribe = [](const account& who,
                                                        std::string_view topic) { return topic != "admin" || who.admin; },
                                    .can_publish = [](const account& who, std::string_view) { return who.admin; }});
    });
    SECTION("no token: 401 before the handshake") {
        ws_client c;
        try {
            c.connect("127.0.0.1", server.port(), "/ws");
            FAIL("accepted without a token");
        } catch (const tether::client::handshake_error& e) {
            CHECK(e.status() == 401);
        }
    }
    SECTION("a user: public yes, admin no, publish no") {
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/ws?token=alice");
        c.send_text(subscribe("public"));
        CHECK(c.receive_message()->payload.find("\"subscribed\"") != std::string::npos);
        c.send_text(subscribe("admin"));
        CHECK(c.receive_message()->payload.find("not allowed to subscribe") != std::string::npos);
        c.send_text(R"({"type":"publish","topic":"public","data":"x"})");
        CHECK(c.receive_message()->payload.find("not allowed to publish") != std::string::npos);
    }
    SECTION("root: everything") {
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/ws?token=root");
        c.send_text(subscribe("admin"));
        CHECK(c.receive_message()->payload.find("\"subscribed\"") != std::string::npos);
        c.send_text(R"({"type":"publish","topic":"admin","data":"hi"})");
        CHECK(next_text(c).find("\"data\":\"hi\"") != std::string::npos);
    }
}

TEST_CASE("long and short polls run their authorize hook first", "[hostile]") {
    test_server server([](tether::server& app) {
        auto t = app.topic("news");
        auto need_token = [](const tether::http::request& req) {
            if (!req.header("authorization")) throw tether::http::error(401, "no credentials");
        };
        app.long_poll("/poll", t, {.authorize = need_token});
        app.short_poll("/status", t, {.authorize = need_token});
    });
    for (const char* path : {"/poll", "/status"}) {
        raw_client c{server.port()};
        c.send(get_request(path));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 401);
        raw_client ok{server.port()};
        ok.send(get_request(path, "Authorization: Bearer x\r\n"));
        auto r2 = ok.read_response();
        REQUIRE(r2);
        CHECK(r2->status == 200);
    }
}
