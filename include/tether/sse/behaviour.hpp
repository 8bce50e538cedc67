#pragma once
// What a Server-Sent Events route does: callbacks and settings in one aggregate, like
// ws::behaviour. `Stream` is the connection type handed to callbacks, `UserData` typed
// per-stream state filled by on_request (which may refuse with http::error(401/403, ...)).
//
// Defaults follow what keeps EventSource streams healthy behind proxies: a comment heartbeat
// every 15 s (idle proxies and NATs cut silent connections), and an optional per-client jitter
// on the reconnection delay so a restart does not bring every browser back in the same second.
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/origin.hpp>
#include <tether/http/request.hpp>

namespace tether::sse {

struct no_user_data {};

// Thrown from on_request to answer 204 No Content: the one answer that makes a browser's
// EventSource stop reconnecting for good (WHATWG HTML §9.2.3: a 204 fails the connection). For
// a stream with an end, such as a generated answer a reconnecting client already has in full.
struct stop_reconnecting {};

template <class Stream, class UserData>
struct behaviour {
    // Before the response head is sent. Throw http::error(401/403, ...) to refuse, or
    // stop_reconnecting{} to answer 204 (nothing more will come).
    std::function<void(const http::request&, UserData&)> on_request{};
    // Which pages may open the stream (http/origin.hpp): by default the server's own origin and
    // non-browser clients; others get 403.
    http::origin_policy origins{};
    // The stream is open: send events now or keep stream.get_handle() to send from anywhere.
    std::function<void(Stream&)> on_open{};
    std::function<void(Stream&)> on_close{};

    // Topics (opened with app.topic()) the stream carries, resumed from Last-Event-ID. The
    // event type is the topic name; the id holds one cursor per topic, comma-separated.
    std::vector<std::string> topics{};

    // Set, the client names the stream's topics itself, `?topics=a,b` (tether.js's one stream for
    // all its topics; app.realtime's routes.sse_many), and this admits each of them after
    // on_request: throw http::error(403, ...) to refuse one. A refused or unknown topic fails
    // alone: the stream opens for the others and tells the page with
    //   event: tether:refused   data: {"topic":"x","status":403,"message":"..."}
    // Ids are then named composites ("a:<cursor>,b:<cursor>", hub/composite_cursor.hpp), so a
    // reconnect with another set of topics resumes each by name, and the stream's own events are
    // tether:reset and tether:missed: a ':' is never in a realtime topic's name.
    std::function<void(const http::request&, const UserData&, std::string_view topic)> admit_topic{};
    std::size_t max_topics = 64;                     // in ?topics=; more is 400

    std::chrono::milliseconds heartbeat{15'000};     // comment line when nothing else was sent; 0: none
    std::chrono::milliseconds retry{0};              // sent as "retry:" at the start; 0: browser default
    std::chrono::milliseconds retry_jitter{0};       // each client gets retry + uniform [0, jitter]
    std::size_t max_buffered_bytes = 1024 * 1024;    // unsent bytes; past it the stream ends and the
                                                     // client resumes with Last-Event-ID
};

} // namespace tether::sse
