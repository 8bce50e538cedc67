// The broadcast core seen from the wire: one topic reaching subscribers over WebSocket (the pubsub
// JSON control protocol), Server-Sent Events, long polling and short polling, and each transport's
// resume after a disconnect - exactly the missed messages, once, in order - or its explicit "start
// over" (recovered:false, event: reset) when the cursor is older than the history or from another
// epoch, never a partial replay passed off as complete.
//
// Clients: tether's own ws_client for WebSocket, and raw sockets for SSE and polling, so the test
// reads the bytes the server writes (chunked SSE blocks, id/event/data lines, JSON batches).
// Every read has a deadline; each TEST_CASE runs its own server (test_server.hpp).
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/core/base64.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/server.hpp>

#include "sse_reader.hpp"
#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::client::ws_client;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::response;
using tether::itest::sse_event;
using tether::itest::sse_reader;
using tether::itest::steady;
using tether::itest::test_server;

namespace {

// ---- cursors and published messages -----------------------------------------------------------

std::uint64_t sequence_of(std::string_view id) {
    auto c = tether::hub::parse_cursor(id);
    INFO("cursor: " << id);
    REQUIRE(c);
    return c->sequence;
}

template <class Policy>
std::string cursor_at(const tether::topic<Policy>& t, std::uint64_t sequence) {
    return tether::hub::to_string({t.position().epoch, sequence});
}

// A cursor of the right shape from an epoch the topic has never had (a restarted server).
template <class Policy>
std::string foreign_cursor(const tether::topic<Policy>& t, std::uint64_t sequence) {
    return tether::hub::to_string({t.position().epoch ^ 0x5a5a5a5a5a5a5a5aULL, sequence});
}

template <class Policy>
void publish_numbered(const tether::topic<Policy>& t, int first, int last) {
    for (int i = first; i <= last; ++i) t.publish("m" + std::to_string(i));
}

// Publishes `per_thread` messages from each of `threads` threads released at the same moment;
// returns every body by the sequence publish() gave it.
template <class Policy>
std::map<std::uint64_t, std::string> publish_concurrently(const tether::topic<Policy>& t, int threads, int per_thread) {
    std::mutex mutex;
    std::map<std::uint64_t, std::string> bodies;
    std::atomic<bool> go{false};
    std::vector<std::thread> publishers;
    for (int p = 0; p < threads; ++p) {
        publishers.emplace_back([&, p] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < per_thread; ++i) {
                std::string body = "p" + std::to_string(p) + "-" + std::to_string(i);
                std::uint64_t sequence = t.publish(body);
                std::lock_guard lock(mutex);
                bodies.emplace(sequence, std::move(body));
            }
        });
    }
    go = true;
    for (auto& th : publishers) th.join();
    return bodies;
}

struct received {
    std::uint64_t sequence;
    std::string data;
};

// One total order: sequences 1..N each exactly once, ascending, each with the body published under
// it (so every publisher's own messages are in its order too).
void require_total_order(const std::vector<received>& got, const std::map<std::uint64_t, std::string>& published) {
    REQUIRE(got.size() == published.size());
    std::uint64_t expected = 1;
    for (const auto& m : got) {
        INFO("message " << expected << " of " << published.size());
        REQUIRE(m.sequence == expected);
        REQUIRE(m.data == published.at(m.sequence));
        ++expected;
    }
}

// ---- the JSON the server speaks -----------------------------------------------------------------

// A pubsub message, notice or polling batch entry; absent fields are empty.
struct envelope {
    std::string type, topic, id, data, first, last, message, encoding;
    int status = 0;
    std::optional<bool> recovered;
    bool is_message() const { return type.empty() && !id.empty(); }
};

envelope parse_envelope(std::string_view text) {
    INFO("JSON: " << text);
    return tether::json::parse(text, [](simdjson::ondemand::document& doc) {
        auto obj = tether::json::as<simdjson::ondemand::object>(doc, "message");
        envelope e;
        e.type = tether::json::optional_field<std::string>(obj, "type").value_or("");
        e.topic = tether::json::optional_field<std::string>(obj, "topic").value_or("");
        e.id = tether::json::optional_field<std::string>(obj, "id").value_or("");
        e.data = tether::json::optional_field<std::string>(obj, "data").value_or("");
        e.first = tether::json::optional_field<std::string>(obj, "first").value_or("");
        e.last = tether::json::optional_field<std::string>(obj, "last").value_or("");
        e.message = tether::json::optional_field<std::string>(obj, "message").value_or("");
        e.recovered = tether::json::optional_field<bool>(obj, "recovered");
        e.encoding = tether::json::optional_field<std::string>(obj, "encoding").value_or("");
        e.status = tether::json::optional_field<int>(obj, "status").value_or(0);
        return e;
    });
}

struct batch {
    std::vector<envelope> messages;
    std::string next;
    bool recovered = false;
};

batch parse_batch(std::string_view text) {
    INFO("batch: " << text);
    return tether::json::parse(text, [](simdjson::ondemand::document& doc) {
        batch b;
        auto list = tether::json::field<simdjson::ondemand::array>(doc, "messages");
        for (auto item : list) {
            auto obj = tether::json::as<simdjson::ondemand::object>(item, "batch entry");
            envelope e;
            e.topic = tether::json::field<std::string>(obj, "topic");
            e.id = tether::json::field<std::string>(obj, "id");
            e.data = tether::json::field<std::string>(obj, "data");
            e.encoding = tether::json::optional_field<std::string>(obj, "encoding").value_or("");
            b.messages.push_back(std::move(e));
        }
        b.next = tether::json::field<std::string>(doc, "next");
        b.recovered = tether::json::field<bool>(doc, "recovered");
        return b;
    });
}

// ---- WebSocket (pubsub) -------------------------------------------------------------------------

