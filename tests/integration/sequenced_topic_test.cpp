// A server topic ordered by a sequencer, seen from the wire: what a backplane does to a node's topic (ids
// decided elsewhere, gaps it skips, an epoch that changes at run time), driven here by the test itself as
// the sequencer's single writer, so that every transport's answer is checked without Redis (and under the
// sanitizers): a live WebSocket and SSE client told recovered:false / event: reset at an epoch change and
// "missed" at a gap, a held long poll answered recovered:false, a pubsub publish that the sequencer
// refuses answered with an error, and a publish acknowledged (WebSocket "published", app.realtime's REST
// route) with the id the sequencer stored it under, or 503 when it did not store it.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <tether/hub/cursor.hpp>
#include <tether/server.hpp>

#include "../redis/clients.hpp"
#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::test_server;

namespace {

constexpr std::uint64_t epoch_a = 0xaaaa0000aaaa0000;
constexpr std::uint64_t epoch_b = 0xbbbb0000bbbb0000;

// Refuses everything, as a backplane without Redis does.
struct refusing_sequencer final : tether::hub::sequencer {
    std::atomic<int> refused{0};
    void submit(tether::hub::topic&, tether::hub::publish_request_ptr r) override {
        ++refused;
        r->complete(std::make_error_code(std::errc::not_connected), {});
    }
};

// Answers every publish as a backplane does once Redis has it: stored under the next id of epoch_a (or,
// refusing, not stored). What it later feeds the ring is another path, driven by the cases above.
struct stamping_sequencer final : tether::hub::sequencer {
    std::atomic<std::uint64_t> next{7};
    std::atomic<bool> refuse{false};
    void submit(tether::hub::topic&, tether::hub::publish_request_ptr r) override {
        if (refuse) return r->complete(std::make_error_code(std::errc::not_connected), {});
        r->complete({}, {epoch_a, next++});
    }
};

std::string id(std::uint64_t epoch, std::uint64_t sequence) { return tether::hub::to_string({epoch, sequence}); }

struct sequenced_fixture {
    refusing_sequencer sequencer;
    std::shared_ptr<tether::hub::topic> topic;
    test_server server{[this](tether::server& app) {
        auto news = app.topic("news");
        topic = news.handle();
        topic->set_sequencer(&sequencer);
        app.pubsub("/ws", {.can_publish = [](std::string_view) { return true; }});
        app.sse("/events", news);
        app.long_poll("/poll", news);
    }};
    // The sequencer's writer: everything the test ingests goes through this one thread at a time.
    void ingest(std::uint64_t epoch, std::uint64_t sequence) {
        std::thread([&] { topic->ingest({epoch, sequence}, "m" + std::to_string(sequence)); }).join();
    }
};

}  // namespace

TEST_CASE("an epoch change reaches live WebSocket and SSE clients as recovered:false / event: reset") {
    sequenced_fixture f;
    f.ingest(epoch_a, 1);
    cluster_test::ws_subscriber ws{f.server.port(), "news", id(epoch_a, 1)};
    cluster_test::sse_stream sse{f.server.port(), "/events", id(epoch_a, 1)};
    CHECK(ws.notice().recovered == true);
    f.ingest(epoch_a, 2);
    auto m = ws.next_envelope();
    REQUIRE(m);
    CHECK(m->id == id(epoch_a, 2));
    auto e = sse.next();
    REQUIRE(e);
    CHECK(e->id == id(epoch_a, 2));

    f.ingest(epoch_b, 3);   // the backplane lost its history; the new epoch goes on from 3
    auto notice = ws.next_envelope();
    REQUIRE(notice);
    CHECK(notice->type == "subscribed");
    CHECK(notice->recovered == false);
    CHECK(notice->id == id(epoch_b, 2));
    m = ws.next_envelope();
    REQUIRE(m);
    CHECK(m->id == id(epoch_b, 3));
    auto reset = sse.next();
    REQUIRE(reset);
    CHECK(reset->type == "reset");
    e = sse.next();
    REQUIRE(e);
    CHECK(e->id == id(epoch_b, 3));
    CHECK(e->data == "m3");
}

// The new epoch's messages ingested while the I/O thread is held in a handler: its next drain reads them all
// and hands the WebSocket one joined run, which the connection may write at once (net/ws_connection.hpp,
// deliver_run). The notice it queued for the epoch change must still go first.
TEST_CASE("an epoch change at the head of a run of messages reaches a WebSocket client as the notice, then the run in order") {
    refusing_sequencer sequencer;
    std::shared_ptr<tether::hub::topic> topic;
    std::atomic<bool> holding{false}, ingested{false};
    auto options = test_server::defaults();
    options.threads = 1;   // the held request and the subscribers share the thread that drains the topic
    test_server server{[&](tether::server& app) {
        auto news = app.topic("news");
        topic = news.handle();
        topic->set_sequencer(&sequencer);
        app.pubsub("/ws");
        app.sse("/events", news);
        app.get("/hold", [&](auto&, auto& res) {
            holding = true;
            for (int i = 0; i < 1000 && !ingested; ++i) std::this_thread::sleep_for(5ms);
            res.text("released");
        });
    }, options};
    auto ingest = [&](std::uint64_t epoch, std::uint64_t first, std::uint64_t last) {
        std::thread([&] {
            for (auto sequence = first; sequence <= last; ++sequence) topic->ingest({epoch, sequence}, "m" + std::to_string(sequence));
        }).join();
    };
    ingest(epoch_a, 1, 1);
    cluster_test::ws_subscriber ws{server.port(), "news", id(epoch_a, 1)};
    cluster_test::sse_stream sse{server.port(), "/events", id(epoch_a, 1)};
    ingest(epoch_a, 2, 2);
    auto m = ws.next_envelope();
    REQUIRE(m);
    CHECK(m->id == id(epoch_a, 2));

    tether::itest::raw_client hold(server.port());
    REQUIRE(hold.send(tether::itest::get_request("/hold")));
    for (int i = 0; i < 1000 && !holding; ++i) std::this_thread::sleep_for(5ms);
    REQUIRE(holding);
    constexpr std::uint64_t last = 66;
    ingest(epoch_b, 3, last);
    ingested = true;
    auto released = hold.read_response();
    REQUIRE(released);
    CHECK(released->body == "released");

    auto notice = ws.next_envelope();
    REQUIRE(notice);
    CHECK(notice->type == "subscribed");
    CHECK(notice->recovered == false);
    CHECK(notice->id == id(epoch_b, 2));
    for (std::uint64_t sequence = 3; sequence <= last; ++sequence) {
        m = ws.next_envelope();
        REQUIRE(m);
        REQUIRE(m->id == id(epoch_b, sequence));
    }
    auto e = sse.next();
    REQUIRE(e);
    CHECK(e->id == id(epoch_a, 2));
    auto reset = sse.next();
    REQUIRE(reset);
    CHECK(reset->type == "reset");
    for (std::uint64_t sequence = 3; sequence <= last; ++sequence) {
        e = sse.next();
        REQUIRE(e);
        REQUIRE(e->id == id(epoch_b, sequence));
    }
}

