// dashboard_web: eight live gauges in the browser over Server-Sent Events, on a conflating
// topic, with the page in examples/web/dashboard_web/ (tether.js, SSE first, then polling).
//
//   ./dashboard_web --port 8080          then open http://127.0.0.1:8080/
//   curl -N http://127.0.0.1:8080/sse/metrics
//
// A background thread publishes a reading for each gauge every 50 ms, keyed by gauge name. The
// topic conflates by key: a client that falls behind (a throttled background tab, a slow link)
// is not sent every stale reading on catch-up, only the latest value of each gauge, and is told
// what it skipped ("missed"). The page counts those instead of treating them as errors. A poller
// (?transports=shortpoll: one poll every two seconds, long after its cursor left the history)
// is answered with every gauge's latest value, because that is a conflating topic's state. Since
// the feed never pauses, the page also uses tether.js's idleTimeout: a stream that goes quiet
// for two seconds is reconnected, which catches a connection a proxy silently dropped.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "web/web_example.hpp"

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    auto metrics = app.topic<tether::backpressure::conflate>("metrics", {.history = 256});
    app.realtime(metrics);   // /ws, /sse/metrics, /poll/metrics, /status/metrics, /tether.js
    web_example::serve_page(app, root);

    std::atomic<bool> running{true};
    std::thread sensors([&] {
        constexpr const char* gauges[] = {"cpu", "memory", "disk", "network", "queue", "latency", "errors", "users"};
        for (unsigned tick = 0; running.load(std::memory_order_relaxed); ++tick) {
            for (unsigned g = 0; g < 8; ++g) {
                double value = 50 + 45 * std::sin(tick * 0.05 + g);
                std::string body;
                tether::json::writer(body).begin_object().member("gauge", gauges[g]).member("value", value).end_object();
                metrics.publish(body, gauges[g]);   // key: keep only the latest per gauge
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });

    app.listen();
    web_example::print_listening(app.url());
    app.run();
    running = false;
    sensors.join();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help);
} catch (const std::exception& e) {
    std::fprintf(stderr, "dashboard_web: %s\n", e.what());
    return 1;
}