envelope receive_envelope(ws_client& c) {
    auto m = c.receive_message();
    INFO("the server closed the WebSocket (code " << tether::ws::to_underlying(c.close_code()) << ")");
    REQUIRE(m);
    return parse_envelope(m->payload);
}

void open_ws(ws_client& c, std::uint16_t port) { c.connect("127.0.0.1", port, "/ws", {.timeout = 5s}); }

// Subscribes and returns the "subscribed" notice.
envelope subscribe(ws_client& c, std::string_view topic, std::string_view since = {}) {
    std::string command;
    tether::json::writer w(command);
    w.begin_object().member("type", "subscribe").member("topic", topic);
    if (!since.empty()) w.member("since", since);
    w.end_object();
    c.send_text(command);
    auto notice = receive_envelope(c);
    INFO("notice type: " << notice.type << ", message: " << notice.message);
    REQUIRE(notice.type == "subscribed");
    REQUIRE(notice.topic == topic);
    REQUIRE(notice.recovered.has_value());
    return notice;
}

std::vector<received> receive_messages(ws_client& c, std::size_t n) {
    std::vector<received> out;
    while (out.size() < n) {
        auto e = receive_envelope(c);
        INFO("unexpected notice: " << e.type);
        REQUIRE(e.is_message());
        out.push_back({sequence_of(e.id), e.data});
    }
    return out;
}

// Nothing arrives for `quiet` (timeout_error from the client), and the connection stays usable.
bool ws_quiet_for(ws_client& c, std::chrono::milliseconds quiet) {
    auto before = c.timeout();
    c.set_timeout(quiet);
    bool quiet_ok = false;
    try {
        auto m = c.receive_message();
        if (m) UNSCOPED_INFO("unexpected message: " << m->payload);
    } catch (const tether::client::timeout_error&) {
        quiet_ok = true;
    }
    c.set_timeout(before);
    return quiet_ok;
}

void pubsub_server(tether::server& app) {
    app.topic("news");
    app.pubsub("/ws");
}

// on_open of an SSE route runs after its topics are subscribed: the point from which a live stream
// (no cursor) is promised every message. Tests publishing to a live stream wait for it.
class open_counter {
public:
    void bump() {
        {
            std::lock_guard lock(mutex_);
            ++opened_;
        }
        changed_.notify_all();
    }
    bool wait_for(int n, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return opened_ >= n; });
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int opened_ = 0;
};

// /live: the news topic with an on_open hook; /events: app.sse(pattern, topic), the plain form.
std::function<void(tether::server&)> sse_server(std::shared_ptr<open_counter> opened, std::size_t history = 1024) {
    return [opened, history](tether::server& app) {
        auto news = app.topic("news", {.history = history});
        tether::server::sse_behaviour<> live;
        live.topics = {"news"};
        live.on_open = [opened](tether::server::sse_stream<>&) { opened->bump(); };
        app.sse("/live", std::move(live));
        app.sse("/events", news);
    };
}

std::vector<received> messages_of(const std::vector<sse_event>& events, std::string_view type = "news") {
    std::vector<received> out;
    for (const auto& e : events) {
        INFO("event " << e.type << ": " << e.data);
        REQUIRE(e.type == type);
        REQUIRE(e.id);
        out.push_back({sequence_of(*e.id), e.data});
    }
    return out;
}

// ---- polling --------------------------------------------------------------------------------------

response http_get(raw_client& c, std::string_view target, std::string_view fields = {},
                  std::chrono::milliseconds timeout = 5s) {
    REQUIRE(c.send(get_request(target, fields)));
    auto r = c.read_response(timeout);
    INFO(c.last_error());
    REQUIRE(r);
    return std::move(*r);
}

batch poll_batch(raw_client& c, std::string_view target) {
    auto r = http_get(c, target);
    INFO("body: " << r.body);
    REQUIRE(r.status == 200);
    return parse_batch(r.body);
}

std::vector<received> entries_of(const batch& b) {
    std::vector<received> out;
    for (const auto& m : b.messages) {
        REQUIRE(m.topic == "news");
        out.push_back({sequence_of(m.id), m.data});
    }
    return out;
}

void require_numbered(const std::vector<received>& got, int first, int last) {
    REQUIRE(got.size() == static_cast<std::size_t>(last - first + 1));
    for (int i = first; i <= last; ++i) {
        const auto& m = got[static_cast<std::size_t>(i - first)];
        CHECK(m.sequence == static_cast<std::uint64_t>(i));
        CHECK(m.data == "m" + std::to_string(i));
    }
}

std::function<void(tether::server&)> poll_server(tether::server::long_poll_options lp = {}, std::size_t history = 1024) {
    return [lp, history](tether::server& app) {
        auto news = app.topic("news", {.history = history});
        app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
        app.long_poll("/poll", news, lp);
        app.short_poll("/status", news, {.interval = 1500ms});
    };
}

