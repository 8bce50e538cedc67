// The built-in middleware on a running server, over sockets: request ids, the access log, security
// headers and compression together with an application's own middleware, through short-circuits,
// errors, deferred replies, pipelining, HEAD, an SSE stream head and several I/O threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <tether/middleware/access_log.hpp>
#include <tether/middleware/compress.hpp>
#include <tether/middleware/request_id.hpp>
#include <tether/middleware/security_headers.hpp>

#include "../support/content_decoding.hpp"
#include "hostile_support.hpp"

using namespace tether::itest;
using namespace std::chrono_literals;

namespace {

// Lines an access log wrote, from any I/O thread.
class captured_log {
public:
    std::function<void(std::string_view)> sink() {
        return [this](std::string_view line) {
            std::lock_guard lock(mutex_);
            lines_.emplace_back(line);
        };
    }
    std::vector<std::string> lines() {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return lines_.size();
    }
    // The line whose request id is `id` (combined_timed ends with it), or "".
    std::string for_id(std::string_view id) {
        std::lock_guard lock(mutex_);
        for (const auto& l : lines_)
            if (l.ends_with(" " + std::string(id))) return l;
        return {};
    }

private:
    std::mutex mutex_;
    std::vector<std::string> lines_;
};

std::string big_json(std::string_view tag) {
    std::string s = "[";
    for (int i = 0; i < 200; ++i) s.append(R"({"n":)").append(std::to_string(i)).append(R"(,"tag":")").append(tag).append("\"},");
    s.back() = ']';
    return s;
}

// A thread that sends deferred replies later, as a database client's callback would.
class later {
public:
    ~later() {
        for (auto& t : threads_) t.join();
    }
    void reply(tether::http::deferred_response r, std::string body, std::chrono::milliseconds after) {
        threads_.emplace_back([r = std::move(r), body = std::move(body), after]() mutable {
            std::this_thread::sleep_for(after);
            r.json(body);
            r.send();
        });
    }

private:
    std::vector<std::thread> threads_;
};

} // namespace

