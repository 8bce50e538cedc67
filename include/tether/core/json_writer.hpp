#pragma once
// tether::json::writer — a streaming JSON writer that appends to the caller's std::string.
//
// Why not a DOM or a generic serializer: handlers and the hub produce JSON once and send it, often into a
// buffer that already holds an HTTP head or an SSE "data:" prefix. Appending to the caller's buffer avoids a
// copy and an allocation per message; a tiny state machine (one bit per open container, depth <= 64) adds
// the commas and catches misuse for the price of a couple of branches per token.
//
// Choices, each visible in the tests (tests/unit/json_writer_test.cpp):
// - Strings are escaped per RFC 8259 §7: '"', '\\' and every control character below U+0020 (the short forms
//   \b \f \n \r \t where they exist, \u00XX otherwise). U+2028 and U+2029 are escaped too, although JSON
//   allows them raw, because they end a line in JavaScript before ES2019 and the output may be embedded in
//   a <script> element.
// - Invalid UTF-8 in an input string is replaced with U+FFFD, one per "maximal subpart" of an ill-formed
//   sequence (Unicode §3.9, the same rule as WHATWG's decoder, i.e. what a browser would show). RFC 8259
//   §8.1 requires JSON text exchanged between systems to be UTF-8; we never emit anything else.
// - NaN and infinities have no JSON representation (RFC 8259 §6): value() throws std::invalid_argument
//   rather than write null, because silently changing data hides bugs; check std::isfinite first, or write
//   null yourself, if your data can hold them.
// - Numbers use std::to_chars: integers exactly, double and float as the shortest text that reads back to
//   the same value (so 0.1f is written "0.1", not "0.10000000149011612"); magnitudes from 1e16 up always
//   in exponent form ("1.7371808993903354e+19"), so no reader mistakes them for a 64-bit integer.
// - Misuse (a value without a key inside an object, a key inside an array, an unbalanced end, a second
//   top-level value, nesting deeper than max_depth) throws tether::json::writer_error before anything is
//   appended, so the buffer always holds a prefix of valid JSON.
#include <bit>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace tether::json {

// Thrown on writer misuse; a logic_error because it is a bug in the calling code, not bad input.
class writer_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

namespace detail {

// Bytes that end a run of characters copied verbatim: '"', '\\', C0 controls, and every non-ASCII byte
// (which goes through the UTF-8 check).
constexpr bool needs_escape(unsigned char c) noexcept { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

// Eight bytes at a time: true if any byte needs attention. Exact (no false negatives) by the classic
// "has byte less than n" / "has zero byte" bit tricks; a false positive only costs the byte loop.
inline bool block_needs_escape(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t high = 0x8080808080808080ULL;
    const std::uint64_t below_space = (w - ones * 0x20) & ~w;
    const std::uint64_t q = w ^ (ones * '"');
    const std::uint64_t b = w ^ (ones * '\\');
    const std::uint64_t is_quote = (q - ones) & ~q;
    const std::uint64_t is_backslash = (b - ones) & ~b;
    return ((below_space | is_quote | is_backslash | w) & high) != 0;
}

// Length of the well-formed UTF-8 sequence at p (1..4), or 0 with *bad set to the length of the maximal
// subpart to replace with one U+FFFD. Ranges from Unicode Table 3-7 (RFC 3629 §4): they exclude overlong
// forms, the surrogates U+D800..U+DFFF and code points above U+10FFFF.
inline std::size_t utf8_sequence(const unsigned char* p, std::size_t avail, std::size_t* bad) noexcept {
    const unsigned char c = p[0];
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    std::size_t i = 1;
    for (; i < len && i < avail; ++i) {
        const unsigned char ci = p[i];
        const bool ok = (i == 1) ? (ci >= lo && ci <= hi) : (ci >= 0x80 && ci <= 0xBF);
        if (!ok) break;
    }
    if (i == len) return len;
    *bad = i;
    return 0;
}

} // namespace detail

// Appends s to out escaped for the inside of a JSON string (no surrounding quotes). Useful on its own for
// SSE data lines and error bodies.
inline void escape(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    const char* const data = s.data();
    const std::size_t n = s.size();
    std::size_t i = 0;
    std::size_t run = 0; // start of the pending verbatim run
    while (i < n) {
        while (i + 8 <= n && !detail::block_needs_escape(data + i)) i += 8;
        while (i < n && !detail::needs_escape(static_cast<unsigned char>(data[i]))) ++i;
        if (i == n) break;
        const auto c = static_cast<unsigned char>(data[i]);
        if (c >= 0x80) {
            std::size_t bad = 0;
            const auto* u = reinterpret_cast<const unsigned char*>(data + i);
            const std::size_t len = detail::utf8_sequence(u, n - i, &bad);
            if (len == 0) {
                out.append(data + run, i - run);
                out.append("\xEF\xBF\xBD"); // U+FFFD REPLACEMENT CHARACTER
                i += bad;
                run = i;
            } else if (len == 3 && c == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9)) {
                out.append(data + run, i - run);
                out.append(u[2] == 0xA8 ? "\\u2028" : "\\u2029");
                i += 3;
                run = i;
            } else {
                i += len; // valid: stays in the verbatim run
            }
            continue;
        }
        out.append(data + run, i - run);
        switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            default: {
                const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                out.append(u, sizeof u);
            }
        }
        ++i;
        run = i;
    }
    out.append(data + run, n - run);
}