// Waits until the server has dispatched `n` requests in all (a held poll is then registered).
bool wait_for_requests(test_server& server, std::uint64_t n, std::chrono::milliseconds timeout = 5s) {
    auto deadline = steady::now() + timeout;
    while (server.app().stats().requests < n) {
        if (steady::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

} // namespace

// =====================================================================================================
// WebSocket: the pubsub JSON control protocol
// =====================================================================================================

TEST_CASE("a pubsub WebSocket subscriber receives messages published from another thread, in order") {
    test_server server{pubsub_server};
    auto news = server.app().topic("news");
    ws_client c;
    open_ws(c, server.port());
    auto notice = subscribe(c, "news");
    CHECK(*notice.recovered);
    CHECK(notice.id == cursor_at(news, 0));

    std::thread publisher([&] { publish_numbered(news, 1, 50); });
    auto got = receive_messages(c, 50);
    publisher.join();
    require_numbered(got, 1, 50);
    CHECK(ws_quiet_for(c, 100ms));
}

TEST_CASE("messages published from four threads at once reach two WebSocket subscribers in one total order") {
    test_server server{pubsub_server};
    auto news = server.app().topic("news");
    ws_client a, b;
    open_ws(a, server.port());
    open_ws(b, server.port());
    subscribe(a, "news");
    subscribe(b, "news");

    auto published = publish_concurrently(news, 4, 250);
    require_total_order(receive_messages(a, 1000), published);
    require_total_order(receive_messages(b, 1000), published);
    CHECK(ws_quiet_for(a, 50ms));
}

TEST_CASE("a WebSocket subscriber that reconnects with since gets exactly the messages it missed, once, in order") {
    test_server server{pubsub_server};
    auto news = server.app().topic("news");
    std::string last_id;
    {
        ws_client c;
        open_ws(c, server.port());
        subscribe(c, "news");
        publish_numbered(news, 1, 10);
        auto first = receive_messages(c, 4);   // messages 5..10 are in flight when it drops
        require_numbered(first, 1, 4);
        last_id = cursor_at(news, 4);
        c.disconnect();
    }
    publish_numbered(news, 11, 15);

    ws_client c;
    open_ws(c, server.port());
    auto notice = subscribe(c, "news", last_id);
    CHECK(*notice.recovered);
    CHECK(notice.id == last_id);
    require_numbered(receive_messages(c, 11), 5, 15);
    CHECK(ws_quiet_for(c, 100ms));
    news.publish("m16");   // and it is live from there
    require_numbered(receive_messages(c, 1), 16, 16);
}

TEST_CASE("a WebSocket since older than the history gets recovered false and no partial replay") {
    test_server server{[](tether::server& app) {
        app.topic("news", {.history = 8});
        app.pubsub("/ws");
    }};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 20);

    ws_client c;
    open_ws(c, server.port());
    auto notice = subscribe(c, "news", cursor_at(news, 2));
    CHECK_FALSE(*notice.recovered);
    CHECK(notice.id == cursor_at(news, 20));   // where the fresh, live-only stream starts
    CHECK(ws_quiet_for(c, 150ms));             // none of 13..20 (what the ring still holds)
    news.publish("m21");
    require_numbered(receive_messages(c, 1), 21, 21);
}

TEST_CASE("a WebSocket since from another epoch gets recovered false and no replay") {
    test_server server{pubsub_server};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 5);

    ws_client c;
    open_ws(c, server.port());
    auto notice = subscribe(c, "news", foreign_cursor(news, 3));
    CHECK_FALSE(*notice.recovered);
    CHECK(notice.id == cursor_at(news, 5));
    CHECK(ws_quiet_for(c, 150ms));
    news.publish("m6");
    require_numbered(receive_messages(c, 1), 6, 6);
}

TEST_CASE("a stalled WebSocket subscriber on a drop_oldest topic is told exactly the range it missed, others get everything") {
    test_server server{[](tether::server& app) {
        app.topic<tether::backpressure::drop_oldest>("bulk", {.history = 16});
        app.pubsub("/ws");
    }};
    auto bulk = server.app().topic<tether::backpressure::drop_oldest>("bulk");
    ws_client stalled, reader;
    open_ws(stalled, server.port());
    open_ws(reader, server.port());
    subscribe(stalled, "bulk");
    subscribe(reader, "bulk");

    // 200 x 64 KiB = 12.5 MiB: well over what the stalled client's receive buffer, the server's send
    // buffer (tcp_wmem max, 4 MiB here) and its 1 MiB budget hold together (about 77 messages, as the
    // disconnect test below measures), so the ring (16 messages) laps it. The reader keeps up: it
    // takes each message before the next is published.
    const std::string body(64 * 1024, 'x');
    constexpr std::uint64_t total = 200;
    for (std::uint64_t i = 1; i <= total; ++i) {
        REQUIRE(bulk.publish(body) == i);
        auto got = receive_messages(reader, 1);
        REQUIRE(got[0].sequence == i);
        REQUIRE(got[0].data.size() == body.size());
    }

    // Now the stalled client reads: every sequence 1..300 arrives exactly once, either as a message
    // or inside a "missed" notice's [first, last], in order, and at least one notice came.
    std::uint64_t expected = 1, messages = 0, notices = 0;
    while (expected <= total) {
        auto e = receive_envelope(stalled);
        INFO("expected sequence " << expected << ", got type '" << e.type << "' id " << e.id);
        if (e.type == "missed") {
            CHECK(e.topic == "bulk");
            auto first = sequence_of(e.first), last = sequence_of(e.last);
            REQUIRE(first == expected);
            REQUIRE(last >= first);
            REQUIRE(last <= total);
            expected = last + 1;
            ++notices;
        } else {
            REQUIRE(e.is_message());
            REQUIRE(sequence_of(e.id) == expected);
            REQUIRE(e.data.size() == body.size());
            ++expected;
            ++messages;
        }
    }
    {
        INFO("no missed notice: the socket buffers held all " << total << " messages; raise the count");
        CHECK(notices >= 1);
    }
    CHECK(messages >= 16);   // at least the ring's worth after the gap
    CHECK(ws_quiet_for(stalled, 100ms));
    CHECK(ws_quiet_for(reader, 50ms));
}

