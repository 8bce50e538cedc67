#pragma once
// permessage-deflate negotiation (RFC 7692 §5, §7.1) as pure functions over header values: parsing a
// Sec-WebSocket-Extensions list (RFC 6455 §9.1), the server's choice among a client's offers under a route's
// policy, the client's offer, and the client's check of the server's answer.
//
// Why separate from the codec (deflate_codec.hpp): negotiation needs no zlib, so it compiles, is tested and
// is fuzzed whether or not zlib is present, and a build without zlib simply never accepts an offer. Why
// string_views in and a std::string out, like handshake.hpp: the server, the client and tests each hold
// headers their own way.
//
// Decisions where the RFC leaves a choice:
//  - A malformed Sec-WebSocket-Extensions value (bad syntax, an unterminated quoted-string) declines every
//    offer in it rather than failing the handshake: compression is optional, and refusing the upgrade over a
//    header we only use to save bytes would punish the user for an intermediary's mangling.
//  - An offer that breaks a §7.1 rule (unknown or repeated parameter, a value where none is allowed, a
//    window outside 8..15 or with leading zeros) is declined and the next offer is considered (§5.1).
//  - The server always answers client_no_context_takeover when the client hinted it (§7.1.1.2 lets it "use
//    the parameter to avoid taking over the LZ77 sliding window unnecessarily"), and under the
//    no_context_takeover policy answers both *_no_context_takeover parameters unasked (§7.1.1.1, §7.1.1.2
//    allow it): that is the policy in which no zlib state outlives a message.
//  - server_max_window_bits=8 is accepted. zlib refuses a 256-byte raw deflate window, but its compressor
//    never emits a distance over the window size minus 262 (MIN_LOOKAHEAD), so a 512-byte window (9 bits)
//    yields distances of at most 250, which a 256-byte inflate window decodes (the codec relies on this).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tether/ws/handshake.hpp>

namespace tether::ws {

inline constexpr std::string_view permessage_deflate_token = "permessage-deflate";
inline constexpr std::uint8_t min_window_bits = 8;   // §7.1.2.1: 8..15
inline constexpr std::uint8_t max_window_bits = 15;

// ---- the route's policy -------------------------------------------------------------------------------

enum class deflate_mode : std::uint8_t {
    off,                  // never negotiated: offers are ignored
    on,                   // negotiated; each side keeps its LZ77 window between messages unless the peer
                          // asks otherwise (best ratio; a connection then holds zlib state between messages)
    no_context_takeover,  // negotiated with server_ and client_no_context_takeover: zlib state exists only
                          // while a message is being compressed or inflated
};

struct deflate_options {
    deflate_mode mode = deflate_mode::off;
    // Messages shorter than this are sent uncompressed (RSV1 clear): below a few dozen bytes deflate's block
    // header and Huffman tables cost more than they save, and compressing costs CPU regardless.
    std::size_t threshold = 64;
    int level = 6;                             // zlib compression level, 1 (fastest) .. 9 (smallest)
    std::uint8_t mem_level = 8;                // zlib memLevel, 1..9: hash table size, memory for speed
    std::uint8_t server_max_window_bits = 15;  // the largest window our compressor uses (§7.1.2.1)
    std::uint8_t client_max_window_bits = 15;  // asked of clients that allow it (§7.1.2.2): bounds the window
                                               // our inflater keeps per connection with context takeover
};

// ---- the agreed parameters ----------------------------------------------------------------------------

struct deflate_params {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    std::uint8_t server_max_window_bits = max_window_bits;
    std::uint8_t client_max_window_bits = max_window_bits;

