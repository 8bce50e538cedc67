// dashboard: server-generated metrics ticking over Server-Sent Events with conflation, the
// shape of a live operations dashboard or a price board.
//
//   ./dashboard --port 8080          then open http://127.0.0.1:8080/
//   curl -N http://127.0.0.1:8080/metrics
//
// A background thread publishes a reading for each of 8 gauges every 50 ms. The topic conflates
// by key (the gauge name): a browser that falls behind, or a tab the browser throttles, is not
// sent every stale reading on catch-up, only the latest value of each gauge.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stop_token>
#include <string>
#include <thread>

#include <tether/tether.hpp>

namespace {

constexpr std::string_view page = R"(<!doctype html><meta charset="utf-8"><title>tether dashboard</title>
<link rel="icon" href="data:,">
<style>body{font:16px sans-serif} td{padding:4px 12px} .bar{background:#4a8;height:10px}</style>
<table id="t"></table><p id="s"></p>
<script>
const rows = {};
const es = new EventSource('/metrics');
es.addEventListener('metrics', e => {
  const m = JSON.parse(e.data);
  if (!rows[m.gauge]) { const r = t.insertRow(); r.insertCell().textContent = m.gauge; rows[m.gauge] = [r.insertCell(), r.insertCell()]; }
  rows[m.gauge][0].textContent = m.value.toFixed(1);
  rows[m.gauge][1].innerHTML = `<div class="bar" style="width:${m.value * 2}px"></div>`;
  s.textContent = 'last id ' + e.lastEventId;
});
es.addEventListener('reset', () => { s.textContent = 'history lost: showing live values'; });
</script>)";

} // namespace

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    auto metrics = app.topic<tether::backpressure::conflate>("metrics", {.history = 256});

    app.get("/", [](auto&, auto& res) { res.html(page); });
    app.sse("/metrics", metrics);

    // A jthread: on every way out (a failed listen() included) it is told to stop and joined.
    std::jthread sensors([&](std::stop_token stop) {
        constexpr const char* gauges[] = {"cpu", "memory", "disk", "network", "queue", "latency", "errors", "users"};
        for (unsigned tick = 0; !stop.stop_requested(); ++tick) {
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
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "dashboard: %s\n", e.what());
    return 1;
}
