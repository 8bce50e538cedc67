#pragma once
// A synchronous WebSocket client (RFC 6455) on the same codec as the server: for tests, benchmarks and
// service-to-service calls where a blocking "send, then receive the answer" is what the caller wants.
//
//   tether::client::ws_client ws;
//   ws.connect("127.0.0.1", 8080, "/ws", {.subprotocols = {"chat"}});
//   ws.send_text("hello");
//   auto reply = ws.receive();          // std::optional<ws_client::message>; nullopt once the connection ended
//   ws.close(tether::ws::close_code::normal, "bye");   // sends Close, waits for the server's Close and EOF
//
// Why blocking, and how it stays bounded: every wait (connect, handshake, each read and write) runs the
// operation on a private io_context with io_context::run_for(timeout), the deadline pattern of Asio's own
// blocking client examples. Rejected: SO_RCVTIMEO on a blocking asio socket, because Asio's synchronous read
// on a blocking socket answers EAGAIN by polling again without a deadline, so the timeout never fires.
// A read that times out is cancelled and leaves the connection usable (tests use that to show that nothing
// arrives); a write that times out closes it, since part of a frame may already be on the wire.
//
// What it does for the caller, and what it leaves to it:
//  - Every frame it sends is masked with a fresh key (§5.3). Keys come from a std::mt19937 seeded per client
//    with 256 bits from std::random_device, and the Sec-WebSocket-Key nonce from std::random_device itself.
//    §10.3 wants keys a sender's *script* cannot predict, so that hostile content cannot choose the bytes an
//    intermediary sees; in a native client the application writes the payload itself, so a well-seeded
//    generator suffices, and it costs no system call per frame (which matters to the benchmarks). It is not
//    a cryptographic generator: do not reuse it for secrets.
//  - receive() returns data messages and control frames alike; it answers a ping with a pong carrying the
//    same payload (§5.5.2) and the server's Close with a Close echoing its code (§5.5.1), unless the options
//    turn that off (tests that want to see what happens when a client does not answer).
//  - send_frame() and send_raw() check nothing beyond what the encoder must: tests use them to send the
//    malformed frames a conforming client never would.
// One header, one job: the upgrade request and the response checks are in client/handshake.hpp.
//
// permessage-deflate (RFC 7692): with ws_options::permessage_deflate set, the client offers it; when the
// server agrees, send_text/send_binary compress messages at or above the threshold (RSV1 on the first frame)
// and receive() inflates compressed messages, bounded by max_message_size after inflation (1009 past it,
// 1007 for data that is not DEFLATE). The zlib side is ws::deflate_session, the same as the server's.
//
// wss:// (with TLS compiled in, TETHER_WITH_TLS): asio::ssl::stream over the same socket, which a
// blocking client can afford (its buffers do not matter here, unlike the server's). Certificate
// and host name verification are on by default, against the system trust store or a given CA
// file; SNI carries the host name. A failed verification throws tls_error naming OpenSSL's
// reason ("unable to get local issuer certificate", "hostname mismatch").

#include <asio.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <tether/client/handshake.hpp>
#include <tether/core/utf8.hpp>
#include <tether/ws/close_code.hpp>
#include <tether/ws/deflate_codec.hpp>
#include <tether/ws/deflate_session.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/handshake.hpp>
#include <tether/ws/message_assembler.hpp>
#include <tether/ws/opcode.hpp>
#include <tether/ws/permessage_deflate.hpp>
#include <tether/net/tls_options.hpp>
#if TETHER_HAS_TLS
#include <asio/ssl.hpp>
#include <openssl/x509v3.h>
#endif

