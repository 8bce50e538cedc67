// Handlers that answer later (res.defer(), worker_pool::offload) and middleware around handlers, on
// a running server over sockets.
#include <catch2/catch.hpp>

#include <asio.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tether/offload.hpp>

#include "hostile_support.hpp"

using namespace tether::itest;
using namespace std::chrono_literals;

namespace {

// A thread that answers deferred replies after a delay, like a database client's callback thread.
class delayed_replies {
public:
    delayed_replies() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
    ~delayed_replies() {
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    void after(std::chrono::milliseconds delay, tether::http::deferred_response reply, std::string body) {
        auto timer = std::make_shared<asio::steady_timer>(io_, delay);
        timer->async_wait([timer, reply = std::make_shared<tether::http::deferred_response>(std::move(reply)),
                           body = std::move(body)](std::error_code) {
            reply->text(body);
            reply->send();
        });
    }

private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    std::thread thread_;
};

tether::server_options one_thread() {
    auto o = test_server::defaults();
    o.threads = 1;
    return o;
}

} // namespace

TEST_CASE("deferred replies do not hold up other connections on the same I/O thread", "[deferred]") {
    delayed_replies later;
    test_server server(
        [&](tether::server& app) {
            app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
            app.get("/delayed", [&](auto&, auto& res) { later.after(500ms, res.defer(), "done"); });
        },
        one_thread());
    std::vector<raw_client> slow;
    for (int i = 0; i < 50; ++i) slow.emplace_back(server.port()).send(get_request("/delayed"));
    REQUIRE(eventually([&] { return server.app().stats().deferred_replies == 50; }));
    // All 50 are held, none answered yet; the one I/O thread still serves others.
    CHECK(normal_request_served(server.port()));
    for (auto& c : slow) {
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "done");
    }
}

TEST_CASE("replies sent from many threads reach their own connections", "[deferred][threads]") {
    test_server server([](tether::server& app) {
        app.get("/echo/:n", [](auto& req, auto& res) {
            std::thread([reply = res.defer(), n = std::string(req.param("n"))]() mutable {
                reply.text(n);
                reply.send();
            }).detach();
        });
    });
    std::vector<std::thread> clients;
    std::atomic<int> right{0};
    for (int t = 0; t < 8; ++t)
        clients.emplace_back([&, t] {
            raw_client c{server.port()};
            for (int i = 0; i < 25; ++i) {
                std::string n = std::to_string(t * 100 + i);
                c.send(get_request("/echo/" + n));
                auto r = c.read_response(10s);
                if (r && r->body == n) ++right;
            }
        });
    for (auto& c : clients) c.join();
    CHECK(right == 200);
}

TEST_CASE("pipelined requests behind a deferred reply are answered in order", "[deferred]") {
    delayed_replies later;
    test_server server([&](tether::server& app) {
        app.get("/slow/:n", [&](auto& req, auto& res) { later.after(200ms, res.defer(), std::string(req.param("n"))); });
        app.get("/fast/:n", [](auto& req, auto& res) { res.text(req.param("n")); });
    });
    raw_client c{server.port()};
    c.send(get_request("/slow/1") + get_request("/fast/2") + get_request("/slow/3") + get_request("/fast/4"));
    auto answers = c.read_responses(4, 10s);
    REQUIRE(answers.size() == 4);
    for (int i = 0; i < 4; ++i) CHECK(answers[static_cast<std::size_t>(i)].body == std::to_string(i + 1));
}

TEST_CASE("a reply sent after its client left is a counted no-op", "[deferred]") {
    std::promise<tether::http::deferred_response> handed;
    test_server server([&](tether::server& app) {
        app.get("/held", [&](auto&, auto& res) { handed.set_value(res.defer()); });
    });
    auto reply = [&] {
        raw_client c{server.port()};
        c.send(get_request("/held"));
        return handed.get_future().get();
    }();   // the client closes here
    REQUIRE(eventually([&] { return server.app().admission().connections() == 0; }));
    reply.text("too late");
    reply.send();
    CHECK(eventually([&] { return server.app().stats().late_replies == 1; }));
}

TEST_CASE("a reply never sent is answered 504 at its deadline; a dropped one 500", "[deferred]") {
    // Declared before the server, so the handles outlive it: dropping them then must be harmless.
    std::vector<tether::http::deferred_response> kept;
    std::mutex kept_mutex;
    test_server server([&](tether::server& app) {
        app.get("/forgotten", [&](auto&, auto& res) {
            std::lock_guard lock(kept_mutex);
            kept.push_back(res.defer(200ms));
        });
        app.get("/dropped", [](auto&, auto& res) { (void)res.defer(); });
        app.get("/threw", [](auto&, auto& res) {
            auto reply = res.defer();
            throw tether::http::error(409, "changed my mind");
        });
    });
    auto status_of = [&](std::string_view path) {
        raw_client c{server.port()};
        c.send(get_request(path));
        auto r = c.read_response(10s);
        return r ? r->status : 0;
    };
    CHECK(status_of("/forgotten") == 504);
    CHECK(server.app().stats().reply_timeouts == 1);
    CHECK(status_of("/dropped") == 500);
    CHECK(server.app().stats().abandoned_replies == 1);
    CHECK(status_of("/threw") == 409);
}

