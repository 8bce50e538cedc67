#pragma once
// Conditional requests (RFC 9110 §13): given the request's precondition fields and the
// selected representation's validators, what the server must answer.
//
// Pure functions over field values, so the precedence rules are testable as a table without a
// server. evaluate_preconditions() is §13.2.2's algorithm step by step; if_range_allows()
// is its step 5. Field values that are not valid (a malformed date) are ignored, as each
// field's section requires, never treated as matching.
#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

#include <tether/http/date.hpp>
#include <tether/http/etag.hpp>
#include <tether/http/method.hpp>
#include <tether/http/request.hpp>

namespace tether::http {

// What the server knows about the selected representation (§8.8).
struct validators {
    std::string_view etag{};                  // the ETag field value it would send, e.g. "\"1f-5e1a\""; empty: none
    std::optional<std::time_t> last_modified; // the Last-Modified it would send; nullopt: none
    bool exists = true;                       // a current representation exists ("*" matches it)
};

// The request's precondition fields; absent ones are nullopt.
struct precondition_fields {
    std::optional<std::string_view> if_match{}, if_none_match{}, if_modified_since{}, if_unmodified_since{}, if_range{};

    static precondition_fields from(const request& req) {
        return {req.header("if-match"), req.header("if-none-match"), req.header("if-modified-since"),
                req.header("if-unmodified-since"), req.header("if-range")};
    }
};

enum class precondition_outcome : std::uint8_t {
    proceed,              // perform the method (and then consider Range with if_range_allows)
    not_modified,         // 304 (GET/HEAD only)
    precondition_failed,  // 412
};

// RFC 9110 §13.2.2, in its order:
//  1. If-Match present: false -> 412.
//  2. else If-Unmodified-Since present (and a valid date): false -> 412.
//  3. If-None-Match present: false -> 304 for GET/HEAD, 412 otherwise.
//  4. else, for GET/HEAD, If-Modified-Since present (and a valid date): false -> 304.
// (A server MAY answer 2xx instead of 412 when a state-changing request appears already applied,
// §13.1.1; that needs knowledge of the change, so the caller decides it, not this function.)
inline precondition_outcome evaluate_preconditions(method m, const precondition_fields& f, const validators& v) {
    const bool get_or_head = m == method::get || m == method::head;

    if (f.if_match) {   // §13.1.1
        // "*" matches any current representation; a tag list, only by strong comparison.
        if (!v.exists || !etag_list_matches_strong(*f.if_match, v.etag))
            return precondition_outcome::precondition_failed;
    } else if (f.if_unmodified_since && v.last_modified) {   // §13.1.4: ignored with If-Match, or without a date
        if (auto date = parse_http_date(*f.if_unmodified_since))
            if (*v.last_modified > *date) return precondition_outcome::precondition_failed;
    }

    if (f.if_none_match) {   // §13.1.2: weak comparison
        if (v.exists && etag_list_matches_weak(*f.if_none_match, v.etag))
            return get_or_head ? precondition_outcome::not_modified : precondition_outcome::precondition_failed;
    } else if (get_or_head && f.if_modified_since && v.last_modified) {   // §13.1.3: ignored with If-None-Match
        if (auto date = parse_http_date(*f.if_modified_since))
            if (*v.last_modified <= *date) return precondition_outcome::not_modified;
    }
    return precondition_outcome::proceed;
}

// §13.1.5: whether a Range may be honoured given If-Range (true when the field is absent). An
// entity-tag must match the current one by strong comparison (a weak tag never matches); a date
// must equal Last-Modified exactly and be a strong validator, which §8.8.2.2 grants only when
// it is at least one second older than the response's Date (`now`): two changes within the
// same second share a Last-Modified.
inline bool if_range_allows(std::optional<std::string_view> if_range, const validators& v,
                            std::time_t now = std::time(nullptr)) {
    if (!if_range) return true;
    std::string_view value = detail::trim_ows(*if_range);
    if (value.starts_with("W/") || value.starts_with("\"")) return !v.etag.empty() && etag_strong_equal(value, v.etag);
    auto date = parse_http_date(value);
    return date && v.last_modified && *date == *v.last_modified && *v.last_modified + 1 <= now;
}

} // namespace tether::http
