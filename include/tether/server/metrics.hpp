#pragma once
// The scrape behind app.metrics("/metrics"): every family the server exposes, summed over the I/O
// threads at the moment of the scrape, in Prometheus's text format (metrics/text_format.hpp).
// The README's "Metrics and health" section lists the families; this file is their one source.
//
// Why summed on scrape rather than kept as totals: the request path then writes only its own
// thread's values (metrics/per_thread.hpp, metrics/thread_metrics.hpp), and all the adding up,
// formatting and reading of /proc happens here, once per scrape (Prometheus scrapes every 15 s or
// so), on the I/O thread that serves the scrape. The sums are snapshots, not a consistent cut
// across threads, which is what a scraper expects of counters.
//
// Series that are zero are written for small fixed label sets (transports, directions, budgets),
// so dashboards see them from the start; for sets that depend on traffic (route x method x status
// class, close codes, rejection statuses) a series appears with its first count.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/method.hpp>
#include <tether/hub/topic.hpp>
#include <tether/metrics/process.hpp>
#include <tether/metrics/text_format.hpp>
#include <tether/metrics/thread_metrics.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/server/stats.hpp>

namespace tether::detail {

// Label value for requests that matched no route: 404, 405, automatic OPTIONS, CORS preflights,
// and answers given by a `before` middleware hook, which runs before routing.
inline constexpr std::string_view unrouted_label = "(none)";

// What the server says about itself beyond its threads' counters.
struct server_status {
    bool ready = false;                           // as /readyz would answer
    std::chrono::steady_clock::duration uptime{};   // since run() began serving
};

template <class Threads, class Routes>
void write_request_metrics(metrics::text_writer& w, const Threads& threads, const Routes& routes) {
    using metrics::metric_type;
    using table = metrics::request_table;
    constexpr std::array<std::string_view, table::classes> classes{"1xx", "2xx", "3xx", "4xx", "5xx"};
    const std::size_t rows = threads.empty() ? 0 : threads.front()->metrics.requests.size();
    auto route_label = [&](std::size_t r) { return r == 0 ? unrouted_label : routes.pattern(r); };
    auto method_label = [](std::size_t m) {
        auto name = http::to_string(static_cast<http::method>(m));
        return name.empty() ? std::string_view("other") : name;
    };

    w.family("tether_http_requests_total", metric_type::counter,
             "HTTP requests answered, by route pattern, method and status class.");
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t m = 0; m < table::methods; ++m)
            for (std::size_t c = 0; c < table::classes; ++c) {
                std::uint64_t n = 0;
                for (const auto& t : threads) n += t->metrics.requests.row(r).answered[m * table::classes + c].value();
                if (n != 0)
                    w.sample("tether_http_requests_total",
                             {{"route", route_label(r)}, {"method", method_label(m)}, {"status", classes[c]}}, n);
            }

    w.family("tether_http_request_duration_seconds", metric_type::histogram,
             "Time from a request's head being parsed to its response being written out (deferred replies and "
             "held long polls included), by route pattern.");
    for (std::size_t r = 0; r < rows; ++r) {
        metrics::histogram<metrics::latency_buckets>::snapshot s;
        for (const auto& t : threads) t->metrics.requests.row(r).duration.add_to(s);
        if (s.count() != 0)
            w.histogram<metrics::latency_buckets>("tether_http_request_duration_seconds", {{"route", route_label(r)}}, s);
    }

    std::int64_t in_flight = 0;
    for (const auto& t : threads) in_flight += t->metrics.in_flight.value();
    w.family("tether_http_requests_in_flight", metric_type::gauge,
             "HTTP requests parsed and not yet answered, deferred replies and held long polls included.")
        .sample("tether_http_requests_in_flight", in_flight);

    w.family("tether_http_rejections_total", metric_type::counter,
             "Requests the server refused itself before routing (malformed, over a limit, too slow, over the "
             "buffered-input budget, plain HTTP on a TLS port), by status.");
    for (int status = 400; status < 600; ++status) {
        std::uint64_t n = 0;
        for (const auto& t : threads) n += t->metrics.rejections[static_cast<std::size_t>(status - 400)].value();
        if (n != 0) w.sample("tether_http_rejections_total", {{"status", std::to_string(status)}}, n);
    }
}

