// fanout_server: tether's side of the fan-out benchmark (benchmarks/fanout/run.sh). One topic, "bench",
// reached over WebSocket (tether's pubsub protocol at /ws, and at /ws-deflate with permessage-deflate on)
// and Server-Sent Events (/events), and a publish trigger the load generator drives:
//
//   POST /publish?n=K&size=B[&body=ticker]   publishes K messages of B bytes (benchmarks/fanout/bench_message.hpp:
//                              sequence, send time, padding; or a JSON tick) from the handler, then answers 204
//
//   GET /sub                   WebSocket: the same messages as bare text frames, the body alone (no envelope):
//                              tether's raw form, for the comparison with the kernel floor
//                              (benchmarks/peers/floor_fanout.cpp). The client's first message subscribes it
//                              (send {"type":"subscribe","topic":"bench"}, as on /ws; the answer is the same
//                              "subscribed" notice).
//   GET /sequence              the sequence number the next message will carry (text)
//   GET /stats                 {"published":..,"ws_broadcast_compressions":..,"ws_compressed_deliveries":..}
//
// so the load generator alone decides the rate: it keeps at most a window of messages unconfirmed by its
// slowest subscriber (benchmarks/loadgen/fanout_load.cpp). Publishing from the I/O thread that serves the
// request is what an application handler would do; topic::publish() is the same lock-free call from any thread.
//
// With --redis URL (when built with tether::redis) the topic is ordered by the Redis backplane, and several
// fanout_servers with the same URL are one cluster (benchmarks/backplane/run.sh): messages published on one
// reach the subscribers of all. POST /publish then answers once Redis has stored all K messages (500 if any
// was refused); their order is the order they were submitted in, so the sequences in the bodies still count
// 0, 1, 2, ... on every node.
//
//   ./fanout_server --port 8080 [--threads 1] [--redis redis://127.0.0.1:6379/0]
//   websocat ws://127.0.0.1:8080/ws   then type {"type":"subscribe","topic":"bench"}
//   curl -N http://127.0.0.1:8080/events          and, elsewhere:  curl -X POST 'http://127.0.0.1:8080/publish?n=3&size=64'
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/tether.hpp>
#ifdef TETHER_BENCH_WITH_REDIS
#include <tether/redis.hpp>
#endif

#include "bench_message.hpp"

int main(int argc, char** argv) try {
    std::optional<std::string> redis_url;   // --redis URL, taken out before the common options are parsed
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string_view(argv[i]) != "--redis") continue;
        redis_url = argv[i + 1];
        for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
        argc -= 2;
        break;
    }
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
#ifdef TETHER_BENCH_WITH_REDIS
    std::unique_ptr<tether::redis::backplane> redis;
    if (redis_url) redis = std::make_unique<tether::redis::backplane>(*redis_url);
#else
    if (redis_url) throw std::invalid_argument("--redis: built without tether::redis");
#endif
    tether::server app{options};
#ifdef TETHER_BENCH_WITH_REDIS
    if (redis) app.use_backplane(*redis);
#endif

    // History 4096: comfortably above any flow-control window the load generator uses, so no subscriber that
    // keeps up with the window can be lapped; drop_oldest (the default) would report any loss as "missed".
    auto bench = app.topic("bench", {.history = 4096});
    app.pubsub("/ws");
    app.pubsub("/ws-deflate", {.permessage_deflate = {.mode = tether::ws::deflate_mode::on}});
    app.sse("/events", bench);

    // /sub: a topic made by hand whose WebSocket format is the body in a bare text frame. Transports read a
    // topic's formats by index (net/topic_groups.hpp, topic_format): 0 is what polling sends, 1 the WebSocket
    // frame, and /sub uses neither deflate nor SSE, so two formats are enough. Published to only while it has
    // subscribers, so the other scenarios pay nothing for it; the raw scenario still publishes to "bench" too
    // (lazy formats with no subscriber: a sequence and a ring slot, about 0.1% of a 1,000-subscriber fan-out).
    std::vector<tether::hub::wire_format> raw_formats{
        tether::hub::raw_format("poll"),
        {"ws", [](const tether::hub::encode_input& in, std::string& out) {
             tether::ws::append_frame(out, tether::ws::opcode::text, in.body);
         }}};
    tether::topic<> raw{std::make_shared<tether::hub::topic>("bench", std::move(raw_formats),
                                                            tether::hub::topic_options{.capacity = 4096})};
    std::atomic<std::int64_t> raw_subscribers{0};
    app.websocket("/sub", {.on_message = [&](auto& ws, std::string_view, tether::ws::opcode) {
                               if (ws.subscription_count() != 0) return;
                               ws.subscribe(raw);
                               raw_subscribers.fetch_add(1, std::memory_order_relaxed);
                           },
                           .on_close = [&](auto& ws, tether::ws::close_code, std::string_view) {
                               if (ws.subscription_count() != 0) raw_subscribers.fetch_sub(1, std::memory_order_relaxed);
                           }});

    std::atomic<std::uint64_t> next_sequence{0};
    app.post("/publish", [&](auto& req, auto& res) {
        tether_bench::publish_request r;
        if (!tether_bench::parse_publish_query(req.query_string(), r))
            throw tether::http::error(400, "expected ?n=1..4096&size=42..65536");
        thread_local std::string body;
        const std::uint64_t first = next_sequence.fetch_add(r.count, std::memory_order_relaxed);
        if (!bench.core().sequenced_externally()) {
            const bool to_raw = raw_subscribers.load(std::memory_order_relaxed) > 0;
            for (std::size_t i = 0; i < r.count; ++i) {
                tether_bench::make_body(body, first + i, r);
                bench.publish(body);
                if (to_raw) raw.publish(body);
            }
            res.status(204);
            return;
        }
        // On a backplane: answered when Redis has stored all of them.
        struct batch_state {
            batch_state(std::size_t n, tether::http::deferred_response r) : left(n), reply(std::move(r)) {}
            std::atomic<std::size_t> left;
            std::atomic<bool> failed{false};
            tether::http::deferred_response reply;
        };
        auto state = std::make_shared<batch_state>(r.count, res.defer(std::chrono::seconds(30)));
        for (std::size_t i = 0; i < r.count; ++i) {
            tether_bench::make_body(body, first + i, r);
            bench.async_publish(body, [state](std::error_code ec, tether::hub::cursor) {
                if (ec) state->failed = true;
                if (state->left.fetch_sub(1) != 1) return;   // the last completion answers
                if (state->failed) return state->reply.fail(500, "a message was not stored");
                state->reply.status(204);
                state->reply.send();
            });
        }
    });
    // The sequence the next published message will carry: the load generator reads it once before it starts.
    app.get("/sequence", [&](auto&, auto& res) { res.text(std::to_string(next_sequence.load(std::memory_order_relaxed))); });
    // What permessage-deflate cost: compressions per published message (the goal: one per compressed format
    // in use, whatever the number of subscribers).
    app.get("/stats", [&](auto&, auto& res) {
        const auto s = app.stats();
        std::string out;
        tether::json::writer(out)
            .begin_object()
            .member("published", bench.stats().published)
            .member("ws_broadcast_compressions", s.ws_broadcast_compressions)
            .member("ws_compressed_deliveries", s.ws_compressed_deliveries)
            .end_object();
        res.json(std::move(out));
    });

#ifdef TETHER_BENCH_WITH_REDIS
    if (redis && !redis->wait_until_ready(std::chrono::seconds(10))) throw std::runtime_error("Redis not ready in 10 s");
#endif
    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const std::exception& e) {
    std::fprintf(stderr, "fanout_server: %s\n", e.what());
    return 1;
}