    friend bool operator==(const deflate_params&, const deflate_params&) = default;
};

// The extension's response element for `p`: "permessage-deflate" plus the parameters that differ from the
// defaults, e.g. "permessage-deflate; server_no_context_takeover; client_max_window_bits=10". A window size
// at its default of 15 is written anyway when `always_server_window` / `always_client_window` say so: an
// offer that named server_max_window_bits is accepted only by answering it (§7.1.2.1).
[[nodiscard]] inline std::string format_deflate_params(const deflate_params& p, bool always_server_window = false,
                                                       bool always_client_window = false) {
    std::string out(permessage_deflate_token);
    if (p.server_no_context_takeover) out.append("; server_no_context_takeover");
    if (p.client_no_context_takeover) out.append("; client_no_context_takeover");
    if (always_server_window || p.server_max_window_bits != max_window_bits)
        out.append("; server_max_window_bits=").append(std::to_string(p.server_max_window_bits));
    if (always_client_window || p.client_max_window_bits != max_window_bits)
        out.append("; client_max_window_bits=").append(std::to_string(p.client_max_window_bits));
    return out;
}

// ---- Sec-WebSocket-Extensions syntax (RFC 6455 §9.1) ---------------------------------------------------

struct extension_param {
    std::string_view name;
    std::string value;       // unquoted (a quoted-string's escapes removed)
    bool has_value = false;
};

struct extension_element {
    std::string_view name;
    std::vector<extension_param> params;
};

namespace detail {
// RFC 9110 §5.6.2 tchar.
[[nodiscard]] constexpr bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
        case '^': case '_': case '`': case '|': case '~': return true;
        default: return false;
    }
}
[[nodiscard]] constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}
}  // namespace detail

// Parses `extension-list = 1#extension; extension = token *( ";" extension-param ); extension-param = token
// [ "=" (token | quoted-string) ]` with optional whitespace around the separators and empty list elements
// skipped (RFC 9110 §5.6.1). Appends to `out`; false on a syntax error (then `out` holds what came before).
// A quoted value must be a token once unescaped (§9.1); one that is not is kept, and rejected as a value by
// the extension (a quoted comma must not split the list, so syntax alone cannot reject it).
[[nodiscard]] inline bool parse_extension_list(std::string_view s, std::vector<extension_element>& out) {
    std::size_t i = 0;
    const auto skip_ows = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    };
    const auto token = [&]() -> std::string_view {
        const std::size_t start = i;
        while (i < s.size() && detail::is_tchar(s[i])) ++i;
        return s.substr(start, i - start);
    };
    for (;;) {
        skip_ows();
        if (i == s.size()) return true;
        if (s[i] == ',') {  // an empty element
            ++i;
            continue;
        }
        extension_element element;
        element.name = token();
        if (element.name.empty()) return false;
        skip_ows();
        while (i < s.size() && s[i] == ';') {
            ++i;
            skip_ows();
            extension_param param;
            param.name = token();
            if (param.name.empty()) return false;
            skip_ows();
            if (i < s.size() && s[i] == '=') {
                ++i;
                skip_ows();
                param.has_value = true;
                if (i < s.size() && s[i] == '"') {  // quoted-string, RFC 9110 §5.6.4
                    ++i;
                    bool closed = false;
                    while (i < s.size()) {
                        const char c = s[i++];
                        if (c == '"') {
                            closed = true;
                            break;
                        }
                        if (c == '\\') {
                            if (i == s.size()) return false;
                            param.value.push_back(s[i++]);
                        } else {
                            param.value.push_back(c);
                        }
                    }
                    if (!closed) return false;
                } else {
                    const std::string_view value = token();
                    if (value.empty()) return false;
                    param.value.assign(value);
                }
                skip_ows();
            }
            element.params.push_back(std::move(param));
        }
        out.push_back(std::move(element));
        if (i == s.size()) return true;
        if (s[i] != ',') return false;
        ++i;
    }
}

// ---- one permessage-deflate offer or response, checked against §7.1 -------------------------------------

struct deflate_offer {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    std::optional<std::uint8_t> server_max_window_bits;   // §7.1.2.1: a value is required
    bool client_max_window_bits = false;                  // §7.1.2.2: present, with or without a value
    std::optional<std::uint8_t> client_max_window_bits_value;
};

// A window size parameter's value: "8" to "15", decimal, no leading zeros (§7.1.2.1, §7.1.2.2).
[[nodiscard]] inline std::optional<std::uint8_t> parse_window_bits(std::string_view v) noexcept {
    if (v.empty() || v.size() > 2 || v.front() == '0') return std::nullopt;
    unsigned value = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value < min_window_bits || value > max_window_bits) return std::nullopt;
    return static_cast<std::uint8_t>(value);
}