template <class Threads>
void write_connection_metrics(metrics::text_writer& w, const Threads& threads, const server_stats& s) {
    using metrics::metric_type;
    w.family("tether_connections_open", metric_type::gauge,
             "Connections open now, by transport; long_poll counts held long polls, which are HTTP connections too.")
        .sample("tether_connections_open", {{"transport", "http"}}, s.http_open)
        .sample("tether_connections_open", {{"transport", "websocket"}}, s.websockets_open)
        .sample("tether_connections_open", {{"transport", "sse"}}, s.sse_open)
        .sample("tether_connections_open", {{"transport", "long_poll"}}, s.long_polls_held);
    w.family("tether_connections_accepted_total", metric_type::counter, "Connections accepted and served.")
        .sample("tether_connections_accepted_total", s.connections);

    auto by_limit = [&](std::string_view name, std::string_view help, auto member) {
        std::array<std::uint64_t, 2> n{};
        for (const auto& t : threads)
            for (std::size_t i = 0; i < 2; ++i) n[i] += (t->metrics.*member)[i].value();
        w.family(name, metric_type::counter, help)
            .sample(name, {{"limit", "total"}}, n[0])
            .sample(name, {{"limit", "per_address"}}, n[1]);
    };
    by_limit("tether_connections_refused_total",
             "Connections closed at accept with 503, by the cap they hit: max_connections (total) or "
             "max_connections_per_address.",
             &metrics::thread_metrics::refused_connections);
    by_limit("tether_streams_refused_total",
             "WebSocket upgrades, SSE streams and long polls refused, by the cap they hit: the stream total (503) "
             "or max_streams_per_address (429).",
             &metrics::thread_metrics::refused_streams);

    w.family("tether_budget_exceeded_total", metric_type::counter,
             "Times a client ran into a budget, by the option that sets it.");
    for (std::size_t b = 0; b < metrics::budget_labels.size(); ++b) {
        std::uint64_t n = 0;
        for (const auto& t : threads) n += t->metrics.budget_hits[b].value();
        w.sample("tether_budget_exceeded_total", {{"budget", metrics::budget_labels[b]}}, n);
    }

    w.family("tether_http_handler_errors_total", metric_type::counter,
             "Handlers and middleware hooks that threw something other than http::error or json::parse_error "
             "(answered 500).")
        .sample("tether_http_handler_errors_total", s.handler_errors);
    w.family("tether_deferred_replies_total", metric_type::counter, "Responses deferred by res.defer().")
        .sample("tether_deferred_replies_total", s.deferred_replies);
    w.family("tether_deferred_reply_failures_total", metric_type::counter,
             "Deferred replies that went wrong: timed_out (answered 504), abandoned (handle dropped unsent, "
             "answered 500), late (sent after the deadline or after the client left, dropped).")
        .sample("tether_deferred_reply_failures_total", {{"reason", "timed_out"}}, s.reply_timeouts)
        .sample("tether_deferred_reply_failures_total", {{"reason", "abandoned"}}, s.abandoned_replies)
        .sample("tether_deferred_reply_failures_total", {{"reason", "late"}}, s.late_replies);
}

template <class Threads>
void write_websocket_metrics(metrics::text_writer& w, const Threads& threads) {
    using metrics::metric_type;
    auto by_direction = [&](std::string_view name, std::string_view help, auto member) {
        w.family(name, metric_type::counter, help);
        for (std::size_t d = 0; d < 2; ++d) {
            std::uint64_t n = 0;
            for (const auto& t : threads) n += (t->metrics.*member)[d].value();
            w.sample(name, {{"direction", metrics::direction_labels[d]}}, n);
        }
    };
    by_direction("tether_websocket_messages_total",
                 "WebSocket data messages received whole from clients, and queued to them (application sends, "
                 "topic messages, pubsub replies).",
                 &metrics::thread_metrics::ws_messages);
    by_direction("tether_websocket_bytes_total",
                 "Bytes read from and written to WebSocket connections, frame headers and control frames included.",
                 &metrics::thread_metrics::ws_bytes);
    w.family("tether_websocket_closes_total", metric_type::counter,
             "WebSocket Close frames by direction and close code; a connection that ended without the client's "
             "Close counts as received 1006, an empty Close as 1005 (RFC 6455 section 7.1.5).");
    for (std::size_t d = 0; d < 2; ++d)
        for (std::size_t slot = 0; slot < metrics::close_code_slots; ++slot) {
            std::uint64_t n = 0;
            for (const auto& t : threads) n += t->metrics.ws_closes[d][slot].value();
            if (n != 0)
                w.sample("tether_websocket_closes_total",
                         {{"direction", metrics::direction_labels[d]}, {"code", metrics::close_code_label(slot)}}, n);
        }
}

