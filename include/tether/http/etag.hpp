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

// Strong comparison (If-Match, If-Range, §8.8.3.2): both tags strong and identical.
inline bool etag_strong_equal(std::string_view a, std::string_view b) noexcept {
    return !a.starts_with("W/") && !b.starts_with("W/") && a == b;
}

// Whether `tag` is one entity-tag: [ "W/" ] DQUOTE *etagc DQUOTE, etagc being %x21 / %x23-7E /
// obs-text (§8.8.3).
inline bool is_entity_tag(std::string_view tag) noexcept {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return false;
    for (char c : tag.substr(1, tag.size() - 2)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x22 || u == 0x7f) return false;
    }
    return true;
}

// Calls f(tag) for each element of an If-Match / If-None-Match list: "*" or entity-tags
// (§13.1.1, §13.1.2). Unlike the generic list walk it honours quotes, because a comma is a
// legal etagc byte ("\"a,b\"" is one tag). A malformed element is passed on as it is (it then
// matches nothing); stops early when f returns false.
template <class F>
void for_each_entity_tag(std::string_view list, F&& f) {
    std::size_t i = 0;
    while (i < list.size()) {
        while (i < list.size() && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) ++i;
        if (i == list.size()) break;
        std::size_t start = i;
        if (list.compare(i, 2, "W/") == 0) i += 2;
        if (i < list.size() && list[i] == '"') {
            auto close = list.find('"', i + 1);
            i = close == std::string_view::npos ? list.size() : close + 1;
        }
        while (i < list.size() && list[i] != ',') ++i;   // the rest of a malformed element
        if (!f(detail::trim_ows(list.substr(start, i - start)))) return;
    }
}

// If-Match semantics (§13.1.1): true for "*" or a strongly equal tag in the list.
inline bool etag_list_matches_strong(std::string_view field_value, std::string_view etag) {
    bool matched = false;
    for_each_entity_tag(field_value, [&](std::string_view tag) {
        matched = tag == "*" || (is_entity_tag(tag) && etag_strong_equal(tag, etag));
        return !matched;
    });
    return matched;
}

// If-None-Match semantics (§13.1.2) with quote-aware list splitting: true for "*" or a weakly
// equal tag in the list.
inline bool etag_list_matches_weak(std::string_view field_value, std::string_view etag) {
    bool matched = false;
    for_each_entity_tag(field_value, [&](std::string_view tag) {
        matched = tag == "*" || (is_entity_tag(tag) && etag_weak_equal(tag, etag));
        return !matched;
    });
    return matched;
}

// If-None-Match as short polling and the served client script use it.
inline bool etag_list_matches(std::string_view field_value, std::string_view etag) {
    return etag_list_matches_weak(field_value, etag);
}

} // namespace tether::http