TEST_CASE("a skipped range reaches a live WebSocket client as missed, then the stream goes on") {
    sequenced_fixture f;
    f.ingest(epoch_a, 1);
    cluster_test::ws_subscriber ws{f.server.port(), "news", id(epoch_a, 1)};
    f.ingest(epoch_a, 10);   // 2..9 trimmed from the backplane before this node saw them
    auto missed = ws.next_envelope();
    REQUIRE(missed);
    CHECK(missed->type == "missed");
    auto m = ws.next_envelope();
    REQUIRE(m);
    CHECK(m->id == id(epoch_a, 10));
    // And a cursor inside the skipped range does not resume.
    cluster_test::ws_subscriber late{f.server.port(), "news", id(epoch_a, 5)};
    CHECK(late.notice().recovered == false);
}

TEST_CASE("a long poll held across an epoch change is answered recovered:false") {
    sequenced_fixture f;
    f.ingest(epoch_a, 1);
    std::optional<cluster_test::http_response> answer;
    std::thread poller([&] { answer = cluster_test::http(f.server.port(), "GET", "/poll?since=" + id(epoch_a, 1)); });
    std::this_thread::sleep_for(200ms);   // held (if not yet, it is answered at once, the same way)
    f.ingest(epoch_b, 2);
    poller.join();
    REQUIRE(answer);
    REQUIRE(answer->status == 200);
    auto b = cluster_test::parse_batch(answer->body);
    CHECK_FALSE(b.recovered);
    CHECK(tether::hub::parse_cursor(b.next)->epoch == epoch_b);
}

TEST_CASE("a pubsub publish the sequencer refuses is answered with an error, and nothing is delivered") {
    sequenced_fixture f;
    f.ingest(epoch_a, 1);
    cluster_test::ws_subscriber ws{f.server.port(), "news"};
    // ws_subscriber speaks only subscribe; publishing goes through a second client on the same route.
    tether::client::ws_client publisher;
    publisher.connect("127.0.0.1", f.server.port(), "/ws", {.timeout = 5s});
    publisher.send_text(R"({"type":"publish","topic":"news","data":"x"})");
    auto reply = publisher.receive_message();
    REQUIRE(reply);
    auto e = cluster_test::parse_envelope(reply->payload);
    CHECK(e.type == "error");
    CHECK(e.message.find("publish to news failed") != std::string::npos);
    CHECK(f.sequencer.refused == 1);
    ws.set_timeout(200ms);
    CHECK_FALSE(ws.next_envelope());
}

TEST_CASE("a sequenced publish is acknowledged with the id it was stored under, or 503, over WebSocket and REST") {
    stamping_sequencer sequencer;   // outlives the server
    test_server server{[&](tether::server& app) {
        auto news = app.topic("news");
        news.handle()->set_sequencer(&sequencer);
        app.realtime({.routes = {.publish = "/api/publish/{topic}"},
                      .pubsub = {.can_publish = [](std::string_view) { return true; }}},
                     news);
    }};
    tether::client::ws_client ws;
    ws.connect("127.0.0.1", server.port(), "/ws", {.timeout = 5s});
    ws.send_text(R"({"type":"publish","topic":"news","data":"x","ref":"r1"})");
    auto reply = ws.receive_message();
    REQUIRE(reply);
    auto e = cluster_test::parse_envelope(reply->payload);
    CHECK(e.type == "published");
    CHECK(e.id == id(epoch_a, 7));
    CHECK(reply->payload.find(R"("ref":"r1")") != std::string::npos);
    auto r = cluster_test::http(server.port(), "POST", "/api/publish/news", "y");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.find(id(epoch_a, 8)) != std::string::npos);

    sequencer.refuse = true;
    ws.send_text(R"({"type":"publish","topic":"news","data":"z","ref":"r2"})");
    reply = ws.receive_message();
    REQUIRE(reply);
    e = cluster_test::parse_envelope(reply->payload);
    CHECK(e.type == "error");
    CHECK(e.message.find("publish to news failed") != std::string::npos);
    CHECK(reply->payload.find(R"("status":503)") != std::string::npos);
    CHECK(reply->payload.find(R"("ref":"r2")") != std::string::npos);
    r = cluster_test::http(server.port(), "POST", "/api/publish/news", "w");
    REQUIRE(r);
    CHECK(r->status == 503);
}