template <class Topics>
void write_topic_metrics(metrics::text_writer& w, const Topics& topics) {
    using metrics::metric_type;
    struct row {
        std::string name;
        hub::topic_stats stats;
        std::array<std::uint64_t, 3> subscribers;   // websocket, sse, long_poll
        std::int64_t history_bytes;
    };
    std::vector<row> rows;
    topics.for_each([&](std::string_view name, const auto& entry) {
        const hub::topic& t = *entry.handle;
        auto count = [&](net::topic_format f) {
            return std::uint64_t{t.subscribers_by_format()[static_cast<std::size_t>(f)].load(std::memory_order_relaxed)};
        };
        rows.push_back({std::string(name), t.stats(),
                        {count(net::topic_format::ws_frame), count(net::topic_format::sse_block) + count(net::topic_format::sse_chunk),
                         count(net::topic_format::poll_json)},
                        t.history_bytes()});
    });
    auto each = [&](std::string_view name, metric_type type, std::string_view help, auto value) {
        w.family(name, type, help);
        for (const auto& r : rows) w.sample(name, {{"topic", r.name}}, value(r));
    };
    each("tether_topic_messages_published_total", metric_type::counter, "Messages published to the topic.",
         [](const row& r) { return r.stats.published; });
    each("tether_topic_deliveries_total", metric_type::counter,
         "Messages handed to subscribers' connections (one per message and subscriber).",
         [](const row& r) { return r.stats.delivered; });
    each("tether_topic_dropped_total", metric_type::counter,
         "Messages subscribers were told they missed (drop_oldest and conflate skips, one per message and subscriber).",
         [](const row& r) { return r.stats.dropped; });
    each("tether_topic_lapped_total", metric_type::counter,
         "Times a subscriber fell a whole history behind (its policy then skipped it ahead or cut it off).",
         [](const row& r) { return r.stats.lapped; });
    each("tether_topic_disconnected_total", metric_type::counter,
         "Subscribers cut off by the disconnect policy (lapped or over their byte budget).",
         [](const row& r) { return r.stats.disconnected; });
    each("tether_topic_history_bytes", metric_type::gauge, "Bytes the topic's history holds now, every encoding counted.",
         [](const row& r) { return r.history_bytes; });
    constexpr std::array<std::string_view, 3> transports{"websocket", "sse", "long_poll"};
    w.family("tether_topic_subscribers", metric_type::gauge, "Subscribers of the topic now, by transport.");
    for (const auto& r : rows)
        for (std::size_t i = 0; i < transports.size(); ++i)
            w.sample("tether_topic_subscribers", {{"topic", r.name}, {"transport", transports[i]}}, r.subscribers[i]);
}

template <class Threads>
void write_loop_metrics(metrics::text_writer& w, const Threads& threads, const server_status& status) {
    using metrics::metric_type;
    auto now = std::chrono::steady_clock::now();
    w.family("tether_io_loop_lag_seconds", metric_type::gauge,
             "How late each I/O thread's loop is now: the last 100 ms tick's lateness, or how overdue the next "
             "tick is if that is more (a handler blocking the thread).");
    for (const auto& t : threads)
        if (auto lag = t->current_lag(now))
            w.sample("tether_io_loop_lag_seconds", {{"thread", std::to_string(t->index())}},
                     std::chrono::duration<double>(*lag).count());
    w.family("tether_io_loop_tick_lateness_seconds", metric_type::histogram,
             "How late each I/O thread's 100 ms tick fired.");
    for (const auto& t : threads) {
        metrics::histogram<metrics::loop_lag_buckets>::snapshot s;
        t->lag().lateness.add_to(s);
        w.histogram<metrics::loop_lag_buckets>("tether_io_loop_tick_lateness_seconds",
                                               {{"thread", std::to_string(t->index())}}, s);
    }
    w.family("tether_uptime_seconds", metric_type::gauge, "Seconds since the server began serving.")
        .sample("tether_uptime_seconds", std::chrono::duration<double>(status.uptime).count());
    w.family("tether_ready", metric_type::gauge, "1 when the server is ready for traffic (what /readyz answers), else 0.")
        .sample("tether_ready", std::int64_t{status.ready ? 1 : 0});
}

// Everything, in the order of the README's table.
template <class Threads, class Routes, class Topics>
void write_metrics(std::string& out, const Threads& threads, const Routes& routes, const Topics& topics,
                   const server_status& status) {
    metrics::text_writer w(out);
    server_stats s;
    for (const auto& t : threads) t->stats.add_to(s);
    write_request_metrics(w, threads, routes);
    write_connection_metrics(w, threads, s);
    write_websocket_metrics(w, threads);
    write_topic_metrics(w, topics);
    write_loop_metrics(w, threads, status);
    metrics::write_process_metrics(w, metrics::sample_process());
}

} // namespace tether::detail