namespace tether::client {

// wss: what to trust and which name to check.
struct tls_client_options {
    std::string ca_file{};       // trust the CAs in this PEM file instead of the system store
    std::string server_name{};   // SNI and the name the certificate must match; default: the host
    bool verify = true;          // certificate chain and host name (RFC 6125); turn off only in tests
};

// What the client offers and how it compresses, when it offers permessage-deflate.
struct deflate_settings {
    std::vector<ws::deflate_request> offers{ws::deflate_request{}};  // in order of preference (§5.1)
    std::size_t threshold = 0;   // messages shorter than this are sent uncompressed
    int level = 6;               // zlib level
    std::uint8_t mem_level = 8;  // zlib memLevel
};

struct ws_options {
    header_list headers{};                  // added to the upgrade request (Cookie, Authorization, ...)
    std::vector<std::string> subprotocols{};  // offered, most preferred first
    std::string origin{};                     // sent as Origin when not empty
    std::chrono::milliseconds timeout{5'000};  // bound on connect, the handshake, and each wait for bytes
    std::uint64_t max_message_size = ws::default_max_message_size;  // a bigger server message fails with 1009
    bool auto_pong = true;   // answer pings inside receive()
    bool auto_close = true;  // answer the server's Close inside receive()
    // Offer permessage-deflate (RFC 7692); std::nullopt: no extension is offered. Needs zlib.
    std::optional<deflate_settings> permessage_deflate{};
    std::optional<tls_client_options> tls{};  // set: wss (TLS); connect("wss://...") sets it too
};

// The TLS handshake failed: the certificate did not verify, or the server refused us.
class tls_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The server answered the upgrade request with something other than an acceptable 101.
class handshake_error : public std::runtime_error {
public:
    handshake_error(const std::string& what, response_head response, std::string body)
        : std::runtime_error(what), response_(std::move(response)), body_(std::move(body)) {}
    // The HTTP status of the response, e.g. 401, 403 or 426 for a refused upgrade (101 when the server
    // said yes but the response failed a §4.1 check).
    [[nodiscard]] int status() const noexcept { return response_.status; }
    [[nodiscard]] const response_head& response() const noexcept { return response_; }
    [[nodiscard]] const std::string& body() const noexcept { return body_; }

private:
    response_head response_;
    std::string body_;
};

// Nothing arrived (or could be sent) within the timeout.
class timeout_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The server broke RFC 6455; the client has sent the Close the RFC asks for (1002, 1007 or 1009).
class protocol_error : public std::runtime_error {
public:
    protocol_error(const std::string& what, ws::close_code code) : std::runtime_error(what), code_(code) {}
    [[nodiscard]] ws::close_code code() const noexcept { return code_; }

private:
    ws::close_code code_;
};

class ws_client {
public:
    // A data message (text or binary, reassembled from its fragments) or a control frame.
    struct message {
        ws::opcode op = ws::opcode::text;
        std::string payload;
        bool compressed = false;  // it arrived compressed (RFC 7692) and was inflated
    };

    ws_client() : socket_(io_), masks_(seed_from_random_device()), read_buffer_(read_buffer_size) {}
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;
    // Drops the TCP connection without a closing handshake; call close() first for a clean end.
    ~ws_client() { disconnect(); }

    // ---- opening handshake (§4.1) -----------------------------------------------------------------------

