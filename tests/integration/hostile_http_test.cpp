// Hostile HTTP clients: each test is an attack that once made one unauthenticated client hold
// hundreds of MiB, or a descriptor, or a thread, and asserts the bound the server now keeps:
// what it holds (its own accounting, and resident memory), what status the attacker gets, and
// that a normal client is still served meanwhile.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <sys/resource.h>

#include "hostile_support.hpp"

using namespace tether::itest;
using namespace std::chrono_literals;

namespace {

void plain_routes(tether::server& app) {
    app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
    app.get("/x", [](auto&, auto& res) { res.text("x"); });
    app.post("/upload", [](auto& req, auto& res) { res.text(std::to_string(req.body().size())); });
    // A 24 KiB answer that names the request it answers, to check pipelined order.
    app.get("/big/:n", [](auto& req, auto& res) { res.text(std::string(req.param("n")) + std::string(24 * 1024, '.')); });
}

std::string chunked_head(std::string_view target = "/x") {
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
}

} // namespace

TEST_CASE("chunk extensions and trailers are bounded in total: 400, not kilobytes per body byte", "[hostile]") {
    test_server server(plain_routes);
    rss_watch rss;
    std::vector<raw_client> attackers;
    const std::string extension(4000, 'e');
    std::string chunk = "1;" + extension + "\r\na\r\n";
    for (int i = 0; i < 40; ++i) {
        auto& c = attackers.emplace_back(server.port());
        std::string burst = chunked_head();
        for (int k = 0; k < 8; ++k) burst += chunk;   // 32 KB of extensions: past the 16 KiB total
        c.send(burst);
    }
    for (auto& c : attackers) {
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->body.find("chunk extensions") != std::string::npos);
    }
    CHECK(normal_request_served(server.port()));
    CHECK(rss.peak_growth() <= with_slack(4u << 20));
    CHECK(server.app().buffered_input() == 0);
}

