#pragma once
// Entity-tag comparison for conditional requests (RFC 9110 §8.8.3, §13.1.2).
#include <string_view>

#include <tether/http/char_class.hpp>

namespace tether::http {

// Weak comparison (what If-None-Match uses, §13.1.2): equal opaque tags, W/ ignored.
inline bool etag_weak_equal(std::string_view a, std::string_view b) noexcept {
    if (a.starts_with("W/")) a.remove_prefix(2);
    if (b.starts_with("W/")) b.remove_prefix(2);
    return a == b;
}

// True when an If-None-Match field value ("*" or a list of entity tags) matches `etag`.
inline bool etag_list_matches(std::string_view field_value, std::string_view etag) {
    bool matched = false;
    detail::for_each_list_element(field_value, [&](std::string_view tag) {
        matched = tag == "*" || etag_weak_equal(tag, etag);
        return !matched;
    });
    return matched;
}

} // namespace tether::http