    // Connects and upgrades. Throws handshake_error when the server refuses (status() holds the HTTP status)
    // or its 101 fails a §4.1 check, timeout_error, or std::system_error when the TCP connection fails.
    void connect(std::string_view host, std::uint16_t port, std::string_view path = "/", ws_options options = {}) {
        disconnect();
#if TETHER_HAS_TLS
        tls_.reset();
#endif
        options_ = std::move(options);
        reset_state();
        const auto deadline = clock::now() + options_.timeout;

        asio::ip::tcp::resolver resolver(io_);
        std::error_code ec;
        const auto endpoints = resolver.resolve(std::string(host), std::to_string(port), ec);
        if (ec) throw std::system_error(ec, "tether::client::ws_client: cannot resolve " + std::string(host));
        bool done = false;
        asio::async_connect(socket_, endpoints, [&](std::error_code e, const asio::ip::tcp::endpoint&) {
            ec = e;
            done = true;
        });
        run_until(done, deadline);
        if (ec == asio::error::operation_aborted) throw_timeout("connecting to " + std::string(host) + ":" + std::to_string(port));
        if (ec)
            throw std::system_error(ec, "tether::client::ws_client: cannot connect to " + std::string(host) + ":" +
                                            std::to_string(port));
        socket_.set_option(asio::ip::tcp::no_delay(true), ec);  // frames are whole; never wait for Nagle
        if (options_.tls) start_tls(host, deadline);

        std::array<std::uint8_t, 16> nonce{};
        std::random_device device;  // §4.1 item 7: a randomly selected 16-byte nonce
        for (std::size_t i = 0; i < nonce.size(); i += 4) {
            const auto word = static_cast<std::uint32_t>(device());
            for (std::size_t j = 0; j < 4; ++j) nonce[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
        }
        const std::string key = ws::make_client_key(nonce);
        std::string extensions;
        std::span<const ws::deflate_request> deflate_offers;
        if (options_.permessage_deflate) {
            if (!ws::deflate_available)
                throw std::logic_error("tether::client::ws_client: permessage-deflate needs zlib (TETHER_WITH_DEFLATE)");
            deflate_offers = options_.permessage_deflate->offers;
            for (const auto& offer : deflate_offers)
                extensions.append(extensions.empty() ? "" : ", ").append(ws::format_deflate_offer(offer));
        }
        const upgrade_options request_options{options_.headers, options_.subprotocols, options_.origin, extensions};
        write_all(make_upgrade_request(host, port, path, key, request_options), deadline);

        // Read the head; bytes behind it are the server's first frames (it may send right after the 101).
        std::string received;
        std::size_t head_size = 0;
        while ((head_size = find_head_end(received)) == 0) {
            if (received.size() > max_response_head_size)
                throw std::runtime_error("tether::client::ws_client: the server's response head exceeds 64 KiB");
            const std::size_t n = read_some(deadline, "waiting for the upgrade response");
            if (n == 0) throw std::runtime_error("tether::client::ws_client: the server closed the connection before answering the upgrade");
            received.append(read_buffer_.data(), n);
        }
        auto head = parse_response_head(std::string_view(received).substr(0, head_size));
        if (!head)
            throw std::runtime_error("tether::client::ws_client: the server's answer is not an HTTP/1.1 response");
        std::optional<ws::deflate_params> agreed;
        const std::string problem =
            check_upgrade_response(*head, key, options_.subprotocols, subprotocol_, deflate_offers, &agreed);
        if (!problem.empty()) {
            std::string body = received.substr(head_size);
            if (head->status != 101) read_refusal_body(*head, body, deadline);
            disconnect();
            throw handshake_error("tether::client::ws_client: " + problem, std::move(*head), std::move(body));
        }
        response_ = std::move(*head);
        if (agreed) {
            const auto& settings = *options_.permessage_deflate;
            deflate_ = std::make_unique<ws::deflate_session>(
                ws::role::client, *agreed,
                ws::deflate_options{.threshold = settings.threshold, .level = settings.level, .mem_level = settings.mem_level});
        }
        assembler_.emplace(ws::role::client,
                           ws::frame_parser_options{.max_message_size = options_.max_message_size,
                                                    .allowed_rsv = agreed ? ws::rsv1 : std::uint8_t{0}});
        assembler_->append(std::string_view(received).substr(head_size));
        open_ = true;
    }

    // connect() from a URL: ws://host[:port]/path or wss://host[:port]/path (ports 80 and 443 by
    // default; an IPv6 literal in brackets). wss without options.tls verifies against the system
    // trust store. Throws std::invalid_argument for anything else.
    void connect(std::string_view url, ws_options options = {}) {
        bool secure = url.starts_with("wss://");
        if (!secure && !url.starts_with("ws://"))
            throw std::invalid_argument("tether::client::ws_client: the URL must start with ws:// or wss://");
        url.remove_prefix(secure ? 6 : 5);
        std::string_view authority = url.substr(0, url.find('/'));
        std::string_view path = authority.size() < url.size() ? url.substr(authority.size()) : std::string_view("/");
        std::string_view host = authority;
        std::uint16_t port = secure ? 443 : 80;
        std::size_t colon = authority.rfind(':');
        if (authority.starts_with('[')) {
            std::size_t close = authority.find(']');
            if (close == std::string_view::npos) throw std::invalid_argument("tether::client::ws_client: bad IPv6 literal in URL");
            host = authority.substr(1, close - 1);
            colon = authority.size() > close + 1 && authority[close + 1] == ':' ? close + 1 : std::string_view::npos;
        } else if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
        }
        if (colon != std::string_view::npos) {
            unsigned value = 0;
            auto digits = authority.substr(colon + 1);
            auto [end, e] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
            if (e != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535)
                throw std::invalid_argument("tether::client::ws_client: bad port in URL");
            port = static_cast<std::uint16_t>(value);
        }
        if (host.empty()) throw std::invalid_argument("tether::client::ws_client: no host in URL");
        if (secure && !options.tls) options.tls.emplace();
        if (!secure) options.tls.reset();
        connect(host, port, path, std::move(options));
    }

