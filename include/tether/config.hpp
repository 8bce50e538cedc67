#pragma once
// Compile-time policies and run-time options of a server.
//
// Policies are types in a Config struct. A user inherits from default_config and overrides
// only the policy that changes, which is what websocketpp's config lacks (there, changing one
// policy means re-declaring all of them). Each policy is checked by a concept with a
// static_assert in basic_server, so a wrong policy is one readable error, not a template
// backtrace. Run-time knobs (port, threads, limits, timeouts) are an aggregate for designated
// initializers.
#include <asio.hpp>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tether/http/limits.hpp>
#include <tether/log.hpp>
#include <tether/net/tcp.hpp>
#include <tether/net/tls_options.hpp>
#if TETHER_HAS_TLS
#include <tether/net/tls.hpp>
#endif

namespace tether {

template <class T>
concept transport_policy = requires(typename T::socket& s, net::io_thread& thread, int fd, char* data, std::size_t n,
                                     std::error_code& ec) {
    typename T::protocol;
    typename T::socket;
    { T::adopt(thread, fd, ec) } -> std::same_as<typename T::socket>;
    { T::prepare(s, ec) };
    { T::read_some(s, data, n, ec) } -> std::convertible_to<std::size_t>;
    { T::write_some(s, asio::const_buffer{}, ec) } -> std::convertible_to<std::size_t>;
    { T::shutdown_send(s) };
    { T::close(s) };
};

template <class T>
concept logger_policy = std::default_initializable<T> && requires(const T& logger, log::level l, std::string_view m) {
    { logger.log(l, m) };
};

struct default_config {
    // With TLS compiled in (TETHER_WITH_TLS), one transport serves both plaintext and TLS
    // listeners: a plaintext connection pays one null pointer (net/tls.hpp explains why a
    // run-time choice beats a second server type). Without it, plain TCP.
#if TETHER_HAS_TLS
    using transport = tether::transport::tls<tether::transport::tcp>;
#else
    using transport = tether::transport::tcp;
#endif
    using logger = tether::log::stderr_logger;
};

struct server_options {
    std::string host = "127.0.0.1";   // loopback unless asked otherwise
    std::uint16_t port = 8080;        // 0 picks a free port; see basic_server::port()
    unsigned threads = 1;             // I/O threads; each connection lives on one for its whole life
    http::limits limits{};
    // Bytes of unfinished requests (partial header sections, bodies still arriving) held by all
    // connections together. Past it a request that needs more is refused with 503, so many slow
    // or stalled uploads cannot pin memory without bound.
    std::size_t max_buffered_request_bytes = 64 * 1024 * 1024;
    // Bytes all topics' histories may hold together (each topic also has its own cap,
    // topic_options::max_history_bytes); past it a publish evicts its topic's oldest messages.
    std::size_t max_history_bytes = 256u << 20;
    // Descriptors a peer can make the server hold (net/admission.hpp). A connection over a cap is
    // answered 503 (or, per address, 503 at accept) and closed; a stream (WebSocket, SSE, held
    // long poll) over its cap gets 503 (server-wide) or 429 (per address).
    std::size_t max_connections = 0;               // 0: the descriptor limit (raised to its hard limit) minus 32
    std::size_t max_connections_per_address = 256;
    std::size_t max_streams_per_address = 128;
    // Loopback peers (127.0.0.0/8, ::1) are local processes: a proxy on the same host, a test, a
    // benchmark. By default the per-address caps skip them (the totals still apply).
    bool exempt_loopback_from_address_caps = true;
    std::size_t stream_reserve = 0;                // connections kept for plain HTTP when streams fill
                                                   // the rest; 0: max_connections / 16, at least 16
    // Proxies whose X-Forwarded-For / Forwarded fields are believed: addresses or CIDR networks,
    // e.g. {"127.0.0.1", "10.0.0.0/8"}. Their connections skip the per-address connection cap, and
    // streams and req.client_address() use the forwarded client (http/forwarded.hpp).
    std::vector<std::string> trusted_proxies{};
    std::chrono::milliseconds header_timeout{10'000};   // first byte to end of header section (408)
    std::chrono::milliseconds body_timeout{30'000};     // end of header section to end of body (408)
    std::chrono::milliseconds idle_timeout{60'000};     // keep-alive connection with no request
    std::chrono::milliseconds send_timeout{30'000};     // a peer that stops reading our responses
    std::chrono::milliseconds drain_timeout{5'000};     // graceful stop: longest wait for in-flight work
    std::chrono::milliseconds reply_timeout{30'000};    // a res.defer() reply not sent by then: 504
    bool handle_signals = false;      // SIGINT/SIGTERM stop the server gracefully (and SIGHUP
                                      // reloads the TLS certificates)
    tls_options tls{};                // certificates: the listener speaks TLS (https, wss)
};

} // namespace tether
