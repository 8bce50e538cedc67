// Polling a conflating topic (a dashboard's gauges, a price board): its state is the latest value
// of each key, so a poller that needs the state (its cursor fell out of the history, or it has
// none) is given every key's latest value, not only the newest message. Raw sockets on loopback.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include <tether/core/json_reader.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::test_server;

namespace {

struct conflated_batch {
    std::vector<std::string> data;
    std::string next;
    bool recovered = false;
};

conflated_batch poll(std::uint16_t port, const std::string& target) {
    raw_client c(port);
    REQUIRE(c.send(get_request(target)));
    auto r = c.read_response();
    INFO(c.last_error());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    INFO("batch: " << r->body);
    return tether::json::parse(r->body, [](simdjson::ondemand::document& doc) {
        conflated_batch b;
        for (auto item : tether::json::field<simdjson::ondemand::array>(doc, "messages")) {
            auto obj = tether::json::as<simdjson::ondemand::object>(item, "entry");
            b.data.push_back(tether::json::field<std::string>(obj, "data"));
        }
        b.next = tether::json::field<std::string>(doc, "next");
        b.recovered = tether::json::field<bool>(doc, "recovered");
        return b;
    });
}

constexpr int gauges = 8;

// Ten readings of each of eight gauges, round by round: 80 messages through a history of 16.
template <class Policy>
void publish_rounds(const tether::topic<Policy>& t, int first_round, int last_round) {
    for (int round = first_round; round <= last_round; ++round)
        for (int g = 0; g < gauges; ++g) {
            std::string key = "g" + std::to_string(g);
            t.publish(key + "=" + std::to_string(round), key);
        }
}

std::vector<std::string> every_gauge_at(int round) {
    std::vector<std::string> out;
    for (int g = 0; g < gauges; ++g) out.push_back("g" + std::to_string(g) + "=" + std::to_string(round));
    return out;
}

void metrics_server(tether::server& app) {
    auto metrics = app.topic<tether::backpressure::conflate>("metrics", {.history = 16});
    auto news = app.topic("news", {.history = 16});
    app.realtime(metrics, news);
}

} // namespace

TEST_CASE("a short or long poll of a conflating topic whose cursor left the history gets every key's latest value") {
    test_server server{metrics_server};
    auto metrics = server.app().topic<tether::backpressure::conflate>("metrics");
    auto stale = tether::hub::to_string({metrics.position().epoch, 0});
    publish_rounds(metrics, 1, 10);
    auto position = tether::hub::to_string(metrics.position());

    for (std::string route : {"/status/metrics", "/poll/metrics"}) {
        INFO(route);
        auto b = poll(server.port(), route + "?since=" + stale);
        CHECK_FALSE(b.recovered);
        CHECK(b.data == every_gauge_at(10));
        CHECK(b.next == position);
    }
    // Polling on from there misses nothing and repeats nothing.
    auto first = poll(server.port(), "/status/metrics?since=" + position);
    CHECK(first.recovered);
    CHECK(first.data.empty());
    metrics.publish("g3=11", "g3");
    auto after = poll(server.port(), "/status/metrics?since=" + position);
    CHECK(after.recovered);
    CHECK(after.data == std::vector<std::string>{"g3=11"});
}

TEST_CASE("a first short poll of a conflating topic, without since, gets the state: every key's latest value") {
    test_server server{metrics_server};
    auto metrics = server.app().topic<tether::backpressure::conflate>("metrics");
    publish_rounds(metrics, 1, 3);
    metrics.publish("g5=4", "g5");
    auto b = poll(server.port(), "/status/metrics");
    CHECK(b.recovered);
    auto expected = every_gauge_at(3);
    expected.erase(expected.begin() + 5);
    expected.push_back("g5=4");   // in the order the values were published
    CHECK(b.data == expected);
}

TEST_CASE("a stale poll of a topic that does not conflate still gets only the newest message") {
    test_server server{metrics_server};
    auto news = server.app().topic("news");
    auto stale = tether::hub::to_string({news.position().epoch, 0});
    publish_rounds(news, 1, 10);
    auto b = poll(server.port(), "/status/news?since=" + stale);
    CHECK_FALSE(b.recovered);
    CHECK(b.data == std::vector<std::string>{"g7=10"});
}
