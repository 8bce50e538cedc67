#pragma once
// Liveness and readiness endpoints for orchestrators and load balancers:
//
//   app.health("/healthz", "/readyz", {.ready = [&] { return db.connected(); }});
//
//   liveness   200 while every I/O thread's loop keeps turning; 503 once one is later than
//              max_loop_lag (net/io_thread.hpp measures it: a handler blocking its thread). A server
//              so stuck that it cannot answer fails the probe by its timeout: the same verdict.
//   readiness  200 once the server is serving (listen() done and run() accepting) and the
//              application's own check, if any, passes; 503 before that, while stopping (stop(), or
//              SIGTERM with handle_signals: the balancer takes the instance out while the requests in
//              flight drain), and when the check fails.
//
// Why two: they answer different questions (Kubernetes' distinction): a failed liveness probe
// restarts the process, a failed readiness probe only stops traffic to it. A database that is down
// must fail readiness, never liveness (restarting every instance would not bring it back), which is
// why the application's check belongs to readiness alone. Both answer JSON, `{"status":"ok"}` or the
// server's one error shape with the reason, with Cache-Control: no-store.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <tether/http/error.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>

namespace tether {

struct health_options {
    // Liveness fails while an I/O thread is this late; 0: liveness never looks at the loops.
    std::chrono::milliseconds max_loop_lag{10'000};
    // Readiness asks it too: false (or a thrown http::error) is 503. It runs on an I/O thread for
    // every probe, so it must not block: read a flag your own code keeps up to date.
    std::function<bool()> ready{};
};

namespace detail {

inline void answer_healthy(http::response& res) { res.header("Cache-Control", "no-store").json(R"({"status":"ok"})"); }

inline void answer_unhealthy(http::response& res, std::string_view why) {
    http::write_error(res, 503, why);
    res.header("Cache-Control", "no-store");
}

// Server: loop_lag() (the latest I/O thread: {thread, lag}, or nothing before run()), serving(), stopping().
template <class Server>
void register_health(Server& app, std::string_view liveness, std::string_view readiness, health_options o) {
    if (!liveness.empty())
        app.get(liveness, [&app, max = o.max_loop_lag](http::request&, http::response& res) {
            if (max.count() > 0)
                if (auto worst = app.loop_lag(); worst && worst->lag > max)
                    return answer_unhealthy(res, "I/O thread " + std::to_string(worst->thread) + " is " +
                                                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(worst->lag).count()) +
                                                     " ms late (a handler is blocking it)");
            answer_healthy(res);
        });
    if (!readiness.empty())
        app.get(readiness, [&app, check = std::move(o.ready)](http::request&, http::response& res) {
            if (app.stopping()) return answer_unhealthy(res, "stopping");
            if (!app.serving()) return answer_unhealthy(res, "starting");
            if (check && !check()) return answer_unhealthy(res, "not ready");
            answer_healthy(res);
        });
}

} // namespace detail
} // namespace tether
