#pragma once
// The server's own counters. Each I/O thread owns a set (relaxed atomics written only by that
// thread, in cache lines of their own: metrics/per_thread.hpp), so the hot path takes no lock and
// shares no line; stats() sums them when asked. The /metrics endpoint reads the same counters and
// more (metrics/thread_metrics.hpp, server/metrics.hpp).
//
// Two kinds: totals that only grow (requests, connections accepted, ...) and gauges of what is
// open right now, per transport (HTTP connections, WebSockets, SSE streams, held long polls).
// A gauge goes up where its connection joins its thread and down where it leaves, both on that
// thread, so each thread's value is exact and never negative; the sum is a snapshot, not a
// consistent cut across threads, which is what a dashboard or a metrics scrape needs.
#include <cstdint>

#include <tether/metrics/per_thread.hpp>

namespace tether {

// A plain copy, summed over I/O threads.
struct server_stats {
    std::uint64_t requests = 0;
    std::uint64_t rejected = 0;        // answered 4xx by the server itself (parse errors, limits, 408)
    std::uint64_t timeouts = 0;        // of which 408
    std::uint64_t handler_errors = 0;  // handler threw something other than http::error / json::parse_error
    std::uint64_t connections = 0;     // accepted, all time
    std::uint64_t short_polls = 0;     // short-poll requests answered, all time
    std::uint64_t refused_connections = 0;   // closed at accept: over max_connections or the per-address cap
    std::uint64_t refused_streams = 0;       // upgrades and held polls refused: over the stream caps
    std::uint64_t deferred_replies = 0;      // res.defer() calls
    std::uint64_t late_replies = 0;          // sent after the client left or the deadline passed (dropped)
    std::uint64_t reply_timeouts = 0;        // deferred replies answered 504
    std::uint64_t abandoned_replies = 0;     // handles dropped unsent, answered 500
    std::uint64_t uploads = 0;               // streamed request bodies started (on_start accepted)
    std::uint64_t aborted_uploads = 0;       // of which ended by on_abort (client gone, timeout, error)
    // permessage-deflate (RFC 7692)
    std::uint64_t ws_deflate_connections = 0;   // WebSocket connections that agreed to it
    std::uint64_t ws_compressed_sends = 0;      // messages a connection compressed itself (send())
    std::uint64_t ws_compressed_deliveries = 0; // topic messages queued as a shared compressed frame
    std::uint64_t ws_broadcast_compressions = 0;  // topic messages compressed: once per message and format
    std::uint64_t ws_inflated_messages = 0;     // compressed messages received and inflated

    // Open now.
    std::uint64_t http_open = 0;        // HTTP/1.1 connections (not yet upgraded)
    std::uint64_t websockets_open = 0;  // WebSocket connections, pubsub or not
    std::uint64_t sse_open = 0;         // Server-Sent Events streams
    std::uint64_t long_polls_held = 0;  // long-poll requests waiting for news
};

namespace detail {

// One I/O thread's counters (metrics/per_thread.hpp: written only by that thread, read by any),
// in lines of their own.
struct alignas(metrics::cache_line) thread_counters {
    metrics::counter requests, rejected, timeouts, handler_errors, connections, short_polls;
    metrics::gauge http_open, websockets_open, sse_open, long_polls_held;
    metrics::counter refused_connections, refused_streams;
    metrics::counter ws_deflate_connections, ws_compressed_sends, ws_compressed_deliveries, ws_inflated_messages;
    metrics::counter deferred_replies, late_replies, reply_timeouts, abandoned_replies;
    metrics::counter uploads, aborted_uploads;

    void add_to(server_stats& s) const noexcept {
        s.requests += requests.value();
        s.rejected += rejected.value();
        s.timeouts += timeouts.value();
        s.handler_errors += handler_errors.value();
        s.connections += connections.value();
        s.short_polls += short_polls.value();
        s.http_open += static_cast<std::uint64_t>(http_open.value());
        s.websockets_open += static_cast<std::uint64_t>(websockets_open.value());
        s.sse_open += static_cast<std::uint64_t>(sse_open.value());
        s.long_polls_held += static_cast<std::uint64_t>(long_polls_held.value());
        s.refused_connections += refused_connections.value();
        s.refused_streams += refused_streams.value();
        s.ws_deflate_connections += ws_deflate_connections.value();
        s.ws_compressed_sends += ws_compressed_sends.value();
        s.ws_compressed_deliveries += ws_compressed_deliveries.value();
        s.ws_inflated_messages += ws_inflated_messages.value();
        s.deferred_replies += deferred_replies.value();
        s.late_replies += late_replies.value();
        s.reply_timeouts += reply_timeouts.value();
        s.abandoned_replies += abandoned_replies.value();
        s.uploads += uploads.value();
        s.aborted_uploads += aborted_uploads.value();
    }
};

} // namespace detail
} // namespace tether
