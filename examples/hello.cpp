// hello: the smallest tether server, with a text route, a JSON route, a path parameter, and a
// slow route answered from another thread.
//
//   ./hello --port 8080
//   curl http://127.0.0.1:8080/plaintext
//   curl http://127.0.0.1:8080/json
//   curl http://127.0.0.1:8080/hello/world
//   curl http://127.0.0.1:8080/delayed?ms=2000    # answered after 2 s; meanwhile /plaintext still answers at once
//   curl http://127.0.0.1:8080/metrics            # Prometheus text: requests by route, latency, connections, ...
//   curl http://127.0.0.1:8080/readyz             # 200 while serving, 503 once stopping (and /healthz)
//
// /plaintext and /json are the TechEmpower-style endpoints the benchmarks drive. /delayed shows a
// deferred reply: the handler returns at once and a timer thread sends the answer later, so one slow
// request holds no I/O thread (try it with --threads 1 and two terminals).
//
// /metrics and the health probes are on unless `--no-metrics` is given: the benchmarks that compare
// hello with other servers pass it, and benchmarks/metrics/run.sh measures the difference.
// `--middleware` adds the built-in chain (request ids, security headers, access log on stdout,
// compression) and GET /deferred answers like /plaintext from another thread: what each costs a
// request is measured by benchmarks/callgrind/run.sh.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string_view>
#include <thread>

#include <asio.hpp>
#include <tether/tether.hpp>

// Takes the flag `name` out of argv (parse_command_line knows only the options every example shares).
static bool take_flag(int& argc, char** argv, std::string_view name) {
    bool found = false;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == name) found = true;
        else argv[kept++] = argv[i];
    }
    argc = kept;
    return found;
}

int main(int argc, char** argv) try {
    const bool metrics = !take_flag(argc, argv, "--no-metrics");
    const bool middleware = take_flag(argc, argv, "--middleware");
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    if (middleware) {   // the built-in chain the demo runs (README "Middleware"), for what it costs
        app.use(tether::middleware::request_id());
        app.use(tether::middleware::security_headers());
        app.use(tether::middleware::access_log());
        app.use(tether::middleware::compress());
    }

    app.get("/plaintext", [](auto&, auto& res) { res.text("Hello, World!"); });
    app.get("/json", [](auto&, auto& res) {
        std::string body;
        tether::json::writer(body).begin_object().member("message", "Hello, World!").end_object();
        res.json(std::move(body));
    });
    app.get("/hello/:name", [](auto& req, auto& res) {
        std::string greeting = "Hello, ";
        greeting.append(req.param("name")).append("!\n");
        res.text(greeting);
    });

    // Another thread with timers, standing in for whatever a real handler waits on (a database,
    // another service). Declared after `app`, so it goes first and any reply still pending is
    // dropped (answered 500) while the server can still take it.
    asio::io_context timers;
    auto keep_running = asio::make_work_guard(timers);
    std::thread timer_thread([&timers] { timers.run(); });
    struct stop_timers {   // on every way out, a failed listen() included: a joinable thread must not be destroyed
        asio::io_context& io;
        std::thread& thread;
        ~stop_timers() {
            io.stop();
            thread.join();
        }
    } stop_timers_on_exit{timers, timer_thread};
    app.get("/delayed", [&timers](auto& req, auto& res) {
        unsigned ms = 0;
        auto text = tether::http::find_query_param(req.query_string(), "ms").value_or("");
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || ms > 10'000)
            throw tether::http::error(400, "ms must be a number from 0 to 10000");
        auto timer = std::make_shared<asio::steady_timer>(timers, std::chrono::milliseconds(ms));
        timer->async_wait([timer, reply = std::make_shared<tether::http::deferred_response>(res.defer()),
                           ms](std::error_code) {
            reply->text("waited " + std::to_string(ms) + " ms\n");
            reply->send();
        });
    });

    // /plaintext's answer, finished on the timer thread: what a deferred reply costs against a
    // synchronous one (benchmarks/callgrind/run.sh measures both).
    app.get("/deferred", [&timers](auto&, auto& res) {
        asio::post(timers, [reply = std::make_shared<tether::http::deferred_response>(res.defer())] {
            reply->text("Hello, World!");
            reply->send();
        });
    });

    // Prometheus metrics and the probes an orchestrator asks (README "Metrics and health").
    if (metrics) {
        app.metrics("/metrics");
        app.health("/healthz", "/readyz");
    }

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "hello: %s\n", e.what());
    return 1;
}