// Appends s as a complete JSON string, quotes included.
inline void escape_quoted(std::string& out, std::string_view s) {
    out.push_back('"');
    escape(out, s);
    out.push_back('"');
}

template <class T>
concept character_type = std::same_as<std::remove_cv_t<T>, char> || std::same_as<std::remove_cv_t<T>, signed char> ||
                         std::same_as<std::remove_cv_t<T>, unsigned char> ||
                         std::same_as<std::remove_cv_t<T>, wchar_t> || std::same_as<std::remove_cv_t<T>, char8_t> ||
                         std::same_as<std::remove_cv_t<T>, char16_t> || std::same_as<std::remove_cv_t<T>, char32_t>;

// Integers written as numbers. bool is excluded (it has its own overload) and so are the character types:
// value('a') writing 97 would surprise; write value(std::string_view(&c, 1)) or value(int{c}) instead.
// (signed/unsigned char are the int8_t/uint8_t of most platforms; value(int{x}) makes the intent clear.)
template <class T>
concept json_integer = std::integral<T> && !std::same_as<std::remove_cv_t<T>, bool> && !character_type<T>;

class writer {
public:
    static constexpr int max_depth = 64;

    explicit writer(std::string& out) noexcept : out_(&out) {}

    writer& begin_object() {
        check_depth();
        before_value();
        push(true);
        out_->push_back('{');
        return *this;
    }
    writer& end_object() {
        pop(true);
        out_->push_back('}');
        return *this;
    }
    writer& begin_array() {
        check_depth();
        before_value();
        push(false);
        out_->push_back('[');
        return *this;
    }
    writer& end_array() {
        pop(false);
        out_->push_back(']');
        return *this;
    }

    // Member name inside an object (RFC 8259 §4). Escaped like any string.
    writer& key(std::string_view name) {
        if (depth_ == 0 || !in_object()) throw writer_error("tether::json::writer: key() outside an object");
        if (after_key_) throw writer_error("tether::json::writer: key() after key() without a value");
        if (!first_) out_->push_back(',');
        escape_quoted(*out_, name);
        out_->push_back(':');
        after_key_ = true;
        return *this;
    }