    // Whether the connection is wss.
    [[nodiscard]] bool secure() const noexcept {
#if TETHER_HAS_TLS
        return tls_ != nullptr;
#else
        return false;
#endif
    }

    [[nodiscard]] const response_head& handshake_response() const noexcept { return response_; }
    [[nodiscard]] std::string_view subprotocol() const noexcept { return subprotocol_; }
    // The permessage-deflate parameters the server agreed to, or nullptr when it is not in use.
    [[nodiscard]] const ws::deflate_params* deflate_params() const noexcept {
        return deflate_ ? &deflate_->params() : nullptr;
    }
    void set_timeout(std::chrono::milliseconds timeout) noexcept { options_.timeout = timeout; }
    [[nodiscard]] std::chrono::milliseconds timeout() const noexcept { return options_.timeout; }

    // ---- sending (§5.2, §5.3: every client frame is masked) ----------------------------------------------

    // Throws std::invalid_argument when `text` is not UTF-8 (§5.6): a text message must be.
    void send_text(std::string_view text) {
        if (!core::is_valid_utf8(text))
            throw std::invalid_argument("tether::client::ws_client::send_text: not valid UTF-8; use send_binary");
        send_message(ws::opcode::text, text);
    }
    void send_binary(std::string_view data) { send_message(ws::opcode::binary, data); }

    // A text or binary message, compressed when permessage-deflate is in use and the message reaches the
    // threshold, in frames of at most `fragment_size` payload bytes (0: one frame). A compressed message is
    // split after compression, with RSV1 on its first frame only (RFC 7692 §6.1). Returns whether it was
    // compressed.
    bool send_message(ws::opcode op, std::string_view data, std::size_t fragment_size = 0) {
        std::string compressed;
        const bool deflated = deflate_ && deflate_->compress(data, compressed);
        const std::string_view payload = deflated ? std::string_view(compressed) : data;
        if (fragment_size == 0 || payload.size() <= fragment_size) {
            send_frame(op, payload, true, deflated ? ws::rsv1 : std::uint8_t{0});
            return deflated;
        }
        std::string frames;
        for (std::size_t at = 0; at < payload.size(); at += fragment_size) {
            const bool first = at == 0, last = at + fragment_size >= payload.size();
            ws::append_frame(frames, first ? op : ws::opcode::continuation, payload.substr(at, fragment_size), last,
                             next_mask(), first && deflated ? ws::rsv1 : std::uint8_t{0});
        }
        write_all(frames, clock::now() + options_.timeout);
        return deflated;
    }

    // One frame, masked, as given: fragments (fin = false, then opcode::continuation), control frames, or a
    // Close with any payload. Throws std::invalid_argument only for frames the encoder cannot write (a control
    // frame over 125 bytes or fragmented); send_raw() writes those.
    void send_frame(ws::opcode op, std::string_view payload, bool fin = true, std::uint8_t rsv = 0) {
        std::string frame;
        ws::append_frame(frame, op, payload, fin, next_mask(), rsv);
        if (op == ws::opcode::close) close_sent_ = true;
        write_all(frame, clock::now() + options_.timeout);
    }