// The parameters of one permessage-deflate element, or std::nullopt when §7.1 says to decline the offer
// (server) or fail the connection (client): an unknown parameter, one given twice, a value on a parameter
// that takes none, or an invalid window size.
[[nodiscard]] inline std::optional<deflate_offer> parse_deflate_params(std::span<const extension_param> params) {
    deflate_offer o;
    bool seen[4] = {false, false, false, false};
    for (const extension_param& p : params) {
        int which = -1;
        if (p.name == "server_no_context_takeover") which = 0;        // names are case-sensitive tokens
        else if (p.name == "client_no_context_takeover") which = 1;
        else if (p.name == "server_max_window_bits") which = 2;
        else if (p.name == "client_max_window_bits") which = 3;
        if (which < 0 || seen[which]) return std::nullopt;  // §7.1: unknown, or more than once
        seen[which] = true;
        switch (which) {
            case 0:
            case 1:  // §7.1.1.1, §7.1.1.2: these have no value
                if (p.has_value) return std::nullopt;
                (which == 0 ? o.server_no_context_takeover : o.client_no_context_takeover) = true;
                break;
            case 2: {
                if (!p.has_value) return std::nullopt;
                o.server_max_window_bits = parse_window_bits(p.value);
                if (!o.server_max_window_bits) return std::nullopt;
                break;
            }
            default: {
                o.client_max_window_bits = true;
                if (p.has_value) {
                    o.client_max_window_bits_value = parse_window_bits(p.value);
                    if (!o.client_max_window_bits_value) return std::nullopt;
                }
                break;
            }
        }
    }
    return o;
}

// ---- the server's side ---------------------------------------------------------------------------------

struct deflate_agreement {
    deflate_params params;
    std::string response;  // the Sec-WebSocket-Extensions value to send
};

// Chooses the first acceptable permessage-deflate offer among every Sec-WebSocket-Extensions field value of
// the request (in order: a client lists offers by preference, §5.1), or std::nullopt to decline them all
// (then the handshake goes on without the extension).
[[nodiscard]] inline std::optional<deflate_agreement> negotiate_deflate(std::span<const std::string_view> header_values,
                                                                        const deflate_options& policy) {
    if (policy.mode == deflate_mode::off) return std::nullopt;
    std::vector<extension_element> elements;
    for (std::string_view v : header_values)
        if (!parse_extension_list(v, elements)) return std::nullopt;
    const auto clamp = [](std::uint8_t w) {
        return w < min_window_bits ? min_window_bits : w > max_window_bits ? max_window_bits : w;
    };
    for (const extension_element& e : elements) {
        if (e.name != permessage_deflate_token) continue;
        const auto offer = parse_deflate_params(e.params);
        if (!offer) continue;  // §7.1: decline this offer, consider the next
        deflate_params p;
        const bool no_takeover = policy.mode == deflate_mode::no_context_takeover;
        // §7.1.1.1: an offer with server_no_context_takeover is accepted only by answering it.
        p.server_no_context_takeover = offer->server_no_context_takeover || no_takeover;
        p.client_no_context_takeover = offer->client_no_context_takeover || no_takeover;
        // §7.1.2.1: answer the same or a smaller value than offered; unasked, we may still limit ourselves.
        const std::uint8_t ours = clamp(policy.server_max_window_bits);
        p.server_max_window_bits = offer->server_max_window_bits && *offer->server_max_window_bits < ours
                                       ? *offer->server_max_window_bits
                                       : ours;
        // §7.1.2.2: the parameter may be answered only when offered; the client's own value bounds ours.
        if (offer->client_max_window_bits) {
            const std::uint8_t want = clamp(policy.client_max_window_bits);
            const std::uint8_t offered = offer->client_max_window_bits_value.value_or(max_window_bits);
            p.client_max_window_bits = want < offered ? want : offered;
        }
        // An offered client window value is echoed even at 15, so the agreement says what we inflate with.
        return deflate_agreement{p, format_deflate_params(p, offer->server_max_window_bits.has_value(),
                                                          offer->client_max_window_bits_value.has_value())};
    }
    return std::nullopt;
}

// ---- the client's side ---------------------------------------------------------------------------------

// What a client offers: each field is sent only when set.
struct deflate_request {
    bool server_no_context_takeover = false;                   // the server must not keep its window
    bool client_no_context_takeover = false;                   // a hint: we will not keep ours
    std::optional<std::uint8_t> server_max_window_bits{};      // limit the server's window
    bool client_max_window_bits = true;                        // we accept a server's limit on our window
    std::optional<std::uint8_t> client_max_window_bits_value{};  // ...and say the largest we will use
};

