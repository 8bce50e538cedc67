// app.defer(): a REST answer sent later from another thread (server/deferred_reply.hpp), as a handler
// waiting for a backplane's publish completion does: the answer arrives when sent, 504 when nothing is
// sent in time, later pipelined requests wait in order behind it, and a send after the client left or a
// second send does nothing.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <tether/server.hpp>

#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::test_server;

namespace {

// Replies handed to a worker thread, which answers them when told to.
struct worker {
    std::mutex mutex;
    std::vector<tether::deferred_reply> held;
    std::atomic<int> count{0};

    void keep(tether::deferred_reply r) {
        std::lock_guard lock(mutex);
        held.push_back(std::move(r));
        ++count;
    }
    // From another thread, as a completion handler would.
    std::vector<bool> answer_all(std::string const& body) {
        std::vector<bool> sent;
        std::thread([&] {
            std::lock_guard lock(mutex);
            for (auto& r : held) sent.push_back(r.send([body](tether::http::response& res) { res.status(201).text(body); }));
        }).join();
        return sent;
    }
};

bool wait_until(std::function<bool()> const& f) {
    auto const deadline = std::chrono::steady_clock::now() + 5s;
    while (!f()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

}  // namespace

TEST_CASE("a deferred reply sent from another thread answers the held request, once") {
    auto w = std::make_shared<worker>();
    test_server server([w](tether::server& app) {
        app.get("/later", [&app, w](auto&, auto& res) {
            res.header("X-Kept", "yes");   // fields set before deferring are kept
            w->keep(app.defer(5s));
        });
    });
    raw_client c(server.port());
    REQUIRE(c.send(get_request("/later")));
    REQUIRE(wait_until([&] { return w->count == 1; }));
    auto sent = w->answer_all("done");
    CHECK(sent == std::vector<bool>{true});
    auto r = c.read_response(5s);
    REQUIRE(r);
    CHECK(r->status == 201);
    CHECK(r->body == "done");
    CHECK(r->header("x-kept") == "yes");
    CHECK(w->answer_all("again") == std::vector<bool>{false});   // the first send wins
}

TEST_CASE("a deferred reply nobody sends is answered 504 at its deadline") {
    auto w = std::make_shared<worker>();
    test_server server([w](tether::server& app) { app.get("/never", [&app, w](auto&, auto&) { w->keep(app.defer(100ms)); }); });
    raw_client c(server.port());
    REQUIRE(c.send(get_request("/never")));
    auto r = c.read_response(5s);
    REQUIRE(r);
    CHECK(r->status == 504);
    CHECK(w->answer_all("late") == std::vector<bool>{true});   // accepted, and does nothing
}

TEST_CASE("requests pipelined behind a deferred reply are answered after it, in order") {
    auto w = std::make_shared<worker>();
    test_server server([w](tether::server& app) {
        app.get("/later", [&app, w](auto&, auto&) { w->keep(app.defer(5s)); });
        app.get("/now", [](auto&, auto& res) { res.text("now"); });
    });
    raw_client c(server.port());
    REQUIRE(c.send(get_request("/later") + get_request("/now")));
    REQUIRE(wait_until([&] { return w->count == 1; }));
    CHECK_FALSE(c.read_response(200ms));   // /now waits its turn
    w->answer_all("first");
    auto first = c.read_response(5s);
    REQUIRE(first);
    CHECK(first->body == "first");
    auto second = c.read_response(5s);
    REQUIRE(second);
    CHECK(second->body == "now");
}

TEST_CASE("a deferred reply sent after its client left does nothing, and the server goes on") {
    auto w = std::make_shared<worker>();
    test_server server([w](tether::server& app) {
        app.get("/later", [&app, w](auto&, auto&) { w->keep(app.defer(5s)); });
        app.get("/now", [](auto&, auto& res) { res.text("now"); });
    });
    {
        raw_client c(server.port());
        REQUIRE(c.send(get_request("/later")));
        REQUIRE(wait_until([&] { return w->count == 1; }));
    }
    std::this_thread::sleep_for(50ms);   // let the server see the client go
    CHECK(w->answer_all("nobody") == std::vector<bool>{true});
    raw_client d(server.port());
    REQUIRE(d.send(get_request("/now")));
    auto r = d.read_response(5s);
    REQUIRE(r);
    CHECK(r->body == "now");
}