TEST_CASE("a stalled WebSocket subscriber on a disconnect topic is closed with 1008 or 1013, others are unaffected") {
    test_server server{[](tether::server& app) {
        app.topic<tether::backpressure::disconnect>("strict", {.history = 16});
        app.pubsub("/ws");
    }};
    auto strict = server.app().topic<tether::backpressure::disconnect>("strict");
    ws_client stalled, reader;
    open_ws(stalled, server.port());
    open_ws(reader, server.port());
    subscribe(stalled, "strict");
    subscribe(reader, "strict");

    // Publish until the policy cuts the stalled one off (then stop at once: its Close is queued
    // behind what it has not read, and the server waits close_timeout for the echo).
    const std::string body(64 * 1024, 'y');
    std::uint64_t total = 0;
    while (strict.stats().disconnected == 0) {
        REQUIRE(total < 2000);
        REQUIRE(strict.publish(body) == ++total);
        auto got = receive_messages(reader, 1);
        REQUIRE(got[0].sequence == total);
    }

    // The stalled client finds, behind whatever was queued for it, a Close: 1013 (over its budget)
    // or 1008 (lapped). Messages before it are a gap-free prefix.
    std::uint64_t expected = 1;
    std::optional<tether::ws::close_code> code;
    stalled.set_timeout(10s);
    for (;;) {
        auto m = stalled.receive();
        REQUIRE(m);   // a Close frame comes before the end of the TCP connection
        if (m->op == tether::ws::opcode::close) {
            code = stalled.close_code();
            break;
        }
        if (m->op != tether::ws::opcode::text) continue;
        auto e = parse_envelope(m->payload);
        REQUIRE(e.is_message());
        REQUIRE(sequence_of(e.id) == expected);
        ++expected;
    }
    REQUIRE(code);
    CHECK((*code == tether::ws::close_code::try_again_later || *code == tether::ws::close_code::policy_violation));
    CHECK(expected <= total + 1);

    // The reader is still subscribed and served.
    strict.publish("after");
    auto after = receive_messages(reader, 1);
    CHECK(after[0].sequence == total + 1);
    CHECK(after[0].data == "after");
}

// =====================================================================================================
// Server-Sent Events
// =====================================================================================================

TEST_CASE("an SSE stream receives messages published from another thread as id, event and data lines") {
    auto opened = std::make_shared<open_counter>();
    test_server server{sse_server(opened)};
    auto news = server.app().topic("news");
    sse_reader stream(server.port(), "/live");
    REQUIRE(opened->wait_for(1));

    std::thread publisher([&] { publish_numbered(news, 1, 30); });
    auto events = stream.next_n(30);
    publisher.join();
    auto got = messages_of(events);
    require_numbered(got, 1, 30);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(*events[i].id == cursor_at(news, i + 1));
    CHECK(stream.quiet_for(100ms));
}

TEST_CASE("messages published from four threads at once reach an SSE stream in one total order") {
    auto opened = std::make_shared<open_counter>();
    test_server server{sse_server(opened)};
    auto news = server.app().topic("news");
    sse_reader stream(server.port(), "/live");
    REQUIRE(opened->wait_for(1));

    auto published = publish_concurrently(news, 4, 250);
    require_total_order(messages_of(stream.next_n(1000)), published);
    CHECK(stream.quiet_for(50ms));
}

TEST_CASE("an SSE stream reconnecting with Last-Event-ID gets exactly the missed messages, once, in order") {
    auto opened = std::make_shared<open_counter>();
    test_server server{sse_server(opened)};
    auto news = server.app().topic("news");
    std::string last_id;
    {
        sse_reader stream(server.port(), "/live");
        REQUIRE(opened->wait_for(1));
        publish_numbered(news, 1, 10);
        auto first = stream.next_n(4);   // 5..10 are in flight when it drops
        require_numbered(messages_of(first), 1, 4);
        last_id = *first.back().id;
    }
    publish_numbered(news, 11, 15);

    sse_reader stream(server.port(), "/events", "Last-Event-ID: " + last_id + "\r\n");
    require_numbered(messages_of(stream.next_n(11)), 5, 15);
    CHECK(stream.quiet_for(100ms));
    news.publish("m16");
    require_numbered(messages_of(stream.next_n(1)), 16, 16);
}

TEST_CASE("an SSE first connect with ?lastEventId= resumes like Last-Event-ID") {
    auto opened = std::make_shared<open_counter>();
    test_server server{sse_server(opened)};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 9);

    sse_reader stream(server.port(), "/events?lastEventId=" + cursor_at(news, 6));
    require_numbered(messages_of(stream.next_n(3)), 7, 9);
    CHECK(stream.quiet_for(100ms));
}

TEST_CASE("an SSE Last-Event-ID older than the history gets event reset and no partial replay") {
    auto opened = std::make_shared<open_counter>();
    test_server server{sse_server(opened, 8)};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 20);

    sse_reader stream(server.port(), "/events", "Last-Event-ID: " + cursor_at(news, 2) + "\r\n");
    auto reset = stream.next();
    REQUIRE(reset);
    CHECK(reset->type == "reset");
    auto info = parse_envelope(reset->data);
    CHECK(info.topic == "news");
    CHECK(info.recovered == std::optional<bool>(false));
    CHECK(stream.quiet_for(150ms));   // none of 13..20
    news.publish("m21");
    require_numbered(messages_of(stream.next_n(1)), 21, 21);
}

TEST_CASE("an SSE Last-Event-ID from another epoch gets event reset and no replay") {
    auto opened = std::make_shared<open_counter>();
    test_server server{sse_server(opened)};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 5);

    sse_reader stream(server.port(), "/events?lastEventId=" + foreign_cursor(news, 3));
    auto reset = stream.next();
    REQUIRE(reset);
    CHECK(reset->type == "reset");
    CHECK(stream.quiet_for(150ms));
    news.publish("m6");
    require_numbered(messages_of(stream.next_n(1)), 6, 6);
}