TEST_CASE("offload runs blocking work on a worker and answers on the connection's thread", "[deferred]") {
    tether::worker_pool pool{1, /*max_queued=*/2};
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<int> started{0};
    test_server server([&](tether::server& app) {
        app.get("/work", [&](auto&, auto& res) {
            pool.offload(res, [released, &started](tether::http::deferred_response& reply) {
                ++started;
                released.wait();
                reply.text("worked");
            });
        });
        app.get("/boom", [&](auto&, auto& res) {
            pool.offload(res, [](tether::http::deferred_response&) { throw std::runtime_error("boom"); });
        });
    });
    // One running, two queued; the fourth finds the queue full. The first must be running before
    // the others arrive, or the third could find the queue full too.
    std::vector<raw_client> clients;
    clients.emplace_back(server.port()).send(get_request("/work"));
    REQUIRE(eventually([&] { return started.load() == 1; }));
    for (int i = 0; i < 2; ++i) clients.emplace_back(server.port()).send(get_request("/work"));
    REQUIRE(eventually([&] { return server.app().stats().deferred_replies == 3 && pool.queued() == 2; }));
    raw_client over{server.port()};
    over.send(get_request("/work"));
    auto busy = over.read_response(10s);
    REQUIRE(busy);
    CHECK(busy->status == 503);
    release.set_value();
    for (auto& c : clients) {
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->body == "worked");
    }
    raw_client boom{server.port()};
    boom.send(get_request("/boom"));
    auto failed = boom.read_response(10s);
    REQUIRE(failed);
    CHECK(failed->status == 500);
}

TEST_CASE("middleware: before in order, after in reverse, short-circuits, scopes and deferred replies", "[middleware]") {
    std::vector<std::string> trace;
    std::mutex trace_mutex;
    auto note = [&](std::string s) {
        std::lock_guard lock(trace_mutex);
        trace.push_back(std::move(s));
    };
    delayed_replies later;
    test_server server([&](tether::server& app) {
        app.use({.before = [&](auto& req, auto&) {
                     note("outer before");
                     req.set_attribute("id", "r-1");
                     return true;
                 },
                 .after = [&](const auto& req, auto& res) {
                     note("outer after " + std::to_string(res.status()));
                     res.header("X-Request-Id", req.attribute("id"));
                 }});
        app.use("/api", {.before = [&](auto& req, auto& res) {
                             note("api before");
                             if (req.header("authorization")) return true;
                             tether::http::write_error(res, 401, "log in");
                             return false;
                         },
                         .after = [&](const auto& req, auto&) { note("api after " + std::string(req.route())); }});
        app.get("/api/items/:id", [&](auto&, auto& res) {
            note("handler");
            res.text("item");
        });
        app.get("/api/slow", [&](auto&, auto& res) { later.after(50ms, res.defer(), "slow"); });
        app.get("/apix", [&](auto&, auto& res) { res.text("not under /api"); });
    });
    auto exchange = [&](std::string_view path, std::string_view fields = {}) {
        {
            std::lock_guard lock(trace_mutex);
            trace.clear();
        }
        raw_client c{server.port()};
        c.send(get_request(path, fields));
        auto r = c.read_response(10s);
        REQUIRE(r);
        return *r;
    };
    auto r = exchange("/api/items/7", "Authorization: x\r\n");
    CHECK(r.body == "item");
    CHECK(r.header("x-request-id") == "r-1");
    CHECK(trace == std::vector<std::string>{"outer before", "api before", "handler", "api after /api/items/:id", "outer after 200"});

    r = exchange("/api/items/7");
    CHECK(r.status == 401);
    CHECK(r.header("x-request-id") == "r-1");
    CHECK(trace == std::vector<std::string>{"outer before", "api before", "api after ", "outer after 401"});   // no route matched

    r = exchange("/apix");
    CHECK(trace == std::vector<std::string>{"outer before", "outer after 200"});

    r = exchange("/api/slow", "Authorization: x\r\n");
    CHECK(r.body == "slow");
    CHECK(r.header("x-request-id") == "r-1");   // the deferred reply's after hook saw the request's attribute
    CHECK(trace == std::vector<std::string>{"outer before", "api before", "api after /api/slow", "outer after 200"});
}

TEST_CASE("the server's stop token lets application threads end with it", "[lifecycle]") {
    std::atomic<int> published{0};
    auto server = std::make_unique<test_server>([](tether::server& app) { app.topic("feed"); });
    std::jthread feed([&, stop = server->app().stop_token(), feed = server->app().topic("feed")] {
        while (!stop.stop_requested()) {
            feed.publish("tick");
            ++published;
            std::this_thread::sleep_for(1ms);
        }
    });
    REQUIRE(eventually([&] { return published.load() > 5; }));
    CHECK(server->stop_and_wait(5s));
    feed.join();   // returns: the token asked the loop to end
    CHECK(server->app().stop_token().stop_requested());
}