    // Bytes exactly as given, for tests of malformed input. Use mask_payload() to build masked frames.
    void send_raw(std::string_view bytes) { write_all(bytes, clock::now() + options_.timeout); }

    void ping(std::string_view payload = {}) { send_frame(ws::opcode::ping, payload); }

    // Starts the closing handshake (§7.1.2) without waiting. Throws std::invalid_argument for a code that
    // may not be sent (1005, 1006, 1015, unassigned) or a reason over 123 bytes or not UTF-8.
    void send_close(ws::close_code code = ws::close_code::normal, std::string_view reason = {}) {
        send_frame(ws::opcode::close, ws::close_payload(code, reason));
    }

    // The closing handshake: sends Close (unless one was sent already), then reads until the server's Close
    // and the end of the TCP connection, which the server closes first (§7.1.1). Returns the server's code
    // (1005 for an empty Close), or std::nullopt when the connection ended without one.
    std::optional<ws::close_code> close(ws::close_code code = ws::close_code::normal, std::string_view reason = {}) {
        if (!close_sent_ && socket_.is_open() && !eof_) send_close(code, reason);
        return wait_for_close();
    }

    // Reads, discarding messages, until the server's Close has arrived and the server has closed the TCP
    // connection, all within one timeout. Returns the server's close code, or std::nullopt when the TCP
    // connection ended without a Close (§7.1.5: the close code is then 1006). Throws timeout_error.
    std::optional<ws::close_code> wait_for_close() {
        const auto deadline = clock::now() + options_.timeout;
        while (receive_until(deadline)) {
        }
        return close_received_ ? std::optional<ws::close_code>(close_code_) : std::nullopt;
    }

    // ---- receiving ---------------------------------------------------------------------------------------

    // The next data message or control frame, or std::nullopt once the server has closed the TCP connection.
    // Throws timeout_error when nothing complete arrives within the timeout (the connection stays usable),
    // and protocol_error when the server breaks the protocol (after sending the Close §7.1.7 asks for).
    std::optional<message> receive() { return receive_until(clock::now() + options_.timeout); }

    // The next data message, skipping (and, with auto_pong, answering) pings and pongs; std::nullopt at the
    // server's Close or the end of the connection.
    std::optional<message> receive_message() {
        const auto deadline = clock::now() + options_.timeout;
        while (auto m = receive_until(deadline)) {
            if (m->op == ws::opcode::text || m->op == ws::opcode::binary) return m;
            if (m->op == ws::opcode::close) return std::nullopt;
        }
        return std::nullopt;
    }

    // ---- state -------------------------------------------------------------------------------------------

    // Connected, and no Close sent or received: data may still flow both ways.
    [[nodiscard]] bool is_open() const noexcept { return open_ && !eof_ && !close_sent_ && !close_received_; }
    // The server has closed the TCP connection (receive() returned std::nullopt).
    [[nodiscard]] bool connection_ended() const noexcept { return eof_; }
    [[nodiscard]] bool close_sent() const noexcept { return close_sent_; }
    [[nodiscard]] bool close_received() const noexcept { return close_received_; }
    // From the server's Close: its code (1005 when it carried none, §7.1.5) and reason.
    [[nodiscard]] ws::close_code close_code() const noexcept { return close_code_; }
    [[nodiscard]] std::string_view close_reason() const noexcept { return close_reason_; }

    // Closes the TCP connection at once, without a closing handshake.
    void disconnect() noexcept {
        std::error_code ignored;
        if (socket_.is_open()) socket_.close(ignored);
        open_ = false;
    }