TEST_CASE("an SSE stream of two topics carries a composite id that resumes both") {
    test_server server{[](tether::server& app) {
        auto a = app.topic("alpha");
        auto b = app.topic("beta");
        app.sse("/both", a, b);
    }};
    auto alpha = server.app().topic("alpha");
    auto beta = server.app().topic("beta");
    alpha.publish("a1");   // both topics have history before the stream starts
    beta.publish("b1");

    auto expect_ids = [&](const sse_event& e, std::uint64_t a, std::uint64_t b) {
        INFO("event " << e.type << ": " << e.data);
        REQUIRE(e.id);
        CHECK(*e.id == cursor_at(alpha, a) + "," + cursor_at(beta, b));
    };
    std::string last_id;
    {
        sse_reader stream(server.port(), "/both?lastEventId=" + cursor_at(alpha, 1) + "," + cursor_at(beta, 1));
        alpha.publish("a2");
        auto e1 = stream.next_n(1);
        CHECK(e1[0].type == "alpha");
        CHECK(e1[0].data == "a2");
        expect_ids(e1[0], 2, 1);
        beta.publish("b2");
        auto e2 = stream.next_n(1);
        CHECK(e2[0].type == "beta");
        CHECK(e2[0].data == "b2");
        expect_ids(e2[0], 2, 2);
        last_id = *e2[0].id;
    }
    alpha.publish("a3");
    beta.publish("b3");
    beta.publish("b4");
    alpha.publish("a4");

    sse_reader stream(server.port(), "/both", "Last-Event-ID: " + last_id + "\r\n");
    auto events = stream.next_n(4);
    std::vector<std::string> a, b;   // per topic order; the two topics interleave freely
    for (const auto& e : events) {
        INFO("event " << e.type << ": " << e.data);
        REQUIRE((e.type == "alpha" || e.type == "beta"));
        (e.type == "alpha" ? a : b).push_back(e.data);
    }
    CHECK(a == std::vector<std::string>{"a3", "a4"});
    CHECK(b == std::vector<std::string>{"b3", "b4"});
    expect_ids(events.back(), 4, 4);
    CHECK(stream.quiet_for(100ms));
}

// =====================================================================================================
// Long polling
// =====================================================================================================

TEST_CASE("a long poll is held until a message is published from another thread, then answered with it") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    raw_client c(server.port());
    auto first = poll_batch(c, "/poll");   // no since: learn the cursor, at once
    CHECK(first.messages.empty());
    CHECK(first.recovered);
    CHECK(first.next == cursor_at(news, 0));

    REQUIRE(c.send(get_request("/poll?since=" + first.next)));
    CHECK(c.open_and_quiet_for(300ms));   // held: nothing before the publish
    std::thread publisher([&] { news.publish("m1"); });
    auto r = c.read_response(5s);
    publisher.join();
    INFO(c.last_error());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->header("cache-control") == std::optional<std::string>("no-store"));
    auto b = parse_batch(r->body);
    require_numbered(entries_of(b), 1, 1);
    CHECK(b.recovered);
    CHECK(b.next == cursor_at(news, 1));
}

TEST_CASE("long polls following next collect messages from four publishing threads in one total order") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    raw_client c(server.port());
    std::string next = poll_batch(c, "/poll").next;

    std::map<std::uint64_t, std::string> published;
    std::thread publishers([&] { published = publish_concurrently(news, 4, 250); });
    std::vector<received> got;
    auto deadline = steady::now() + 15s;
    while (got.size() < 1000 && steady::now() < deadline) {
        auto b = poll_batch(c, "/poll?since=" + next);
        REQUIRE(b.recovered);
        CHECK(b.messages.size() <= 100);   // max_batch
        for (auto& m : entries_of(b)) got.push_back(std::move(m));
        next = b.next;
    }
    publishers.join();
    require_total_order(got, published);
}

TEST_CASE("a long poll with since from before a disconnect gets exactly the missed messages, once, in order") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    std::string next;
    {
        raw_client c(server.port());
        std::string start = poll_batch(c, "/poll").next;
        publish_numbered(news, 1, 4);
        auto b = poll_batch(c, "/poll?since=" + start);
        require_numbered(entries_of(b), 1, 4);
        next = b.next;
    }   // gone
    publish_numbered(news, 5, 12);

    raw_client c(server.port());
    auto b = poll_batch(c, "/poll?since=" + next);
    CHECK(b.recovered);
    require_numbered(entries_of(b), 5, 12);
    CHECK(b.next == cursor_at(news, 12));
    REQUIRE(c.send(get_request("/poll?since=" + b.next)));   // nothing again: held
    CHECK(c.open_and_quiet_for(150ms));
}

TEST_CASE("a long poll whose since is older than the history gets recovered false and no partial replay") {
    test_server server{poll_server({}, 8)};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 20);
    raw_client c(server.port());
    auto b = poll_batch(c, "/poll?since=" + cursor_at(news, 2));
    CHECK_FALSE(b.recovered);
    CHECK(b.messages.empty());
    CHECK(b.next == cursor_at(news, 20));   // the client refreshes its state and goes on from here
}

TEST_CASE("a long poll whose since is from another epoch gets recovered false and no replay") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 5);
    raw_client c(server.port());
    auto b = poll_batch(c, "/poll?since=" + foreign_cursor(news, 3));
    CHECK_FALSE(b.recovered);
    CHECK(b.messages.empty());
    CHECK(b.next == cursor_at(news, 5));
}

TEST_CASE("a long poll with nothing new is answered with an empty batch at its timeout") {
    test_server server{poll_server({.timeout = 400ms})};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 2);
    raw_client c(server.port());
    auto since = cursor_at(news, 2);
    REQUIRE(c.send(get_request("/poll?since=" + since)));
    CHECK(c.open_and_quiet_for(100ms));
    auto r = c.read_response(5s);
    INFO(c.last_error());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    auto b = parse_batch(r->body);
    CHECK(b.messages.empty());
    CHECK(b.recovered);
    CHECK(b.next == since);
    news.publish("m3");   // the connection is still good for the next poll
    require_numbered(entries_of(poll_batch(c, "/poll?since=" + since)), 3, 3);
}

