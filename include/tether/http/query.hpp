#pragma once
// tether::http query helpers: split a request-target, walk its query, and percent-decode.
//
// Why here and this shape: the router needs the path without its query, handlers need one parameter or all
// of them, and almost every real name and value is plain ASCII with no escape. So the walk hands out raw
// views into the request buffer (no allocation), and decoding returns the input view itself unless there
// is something to decode; only then does it write into a string the caller owns and can reuse.
//
// Two decoders, on purpose:
// - percent_decode / percent_decode_append / percent_decode_view are strict (RFC 3986 §2.1): a '%' not
//   followed by two hex digits ("%4", "%zz") is an error, so a server can answer 400. "%00" decodes to a
//   NUL byte; callers that store names in C strings must reject it themselves.
// - find_query_param is lenient the way browsers are: it follows the WHATWG URL Standard's
//   application/x-www-form-urlencoded parser (§5.1), which keeps a malformed escape as the literal text.
//   That makes it answer exactly what URLSearchParams.get() answers in the page that built the URL.
// '+' means space only in application/x-www-form-urlencoded (queries, form bodies); in a path it is a
// literal '+' (RFC 3986 §3.3), hence the plus_as_space argument with no default.
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tether::http {

// A request-target in origin-form, RFC 9112 §3.2.1: absolute-path [ "?" query ].
struct target_parts {
    std::string_view path;
    std::string_view query; // without the '?'; empty when there is none
};

// Splits at the first '?'. A fragment ("#...", RFC 3986 §3.5) is never sent by browsers, but a hand-written
// client may send one; it is dropped rather than folded into the path or the last query value.
constexpr target_parts split_target(std::string_view target) noexcept {
    if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

namespace detail {

// Value of a hex digit, or -1.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr bool needs_decoding(std::string_view in, bool plus_as_space) noexcept {
    for (const char c : in)
        if (c == '%' || (plus_as_space && c == '+')) return true;
    return false;
}

// Appends the decoding of in to out. Strict: returns false at a malformed escape (out then holds a partial
// result; public callers roll it back). Lenient: copies a malformed escape through as text.
inline bool decode_append(std::string& out, std::string_view in, bool plus_as_space, bool strict) {
    const char* p = in.data();
    const char* const end = p + in.size();
    while (p != end) {
        // Copy the run up to the next byte that decodes to something else.
        const char* run = p;
        while (p != end && *p != '%' && !(plus_as_space && *p == '+')) ++p;
        out.append(run, static_cast<std::size_t>(p - run));
        if (p == end) break;
        if (*p == '+') {
            out.push_back(' ');
            ++p;
            continue;
        }
        const int hi = (end - p >= 3) ? hex_value(p[1]) : -1;
        const int lo = (hi >= 0) ? hex_value(p[2]) : -1;
        if (lo < 0) {
            if (strict) return false;
            out.push_back('%');
            ++p;
            continue;
        }
        out.push_back(static_cast<char>((hi << 4) | lo));
        p += 3;
    }
    return true;
}

} // namespace detail

// Appends the strict decoding of in to out. On a malformed escape returns false and leaves out unchanged.
inline bool percent_decode_append(std::string& out, std::string_view in, bool plus_as_space) {
    const std::size_t old = out.size();
    if (detail::decode_append(out, in, plus_as_space, true)) return true;
    out.resize(old);
    return false;
}

// Strict decoding into a new string; nullopt on a malformed escape.
inline std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
    std::string out;
    if (!detail::needs_decoding(in, plus_as_space)) {
        out.assign(in);
        return out;
    }
    out.reserve(in.size());
    if (!detail::decode_append(out, in, plus_as_space, true)) return std::nullopt;
    return out;
}

// The allocation-free common case: returns in itself when it holds nothing to decode; otherwise decodes
// into scratch (replacing its contents) and returns a view of scratch, valid until scratch changes.
// nullopt on a malformed escape.
inline std::optional<std::string_view> percent_decode_view(std::string_view in, std::string& scratch,
                                                           bool plus_as_space) {
    if (!detail::needs_decoding(in, plus_as_space)) return in;
    scratch.clear();
    if (!detail::decode_append(scratch, in, plus_as_space, true)) return std::nullopt;
    return std::string_view(scratch);
}

