// dashboard_web: eight live gauges in the browser, one conflating topic per gauge, with the page
// in examples/web/dashboard_web/ (tether.js, SSE first, then polling). Eight topics are more than a
// browser's six connections per origin over HTTP/1.1: tether.js carries them all on one SSE stream
// (or one poll), /sse?topics=cpu,memory,...
//
//   ./dashboard_web --port 8080          then open http://127.0.0.1:8080/
//   curl -N 'http://127.0.0.1:8080/sse?topics=cpu,users'
//
// A background thread publishes a reading for each gauge every 50 ms, numbered by its tick (seq).
// Each topic conflates: a client that falls behind (a throttled background tab, a slow link) is
// not sent every stale reading on catch-up, only the latest, and is told what it skipped
// ("missed"). The page counts those instead of treating them as errors. A poller
// (?transports=shortpoll: one poll every two seconds) is answered with what it has not seen, or
// with the latest value if its cursor left the history, because that is a conflating topic's
// state. Since the feed never pauses, the page also uses tether.js's idleTimeout: a stream that
// goes quiet for two seconds is reconnected, which catches a connection a proxy silently dropped.
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>

#include "web/web_example.hpp"

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    constexpr std::array<const char*, 8> names = {"cpu", "memory", "disk", "network", "queue", "latency", "errors", "users"};
    auto gauge = [&](const char* name) { return app.topic<tether::backpressure::conflate>(name, {.history = 256}); };
    std::array gauges = {gauge(names[0]), gauge(names[1]), gauge(names[2]), gauge(names[3]),
                         gauge(names[4]), gauge(names[5]), gauge(names[6]), gauge(names[7])};
    // /ws, /sse/{topic} and /sse?topics=, /poll, /status (both forms), /tether.js
    std::apply([&](auto&... topics) { app.realtime(topics...); }, gauges);
    web_example::serve_page(app, root);

    // A jthread: on every way out (a failed listen() included) it is told to stop and joined.
    std::jthread sensors([&](std::stop_token stop) {
        for (unsigned tick = 0; !stop.stop_requested(); ++tick) {
            for (unsigned g = 0; g < gauges.size(); ++g) {
                double value = 50 + 45 * std::sin(tick * 0.05 + g);
                std::string body;
                tether::json::writer(body).begin_object().member("gauge", names[g]).member("value", value)
                    .member("seq", tick).end_object();
                gauges[g].publish(body, names[g]);   // key: conflation keeps the latest reading
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });

    app.listen();
    web_example::print_listening(app.url());
    app.run();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help);
} catch (const std::exception& e) {
    std::fprintf(stderr, "dashboard_web: %s\n", e.what());
    return 1;
}