TEST_CASE("a body of one-byte chunks holds its decoded bytes, not its framing", "[hostile]") {
    test_server server(plain_routes);
    raw_client c{server.port()};
    REQUIRE(c.send(chunked_head("/upload")));
    // 300,000 one-byte chunks: 1.8 MB of framing for 300 KB of body. What the server holds
    // for this request must track the decoded size, whatever the framing weighed.
    std::string burst;
    for (int i = 0; i < 1000; ++i) burst += "1\r\nz\r\n";
    std::size_t worst = 0;
    for (int round = 0; round < 300; ++round) {
        REQUIRE(c.send(burst));
        if (round % 30 == 29) {
            std::this_thread::sleep_for(20ms);   // let the server read what was sent
            worst = std::max(worst, server.app().buffered_input());
        }
    }
    // decoded bytes (at most 300,000) + the header section + one partial line, charged by the
    // capacity holding them (a string grows by doubling): far below the 1.8 MB of framing
    CHECK(worst <= 2 * (300'000 + 16 * 1024 + 4096));
    CHECK(worst > 0);
    REQUIRE(c.send("0\r\n\r\n"));
    auto r = c.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "300000");
    CHECK(eventually([&] { return server.app().buffered_input() == 0; }));
}

TEST_CASE("pipelined requests from a client that does not read are parsed only as its output drains", "[hostile]") {
    test_server server(plain_routes);
    rss_watch rss;
    raw_client attacker{server.port()};
    // 2,000 requests for 24 KiB each: 48 MiB of answers if the server answered them all at once.
    std::string requests;
    for (int i = 0; i < 2000; ++i) requests += get_request("/big/" + std::to_string(i));
    std::thread writer([&] { attacker.send(requests); });   // blocks once the server stops reading
    std::this_thread::sleep_for(1500ms);
    CHECK(normal_request_served(server.port()));
    const auto growth = rss.peak_growth();
    // The output budget (1 MiB) plus a read's worth of unparsed requests, per connection.
    CHECK(growth <= with_slack(4u << 20));
    // Now read everything: every answer arrives, in order.
    auto answers = attacker.read_responses(2000, 60s);
    writer.join();
    REQUIRE(answers.size() == 2000);
    for (int i : {0, 1, 999, 1999}) CHECK(answers[static_cast<std::size_t>(i)].body.rfind(std::to_string(i) + ".", 0) == 0);
}

TEST_CASE("a poll answer is bounded in bytes and pages through the history with next", "[hostile]") {
    std::string message(8 * 1024, 'm');
    test_server server([&](tether::server& app) {
        auto t = app.topic("news", {.history = 4096});
        app.short_poll("/status", t);
        app.long_poll("/poll", t, {.max_batch = 10'000});
        for (int i = 0; i < 1000; ++i) t.publish(message);   // 8 MB of history
    });
    // A cursor from the first message: the whole history is newer than it.
    raw_client c{server.port()};
    REQUIRE(c.send(get_request("/poll")));
    auto first = c.read_response();
    REQUIRE(first);
    auto next_of = [](const std::string& body) {
        auto at = body.find("\"next\":\"");
        auto start = at + 8;
        return body.substr(start, body.find('"', start) - start);
    };
    std::string cursor = next_of(first->body);
    auto dash = cursor.find('-');
    std::string from_start = cursor.substr(0, dash) + "-0";
    std::size_t received = 0;
    int pages = 0;
    for (std::string since = from_start; received < 1000 && pages < 20; ++pages) {
        REQUIRE(c.send(get_request("/poll?since=" + since)));
        auto r = c.read_response();
        REQUIRE(r);
        REQUIRE(r->status == 200);
        CHECK(r->body.size() <= (1u << 20) + message.size() + 4096);
        std::size_t in_page = 0;
        for (auto at = r->body.find("\"data\""); at != std::string::npos; at = r->body.find("\"data\"", at + 1)) ++in_page;
        received += in_page;
        since = next_of(r->body);
    }
    CHECK(received == 1000);
    CHECK(pages >= 8);   // at most ~128 messages of 8 KiB per 1 MiB page
}

TEST_CASE("many stalled uploads together stay within max_buffered_request_bytes: 503 past it", "[hostile]") {
    auto options = test_server::defaults();
    options.max_buffered_request_bytes = 4u << 20;
    test_server server(plain_routes, options);
    rss_watch rss;
    std::vector<raw_client> uploads;
    std::string half(512 * 1024, 'u');
    int refused = 0;
    for (int i = 0; i < 20; ++i) {   // 20 x 512 KiB = 10 MiB wanted; 4 MiB allowed
        auto& c = uploads.emplace_back(server.port());
        c.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048575\r\n\r\n");
        c.send(half);
    }
    for (auto& c : uploads) {
        if (auto r = c.read_response(500ms)) {
            CHECK(r->status == 503);
            ++refused;
        }
    }
    CHECK(refused >= 10);
    CHECK(server.app().buffered_input() <= (4u << 20));
    CHECK(normal_request_served(server.port()));
    CHECK(rss.peak_growth() <= with_slack(8u << 20));
    uploads.clear();
    CHECK(eventually([&] { return server.app().buffered_input() == 0; }));
}

TEST_CASE("a partial request followed by FIN is closed at once, not at the header deadline", "[hostile]") {
    auto options = test_server::defaults();
    options.header_timeout = 30s;   // far beyond the checks below: only the FIN can end these
    test_server server(plain_routes, options);
    SECTION("a partial header section") {
        std::vector<raw_client> clients;
        for (int i = 0; i < 50; ++i) {
            auto& c = clients.emplace_back(server.port());
            c.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
            c.shutdown_send();
        }
        for (auto& c : clients) CHECK(c.closed_within(5s));
        CHECK(eventually([&] { return close_wait_sockets(server.port()) == 0; }, 5s));
    }
    SECTION("a complete request is still answered before the close") {
        raw_client c{server.port()};
        c.send(get_request("/hello"));
        c.shutdown_send();
        auto r = c.read_response(5s);
        REQUIRE(r);
        CHECK(r->body == "hello");
        CHECK(c.closed_within(5s));
    }
}

TEST_CASE("Host and request-target are validated as RFC 9112 §3.2 asks", "[hostile]") {
    test_server server([](tether::server& app) {
        app.get("/host", [](auto& req, auto& res) {
            res.text(std::string(req.host()) + "|" + std::string(req.header("host").value_or("")));
        });
    });
    auto status_of = [&](const std::string& request) {
        raw_client c{server.port()};
        c.send(request);
        auto r = c.read_response();
        return r ? r->status : 0;
    };
    for (const char* bad : {"a b", "a, b", "user@evil", "[::1", "a:b:c", "host:80x", ":80"}) {
        INFO(bad);
        CHECK(status_of(std::string("GET /host HTTP/1.1\r\nHost: ") + bad + "\r\n\r\n") == 400);
    }
    for (const char* good : {"example.com", "example.com:8080", "[::1]:80", "127.0.0.1", ""}) {
        INFO(good);
        CHECK(status_of(std::string("GET /host HTTP/1.1\r\nHost: ") + good + "\r\n\r\n") == 200);
    }
    CHECK(status_of("GET /h\x80st HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
    CHECK(status_of("GET http://user@example.com/host HTTP/1.1\r\nHost: x\r\n\r\n") == 400);

    raw_client c{server.port()};
    c.send("GET http://target.example:81/host HTTP/1.1\r\nHost: sent.example\r\n\r\n");
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "target.example:81|target.example:81");   // §3.2.2: the target's authority wins
}

TEST_CASE("connections are capped in total and per address, with a reserve for plain requests", "[hostile]") {
    auto options = test_server::defaults();
    options.max_connections = 40;
    options.stream_reserve = 8;
    options.max_connections_per_address = 1000;
    options.max_streams_per_address = 1000;
    test_server server(
        [](tether::server& app) {
            plain_routes(app);
            app.websocket("/ws", {});
        },
        options);
    const std::string upgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    std::vector<raw_client> streams;
    int upgraded = 0, busy = 0;
    for (int i = 0; i < 36; ++i) {
        auto& c = streams.emplace_back(server.port());
        c.send(upgrade);
        auto r = c.read_response(5s);
        REQUIRE(r);
        if (r->status == 101) ++upgraded;
        else if (r->status == 503) ++busy;
    }
    CHECK(upgraded == 32);   // 40 - the reserve of 8
    CHECK(busy == 4);
    CHECK(normal_request_served(server.port()));   // the reserve serves plain HTTP

    // Fill the rest with idle connections: one more is refused at accept, with a 503.
    CHECK(eventually([&] { return server.app().admission().connections() == 36; }));
    std::vector<raw_client> idle;
    for (int i = 0; i < 4; ++i) idle.emplace_back(server.port());
    CHECK(eventually([&] { return server.app().admission().connections() == 40; }));
    raw_client over{server.port()};
    over.send(get_request("/hello"));
    auto refused = over.read_response(5s);
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(server.app().stats().refused_connections >= 1);
    CHECK(server.app().stats().refused_streams == 4);

    streams.clear();
    idle.clear();
    CHECK(eventually([&] { return server.app().admission().connections() == 0; }));
    CHECK(normal_request_served(server.port()));
}

TEST_CASE("one address is capped in connections (503) and streams (429)", "[hostile]") {
    auto options = test_server::defaults();
    options.max_connections_per_address = 6;
    options.max_streams_per_address = 3;
    options.exempt_loopback_from_address_caps = false;   // the test's clients are all on 127.0.0.1
    test_server server(
        [](tether::server& app) {
            plain_routes(app);
            app.websocket("/ws", {});
        },
        options);
    const std::string upgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    std::vector<raw_client> clients;
    std::vector<int> statuses;
    for (int i = 0; i < 4; ++i) {
        auto& c = clients.emplace_back(server.port());
        c.send(upgrade);
        auto r = c.read_response(5s);
        statuses.push_back(r ? r->status : 0);
    }
    CHECK(statuses == std::vector<int>{101, 101, 101, 429});
    // Connections: 4 open; two more fit, the seventh is refused at accept.
    clients.emplace_back(server.port());
    clients.emplace_back(server.port());
    CHECK(eventually([&] { return server.app().admission().connections() == 6; }));
    raw_client seventh{server.port()};
    seventh.send(get_request("/hello"));
    auto r = seventh.read_response(5s);
    REQUIRE(r);
    CHECK(r->status == 503);
}

TEST_CASE("behind a trusted proxy, the forwarded client is the one counted and reported", "[hostile]") {
    auto options = test_server::defaults();
    options.trusted_proxies = {"127.0.0.0/8"};
    options.max_streams_per_address = 1;
    test_server server(
        [](tether::server& app) {
            app.get("/who", [](auto& req, auto& res) { res.text(req.client_address()); });
            app.websocket("/ws", {});
        },
        options);
    auto ask = [&](std::string_view fields) {
        raw_client c{server.port()};
        c.send(get_request("/who", fields));
        auto r = c.read_response();
        return r ? r->body : std::string("no answer");
    };
    CHECK(ask("") == "127.0.0.1");
    CHECK(ask("X-Forwarded-For: 203.0.113.7\r\n") == "203.0.113.7");
    // A client's own X-Forwarded-For entries are not believed past the first untrusted hop.
    CHECK(ask("X-Forwarded-For: 10.9.9.9, 203.0.113.7, 127.0.0.2\r\n") == "203.0.113.7");
    CHECK(ask("Forwarded: for=\"[2001:db8::1]:4711\";proto=https\r\n") == "2001:db8::1");
    CHECK(ask("Forwarded: for=_hidden\r\n") == "127.0.0.1");

    // Streams per address count the forwarded clients: one each.
    auto upgrade_for = [&](std::string_view client) {
        auto c = std::make_unique<raw_client>(server.port());
        c->send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-For: " +
                std::string(client) + "\r\n\r\n");
        auto r = c->read_response(5s);
        return std::make_pair(r ? r->status : 0, std::move(c));
    };
    auto a = upgrade_for("198.51.100.1");
    auto b = upgrade_for("198.51.100.2");
    auto a2 = upgrade_for("198.51.100.1");
    CHECK(a.first == 101);
    CHECK(b.first == 101);
    CHECK(a2.first == 429);
}

TEST_CASE("the server raises its descriptor limit to the hard limit when it listens", "[hostile]") {
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    rlimit lowered = before;
    lowered.rlim_cur = std::min<rlim_t>(before.rlim_max, 512);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    test_server server(plain_routes);
    rlimit after{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
    CHECK(after.rlim_cur == before.rlim_max);
    CHECK(server.app().admission().max_connections() + 32 == static_cast<std::size_t>(after.rlim_cur));
}
