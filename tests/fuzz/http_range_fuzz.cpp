// libFuzzer target for the static-file request parsers: range.hpp, path.hpp, the HTTP-date
// parser in date.hpp, the entity-tag lists in etag.hpp, conditional.hpp and Accept-Encoding.
// All of them read request fields straight off the network. Input: "<size>\n<field value>",
// where <size> (decimal) is the representation size the Range is evaluated against; the whole
// input also goes to the path, date and entity-tag parsers. Invariants, beyond not crashing:
// - a satisfiable Range yields 1..max_ranges ranges, each first <= last < size; the other
//   outcomes yield none;
// - a normalized path has no empty, "." or ".." segment, no leading or trailing '/', no NUL or
//   backslash, no dot-name unless allowed, and normalizing its URL encoding gives it back;
// - a parsed HTTP-date formats back (IMF-fixdate) to a text that parses to the same time;
// - qvalues stay within 0..1000.
#include <tether/http/conditional.hpp>
#include <tether/http/date.hpp>
#include <tether/http/path.hpp>
#include <tether/http/range.hpp>
#include <tether/http/static_files.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_range(std::string_view field, std::uint64_t size) {
    using namespace tether::http;
    const range_result r = parse_range(field, size);
    if (r.status != range_status::satisfiable) {
        check(r.ranges.empty());
        return;
    }
    check(!r.ranges.empty() && r.ranges.size() <= max_ranges);
    for (const byte_range& b : r.ranges) {
        check(b.first <= b.last && b.last < size);
        check(b.length() >= 1 && b.length() <= size);
        check(content_range(b, size).starts_with("bytes "));
    }
}

void check_path(std::string_view in, bool dotfiles) {
    using namespace tether::http;
    const normalized_path p = normalize_url_path(in, {.allow_dotfiles = dotfiles});
    if (!p) {
        check(p.relative.empty());
        return;
    }
    std::string_view rel = p.relative;
    check(!rel.starts_with('/') && !rel.ends_with('/'));
    check(rel.find('\0') == std::string_view::npos && rel.find('\\') == std::string_view::npos);
    check(rel.size() <= in.size());   // decoding and removing segments never grows the text
    while (!rel.empty()) {
        const auto slash = rel.find('/');
        const std::string_view segment = rel.substr(0, slash);
        check(!segment.empty() && segment != "." && segment != "..");
        if (!dotfiles) check(segment.front() != '.');
        if (slash == std::string_view::npos) break;
        rel.remove_prefix(slash + 1);
    }
    // Normalizing is idempotent through the URL encoding a redirect would use (whose escapes
    // may triple the length, hence the raised limit).
    const std::string encoded = encode_url_path(p.relative);
    const normalized_path again = normalize_url_path(encoded, {.allow_dotfiles = dotfiles, .max_length = encoded.size()});
    check(again && again.relative == p.relative);
}

void check_date(std::string_view in) {
    using namespace tether::http;
    constexpr std::time_t now = 1795000000;   // fixed, so a crash reproduces
    const auto t = parse_http_date(in, now);
    if (!t) return;
    // Years 0000..9999, plus a leap second at the very end ("31 Dec 9999 23:59:60").
    constexpr std::time_t year_0 = -62167219200, year_10000 = 253402300800;
    check(*t >= year_0 && *t <= year_10000);
    if (*t < year_10000) {   // four-digit years format back as IMF-fixdate
        std::array<char, 32> buffer{};
        check(parse_http_date(date_cache::format(*t, buffer), now) == t);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    // "<size>\n<field>"; without a newline the whole input is the field and the size is 1000.
    std::uint64_t representation_size = 1000;
    std::string_view field = in;
    if (const auto nl = in.find('\n'); nl != std::string_view::npos) {
        representation_size = 0;
        for (char c : in.substr(0, nl)) {
            if (c < '0' || c > '9') break;
            const auto digit = static_cast<std::uint64_t>(c - '0');
            representation_size = representation_size > (std::numeric_limits<std::uint64_t>::max() - digit) / 10
                                      ? std::numeric_limits<std::uint64_t>::max()
                                      : representation_size * 10 + digit;
        }
        field = in.substr(nl + 1);
    }
    check_range(field, representation_size);
    check_range(in, representation_size);

    check_path(in, false);
    check_path(in, true);
    check_path(field, false);

    check_date(in);
    check_date(field);

    using namespace tether::http;
    const validators v{"\"abc\"", 784111777, true};
    precondition_fields f{field, field, field, field, field};
    (void)evaluate_preconditions(method::get, f, v);
    (void)evaluate_preconditions(method::put, {.if_match = in}, v);
    (void)if_range_allows(field, v, 1795000000);
    (void)etag_list_matches_weak(in, "\"abc\"");

    const accepted_encodings a = parse_accept_encoding(field);
    check(a.br >= 0 && a.br <= 1000 && a.gzip >= 0 && a.gzip <= 1000 && a.identity >= 0 && a.identity <= 1000);
    (void)is_content_hashed_name(field);
    (void)mime_type_for(field);
    return 0;
}