TEST_CASE("middleware: the built-ins around handlers, errors, short-circuits and deferred replies", "[middleware]") {
    captured_log log;
    later replies;
    std::mutex seen_mutex;
    std::vector<std::string> outer_saw;   // what an application hook registered outside compress saw
    auto options = test_server::defaults();
    options.trusted_proxies = {"127.0.0.1"};
    test_server server(
        [&](tether::server& app) {
            app.use(tether::middleware::request_id());
            app.use(tether::middleware::access_log({.format = tether::access_log_format::combined_timed, .sink = log.sink()}));
            app.use({.after = [&](const auto&, auto& res) {
                std::lock_guard lock(seen_mutex);
                outer_saw.emplace_back(res.field("content-encoding").value_or("identity"));
            }});
            app.use(tether::middleware::security_headers());
            app.use(tether::middleware::compress());
            app.use("/api", {.before = [](auto& req, auto& res) {
                if (req.header("authorization")) return true;
                tether::http::write_error(res, 401, "log in");
                return false;
            }});
            app.get("/api/items", [](auto& req, auto& res) { res.json(big_json(req.attribute("request_id"))); });
            app.get("/api/later", [&](auto& req, auto& res) { replies.reply(res.defer(), big_json(req.attribute("request_id")), 100ms); });
            app.get("/small", [](auto&, auto& res) { res.text("small"); });
            app.get("/invalid", [](auto&, auto&) -> void { throw tether::http::error(422, "the item is not valid"); });
            app.get("/broken", [](auto&, auto&) -> void { throw std::runtime_error("bug"); });
            auto feed = app.topic("feed");
            app.sse("/events", feed);
        },
        options);

    auto exchange = [&](std::string_view target, std::string_view fields = {}) {
        raw_client c{server.port()};
        c.send(get_request(target, fields));
        auto r = c.read_response(10s);
        REQUIRE(r);
        return *r;
    };
    auto id_of = [](const response& r) { return r.header("x-request-id").value_or(""); };

    SECTION("a handler's answer: an id, security headers, gzip or br, and one log line") {
        auto r = exchange("/api/items", "Authorization: x\r\nAccept-Encoding: gzip, deflate\r\nUser-Agent: itest/1\r\n");
        CHECK(r.status == 200);
        std::string id = id_of(r);
        REQUIRE(id.size() == 32);
        CHECK(r.header("content-encoding") == "gzip");
        CHECK(r.header("vary") == "Accept-Encoding");
        auto body = tether::test::decode("gzip", r.body);
        REQUIRE(body);
        CHECK(*body == big_json(id));   // the handler saw the same id as its attribute
        CHECK(r.header("x-content-type-options") == "nosniff");
        CHECK(r.header("x-frame-options") == "SAMEORIGIN");
        REQUIRE(eventually([&] { return !log.for_id(id).empty(); }));
        auto line = log.for_id(id);
        CHECK(line.starts_with("127.0.0.1 - - ["));
        CHECK(line.find("\"GET /api/items HTTP/1.1\" 200 " + std::to_string(r.body.size()) + " \"-\" \"itest/1\" ") != std::string::npos);

        if (tether::http::brotli_available) {
            auto b = exchange("/api/items", "Authorization: x\r\nAccept-Encoding: gzip, deflate, br\r\n");
            CHECK(b.header("content-encoding") == "br");
            if (tether::test::can_decode_br) CHECK(tether::test::decode("br", b.body) == big_json(id_of(b)));
        }
    }

    SECTION("an incoming id and a forwarded client are kept and logged") {
        auto r = exchange("/small", "X-Request-Id: trace-42\r\nX-Forwarded-For: 203.0.113.9\r\n");
        CHECK(id_of(r) == "trace-42");
        CHECK_FALSE(r.header("content-encoding"));   // 5 bytes: below min_bytes
        CHECK_FALSE(r.header("vary"));
        REQUIRE(eventually([&] { return !log.for_id("trace-42").empty(); }));
        CHECK(log.for_id("trace-42").starts_with("203.0.113.9 - - ["));
    }

    SECTION("a short-circuit, a thrown error, a failure and no route: all get an id and a line") {
        for (auto [target, status] : {std::pair{"/api/items", 401}, {"/invalid", 422}, {"/broken", 500}, {"/nowhere", 404}}) {
            auto r = exchange(target);
            CHECK(r.status == status);
            std::string id = id_of(r);
            CHECK(id.size() == 32);
            CHECK(r.header("content-security-policy") == "frame-ancestors 'self'");
            REQUIRE(eventually([&] { return !log.for_id(id).empty(); }));
            CHECK(log.for_id(id).find("\" " + std::to_string(status) + " ") != std::string::npos);
        }
    }

    SECTION("a deferred reply, answered from another thread, goes through every after hook") {
        auto r = exchange("/api/later", "Authorization: x\r\nAccept-Encoding: gzip\r\n");
        CHECK(r.status == 200);
        std::string id = id_of(r);
        REQUIRE(id.size() == 32);
        CHECK(r.header("content-encoding") == "gzip");
        CHECK(tether::test::decode("gzip", r.body) == big_json(id));
        CHECK(r.header("cross-origin-opener-policy") == "same-origin");
        REQUIRE(eventually([&] { return !log.for_id(id).empty(); }));
        auto line = log.for_id(id);
        // combined_timed: ... "user agent" <µs> <id>; the reply was sent 100 ms after the request.
        auto duration_at = line.rfind(' ', line.size() - id.size() - 2);
        CHECK(std::stoll(line.substr(duration_at + 1)) >= 100'000);
    }

    SECTION("pipelined requests behind a deferred reply keep their order and their own ids") {
        raw_client c{server.port()};
        std::string auth = "Authorization: x\r\nAccept-Encoding: gzip\r\n";
        c.send(get_request("/api/later", auth) + get_request("/small", "X-Request-Id: second\r\n") + get_request("/api/items", auth));
        auto answers = c.read_responses(3, 10s);
        REQUIRE(answers.size() == 3);
        CHECK(tether::test::decode("gzip", answers[0].body) == big_json(id_of(answers[0])));
        CHECK(answers[1].body == "small");
        CHECK(id_of(answers[1]) == "second");
        CHECK(tether::test::decode("gzip", answers[2].body) == big_json(id_of(answers[2])));
        CHECK(id_of(answers[0]) != id_of(answers[2]));
    }

    SECTION("an application hook outside compress sees the encoded response") {
        {
            std::lock_guard lock(seen_mutex);
            outer_saw.clear();
        }
        exchange("/api/items", "Authorization: x\r\nAccept-Encoding: gzip\r\n");
        exchange("/api/items", "Authorization: x\r\n");
        std::lock_guard lock(seen_mutex);
        CHECK(outer_saw == std::vector<std::string>{"gzip", "identity"});
    }

    SECTION("HEAD: the GET's identity length, no encoding, but Vary") {
        raw_client c{server.port()};
        c.send("HEAD /api/items HTTP/1.1\r\nHost: x\r\nAuthorization: x\r\nX-Request-Id: h1\r\nAccept-Encoding: gzip\r\n\r\n");
        auto r = c.read_response(10s, /*head_request=*/true);
        REQUIRE(r);
        CHECK_FALSE(r->header("content-encoding"));
        CHECK(r->header("content-length") == std::to_string(big_json("h1").size()));
        CHECK(r->header("vary") == "Accept-Encoding");
        REQUIRE(eventually([&] { return !log.for_id("h1").empty(); }));
        CHECK(log.for_id("h1").find("\"HEAD /api/items HTTP/1.1\" 200 - ") != std::string::npos);
    }

    SECTION("an SSE stream head gets an id but no encoding") {
        raw_client c{server.port()};
        c.send(get_request("/events", "Accept-Encoding: gzip, br\r\nX-Request-Id: stream-1\r\n"));
        REQUIRE(eventually([&] {
            c.closed_within(20ms);
            return c.unread().find("\r\n\r\n") != std::string::npos;
        }));
        std::string head = c.unread().substr(0, c.unread().find("\r\n\r\n"));
        CHECK(head.starts_with("HTTP/1.1 200"));
        CHECK(head.find("X-Request-Id: stream-1\r\n") != std::string::npos);
        CHECK(head.find("Content-Encoding") == std::string::npos);
        CHECK(head.find("Transfer-Encoding: chunked") != std::string::npos);
    }
}

TEST_CASE("middleware: request ids stay unique and every response is logged across I/O threads", "[middleware][threads]") {
    captured_log log;
    test_server server([&](tether::server& app) {
        app.use(tether::middleware::request_id());
        app.use(tether::middleware::access_log({.format = tether::access_log_format::json, .sink = log.sink()}));
        app.use(tether::middleware::compress());
        app.get("/json", [](auto& req, auto& res) { res.json(big_json(req.attribute("request_id"))); });
    });
    constexpr int clients = 8, per_client = 25;
    std::mutex ids_mutex;
    std::set<std::string> ids;
    std::atomic<int> decoded{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t)
        threads.emplace_back([&] {
            raw_client c{server.port()};
            for (int i = 0; i < per_client; ++i) {
                c.send(get_request("/json", "Accept-Encoding: gzip\r\n"));
                auto r = c.read_response(10s);
                if (!r) return;
                std::string id = r->header("x-request-id").value_or("");
                if (tether::test::decode("gzip", r->body) == big_json(id)) ++decoded;
                std::lock_guard lock(ids_mutex);
                ids.insert(id);
            }
        });
    for (auto& t : threads) t.join();
    CHECK(decoded == clients * per_client);
    CHECK(ids.size() == clients * per_client);
    REQUIRE(eventually([&] { return log.size() == clients * per_client; }));
    for (const auto& line : log.lines()) {
        CHECK(line.starts_with(R"({"time":")"));
        CHECK(line.find(R"("status":200,)") != std::string::npos);
        CHECK(line.find(R"("route":"/json")") != std::string::npos);
    }
}
