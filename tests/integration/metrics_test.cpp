// app.metrics() and app.health() as a scraper and a load balancer see them: /metrics read back
// before and after known traffic (N requests of a route, a 404, K WebSocket messages, a publish to
// M subscribers, a refused stream), with the exact differences checked per series; a real scrape
// checked by Prometheus's own `promtool check metrics` when the build found it; readiness before
// run(), while serving and while stopping.
//
// Counters are written on the I/O threads a moment after a client sees its answer (the bytes of a
// WebSocket write are counted when write() returns), so each check waits, with a deadline, for the
// series to reach its exact expected value and then checks that it stays there.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::steady;
using tether::itest::test_server;

namespace {

// One scrape: series (name and labels, as written) to value. Comment lines are checked for shape.
using metrics_series = std::map<std::string, double>;

metrics_series metrics_parse(const std::string& text) {
    metrics_series out;
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find('\n', at);
        REQUIRE(end != std::string::npos);   // every line ends with a line feed, the last too
        std::string line = text.substr(at, end - at);
        at = end + 1;
        if (line.starts_with("#")) {
            CHECK((line.starts_with("# HELP ") || line.starts_with("# TYPE ")));
            continue;
        }
        auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        std::string value = line.substr(space + 1);
        out[line.substr(0, space)] = value == "+Inf" ? 1e308 : std::strtod(value.c_str(), nullptr);
    }
    return out;
}

std::string metrics_fetch(std::uint16_t port, std::string_view path, int* status = nullptr, std::string* content_type = nullptr) {
    raw_client c{port};
    REQUIRE(c.send(get_request(path)));
    auto r = c.read_response();
    REQUIRE(r);
    if (status) *status = r->status;
    if (content_type) *content_type = r->header("content-type").value_or("");
    return r->body;
}

metrics_series metrics_scrape(std::uint16_t port) { return metrics_parse(metrics_fetch(port, "/metrics")); }

double metrics_value(const metrics_series& s, const std::string& series) {
    auto it = s.find(series);
    return it == s.end() ? 0 : it->second;
}

// Waits for every series in `expected` to differ from `before` by exactly its delta.
bool metrics_deltas_reach(std::uint16_t port, const metrics_series& before, const std::map<std::string, double>& expected) {
    auto deadline = steady::now() + 5s;
    for (;;) {
        auto now = metrics_scrape(port);
        bool all = true;
        for (const auto& [series, delta] : expected) {
            double got = metrics_value(now, series) - metrics_value(before, series);
            if (got != delta) {
                all = false;
                if (steady::now() > deadline) UNSCOPED_INFO(series << ": expected +" << delta << ", got +" << got);
            }
        }
        if (all) return true;
        if (steady::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

std::string requests_series(std::string_view route, std::string_view method, std::string_view status) {
    return "tether_http_requests_total{route=\"" + std::string(route) + "\",method=\"" + std::string(method) +
           "\",status=\"" + std::string(status) + "\"}";
}

void metrics_routes(tether::server& app) {
    app.get("/items/:id", [](auto& req, auto& res) { res.text(std::string(req.param("id"))); });
    app.post("/items", [](auto&, auto& res) { res.status(201).text("made"); });
    app.websocket("/echo", {.on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); }});
    app.topic("news");
    app.pubsub("/ws");
    app.metrics("/metrics");
    app.health();
}

} // namespace