// One offer element, e.g. "permessage-deflate; client_max_window_bits" (what browsers send).
// Throws std::invalid_argument for a window outside 8..15.
[[nodiscard]] inline std::string format_deflate_offer(const deflate_request& r) {
    const auto check = [](std::uint8_t w) {
        if (w < min_window_bits || w > max_window_bits)
            throw std::invalid_argument("tether::ws: a window size must be 8..15 bits (RFC 7692 §7.1.2)");
        return std::to_string(w);
    };
    std::string out(permessage_deflate_token);
    if (r.server_no_context_takeover) out.append("; server_no_context_takeover");
    if (r.client_no_context_takeover) out.append("; client_no_context_takeover");
    if (r.server_max_window_bits) out.append("; server_max_window_bits=").append(check(*r.server_max_window_bits));
    if (r.client_max_window_bits || r.client_max_window_bits_value) {
        out.append("; client_max_window_bits");
        if (r.client_max_window_bits_value) out.append("=").append(check(*r.client_max_window_bits_value));
    }
    return out;
}

// The client's check of the server's Sec-WebSocket-Extensions answer (`value`, the joined field values;
// empty when absent) against the offers it sent. Sets `agreed` (std::nullopt: the server declined) and
// returns "" when acceptable; otherwise what is wrong, and §7.1 / RFC 6455 §4.1 then require the client to
// fail the connection.
[[nodiscard]] inline std::string check_deflate_response(std::string_view value, std::span<const deflate_request> offers,
                                                        std::optional<deflate_params>& agreed) {
    agreed.reset();
    std::vector<extension_element> elements;
    if (!parse_extension_list(value, elements))
        return "the server's Sec-WebSocket-Extensions '" + std::string(value) + "' is not a valid extension list";
    if (elements.empty()) return {};
    if (offers.empty())
        return "the server selected extensions '" + std::string(value) + "' that were not offered (RFC 6455 §4.1)";
    if (elements.size() > 1 || elements.front().name != permessage_deflate_token)
        return "the server selected '" + std::string(value) + "', but only one permessage-deflate was offered";
    const auto r = parse_deflate_params(elements.front().params);
    if (!r) return "the server's permessage-deflate parameters '" + std::string(value) + "' break RFC 7692 §7.1";
    // §7.1.2.2: the server may limit our window only if some offer said we accept that.
    bool may_limit_client = false, every_offer_limits_server = true;
    std::uint8_t largest_server_window = min_window_bits;
    bool asked_server_no_takeover = true;
    for (const deflate_request& o : offers) {
        may_limit_client = may_limit_client || o.client_max_window_bits || o.client_max_window_bits_value;
        every_offer_limits_server = every_offer_limits_server && o.server_max_window_bits.has_value();
        if (o.server_max_window_bits && *o.server_max_window_bits > largest_server_window)
            largest_server_window = *o.server_max_window_bits;
        asked_server_no_takeover = asked_server_no_takeover && o.server_no_context_takeover;
    }
    if (r->client_max_window_bits && !may_limit_client)
        return "the server sent client_max_window_bits, which no offer allowed (RFC 7692 §7.1.2.2)";
    if (r->client_max_window_bits && !r->client_max_window_bits_value)
        return "the server sent client_max_window_bits without a value (RFC 7692 §7.1.2.2)";
    // §7.1.1.1: every offer asked for server_no_context_takeover, so the accepted one must carry it.
    if (asked_server_no_takeover && !r->server_no_context_takeover)
        return "the server accepted permessage-deflate without the server_no_context_takeover we asked for";
    // §7.1.2.1: the same or a smaller window than offered.
    if (every_offer_limits_server && r->server_max_window_bits && *r->server_max_window_bits > largest_server_window)
        return "the server's server_max_window_bits is larger than offered (RFC 7692 §7.1.2.1)";
    if (every_offer_limits_server && !r->server_max_window_bits)
        return "the server did not answer the server_max_window_bits we offered (RFC 7692 §7.1.2.1)";
    deflate_params p;
    p.server_no_context_takeover = r->server_no_context_takeover;
    p.client_no_context_takeover = r->client_no_context_takeover;
    p.server_max_window_bits = r->server_max_window_bits.value_or(max_window_bits);
    p.client_max_window_bits = r->client_max_window_bits_value.value_or(max_window_bits);
    // The limit a single offer set on our own window holds whatever the server answered. (With several
    // offers we cannot tell which one was accepted, so only the server's value counts.)
    if (offers.size() == 1 && offers.front().client_max_window_bits_value &&
        *offers.front().client_max_window_bits_value < p.client_max_window_bits)
        p.client_max_window_bits = *offers.front().client_max_window_bits_value;
    agreed = p;
    return {};
}

}  // namespace tether::ws