    // After failing the connection: half-close, then read and discard what the server still sends
    // (at most linger_bytes, for at most linger_time) before closing. Closing with unread bytes
    // queued makes the kernel send a reset, which can destroy our Close before the server reads it.
    void linger_then_disconnect() noexcept {
        constexpr std::size_t linger_bytes = 4 * 1024 * 1024;
        constexpr auto linger_time = std::chrono::seconds(2);
        std::error_code ignored;
        if (socket_.is_open()) socket_.shutdown(asio::socket_base::shutdown_send, ignored);
        const auto deadline = clock::now() + linger_time;
        try {
            for (std::size_t discarded = 0; socket_.is_open() && discarded < linger_bytes;) {
                const std::size_t n = read_some(deadline, "lingering after a Close");
                if (n == 0) break;   // EOF: the server is done too
                discarded += n;
            }
        } catch (const std::exception&) {   // the deadline passed: close anyway
        }
        disconnect();
    }

    asio::ip::tcp::socket& socket() noexcept { return socket_; }

    // XORs a payload with a masking key (§5.3), for tests that assemble frames byte by byte.
    [[nodiscard]] static std::string mask_payload(std::string_view payload, const ws::mask_key& key) {
        std::string out(payload);
        ws::apply_mask(std::span<char>(out), key);
        return out;
    }

private:
    using clock = std::chrono::steady_clock;
    static constexpr std::size_t read_buffer_size = 64 * 1024;
    static constexpr std::size_t max_response_head_size = 64 * 1024;

    static std::mt19937 seed_from_random_device() {
        std::random_device device;
        std::array<std::uint32_t, 8> words{};
        for (auto& w : words) w = static_cast<std::uint32_t>(device());
        std::seed_seq seq(words.begin(), words.end());
        return std::mt19937(seq);
    }

    ws::mask_key next_mask() {
        const std::uint32_t word = masks_();
        return {static_cast<std::uint8_t>(word), static_cast<std::uint8_t>(word >> 8),
                static_cast<std::uint8_t>(word >> 16), static_cast<std::uint8_t>(word >> 24)};
    }

    // The TLS handshake, with SNI and verification, within the connect deadline.
    void start_tls([[maybe_unused]] std::string_view host, [[maybe_unused]] clock::time_point deadline) {
#if TETHER_HAS_TLS
        const tls_client_options& o = *options_.tls;
        const std::string name = o.server_name.empty() ? std::string(host) : o.server_name;
        tls_context_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        SSL_CTX* ctx = tls_context_->native_handle();
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
        std::error_code ec;
        if (o.verify) {
            if (o.ca_file.empty()) tls_context_->set_default_verify_paths(ec);
            else tls_context_->load_verify_file(o.ca_file, ec);
            if (ec) throw tls_error("tether::client::ws_client: cannot load the trusted CAs" +
                                    (o.ca_file.empty() ? std::string() : " from '" + o.ca_file + "'") + ": " + ec.message());
            tls_context_->set_verify_mode(asio::ssl::verify_peer);
        } else {
            tls_context_->set_verify_mode(asio::ssl::verify_none);
        }
        tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
        SSL* ssl = tls_->native_handle();
        asio::error_code address_ec;
        asio::ip::make_address(name, address_ec);
        if (address_ec) SSL_set_tlsext_host_name(ssl, name.c_str());   // SNI carries names, not addresses (RFC 6066 §3)
        if (o.verify) {
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            int set = address_ec ? X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size())
                                 : X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
            if (set != 1) throw tls_error("tether::client::ws_client: cannot verify the name '" + name + "'");
        }
        bool done = false;
        tls_->async_handshake(asio::ssl::stream_base::client, [&](std::error_code e) {
            ec = e;
            done = true;
        });
        run_until(done, deadline);
        if (ec == asio::error::operation_aborted) {
            disconnect();
            throw_timeout("in the TLS handshake");
        }
        if (ec) {
            long verify = SSL_get_verify_result(ssl);
            std::string why = verify != X509_V_OK
                                  ? std::string("certificate verification failed for '") + name +
                                        "': " + X509_verify_cert_error_string(verify)
                                  : "TLS handshake failed: " + ec.message();
            disconnect();
            throw tls_error("tether::client::ws_client: " + why);
        }
#else
        disconnect();
        throw tls_error("tether::client::ws_client: wss needs TLS, and tether was built without it (TETHER_WITH_TLS)");
#endif
    }