TEST_CASE("metrics: known traffic moves each series by exactly its amount", "[metrics]") {
    test_server server{metrics_routes};
    const auto port = server.port();

    int status = 0;
    std::string type;
    auto first = metrics_fetch(port, "/metrics", &status, &type);
    CHECK(status == 200);
    CHECK(type == "text/plain; version=0.0.4; charset=utf-8");
    auto before = metrics_parse(first);
    // The scrape in progress is the one request in flight.
    CHECK(metrics_value(before, "tether_http_requests_in_flight") == 1);
    CHECK(metrics_value(before, "tether_ready") == 1);

    // N requests of one route pattern (labelled by the pattern, not the path), a POST, a 404.
    constexpr int n = 7;
    {
        raw_client c{port};
        for (int i = 0; i < n; ++i) REQUIRE(c.send(get_request("/items/" + std::to_string(i))));
        REQUIRE(c.read_responses(n).size() == static_cast<std::size_t>(n));
        REQUIRE(c.send("POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi"));
        auto made = c.read_response();
        REQUIRE(made);
        CHECK(made->status == 201);
        REQUIRE(c.send(get_request("/nowhere")));
        auto missing = c.read_response();
        REQUIRE(missing);
        CHECK(missing->status == 404);
    }
    CHECK(metrics_deltas_reach(port, before,
                       {{requests_series("/items/:id", "GET", "2xx"), n},
                        {requests_series("/items", "POST", "2xx"), 1},
                        {requests_series("(none)", "GET", "4xx"), 1},
                        {"tether_http_request_duration_seconds_count{route=\"/items/:id\"}", n},
                        {"tether_http_request_duration_seconds_bucket{route=\"/items/:id\",le=\"+Inf\"}", n}}));
    auto after_http = metrics_scrape(port);
    CHECK(metrics_value(after_http, "tether_http_requests_in_flight") == 1);
    CHECK(after_http.count(requests_series("/items/1", "GET", "2xx")) == 0);

    // K WebSocket messages echoed: K in, K out, and the bytes of their frames (a client frame of
    // under 126 bytes has a 2-byte header and a 4-byte mask, a server frame the header alone).
    constexpr int k = 5;
    const std::string message = "hello metrics";
    {
        tether::client::ws_client ws;
        ws.connect("127.0.0.1", port, "/echo", {.timeout = 5s});
        for (int i = 0; i < k; ++i) {
            ws.send_text(message);
            auto echo = ws.receive();
            REQUIRE(echo);
            CHECK(echo->payload == message);
        }
        CHECK(metrics_deltas_reach(port, after_http,
                           {{"tether_websocket_messages_total{direction=\"received\"}", k},
                            {"tether_websocket_messages_total{direction=\"sent\"}", k},
                            {"tether_websocket_bytes_total{direction=\"received\"}", k * (6 + message.size())},
                            {"tether_websocket_bytes_total{direction=\"sent\"}", k * (2 + message.size())},
                            {"tether_connections_open{transport=\"websocket\"}", 1},
                            {requests_series("/echo", "GET", "1xx"), 1}}));
        CHECK(ws.close() == tether::ws::close_code::normal);
    }
    CHECK(metrics_deltas_reach(port, after_http,
                       {{"tether_websocket_closes_total{direction=\"received\",code=\"1000\"}", 1},
                        {"tether_websocket_closes_total{direction=\"sent\",code=\"1000\"}", 1},
                        {"tether_connections_open{transport=\"websocket\"}", 0}}));

    // One publish to M subscribers: M deliveries, M frames sent (after each one's "subscribed").
    constexpr int m = 3;
    auto before_topic = metrics_scrape(port);
    std::vector<std::unique_ptr<tether::client::ws_client>> subscribers;
    for (int i = 0; i < m; ++i) {
        auto& ws = *subscribers.emplace_back(std::make_unique<tether::client::ws_client>());
        ws.connect("127.0.0.1", port, "/ws", {.timeout = 5s});
        ws.send_text(R"({"type":"subscribe","topic":"news"})");
        auto ack = ws.receive();
        REQUIRE(ack);
        CHECK(ack->payload.find("\"subscribed\"") != std::string::npos);
    }
    CHECK(metrics_deltas_reach(port, before_topic, {{"tether_topic_subscribers{topic=\"news\",transport=\"websocket\"}", m}}));
    server.app().topic("news").publish("flash");
    for (auto& ws : subscribers) {
        auto news = ws->receive();
        REQUIRE(news);
        CHECK(news->payload.find("flash") != std::string::npos);
    }
    CHECK(metrics_deltas_reach(port, before_topic,
                       {{"tether_topic_messages_published_total{topic=\"news\"}", 1},
                        {"tether_topic_deliveries_total{topic=\"news\"}", m},
                        {"tether_topic_dropped_total{topic=\"news\"}", 0},
                        {"tether_websocket_messages_total{direction=\"received\"}", m},
                        {"tether_websocket_messages_total{direction=\"sent\"}", 2 * m},
                        {"tether_connections_open{transport=\"websocket\"}", m}}));
    auto with_history = metrics_scrape(port);
    CHECK(metrics_value(with_history, "tether_topic_history_bytes{topic=\"news\"}") > 0);
}

