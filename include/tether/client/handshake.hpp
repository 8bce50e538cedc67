#pragma once
// The client's side of the RFC 6455 §4.1 opening handshake, with no I/O: writing the upgrade request,
// reading the server's response head, and checking that it really accepted the upgrade.
//
// Why a separate header from ws_client.hpp: the request and the checks are pure functions over strings, so
// they are testable without a socket and reusable by an asynchronous client later; the blocking client only
// moves bytes. Why a small response-head reader here rather than http/parser.hpp: that parser reads
// requests (a server's job); a client needs only the status line and the header fields of one response, and
// §4.1 asks for nothing more before the connection becomes WebSocket.
// Rejected: letting the caller's extra headers replace the generated ones (a test that wants a wrong
// Sec-WebSocket-Version writes the raw request itself; a client that could send one by accident would be
// a worse client).

#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/ws/handshake.hpp>
#include <tether/ws/permessage_deflate.hpp>

namespace tether::client {

// Fields a caller adds to the upgrade request (cookies, Authorization, ...), each sent as "name: value".
using header_list = std::vector<std::pair<std::string, std::string>>;

struct upgrade_options {
    header_list headers{};
    std::vector<std::string> subprotocols{};  // Sec-WebSocket-Protocol, most preferred first (§4.1 item 10)
    std::string origin{};                     // Origin (§4.1 item 8); empty: not sent, as non-browser clients do
    std::string extensions{};                 // Sec-WebSocket-Extensions (§4.1 item 11); empty: not sent
};

// ---- the request (§4.1 items 1-12) -------------------------------------------------------------------

// `host` and `port` make the Host field (§4.1 item 4; the port is left out when it is the default 80,
// RFC 9110 §7.2). `key` is a Sec-WebSocket-Key from ws::make_client_key. Throws std::invalid_argument for a
// path that is not origin-form or a field that would smuggle a line break into the request.
[[nodiscard]] inline std::string make_upgrade_request(std::string_view host, unsigned short port, std::string_view path,
                                                      std::string_view key, const upgrade_options& options = {}) {
    const auto forbid_line_breaks = [](std::string_view what, std::string_view text) {
        if (text.find_first_of("\r\n") != std::string_view::npos || text.find('\0') != std::string_view::npos)
            throw std::invalid_argument("tether::client: " + std::string(what) + " must not contain CR, LF or NUL");
    };
    if (path.empty() || path.front() != '/')
        throw std::invalid_argument("tether::client: the request path must start with '/' (RFC 9112 §3.2.1)");
    forbid_line_breaks("the path", path);
    if (path.find(' ') != std::string_view::npos)
        throw std::invalid_argument("tether::client: the request path must not contain spaces; percent-encode them");
    forbid_line_breaks("the host", host);
    forbid_line_breaks("the origin", options.origin);
    forbid_line_breaks("the extension offer", options.extensions);

    std::string out;
    out.reserve(256);
    out.append("GET ").append(path).append(" HTTP/1.1\r\n");
    // An IPv6 literal needs brackets in Host (RFC 3986 §3.2.2).
    const bool ipv6 = host.find(':') != std::string_view::npos;
    out.append("Host: ").append(ipv6 ? "[" : "").append(host).append(ipv6 ? "]" : "");
    if (port != 80) out.append(":").append(std::to_string(port));
    out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ")
        .append(key)
        .append("\r\nSec-WebSocket-Version: ")
        .append(ws::websocket_version)
        .append("\r\n");
    if (!options.origin.empty()) out.append("Origin: ").append(options.origin).append("\r\n");
    if (!options.extensions.empty()) out.append("Sec-WebSocket-Extensions: ").append(options.extensions).append("\r\n");
    if (!options.subprotocols.empty()) {
        out.append("Sec-WebSocket-Protocol: ");
        for (std::size_t i = 0; i < options.subprotocols.size(); ++i) {
            const std::string& p = options.subprotocols[i];
            // §4.1 item 10: each is a token (RFC 2616 §2.2) and they must be unique; a comma or space inside
            // one would change the list the server sees.
            if (p.empty() || p.find_first_of(" \t,\r\n\"") != std::string::npos)
                throw std::invalid_argument("tether::client: subprotocol '" + p + "' is not an HTTP token");
            out.append(i == 0 ? "" : ", ").append(p);
        }
        out.append("\r\n");
    }
    for (const auto& [name, value] : options.headers) {
        forbid_line_breaks("a header name", name);
        forbid_line_breaks("a header value", value);
        if (name.empty() || name.find_first_of(" \t:") != std::string::npos)
            throw std::invalid_argument("tether::client: '" + name + "' is not a header field name");
        out.append(name).append(": ").append(value).append("\r\n");
    }
    out.append("\r\n");
    return out;
}

// ---- the response head --------------------------------------------------------------------------------

struct response_head {
    int status = 0;
    std::string reason;
    header_list headers;  // in arrival order; names as the server spelled them

    // The first field named `name` (ASCII case-insensitive, RFC 9110 §5.1), or std::nullopt.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
        for (const auto& [n, v] : headers)
            if (ws::iequals_ascii(n, name)) return std::string_view(v);
        return std::nullopt;
    }
    // Every field named `name` joined by ", " (RFC 9110 §5.3: repeated list fields are one list).
    [[nodiscard]] std::string header_list_value(std::string_view name) const {
        std::string out;
        for (const auto& [n, v] : headers)
            if (ws::iequals_ascii(n, name)) out.append(out.empty() ? "" : ", ").append(v);
        return out;
    }
};