TEST_CASE("a long poll is answered at once when newer messages exist") {
    test_server server{poll_server()};   // default timeout 25 s: a held poll would not answer in time
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 3);
    raw_client c(server.port());
    REQUIRE(c.send(get_request("/poll?since=" + cursor_at(news, 1))));
    auto r = c.read_response(3s);
    INFO(c.last_error());
    REQUIRE(r);
    auto b = parse_batch(r->body);
    require_numbered(entries_of(b), 2, 3);
    CHECK(b.recovered);
}

TEST_CASE("a long poll past max_held_per_client gets 429 with Retry-After") {
    test_server server{poll_server({.max_held_per_client = 2})};
    auto news = server.app().topic("news");
    auto since = cursor_at(news, 0);
    raw_client a(server.port()), b(server.port()), c(server.port());
    REQUIRE(a.send(get_request("/poll?since=" + since)));
    REQUIRE(b.send(get_request("/poll?since=" + since)));
    REQUIRE(wait_for_requests(server, 2));
    CHECK(a.open_and_quiet_for(100ms));
    CHECK(b.open_and_quiet_for(10ms));

    auto r = http_get(c, "/poll?since=" + since);
    CHECK(r.status == 429);
    CHECK(r.header("retry-after").has_value());

    news.publish("m1");   // the held two are answered as usual
    for (raw_client* held : {&a, &b}) {
        auto answer = held->read_response(5s);
        INFO(held->last_error());
        REQUIRE(answer);
        require_numbered(entries_of(parse_batch(answer->body)), 1, 1);
    }
}

TEST_CASE("a held long poll whose client disconnects is released and the server keeps serving") {
    test_server server{poll_server({.max_held_per_client = 1})};
    auto news = server.app().topic("news");
    auto since = cursor_at(news, 0);
    {
        raw_client gone(server.port());
        REQUIRE(gone.send(get_request("/poll?since=" + since)));
        REQUIRE(wait_for_requests(server, 1));
        CHECK(gone.open_and_quiet_for(100ms));
        raw_client refused(server.port());
        CHECK(http_get(refused, "/poll?since=" + since).status == 429);   // the one hold is taken
    }   // both connections close

    // Its hold is given back once the server sees the EOF: a new poll is then held, not refused.
    std::optional<raw_client> held;
    auto deadline = steady::now() + 5s;
    while (!held && steady::now() < deadline) {
        raw_client c(server.port());
        REQUIRE(c.send(get_request("/poll?since=" + since)));
        auto r = c.read_response(200ms);
        if (!r) {
            REQUIRE(c.open_and_quiet_for(10ms));   // no answer, connection open: held
            held.emplace(std::move(c));
        } else {
            REQUIRE(r->status == 429);
            std::this_thread::sleep_for(20ms);
        }
    }
    REQUIRE(held);
    news.publish("m1");
    auto r = held->read_response(5s);
    INFO(held->last_error());
    REQUIRE(r);
    require_numbered(entries_of(parse_batch(r->body)), 1, 1);

    raw_client other(server.port());
    CHECK(http_get(other, "/hello").body == "hello");
}

TEST_CASE("requests pipelined behind a held long poll are answered in order after it") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    raw_client c(server.port());
    auto since = cursor_at(news, 0);
    REQUIRE(c.send(get_request("/poll?since=" + since) + get_request("/hello") + get_request("/poll")));
    CHECK(c.open_and_quiet_for(300ms));   // the hello waits its turn behind the held poll
    news.publish("m1");

    auto responses = c.read_responses(3, 5s);
    INFO(c.last_error());
    REQUIRE(responses.size() == 3);
    REQUIRE(responses[0].status == 200);
    require_numbered(entries_of(parse_batch(responses[0].body)), 1, 1);
    CHECK(responses[1].body == "hello");
    auto last = parse_batch(responses[2].body);
    CHECK(last.messages.empty());
    CHECK(last.next == cursor_at(news, 1));
    CHECK(c.open_and_quiet_for(50ms));
}

// =====================================================================================================
// Short polling
// =====================================================================================================

TEST_CASE("a short poll has an ETag and X-Poll-Interval-Ms, 304 for the same tag, and 200 with a new tag after a publish") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 2);
    raw_client c(server.port());
    auto since = cursor_at(news, 2);

    auto first = http_get(c, "/status?since=" + since);
    REQUIRE(first.status == 200);
    auto etag = first.header("etag");
    REQUIRE(etag);
    CHECK(first.header("x-poll-interval-ms") == std::optional<std::string>("1500"));
    CHECK(parse_batch(first.body).messages.empty());

    auto same = http_get(c, "/status?since=" + since, "If-None-Match: " + *etag + "\r\n");
    CHECK(same.status == 304);
    CHECK(same.body.empty());
    CHECK(same.header("etag") == etag);

    std::thread publisher([&] { news.publish("m3"); });
    publisher.join();
    auto changed = http_get(c, "/status?since=" + since, "If-None-Match: " + *etag + "\r\n");
    REQUIRE(changed.status == 200);
    REQUIRE(changed.header("etag"));
    CHECK(*changed.header("etag") != *etag);
    CHECK(changed.header("x-poll-interval-ms").has_value());
    auto b = parse_batch(changed.body);
    require_numbered(entries_of(b), 3, 3);
    CHECK(b.next == cursor_at(news, 3));
}

TEST_CASE("short polls following next collect messages from four publishing threads in one total order") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    raw_client c(server.port());
    std::string next = poll_batch(c, "/status?since=" + cursor_at(news, 0)).next;

    std::map<std::uint64_t, std::string> published;
    std::thread publishers([&] { published = publish_concurrently(news, 4, 250); });
    std::vector<received> got;
    auto deadline = steady::now() + 15s;
    while (got.size() < 1000 && steady::now() < deadline) {
        auto b = poll_batch(c, "/status?since=" + next);
        REQUIRE(b.recovered);
        for (auto& m : entries_of(b)) got.push_back(std::move(m));
        next = b.next;
        if (b.messages.empty()) std::this_thread::sleep_for(2ms);
    }
    publishers.join();
    require_total_order(got, published);
}