    writer& value(std::string_view s) {
        before_value();
        escape_quoted(*out_, s);
        return *this;
    }
    // Exact match for string literals, so they do not convert to bool. A null pointer writes null.
    writer& value(const char* s) { return s ? value(std::string_view(s)) : value(nullptr); }
    writer& value(bool b) {
        before_value();
        out_->append(b ? "true" : "false");
        return *this;
    }
    writer& value(std::nullptr_t) {
        before_value();
        out_->append("null");
        return *this;
    }
    template <json_integer T>
    writer& value(T v) {
        before_value();
        char buf[48];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_->append(buf, r.ptr);
        return *this;
    }
    writer& value(double v) { return floating(v); }
    writer& value(float v) { return floating(v); }
    // Pointers other than const char* would silently convert to bool.
    template <class T>
        requires(!std::same_as<std::remove_cv_t<T>, char>)
    writer& value(T*) = delete;
    writer& value(char) = delete; // see json_integer

    // Appends pre-encoded JSON as one value, unchecked: the caller vouches that it is a valid JSON value.
    writer& raw(std::string_view json) {
        before_value();
        out_->append(json);
        return *this;
    }

    // Convenience for the common "key, then value" pair.
    template <class T>
    writer& member(std::string_view name, T&& v) {
        key(name);
        return value(std::forward<T>(v));
    }

    // True once exactly one top-level value has been written and every container is closed.
    [[nodiscard]] bool complete() const noexcept { return depth_ == 0 && !first_; }
    [[nodiscard]] int depth() const noexcept { return depth_; }
    [[nodiscard]] std::string& buffer() const noexcept { return *out_; }

private:
    template <class F>
    writer& floating(F v) {
        if (!std::isfinite(v))
            throw std::invalid_argument("tether::json::writer: NaN and infinity cannot be written as JSON "
                                        "numbers (RFC 8259 §6)");
        before_value();
        char buf[64];
        // Shortest round-trip text. From 1e16 up, the shortest form may be a long run of integer digits
        // ("17371808993903353856") that some readers (simdjson 3.0.1 among them) reject or read as an
        // out-of-range integer, so large magnitudes are always written in exponent form.
        const auto r = (v >= F(1e16) || v <= F(-1e16))
                           ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific)
                           : std::to_chars(buf, buf + sizeof buf, v);
        out_->append(buf, r.ptr);
        return *this;
    }

    [[nodiscard]] bool in_object() const noexcept { return (kinds_ >> (depth_ - 1)) & 1U; }

    // Validates the position for a value and writes the separating comma; appends nothing if it throws.
    void before_value() {
        if (depth_ == 0) {
            if (!first_) throw writer_error("tether::json::writer: more than one top-level value");
        } else if (in_object()) {
            if (!after_key_) throw writer_error("tether::json::writer: value inside an object needs a key() first");
        } else if (!first_) {
            out_->push_back(',');
        }
        first_ = false;
        after_key_ = false;
    }

    void check_depth() const {
        if (depth_ == max_depth) throw writer_error("tether::json::writer: nesting deeper than 64 levels");
    }

    void push(bool object) {
        if (object)
            kinds_ |= std::uint64_t{1} << depth_;
        else
            kinds_ &= ~(std::uint64_t{1} << depth_);
        ++depth_;
        first_ = true;
    }

    void pop(bool object) {
        const char* name = object ? "end_object()" : "end_array()";
        if (depth_ == 0) throw writer_error(std::string("tether::json::writer: ") + name + " with no open container");
        if (in_object() != object)
            throw writer_error(std::string("tether::json::writer: ") + name + " closes an " +
                               (object ? "array" : "object"));
        if (after_key_) throw writer_error("tether::json::writer: end_object() right after key(), value missing");
        --depth_;
        first_ = false; // the closed container was a value of its parent
    }

    std::string* out_;
    std::uint64_t kinds_ = 0; // bit d set: the container at depth d is an object
    int depth_ = 0;
    bool first_ = true;      // nothing written yet at the current level
    bool after_key_ = false; // inside an object, a key was written and its value is due
};

} // namespace tether::json
