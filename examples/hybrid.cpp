// hybrid: one topic, every transport at once. A message POSTed to the REST API reaches the
// WebSocket, Server-Sent Events, long-polling and short-polling clients in the same order, and
// each of them resumes from its last id after a reconnect.
//
//   ./hybrid --port 8080
//   curl -N http://127.0.0.1:8080/events                        # SSE (Last-Event-ID resumes)
//   curl 'http://127.0.0.1:8080/poll'                           # long poll: learn "next", then
//   curl 'http://127.0.0.1:8080/poll?since=<next>'              #   held until news (25 s max)
//   curl -i 'http://127.0.0.1:8080/status'                      # short poll: latest, ETag/304
//   curl -X POST http://127.0.0.1:8080/api/publish -d 'hello'   # publish (from any thread)
//   WebSocket /ws: send {"type":"subscribe","topic":"news","since":"<id>"}; also {"type":"publish",...}
//   Open http://127.0.0.1:8080/ for a page showing all four side by side.
//
// With `--redis redis://127.0.0.1:6379/0` it is one node of a cluster (examples/cluster.hpp): start
// several on other ports with the same URL, publish on one, watch on another, and resume anywhere.
//   curl -X POST http://127.0.0.1:8080/api/publish -d 'hello'   # 201 {"id":..}, or 503 if Redis is down
//   curl http://127.0.0.1:8081/api/presence                     # subscriptions on every node
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <tether/tether.hpp>

#include "cluster.hpp"

namespace {

constexpr std::string_view page = R"(<!doctype html><meta charset="utf-8"><title>tether hybrid</title>
<style>body{font:14px sans-serif} .c{display:inline-block;vertical-align:top;width:23%;margin-right:1%} pre{background:#f4f4f4;height:300px;overflow:auto}</style>
<p><input id="msg" value="hello"> <button id="send">publish</button></p>
<div class="c"><b>WebSocket</b><pre id="ws"></pre></div><div class="c"><b>SSE</b><pre id="sse"></pre></div>
<div class="c"><b>long poll</b><pre id="lp"></pre></div><div class="c"><b>short poll</b><pre id="sp"></pre></div>
<script>
const log = (id, t) => { const e = document.getElementById(id); e.textContent += t + '\n'; };
send.onclick = () => fetch('/api/publish', {method: 'POST', body: msg.value});
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onopen = () => ws.send(JSON.stringify({type: 'subscribe', topic: 'news'}));
ws.onmessage = e => { const m = JSON.parse(e.data); if (m.data !== undefined) log('ws', m.data); };
new EventSource('/events').addEventListener('news', e => log('sse', e.data));
(async () => { let next = (await (await fetch('/poll')).json()).next;
  for (;;) { const b = await (await fetch('/poll?since=' + next)).json(); b.messages.forEach(m => log('lp', m.data)); next = b.next; } })();
(async () => { let next = (await (await fetch('/status')).json()).next;
  for (;;) { await new Promise(r => setTimeout(r, 2000));
    const b = await (await fetch('/status?since=' + next)).json(); b.messages.forEach(m => log('sp', m.data)); next = b.next; } })();
</script>)";

// {"topic":..,"subscriptions":..,"nodes":..,"users":[..]}
std::string presence_json(std::string_view topic, std::uint64_t subscriptions, std::size_t nodes) {
    std::string body;
    tether::json::writer(body).begin_object().member("topic", topic).member("subscriptions", subscriptions)
        .member("nodes", static_cast<std::uint64_t>(nodes)).end_object();
    return body;
}

} // namespace

int main(int argc, char** argv) try {
    auto redis_url = cluster::take_redis_url(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    auto redis = cluster::join(redis_url);   // before the server: it outlives it
    tether::server app{options};
#ifdef TETHER_EXAMPLE_WITH_REDIS
    if (redis) app.use_backplane(*redis);
#endif
    auto news = app.topic("news");

    app.get("/", [](auto&, auto& res) { res.html(page); });
    // Answered once the message is stored (on a cluster: once Redis has it), with its id; 503 when it
    // was not stored (Redis unreachable). The I/O thread does not wait: app.defer() answers later.
    app.post("/api/publish", [&](auto& req, auto&) {
        if (req.body().empty() || req.body().size() > 64 * 1024)
            throw tether::http::error(422, "body must be 1 byte to 64 KiB");
        auto reply = app.defer(std::chrono::seconds(10));
        news.async_publish(req.body(), [reply](std::error_code ec, tether::hub::cursor id) {
            reply.send([ec, id](tether::http::response& res) {
                if (ec) {
                    tether::http::write_error(res, 503, ec.message());
                    res.header("Retry-After", "1");
                    return;
                }
                std::string body;
                tether::json::writer(body).begin_object().member("id", tether::hub::to_string(id))
                    .member("sequence", id.sequence).end_object();
                res.status(201).json(std::move(body));
            });
        });
    });
    // How many subscriptions "news" has: on this node, or on every node of the cluster.
    app.get("/api/presence", [&](auto&, auto& res) {
#ifdef TETHER_EXAMPLE_WITH_REDIS
        if (redis) {
            auto reply = app.defer(std::chrono::seconds(10));
            redis->async_presence("news", [reply](std::error_code ec, tether::redis::presence p) {
                reply.send([ec, p](tether::http::response& res) {
                    if (ec) return tether::http::write_error(res, 503, ec.message());
                    res.json(presence_json("news", p.subscriptions, p.nodes));
                });
            });
            return;
        }
#endif
        auto n = news.core().counters().subscribers.load(std::memory_order_relaxed);
        res.json(presence_json("news", n > 0 ? static_cast<std::uint64_t>(n) : 0, 1));
    });
    app.pubsub("/ws", {.can_publish = [](std::string_view topic) { return topic == "news"; }});
    app.sse("/events", news);
    app.long_poll("/poll", news);
    app.short_poll("/status", news);

    cluster::wait_until_ready(redis.get());
    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const std::exception& e) {
    std::fprintf(stderr, "hybrid: %s\n", e.what());
    return 1;
}