TEST_CASE("a short poll with since from before a disconnect gets exactly the missed messages, in order") {
    test_server server{poll_server()};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 3);
    std::string next;
    {
        raw_client c(server.port());
        auto b = poll_batch(c, "/status?since=" + cursor_at(news, 0));
        require_numbered(entries_of(b), 1, 3);
        next = b.next;
    }
    publish_numbered(news, 4, 9);
    raw_client c(server.port());
    auto b = poll_batch(c, "/status?since=" + next);
    CHECK(b.recovered);
    require_numbered(entries_of(b), 4, 9);
    auto again = poll_batch(c, "/status?since=" + b.next);
    CHECK(again.messages.empty());
}

TEST_CASE("a short poll whose since is older than the history gets recovered false and only the latest state") {
    test_server server{poll_server({}, 8)};
    auto news = server.app().topic("news");
    publish_numbered(news, 1, 20);
    raw_client c(server.port());
    auto b = poll_batch(c, "/status?since=" + cursor_at(news, 2));
    CHECK_FALSE(b.recovered);
    require_numbered(entries_of(b), 20, 20);   // the current state, never 13..20 passed off as a replay
    auto other = poll_batch(c, "/status?since=" + foreign_cursor(news, 2));
    CHECK_FALSE(other.recovered);
    require_numbered(entries_of(other), 20, 20);
}

TEST_CASE("a held long poll answered later carries the CORS fields of its request's origin") {
    test_server server{[](tether::server& app) {
        poll_server()(app);
        app.cors({.allowed_origins = {"https://app.example"}});
    }};
    auto news = server.app().topic("news");
    raw_client c(server.port());
    auto first = poll_batch(c, "/poll");
    REQUIRE(c.send("GET /poll?since=" + first.next + " HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\r\n"));
    CHECK(c.open_and_quiet_for(200ms));   // held
    news.publish("m1");
    auto r = c.read_response(5s);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("access-control-allow-origin") == std::optional<std::string>("https://app.example"));
    require_numbered(entries_of(parse_batch(r->body)), 1, 1);
}

TEST_CASE("a pubsub ping is answered with a pong, and an unknown command with an error, on a live subscription") {
    test_server server{pubsub_server};
    auto news = server.app().topic("news");
    ws_client c;
    open_ws(c, server.port());
    subscribe(c, "news");
    c.send_text(R"({"type":"ping"})");
    CHECK(receive_envelope(c).type == "pong");
    c.send_text(R"({"type":"dance","topic":"news"})");
    auto e = receive_envelope(c);
    CHECK(e.type == "error");
    CHECK(e.message == "unknown type: dance");
    news.publish("m1");
    require_numbered(receive_messages(c, 1), 1, 1);   // the subscription is unaffected
}

// =====================================================================================================
// Binary topics and raw frames: bytes byte-exact over WebSocket (enveloped and raw), base64 over SSE
// and long polling, text that is not UTF-8 refused
// =====================================================================================================

namespace {

// Every byte value twice, then bytes that are not UTF-8 (an overlong '/', a lone surrogate, 0xFF).
std::string every_byte() {
    std::string b;
    for (int round = 0; round < 2; ++round)
        for (int i = 0; i < 256; ++i) b.push_back(static_cast<char>(i));
    return b + "\xC0\xAF\xED\xA0\x80\xFF";
}
const std::string not_utf8 = "ok \xC0\xAF then \xED\xA0\x80 and \xFF";

// frames: a binary topic on every transport; news: a text topic; /ws lets clients publish.
std::function<void(tether::server&)> binary_server(std::shared_ptr<open_counter> opened = {}) {
    return [opened](tether::server& app) {
        auto frames = app.topic("frames", {.content = tether::content::binary});
        app.topic("news");
        app.pubsub("/ws", {.can_publish = [](const auto&, std::string_view) { return true; }});
        tether::server::sse_behaviour<> live;
        live.topics = {"frames"};
        live.on_open = [opened](tether::server::sse_stream<>&) {
            if (opened) opened->bump();
        };
        app.sse("/live", std::move(live));
        app.long_poll("/poll", frames);
    };
}

// An enveloped binary message: a binary frame of {"topic":..,"id":..}, a line feed, then the bytes.
struct binary_message {
    envelope head;
    std::string body;
};
binary_message receive_binary(ws_client& c) {
    auto m = c.receive_message();
    REQUIRE(m);
    REQUIRE(m->op == tether::ws::opcode::binary);
    auto lf = m->payload.find('\n');
    REQUIRE(lf != std::string::npos);
    return {parse_envelope(std::string_view(m->payload).substr(0, lf)), m->payload.substr(lf + 1)};
}

envelope subscribe_raw(ws_client& c, std::string_view topic) {
    c.send_text(R"({"type":"subscribe","topic":")" + std::string(topic) + R"(","raw":true})");
    auto m = c.receive_message();
    REQUIRE(m);
    REQUIRE(m->op == tether::ws::opcode::text);
    INFO(m->payload);
    CHECK(m->payload.find(R"("raw":true)") != std::string::npos);
    return parse_envelope(m->payload);
}

} // namespace