    void reset_state() {
        assembler_.reset();
        deflate_.reset();
        response_ = {};
        subprotocol_.clear();
        close_reason_.clear();
        close_code_ = ws::close_code::no_status_received;
        open_ = eof_ = close_sent_ = close_received_ = false;
    }

    std::optional<message> receive_until(clock::time_point deadline) {
        if (!assembler_) throw std::logic_error("tether::client::ws_client: receive() before connect()");
        for (;;) {
            const ws::assembled_message m = assembler_->next();
            ws::close_code code{};
            std::string reason;
            if (m.status == ws::assemble_status::message) {
                message out{m.op, {}, m.compressed};
                if (!m.compressed) {
                    out.payload.assign(m.payload);
                    on_control(out);
                    return out;
                }
                if (inflate_message(m.payload, out.payload, m.op, code, reason)) return out;
            } else if (m.status == ws::assemble_status::error) {
                code = assembler_->parser().error_code();
                reason = assembler_->parser().error_reason();
            }
            if (m.status != ws::assemble_status::need_more) {
                // §7.1.7: fail the connection: send the Close if we may, then drop TCP.
                if (!close_sent_ && socket_.is_open()) {
                    try {
                        send_close(code, reason.substr(0, ws::max_close_reason_size));
                    } catch (const std::exception&) {  // the server may be gone already
                    }
                }
                linger_then_disconnect();
                eof_ = true;
                throw protocol_error("tether::client::ws_client: the server broke RFC 6455: " + reason + " (closing with " +
                                         std::to_string(ws::to_underlying(code)) + ")",
                                     code);
            }
            if (eof_ || !socket_.is_open()) return std::nullopt;
            const std::size_t n = read_some(deadline, "waiting for a frame from the server");
            if (n == 0) {  // the server closed TCP (or reset it)
                eof_ = true;
                disconnect();
                return std::nullopt;
            }
            assembler_->append(std::string_view(read_buffer_.data(), n));
        }
    }

    // RFC 7692 §7.2.2: inflates a compressed message, bounded by max_message_size after inflation. False with
    // the close code and reason when it must fail the connection (1009 too big, 1007 not DEFLATE or not UTF-8).
    bool inflate_message(std::string_view payload, std::string& out, ws::opcode op, ws::close_code& code,
                         std::string& reason) {
        const auto limit =
            static_cast<std::size_t>(std::min<std::uint64_t>(options_.max_message_size, SIZE_MAX - 1));
        deflate_->begin_message();
        ws::inflate_status s = deflate_->inflate(payload, out, limit);
        if (s == ws::inflate_status::ok) s = deflate_->end_message(out, limit);
        if (s == ws::inflate_status::too_big) {
            code = ws::close_code::message_too_big;
            reason = "message exceeds the maximum size once inflated";
        } else if (s == ws::inflate_status::invalid) {
            code = ws::close_code::invalid_payload;
            reason = "compressed message is not valid DEFLATE data";
        } else if (op == ws::opcode::text && !core::is_valid_utf8(out)) {
            code = ws::close_code::invalid_payload;
            reason = "text message is not valid UTF-8";
        } else {
            return true;
        }
        return false;
    }

    void on_control(const message& m) {
        if (m.op == ws::opcode::ping && options_.auto_pong && !close_sent_ && socket_.is_open()) {
            try {
                send_frame(ws::opcode::pong, m.payload);  // §5.5.3: the same Application data
            } catch (const std::system_error&) {  // the server is gone; the next read says so
            }
        } else if (m.op == ws::opcode::close) {
            close_received_ = true;
            // The parser has already failed a malformed Close (1-byte, invalid code, reason not UTF-8).
            const auto info = ws::parse_close_payload(m.payload);
            close_code_ = info ? info->code : ws::close_code::protocol_error;
            close_reason_ = info ? std::string(info->reason) : std::string{};
            if (options_.auto_close && !close_sent_ && socket_.is_open()) {
                // §5.5.1: echo the status code; answer an empty Close with an empty one.
                try {
                    send_frame(ws::opcode::close, m.payload.empty() ? std::string{} : ws::close_payload(close_code_));
                } catch (const std::system_error&) {  // the server closed TCP right behind its Close
                }
            }
        }
    }

