// hybrid: the demo (what examples/demo builds and starts). One topic, "news", reaches clients on
// every transport at once: the page (examples/web/hybrid/) opens four tether.js clients, each
// pinned to one transport, and shows what each receives, its connection state, a restart of the
// server as each one lives through it, and what the server is doing (/api/stats).
//
//   ./hybrid --port 8080                                            then open http://127.0.0.1:8080/
//   curl -X POST http://127.0.0.1:8080/api/publish/news -d 'hello'  # publish: every column shows it
//   curl -N http://127.0.0.1:8080/sse/news                          # SSE (Last-Event-ID resumes)
//   curl http://127.0.0.1:8080/poll/news                            # long poll: learn "next", then
//   curl "http://127.0.0.1:8080/poll/news?since=<next>"             #   held until news (25 s max)
//   curl -i http://127.0.0.1:8080/status/news                       # short poll: ETag, 304
//   WebSocket /ws: {"type":"subscribe","topic":"news","since":"<id>"}, {"type":"publish",...}
//   curl http://127.0.0.1:8080/metrics                              # Prometheus: every transport, the topic
//   curl http://127.0.0.1:8080/healthz; curl http://127.0.0.1:8080/readyz   # liveness, readiness
//
// app.realtime() registers every route tether.js looks for; a publish, over WebSocket or REST, is
// checked once by prepare_publish. Three built-in middlewares run around every route: an
// X-Request-Id on each response, one access log line per response on stdout (combined log
// format), and gzip or br for tether.js, the page and the JSON answers when the client accepts it. The hub lives in memory: after a restart the clients are told
// that history was lost (a new epoch) instead of being sent a partial replay.
//
// With `--redis redis://127.0.0.1:6379/0` it is one node of a cluster (examples/cluster.hpp): start
// several on other ports with the same URL, publish on one, watch on another, and resume anywhere.
// A REST publish is then answered once Redis stored the message, or 503 if it did not.
//   curl http://127.0.0.1:8081/api/presence                         # subscriptions on every node
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "cluster.hpp"
#include "web/web_example.hpp"

namespace {

// {"topic":..,"subscriptions":..,"nodes":..}
std::string presence_json(std::string_view topic, std::uint64_t subscriptions, std::size_t nodes) {
    std::string body;
    tether::json::writer(body)
        .begin_object()
        .member("topic", topic)
        .member("subscriptions", subscriptions)
        .member("nodes", static_cast<std::uint64_t>(nodes))
        .end_object();
    return body;
}

} // namespace

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    auto redis_url = cluster::take_redis_url(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;   // Ctrl-C stops gracefully
    auto redis = cluster::join(redis_url);   // before the server: it outlives it
    tether::server app{options};
    // In this order: the id exists before the log line is written, and the log line, written after
    // compress (after hooks unwind), counts the bytes actually sent.
    app.use(tether::middleware::request_id());
    app.use(tether::middleware::access_log());
    app.use(tether::middleware::compress());
#ifdef TETHER_EXAMPLE_WITH_REDIS
    if (redis) app.use_backplane(*redis);
#endif
    auto news = app.topic("news");
    const auto started = std::chrono::steady_clock::now();

    app.realtime({.routes = {.publish = "/api/publish/{topic}"},
                  .pubsub = {.can_publish = [](std::string_view topic) { return topic == "news"; },
                             .prepare_publish =
                                 [](std::string_view, std::string_view text) {
                                     if (text.empty()) throw tether::http::error(422, "type a message first");
                                     if (text.size() > 1000) throw tether::http::error(422, "at most 1000 bytes");
                                     return std::string(text);
                                 }}},
                 news);

    // What the server is doing, for the page's live panel: what is open per transport, and
    // running totals the page turns into rates.
    app.get("/api/stats", [&](auto&, auto& res) {
        auto s = app.stats();
        auto t = news.stats();
        auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        std::string body;
        tether::json::writer w(body);
        w.begin_object()
            .key("open")
            .begin_object()
            .member("websocket", s.websockets_open)
            .member("sse", s.sse_open)
            .member("longpoll", s.long_polls_held)
            .member("http", s.http_open)
            .end_object()
            .member("short_polls", s.short_polls)
            .member("requests", s.requests)
            .member("published", t.published)
            .member("delivered", t.delivered)
            .member("uptime_ms", static_cast<std::uint64_t>(uptime.count()))
            .end_object();
        res.header("Cache-Control", "no-store").json(std::move(body));
    });
    // How many subscriptions "news" has: on this node, or on every node of the cluster.
    app.get("/api/presence", [&](auto&, auto& res) {
#ifdef TETHER_EXAMPLE_WITH_REDIS
        if (redis) {   // answered from Redis, later: the I/O thread does not wait
            redis->async_presence("news", [reply = res.defer()](std::error_code ec, tether::redis::presence p) mutable {
                if (ec) return reply.fail(503, ec.message());
                reply.json(presence_json("news", p.subscriptions, p.nodes));
                reply.send();
            });
            return;
        }
#endif
        auto n = news.core().counters().subscribers.load(std::memory_order_relaxed);
        res.json(presence_json("news", n > 0 ? static_cast<std::uint64_t>(n) : 0, 1));
    });
    // What a Prometheus server scrapes, and what an orchestrator probes (README "Metrics and health").
    app.metrics("/metrics");
    app.health("/healthz", "/readyz");
    web_example::serve_page(app, root);

    cluster::wait_until_ready(redis.get());
    app.listen();
    web_example::print_listening(app.url());
    app.run();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help, cluster::usage);
} catch (const std::exception& e) {
    std::fprintf(stderr, "hybrid: %s\n", e.what());
    return 1;
}