// One name=value pair of a query, as raw (still encoded) views into the query string. "flag" alone gives
// value "", as does "flag="; a pair with no name ("=x") keeps name "" (WHATWG URL §5.1 does the same).
struct query_param {
    std::string_view name;
    std::string_view value;
};

// A forward range over the pairs of an application/x-www-form-urlencoded string, split on '&'. Empty pieces
// ("a=1&&b=2", a trailing '&') are skipped. Nothing is decoded or allocated:
//     for (auto [name, value] : tether::http::query_params(split_target(target).query)) ...
class query_params {
public:
    constexpr explicit query_params(std::string_view query) noexcept : query_(query) {}

    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = query_param;
        using difference_type = std::ptrdiff_t;
        using pointer = const query_param*;
        using reference = const query_param&;

        constexpr iterator() noexcept = default;

        constexpr reference operator*() const noexcept { return current_; }
        constexpr pointer operator->() const noexcept { return &current_; }
        constexpr iterator& operator++() noexcept {
            advance();
            return *this;
        }
        constexpr iterator operator++(int) noexcept {
            iterator old = *this;
            advance();
            return old;
        }
        // Iterators compare by position; the end iterator has rest_ == nullptr.
        friend constexpr bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.rest_.data() == b.rest_.data() && a.current_.name.data() == b.current_.name.data();
        }

    private:
        friend class query_params;
        constexpr explicit iterator(std::string_view query) noexcept : rest_(query) {
            if (rest_.data() == nullptr) rest_ = std::string_view("", 0);
            advance();
        }

        constexpr void advance() noexcept {
            for (;;) {
                if (rest_.empty()) {
                    *this = iterator{};
                    return;
                }
                const auto amp = rest_.find('&');
                const std::string_view piece = rest_.substr(0, amp);
                rest_ = (amp == std::string_view::npos) ? rest_.substr(rest_.size()) : rest_.substr(amp + 1);
                if (piece.empty()) continue;
                // rest_ may be empty here but its data() stays non-null, which tells this pair from end().
                const auto eq = piece.find('=');
                if (eq == std::string_view::npos)
                    current_ = {piece, piece.substr(piece.size())};
                else
                    current_ = {piece.substr(0, eq), piece.substr(eq + 1)};
                return;
            }
        }

        std::string_view rest_;
        query_param current_;
    };

    constexpr iterator begin() const noexcept { return iterator(query_); }
    constexpr iterator end() const noexcept { return iterator{}; }

private:
    std::string_view query_;
};

// Calls f(name, value) for each raw pair; stops early if f returns false (when f returns bool).
template <class F>
constexpr void for_each_query_param(std::string_view query, F&& f) {
    for (const query_param& p : query_params(query)) {
        if constexpr (std::is_same_v<decltype(f(p.name, p.value)), bool>) {
            if (!f(p.name, p.value)) return;
        } else {
            f(p.name, p.value);
        }
    }
}

// The decoded value of the first parameter whose decoded name equals name, or nullopt when absent.
// Decoding is lenient ('+' is a space, a malformed escape stays literal), as URLSearchParams.get() does.
inline std::optional<std::string> find_query_param(std::string_view query, std::string_view name) {
    std::string decoded_name;
    for (const query_param& p : query_params(query)) {
        std::string_view candidate = p.name;
        if (detail::needs_decoding(candidate, true)) {
            decoded_name.clear();
            detail::decode_append(decoded_name, candidate, true, false);
            candidate = decoded_name;
        }
        if (candidate != name) continue;
        std::string value;
        value.reserve(p.value.size());
        detail::decode_append(value, p.value, true, false);
        return value;
    }
    return std::nullopt;
}

/// The items of a comma-separated query value (`?topics=a,b,c`), in order, without empty items or
/// repeats. nullopt when there are more than `max_items` distinct ones: the caller answers 400 rather
/// than serving a prefix. Views into `text`.
inline std::optional<std::vector<std::string_view>> split_list(std::string_view text, std::size_t max_items) {
    std::vector<std::string_view> items;
    while (!text.empty()) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (item.empty()) continue;
        bool repeat = false;
        for (auto n : items) repeat = repeat || n == item;
        if (repeat) continue;
        if (items.size() == max_items) return std::nullopt;
        items.push_back(item);
    }
    return items;
}

} // namespace tether::http