    // Runs the io_context until `done` or the deadline; at the deadline it cancels the operation, whose
    // handler then runs with asio::error::operation_aborted (which the callers report as a timeout).
    void run_until(bool& done, clock::time_point deadline) {
        io_.restart();
        const auto now = clock::now();
        if (deadline > now) io_.run_for(deadline - now);
        if (done) return;
        std::error_code ignored;
        socket_.cancel(ignored);
        io_.restart();
        io_.run();
    }

    [[noreturn]] void throw_timeout(const std::string& what) const {
        throw timeout_error("tether::client::ws_client: timed out after " + std::to_string(options_.timeout.count()) +
                            " ms " + what);
    }

    // Bytes read into read_buffer_, or 0 at end of stream or a reset (the caller treats both as "gone").
    std::size_t read_some(clock::time_point deadline, const char* what) {
        std::error_code ec;
        std::size_t n = 0;
        bool done = false;
        auto on_read = [&](std::error_code e, std::size_t k) {
            ec = e;
            n = k;
            done = true;
        };
#if TETHER_HAS_TLS
        if (tls_) tls_->async_read_some(asio::buffer(read_buffer_), on_read);
        else
#endif
            socket_.async_read_some(asio::buffer(read_buffer_), on_read);
        run_until(done, deadline);
        if (ec == asio::error::operation_aborted) throw_timeout(what);
        if (ec) return 0;
        return n;
    }

    void write_all(std::string_view bytes, clock::time_point deadline) {
        if (!socket_.is_open()) throw std::logic_error("tether::client::ws_client: not connected");
        std::error_code ec;
        bool done = false;
        auto on_written = [&](std::error_code e, std::size_t) {
            ec = e;
            done = true;
        };
#if TETHER_HAS_TLS
        if (tls_) asio::async_write(*tls_, asio::buffer(bytes.data(), bytes.size()), on_written);
        else
#endif
            asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), on_written);
        run_until(done, deadline);
        if (ec == asio::error::operation_aborted) {
            disconnect();  // part of a frame may be on the wire: the stream is unusable
            throw_timeout("sending");
        }
        if (ec) throw std::system_error(ec, "tether::client::ws_client: sending failed");
    }

    // A refusal's body helps the caller see why (tether answers with a JSON error). Best effort, bounded.
    void read_refusal_body(const response_head& head, std::string& body, clock::time_point deadline) {
        std::size_t wanted = 0;
        if (const auto length = head.header("content-length")) {
            for (char c : *length) {
                if (c < '0' || c > '9') return;
                wanted = wanted * 10 + static_cast<std::size_t>(c - '0');
                if (wanted > max_response_head_size) return;
            }
        }
        try {
            while (body.size() < wanted) {
                const std::size_t n = read_some(deadline, "reading the refusal's body");
                if (n == 0) break;
                body.append(read_buffer_.data(), n);
            }
        } catch (const timeout_error&) {
        }
        if (body.size() > wanted) body.resize(wanted);
    }

    asio::io_context io_{1};
    asio::ip::tcp::socket socket_;
#if TETHER_HAS_TLS
    std::unique_ptr<asio::ssl::context> tls_context_;
    std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
#endif
    std::mt19937 masks_;
    std::vector<char> read_buffer_;
    ws_options options_{};
    std::optional<ws::message_assembler> assembler_;
    std::unique_ptr<ws::deflate_session> deflate_;  // permessage-deflate, when the server agreed
    response_head response_{};
    std::string subprotocol_;
    std::string close_reason_;
    ws::close_code close_code_ = ws::close_code::no_status_received;
    bool open_ = false, eof_ = false, close_sent_ = false, close_received_ = false;
};

}  // namespace tether::client