// The size of the head at the front of `bytes` including the blank line, or 0 when it is not all there yet.
[[nodiscard]] inline std::size_t find_head_end(std::string_view bytes) noexcept {
    const std::size_t end = bytes.find("\r\n\r\n");
    return end == std::string_view::npos ? 0 : end + 4;
}

// Parses "HTTP/1.1 101 Switching Protocols\r\n" and the header fields after it (the blank line may be
// included or not). std::nullopt when it is not an HTTP/1.x response head: the status line needs a 3-digit
// code (RFC 9112 §4), each field a name and a colon; obsolete line folding is refused (RFC 9112 §5.2).
[[nodiscard]] inline std::optional<response_head> parse_response_head(std::string_view head) {
    response_head out;
    auto next_line = [&head]() -> std::optional<std::string_view> {
        const std::size_t eol = head.find("\r\n");
        if (eol == std::string_view::npos) {
            if (head.empty()) return std::nullopt;
            std::string_view line = head;
            head = {};
            return line;
        }
        std::string_view line = head.substr(0, eol);
        head.remove_prefix(eol + 2);
        return line;
    };
    const auto status_line = next_line();
    if (!status_line || status_line->size() < 12 || status_line->substr(0, 7) != "HTTP/1.") return std::nullopt;
    const char minor = (*status_line)[7];
    if (minor < '0' || minor > '9' || (*status_line)[8] != ' ') return std::nullopt;
    int status = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        const char c = (*status_line)[i];
        if (c < '0' || c > '9') return std::nullopt;
        status = status * 10 + (c - '0');
    }
    if (status_line->size() > 12 && (*status_line)[12] != ' ') return std::nullopt;
    out.status = status;
    out.reason = std::string(status_line->size() > 13 ? status_line->substr(13) : std::string_view{});
    while (auto line = next_line()) {
        if (line->empty()) break;
        if (line->front() == ' ' || line->front() == '\t') return std::nullopt;  // obs-fold
        const std::size_t colon = line->find(':');
        if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
        std::string_view name = line->substr(0, colon);
        if (name.find_first_of(" \t") != std::string_view::npos) return std::nullopt;  // RFC 9112 §5.1
        std::string_view value = line->substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        out.headers.emplace_back(std::string(name), std::string(value));
    }
    return out;
}

// ---- the client's checks of the response (§4.1, "the client MUST validate the server's response") ------

// Empty when `head` accepts the upgrade the request with `key` and `offered` subprotocols asked for,
// otherwise what is wrong, in words for an exception message. Sets `subprotocol` to the server's choice,
// and `deflate` (when given) to the permessage-deflate parameters agreed for `deflate_offers` (RFC 7692).
[[nodiscard]] inline std::string check_upgrade_response(const response_head& head, std::string_view key,
                                                        std::span<const std::string> offered,
                                                        std::string& subprotocol,
                                                        std::span<const ws::deflate_request> deflate_offers = {},
                                                        std::optional<ws::deflate_params>* deflate = nullptr) {
    // §4.1 item 1 of the response checks: anything but 101 means the upgrade did not happen (a 3xx, 401 or
    // 426 is for the caller to handle, not for us to follow).
    if (head.status != 101)
        return "the server refused the WebSocket upgrade with HTTP " + std::to_string(head.status) +
               (head.reason.empty() ? "" : " " + head.reason);
    // Items 2 and 3: Upgrade must be "websocket" and Connection must list "Upgrade", case-insensitively.
    const std::string upgrade = head.header_list_value("upgrade");
    if (!ws::has_token(upgrade, "websocket"))
        return "the 101 response's Upgrade header is '" + upgrade + "', not websocket (RFC 6455 §4.1)";
    const std::string connection = head.header_list_value("connection");
    if (!ws::has_token(connection, "upgrade"))
        return "the 101 response's Connection header is '" + connection + "', which does not list Upgrade (RFC 6455 §4.1)";
    // Item 4: Sec-WebSocket-Accept proves the server read our key (and is not a cache replaying a response).
    const auto accept = head.header("sec-websocket-accept");
    if (!accept) return "the 101 response has no Sec-WebSocket-Accept header (RFC 6455 §4.1)";
    if (!ws::is_valid_accept(key, *accept))
        return "the 101 response's Sec-WebSocket-Accept '" + std::string(*accept) + "' does not match our key; expected '" +
               ws::accept_key(key) + "' (RFC 6455 §4.1)";
    // Item 5: only an extension we offered (permessage-deflate, if any), with parameters RFC 7692 §7.1 allows.
    std::optional<ws::deflate_params> agreed;
    if (std::string problem = ws::check_deflate_response(head.header_list_value("sec-websocket-extensions"),
                                                         deflate_offers, agreed);
        !problem.empty())
        return problem;
    if (deflate) *deflate = agreed;
    // Item 6: a subprotocol must be one we offered (and exactly one).
    subprotocol.clear();
    if (const auto chosen = head.header("sec-websocket-protocol")) {
        bool was_offered = false;
        for (const std::string& p : offered) was_offered = was_offered || p == *chosen;
        if (!was_offered)
            return "the server selected subprotocol '" + std::string(*chosen) + "', which was not offered (RFC 6455 §4.1)";
        subprotocol = std::string(*chosen);
    }
    return {};
}

}  // namespace tether::client
