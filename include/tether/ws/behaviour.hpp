#pragma once
// What a WebSocket route does: callbacks and limits in one aggregate, filled with designated
// initializers, e.g.
//
//   app.websocket<user>("/ws", {.on_open = [](auto& ws) { ... },
//                               .on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); }});
//
// `Socket` is the connection type the server passes to callbacks; `UserData` is per-connection
// state the application owns (a template parameter, so no void* and no lookup table).
// The upgrade hook runs before the 101 response: it may fill UserData from the request (a token
// in a header, cookie or query parameter) or refuse by throwing http::error(401 or 403, "...").
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/token_bucket.hpp>
#include <tether/http/origin.hpp>
#include <tether/http/request.hpp>
#include <tether/ws/close_code.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/opcode.hpp>
#include <tether/ws/permessage_deflate.hpp>

namespace tether::ws {

// The UserData of a route that keeps no per-connection state.
struct no_user_data {};

// What send() does when a message would push the connection's unsent bytes past the limit.
enum class overflow_action : std::uint8_t {
    close_try_again_later,   // close with 1013: the client may reconnect later
    close_policy_violation,  // close with 1008
    drop_message,            // discard this message; send() returns false
};

template <class Socket, class UserData>
struct behaviour {
    // Before the handshake completes. Throw http::error(401/403, ...) to refuse.
    std::function<void(const http::request&, UserData&)> on_upgrade{};
    // Picks one of the offered subprotocols (Sec-WebSocket-Protocol), or "" for none.
    std::function<std::string(const std::vector<std::string_view>& offered)> select_subprotocol{};
    // Which pages may open a connection (http/origin.hpp): by default the server's own origin
    // and non-browser clients; others get 403. This is the defence against cross-site WebSocket
    // hijacking when the connection is authenticated by cookies.
    http::origin_policy origins{};

    std::function<void(Socket&)> on_open{};
    // A whole message, text (validated UTF-8) or binary; the view is valid during the call.
    std::function<void(Socket&, std::string_view, opcode)> on_message{};
    // The outgoing queue became empty after having had to wait for the peer.
    std::function<void(Socket&)> on_drain{};
    // The connection is gone. 1005 when the peer's Close carried no code, 1006 when there was no
    // Close at all (reset, timeout).
    std::function<void(Socket&, close_code, std::string_view reason)> on_close{};

    std::uint64_t max_message_size = default_max_message_size;   // 1009 past it
    // Messages the peer may send (a token bucket); past it the connection closes with 1008.
    // Unlimited by default; pubsub routes set one.
    rate_limit max_message_rate{};
    std::size_t max_buffered_bytes = 1024 * 1024;                // unsent bytes per connection
    overflow_action on_overflow = overflow_action::close_try_again_later;
    std::chrono::milliseconds ping_interval{30'000};   // 0: no server pings
    std::chrono::milliseconds pong_timeout{10'000};    // no pong by then: the connection is dead
    std::chrono::milliseconds idle_timeout{0};         // no message from the peer for this long: 1001; 0: never
    std::chrono::milliseconds close_timeout{5'000};    // our Close sent, theirs not back: drop the TCP connection
    // permessage-deflate (RFC 7692), negotiated when the client offers it (every browser does):
    // {.mode = tether::ws::deflate_mode::on} or ::no_context_takeover; off by default. Messages under
    // `threshold` bytes go uncompressed; max_message_size then bounds a message after decompression.
    // Needs zlib (TETHER_WITH_DEFLATE); without it offers are declined. See ws/permessage_deflate.hpp.
    deflate_options permessage_deflate{};
};

} // namespace tether::ws
