#pragma once
// What one I/O thread counts for /metrics (server/metrics.hpp) beyond server_stats: HTTP requests
// by route, method and status class with their handling time, requests in flight, WebSocket
// messages, bytes and close codes, refusals by the limit that refused, budget hits, and the
// server's own rejections by status. Like server_stats these are single-writer values in lines
// of their own (metrics/per_thread.hpp), summed over threads when scraped.
//
// Bounded label sets, so that no client can grow the number of series: routes are labelled by
// their pattern ("/items/:id"), never by the raw path. The router numbers each pattern as it is
// registered (http::request::route_id(): 0 for "no route"), and each thread's request_table is
// an array indexed by that number, the method (the enum: unknown methods are "other") and the
// status class; it is sized once, when the server starts running, because its readers are other
// threads and a table that grew under them would move. Recording is off (the table empty, one
// test per request) until app.metrics() asks for it. Close codes keep their number when the RFC
// assigns it (1000-1015) and collapse to a range otherwise; statuses are the server's own
// (400-599).
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <tether/http/method.hpp>
#include <tether/metrics/per_thread.hpp>

namespace tether::metrics {

// The budgets of README "Budgets" a client can run into, named by the option that sets them.
enum class budget : unsigned char {
    buffered_request_bytes,   // 503: unfinished requests of all connections over the server-wide cap
    message_size,             // 1009: a WebSocket message over max_message_size
    message_rate,             // 1008: WebSocket messages per second (pubsub control messages too)
    buffered_bytes,           // a WebSocket send queue over max_buffered_bytes (closed or dropped)
    publish_rate,             // 1008: pubsub publishes per second
    subscriptions,            // pubsub: 429, too many topics on one connection
    held_polls_per_client,    // 429: long polls held for one client
};
inline constexpr std::array<std::string_view, 7> budget_labels{
    "max_buffered_request_bytes", "max_message_size",  "max_message_rate",   "max_buffered_bytes",
    "max_publish_rate",           "max_subscriptions", "max_held_per_client"};

enum class direction : unsigned char { received, sent };
inline constexpr std::array<std::string_view, 2> direction_labels{"received", "sent"};

// Close codes: 1000-1015 by number (RFC 6455 §7.4.1 and the IANA registry), then the ranges for
// libraries (3000-3999) and applications (4000-4999), then anything else.
inline constexpr std::size_t close_code_slots = 19;
constexpr std::size_t close_code_slot(std::uint16_t code) noexcept {
    if (code >= 1000 && code <= 1015) return code - 1000u;
    if (code >= 3000 && code <= 3999) return 16;
    if (code >= 4000 && code <= 4999) return 17;
    return 18;
}
inline std::string close_code_label(std::size_t slot) {
    if (slot < 16) return std::to_string(1000 + slot);
    return slot == 16 ? "3000-3999" : slot == 17 ? "4000-4999" : "other";
}

// HTTP requests answered by one thread: a count per (route, method, status class) and a
// histogram of handling time per route.
class request_table {
public:
    static constexpr std::size_t methods = 10;   // http::method, `other` included
    static constexpr std::size_t classes = 5;    // 1xx .. 5xx

    struct alignas(cache_line) route_cell {
        std::array<counter, methods * classes> answered{};
        histogram<latency_buckets> duration;
    };

    // Once, before the I/O threads run: `routes` patterns plus row 0, "no route".
    void size_for(std::size_t routes) {
        cells_ = std::make_unique<route_cell[]>(routes + 1);
        size_ = routes + 1;
    }
    bool enabled() const noexcept { return size_ != 0; }
    std::size_t size() const noexcept { return size_; }
    const route_cell& row(std::size_t route) const noexcept { return cells_[route]; }

    // A route registered after the server started has no row: it is counted as "no route".
    void observe(std::uint32_t route, http::method m, int status, std::uint64_t ns) noexcept {
        route_cell& cell = cells_[route < size_ ? route : 0];
        cell.answered[static_cast<std::size_t>(m) * classes + status_class(status)].add();
        cell.duration.observe(ns);
    }

    static constexpr std::size_t status_class(int status) noexcept {
        int c = status / 100;
        return c <= 1 ? 0 : c >= 5 ? 4 : static_cast<std::size_t>(c - 1);
    }

private:
    std::unique_ptr<route_cell[]> cells_;
    std::size_t size_ = 0;
};

struct alignas(cache_line) thread_metrics {
    request_table requests;
    // Requests parsed and not yet answered: the one being handled, and held ones (deferred
    // replies, long polls) until they are written or their connection goes.
    gauge in_flight;
    std::array<counter, 2> ws_messages{}, ws_bytes{};   // by direction
    std::array<std::array<counter, close_code_slots>, 2> ws_closes{};
    std::array<counter, budget_labels.size()> budget_hits{};
    std::array<counter, 200> rejections{};   // by status - 400
    // By the cap that refused: [0] the server-wide one, [1] the per-address one.
    std::array<counter, 2> refused_connections{}, refused_streams{};

    void hit(budget b) noexcept { budget_hits[static_cast<std::size_t>(b)].add(); }
    void ws_message(direction d, std::uint64_t count = 1) noexcept { ws_messages[static_cast<std::size_t>(d)].add(count); }
    void ws_traffic(direction d, std::uint64_t bytes) noexcept { ws_bytes[static_cast<std::size_t>(d)].add(bytes); }
    void close_frame(direction d, std::uint16_t code) noexcept {
        ws_closes[static_cast<std::size_t>(d)][close_code_slot(code)].add();
    }
    void rejection(int status) noexcept {
        if (status >= 400 && status < 600) rejections[static_cast<std::size_t>(status - 400)].add();
    }
};

} // namespace tether::metrics