TEST_CASE("a binary topic reaches WebSocket subscribers byte-exact: enveloped in a binary frame after its JSON header, or raw") {
    test_server server{binary_server()};
    auto frames = server.app().topic("frames");
    ws_client enveloped, raw;
    open_ws(enveloped, server.port());
    open_ws(raw, server.port());
    subscribe(enveloped, "frames");
    auto notice = subscribe_raw(raw, "frames");
    CHECK(notice.type == "subscribed");
    CHECK(notice.topic == "frames");

    const std::string bytes = every_byte();
    frames.publish(bytes);
    frames.publish(not_utf8);
    frames.publish("");
    frames.publish("héllo", tether::content::text);   // a text message on a binary topic

    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
        auto m = receive_binary(enveloped);
        CHECK(m.head.topic == "frames");
        CHECK(m.head.id == cursor_at(frames, seq));
        CHECK(m.head.data.empty());
        CHECK(m.body == (seq == 1 ? bytes : seq == 2 ? not_utf8 : std::string()));
    }
    auto text = enveloped.receive_message();
    REQUIRE(text);
    CHECK(text->op == tether::ws::opcode::text);
    auto e = parse_envelope(text->payload);
    CHECK(e.id == cursor_at(frames, 4));
    CHECK(e.data == "héllo");

    // Raw: the bodies alone, as published, and nothing else.
    for (const auto& expected : {bytes, not_utf8, std::string()}) {
        auto m = raw.receive_message();
        REQUIRE(m);
        CHECK(m->op == tether::ws::opcode::binary);
        CHECK(m->payload == expected);
    }
    auto raw_text = raw.receive_message();
    REQUIRE(raw_text);
    CHECK(raw_text->op == tether::ws::opcode::text);
    CHECK(raw_text->payload == "héllo");
    CHECK(ws_quiet_for(raw, 100ms));
}

TEST_CASE("a raw subscription is its connection's only one: 409 either way round, and unsubscribing frees the connection") {
    test_server server{binary_server()};
    ws_client c;
    open_ws(c, server.port());
    subscribe_raw(c, "frames");
    c.send_text(R"({"type":"subscribe","topic":"news"})");
    auto refused = receive_envelope(c);
    CHECK(refused.type == "error");
    CHECK(refused.status == 409);
    CHECK(refused.topic == "news");
    c.send_text(R"({"type":"unsubscribe","topic":"frames"})");
    subscribe(c, "news");   // enveloped now
    c.send_text(R"({"type":"subscribe","topic":"frames","raw":true})");
    auto again = receive_envelope(c);
    CHECK(again.type == "error");
    CHECK(again.status == 409);
}

TEST_CASE("a pubsub publish with encoding base64 publishes bytes; text that is not UTF-8 is refused with 400") {
    test_server server{binary_server()};
    auto news = server.app().topic("news");
    ws_client publisher, reader;
    open_ws(publisher, server.port());
    open_ws(reader, server.port());
    subscribe(reader, "news");
    const std::string bytes = every_byte();

    std::string command;
    tether::json::writer(command).begin_object().member("type", "publish").member("topic", "news")
        .member("data", tether::core::base64_encode(bytes)).member("encoding", "base64").member("ref", "b").end_object();
    publisher.send_text(command);
    auto ack = receive_envelope(publisher);
    CHECK(ack.type == "published");
    CHECK(ack.id == cursor_at(news, 1));
    auto m = receive_binary(reader);   // a binary message on a text topic: the publish said so
    CHECK(m.head.id == cursor_at(news, 1));
    CHECK(m.body == bytes);

    // Text must be UTF-8: from C++ (std::invalid_argument) and over the protocol, where the one way to
    // spell a non-UTF-8 text in JSON is an unpaired surrogate escape (RFC 8259 §8.2).
    CHECK_THROWS_AS(news.publish(not_utf8), std::invalid_argument);
    publisher.send_text(R"({"type":"publish","topic":"news","data":"a\ud800b","ref":"s"})");
    auto surrogate = receive_envelope(publisher);
    CHECK(surrogate.type == "error");
    CHECK(surrogate.status == 400);
    publisher.send_text(R"({"type":"publish","topic":"news","data":"not base64!","encoding":"base64","ref":"c"})");
    auto bad = receive_envelope(publisher);
    CHECK(bad.type == "error");
    CHECK(bad.status == 400);
    publisher.send_text(R"({"type":"publish","topic":"news","data":"x","encoding":"hex","ref":"d"})");
    CHECK(receive_envelope(publisher).status == 400);
    CHECK(news.position().sequence == 1);   // nothing else was published
    CHECK(ws_quiet_for(reader, 100ms));
}

TEST_CASE("SSE carries a binary message as base64 data with an encoding: base64 field; text as it was") {
    auto opened = std::make_shared<open_counter>();
    test_server server{binary_server(opened)};
    auto frames = server.app().topic("frames");
    sse_reader stream(server.port(), "/live");
    REQUIRE(opened->wait_for(1));
    const std::string bytes = every_byte();
    frames.publish(bytes);
    frames.publish(not_utf8);
    frames.publish("plain text", tether::content::text);
    auto events = stream.next_n(3);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(events[i].type == "frames");
        CHECK(*events[i].id == cursor_at(frames, i + 1));
        CHECK(events[i].encoding == "base64");
        auto decoded = tether::core::base64_decode(events[i].data);
        REQUIRE(decoded);
        CHECK(*decoded == (i == 0 ? bytes : not_utf8));
    }
    CHECK(events[2].encoding.empty());
    CHECK(events[2].data == "plain text");
}

TEST_CASE("a long poll carries a binary message as base64 data with \"encoding\":\"base64\"") {
    test_server server{binary_server()};
    auto frames = server.app().topic("frames");
    const std::string bytes = every_byte();
    frames.publish(bytes);
    frames.publish("plain text", tether::content::text);
    raw_client c(server.port());
    auto b = poll_batch(c, "/poll?since=" + cursor_at(frames, 0));
    REQUIRE(b.messages.size() == 2);
    CHECK(b.messages[0].encoding == "base64");
    CHECK(tether::core::base64_decode(b.messages[0].data) == std::optional<std::string>(bytes));
    CHECK(b.messages[1].encoding.empty());
    CHECK(b.messages[1].data == "plain text");
    CHECK(b.next == cursor_at(frames, 2));
}