TEST_CASE("metrics: a stream over the per-address cap is counted as refused, by the cap", "[metrics]") {
    auto options = test_server::defaults();
    options.max_streams_per_address = 1;
    options.exempt_loopback_from_address_caps = false;   // the clients are all on 127.0.0.1
    test_server server(
        [](tether::server& app) {
            auto news = app.topic("news");
            app.sse("/sse/news", news);
            app.metrics();
        },
        options);
    auto before = metrics_scrape(server.port());
    raw_client held{server.port()};
    REQUIRE(held.send(get_request("/sse/news")));
    auto deadline = steady::now() + 5s;
    while (server.app().stats().sse_open != 1 && steady::now() < deadline) std::this_thread::sleep_for(5ms);
    REQUIRE(server.app().stats().sse_open == 1);
    raw_client over{server.port()};
    REQUIRE(over.send(get_request("/sse/news")));
    auto refused = over.read_response();
    REQUIRE(refused);
    CHECK(refused->status == 429);
    CHECK(metrics_deltas_reach(server.port(), before,
                       {{"tether_streams_refused_total{limit=\"per_address\"}", 1},
                        {"tether_streams_refused_total{limit=\"total\"}", 0},
                        {"tether_connections_open{transport=\"sse\"}", 1}}));
}

TEST_CASE("health: ready only once serving and not while stopping; alive while the loops turn", "[metrics]") {
    {
        tether::server idle{test_server::defaults()};
        CHECK_FALSE(idle.ready());
        idle.listen();
        CHECK_FALSE(idle.ready());   // bound, but run() does not accept yet
    }
    test_server server([&](tether::server& app) {
        app.health("/healthz", "/readyz");
        app.metrics();
    });
    const auto port = server.port();
    int status = 0;
    CHECK(metrics_fetch(port, "/healthz", &status) == R"({"status":"ok"})");
    CHECK(status == 200);
    CHECK(metrics_fetch(port, "/readyz", &status) == R"({"status":"ok"})");
    CHECK(status == 200);
    CHECK(server.app().ready());

    // A probe that was on its way when stop() came (half its head read, so the drain waits for it)
    // is answered 503: the balancer takes the instance out while what is in flight finishes.
    raw_client c{port};
    REQUIRE(c.send("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    auto deadline = steady::now() + 5s;
    while (server.app().buffered_input() == 0 && steady::now() < deadline) std::this_thread::sleep_for(2ms);
    REQUIRE(server.app().buffered_input() > 0);
    server.app().stop();
    CHECK_FALSE(server.app().ready());
    REQUIRE(c.send("\r\n"));
    auto answer = c.read_response();
    REQUIRE(answer);
    CHECK(answer->status == 503);
    CHECK(answer->body.find("stopping") != std::string::npos);
}

#ifdef TETHER_PROMTOOL
TEST_CASE("metrics: promtool accepts a real metrics_series with every family populated", "[metrics]") {
    test_server server{metrics_routes};
    const auto port = server.port();
    metrics_fetch(port, "/items/1");
    metrics_fetch(port, "/nowhere");
    {
        tether::client::ws_client ws;
        ws.connect("127.0.0.1", port, "/ws", {.timeout = 5s});
        ws.send_text(R"({"type":"subscribe","topic":"news"})");
        REQUIRE(ws.receive());
        server.app().topic("news").publish("x");
        REQUIRE(ws.receive());
        ws.close();
    }
    std::string text = metrics_fetch(port, "/metrics");
    REQUIRE(text.find("tether_http_request_duration_seconds_bucket{route=\"/items/:id\",le=\"0.0001\"}") !=
            std::string::npos);
    REQUIRE(text.find("process_resident_memory_bytes ") != std::string::npos);
    REQUIRE(text.find("tether_topic_deliveries_total{topic=\"news\"} 1") != std::string::npos);

    char dir_template[] = "/tmp/tether-metrics-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template, scraped = dir + "/metrics_series.prom", report = dir + "/promtool.out";
    std::ofstream(scraped, std::ios::binary) << text;
    // promtool reads the scrape on stdin and exits 0 only when it parses and passes its lint
    // (naming, _total on counters, units); its findings go to the report.
    const std::string command = std::string("'") + TETHER_PROMTOOL + "' check metrics < '" + scraped + "' > '" + report + "' 2>&1";
    int rc = std::system(command.c_str());
    std::ifstream in(report);
    std::string findings((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("promtool said: " << findings);
    CHECK(rc == 0);
    std::remove(scraped.c_str());
    std::remove(report.c_str());
    ::rmdir(dir.c_str());
}
#endif
