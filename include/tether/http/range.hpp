#pragma once
// The Range request field (RFC 9110 §14.2) in bytes, evaluated against a representation's size.
//
// Three outcomes, as the RFC has them: `ignored` (no Range, another unit, or a value that does
// not parse: §14.2 lets a server ignore an invalid ranges-specifier, and then it answers 200
// with the whole representation), `unsatisfiable` (valid, but no range overlaps the content:
// 416 with "Content-Range: bytes */size", §15.5.17), and `satisfiable` (206).
//
// Numbers saturate instead of overflowing: "bytes=0-99999999999999999999999" is a valid request
// for everything from 0, and a first-pos that large is simply beyond the end.
//
// Serving several ranges is the caller's choice (static_files.hpp answers one range with 206
// and several with 200 and the whole file, which §14.2 allows); the parser returns each
// satisfiable range clipped to the content, in request order, and refuses to enumerate more
// than max_ranges (a classic amplification: "bytes=0-,0-,0-,..." asks for the file N times).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/char_class.hpp>

namespace tether::http {

struct byte_range {
    std::uint64_t first = 0;   // inclusive
    std::uint64_t last = 0;    // inclusive, < size
    std::uint64_t length() const noexcept { return last - first + 1; }
    friend bool operator==(const byte_range&, const byte_range&) = default;
};

enum class range_status : std::uint8_t { ignored, satisfiable, unsatisfiable };

struct range_result {
    range_status status = range_status::ignored;
    std::vector<byte_range> ranges;   // the satisfiable ones, clipped; empty unless satisfiable
};

inline constexpr std::size_t max_ranges = 64;

namespace detail {

// 1*DIGIT, saturating at the maximum.
inline bool parse_range_number(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty()) return false;
    out = 0;
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        out = out > (max - digit) / 10 ? max : out * 10 + digit;
    }
    return true;
}

} // namespace detail

// Evaluates a Range field value (without the "Range:" name) against a representation of `size`
// bytes.
inline range_result parse_range(std::string_view field_value, std::uint64_t size) {
    range_result result;
    std::string_view value = detail::trim_ows(field_value);
    // range-unit is case-insensitive (§14.1); no whitespace around '=' in the grammar.
    if (value.size() < 6 || !detail::iequals(value.substr(0, 6), "bytes=")) return result;
    value.remove_prefix(6);

    std::size_t specs = 0;
    bool valid = true, empty_suffix = false;
    std::vector<byte_range> satisfiable;
    detail::for_each_list_element(value, [&](std::string_view spec) {
        if (++specs > max_ranges) return valid = false;
        auto dash = spec.find('-');
        if (dash == std::string_view::npos) return valid = false;
        std::string_view first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
        std::uint64_t first = 0, last = 0;
        if (first_text.empty()) {   // suffix-range "-N": the last N bytes
            if (!detail::parse_range_number(last_text, last)) return valid = false;
            if (last == 0) return true;   // a zero suffix-length is unsatisfiable (§14.1.1)
            // §14.1.1 calls this satisfiable on empty content, but an empty range has no
            // first-last form for Content-Range: answer the (empty) whole representation.
            if (size == 0) return empty_suffix = true;
            satisfiable.push_back({last >= size ? 0 : size - last, size - 1});
            return true;
        }
        if (!detail::parse_range_number(first_text, first)) return valid = false;
        if (last_text.empty()) {
            last = std::numeric_limits<std::uint64_t>::max();   // open-ended "N-"
        } else {
            if (!detail::parse_range_number(last_text, last)) return valid = false;
            if (last < first) return valid = false;   // §14.1.1: invalid
        }
        if (first >= size) return true;   // unsatisfiable, but not invalid
        satisfiable.push_back({first, last >= size ? size - 1 : last});
        return true;
    });
    if (!valid || specs == 0 || empty_suffix) return result;
    if (satisfiable.empty()) {
        result.status = range_status::unsatisfiable;
        return result;
    }
    result.status = range_status::satisfiable;
    result.ranges = std::move(satisfiable);
    return result;
}

// "bytes 0-99/1234" for a 206, and "bytes */1234" for a 416 (§14.4).
inline std::string content_range(const byte_range& r, std::uint64_t size) {
    return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" + std::to_string(size);
}
inline std::string content_range_unsatisfied(std::uint64_t size) { return "bytes */" + std::to_string(size); }

} // namespace tether::http
