#pragma once
// The server's own counters. Each I/O thread owns a set (relaxed atomics written only by that
// thread, so the hot path shares no cache line); stats() sums them when asked.
//
// Two kinds: totals that only grow (requests, connections accepted, ...) and gauges of what is
// open right now, per transport (HTTP connections, WebSockets, SSE streams, held long polls).
// A gauge goes up where its connection joins its thread and down where it leaves, both on that
// thread, so each thread's value is exact and never negative; the sum is a snapshot, not a
// consistent cut across threads, which is what a dashboard or a metrics scrape needs.
#include <atomic>
#include <cstdint>

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

struct thread_counters {
    std::atomic<std::uint64_t> requests{0}, rejected{0}, timeouts{0}, handler_errors{0}, connections{0},
        short_polls{0};
    std::atomic<std::uint64_t> http_open{0}, websockets_open{0}, sse_open{0}, long_polls_held{0};
    std::atomic<std::uint64_t> refused_connections{0}, refused_streams{0};
    std::atomic<std::uint64_t> ws_deflate_connections{0}, ws_compressed_sends{0}, ws_compressed_deliveries{0},
        ws_inflated_messages{0};
    std::atomic<std::uint64_t> deferred_replies{0}, late_replies{0}, reply_timeouts{0}, abandoned_replies{0};
    std::atomic<std::uint64_t> uploads{0}, aborted_uploads{0};

    void add_to(server_stats& s) const noexcept {
        s.requests += requests.load(std::memory_order_relaxed);
        s.rejected += rejected.load(std::memory_order_relaxed);
        s.timeouts += timeouts.load(std::memory_order_relaxed);
        s.handler_errors += handler_errors.load(std::memory_order_relaxed);
        s.connections += connections.load(std::memory_order_relaxed);
        s.short_polls += short_polls.load(std::memory_order_relaxed);
        s.http_open += http_open.load(std::memory_order_relaxed);
        s.websockets_open += websockets_open.load(std::memory_order_relaxed);
        s.sse_open += sse_open.load(std::memory_order_relaxed);
        s.long_polls_held += long_polls_held.load(std::memory_order_relaxed);
        s.refused_connections += refused_connections.load(std::memory_order_relaxed);
        s.refused_streams += refused_streams.load(std::memory_order_relaxed);
        s.ws_deflate_connections += ws_deflate_connections.load(std::memory_order_relaxed);
        s.ws_compressed_sends += ws_compressed_sends.load(std::memory_order_relaxed);
        s.ws_compressed_deliveries += ws_compressed_deliveries.load(std::memory_order_relaxed);
        s.ws_inflated_messages += ws_inflated_messages.load(std::memory_order_relaxed);
        s.deferred_replies += deferred_replies.load(std::memory_order_relaxed);
        s.late_replies += late_replies.load(std::memory_order_relaxed);
        s.reply_timeouts += reply_timeouts.load(std::memory_order_relaxed);
        s.abandoned_replies += abandoned_replies.load(std::memory_order_relaxed);
        s.uploads += uploads.load(std::memory_order_relaxed);
        s.aborted_uploads += aborted_uploads.load(std::memory_order_relaxed);
    }
};

} // namespace detail
} // namespace tether
