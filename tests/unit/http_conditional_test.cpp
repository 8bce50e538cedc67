// Conditional requests (include/tether/http/conditional.hpp, etag.hpp, date.hpp): each
// precondition on its own, then RFC 9110 §13.2.2's precedence between them, then If-Range and
// the three HTTP-date forms.
#include <catch2/catch.hpp>

#include <ctime>
#include <optional>
#include <string_view>

#include <tether/http/conditional.hpp>

using namespace tether::http;

namespace {

// 1994-11-06T08:49:37Z, RFC 9110's example date.
constexpr std::time_t example_time = 784111777;
constexpr std::string_view example_date = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view earlier_date = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr std::string_view later_date = "Sun, 06 Nov 1994 08:49:38 GMT";

const validators current{"\"abc\"", example_time, true};

precondition_outcome eval(method m, precondition_fields f, const validators& v = current) {
    return evaluate_preconditions(m, f, v);
}

} // namespace

// ---- dates ----------------------------------------------------------------------------------

TEST_CASE("conditional: HTTP-date: IMF-fixdate parses") {
    CHECK(parse_http_date(example_date) == example_time);
    CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == std::time_t{0});
    CHECK(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT") == std::time_t{951825600});
}

TEST_CASE("conditional: HTTP-date: the obsolete rfc850 form parses, with its two-digit year windowed") {
    const std::time_t now_2026 = 1795000000;   // in 2026
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now_2026) == example_time);
    // 2077-01-01 is more than 50 years after November 2026: "77" means 1977.
    CHECK(parse_http_date("Saturday, 01-Jan-77 00:00:00 GMT", now_2026) == std::time_t{220924800});
    // 2076-01-01 is less than 50 years ahead: "76" means 2076.
    CHECK(parse_http_date("Wednesday, 01-Jan-76 00:00:00 GMT", now_2026) == std::time_t{3345062400});
    // "30" is within 50 years: 2030.
    CHECK(parse_http_date("Tuesday, 01-Jan-30 00:00:00 GMT", now_2026) == std::time_t{1893456000});
}

TEST_CASE("conditional: HTTP-date: the obsolete asctime form parses") {
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == example_time);
    CHECK(parse_http_date("Sun Nov 16 08:49:37 1994") == example_time + 10 * 86400);
}

TEST_CASE("conditional: HTTP-date: anything else is not a date") {
    CHECK_FALSE(parse_http_date(""));
    CHECK_FALSE(parse_http_date("yesterday"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT "));   // trailing bytes
    CHECK_FALSE(parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT"));     // one-digit day in IMF-fixdate
    CHECK_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));    // no such day
    CHECK_FALSE(parse_http_date("Sun, 29 Feb 1900 08:49:37 GMT"));    // 1900 is no leap year
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:60:00 GMT"));
    CHECK_FALSE(parse_http_date("Sun, 06 nov 1994 08:49:37 GMT"));    // names are case-sensitive
    CHECK_FALSE(parse_http_date("Sun Nov 6 08:49:37 1994"));          // asctime pads the day with a space
    CHECK_FALSE(parse_http_date("Sunday, 06-Nov-1994 08:49:37 GMT"));
}

TEST_CASE("conditional: HTTP-date: what date_cache formats parses back") {
    std::array<char, 32> buffer{};
    for (std::time_t t : {std::time_t{0}, example_time, std::time_t{1700000000}, std::time_t{4102444799}})
        CHECK(parse_http_date(date_cache::format(t, buffer)) == t);
}

// ---- entity tags ----------------------------------------------------------------------------

TEST_CASE("conditional: entity tags: weak comparison ignores W/, strong comparison needs both strong") {
    CHECK(etag_weak_equal("\"a\"", "\"a\""));
    CHECK(etag_weak_equal("W/\"a\"", "\"a\""));
    CHECK(etag_weak_equal("W/\"a\"", "W/\"a\""));
    CHECK_FALSE(etag_weak_equal("\"a\"", "\"b\""));
    CHECK(etag_strong_equal("\"a\"", "\"a\""));
    CHECK_FALSE(etag_strong_equal("W/\"a\"", "\"a\""));
    CHECK_FALSE(etag_strong_equal("W/\"a\"", "W/\"a\""));
}

TEST_CASE("conditional: entity-tag lists honour quotes, so a comma inside a tag does not split it") {
    CHECK(etag_list_matches_weak("\"x\", \"a,b\"", "\"a,b\""));
    CHECK_FALSE(etag_list_matches_weak("\"a,b\"", "\"a\""));
    CHECK(etag_list_matches_strong("\"x\",\"abc\"", "\"abc\""));
    CHECK(etag_list_matches_weak("*", "\"anything\""));
    CHECK_FALSE(etag_list_matches_weak("abc", "abc"));   // not an entity-tag: matches nothing
}

// ---- each precondition alone ------------------------------------------------------------------

TEST_CASE("conditional: If-Match: true for '*' or a strongly matching tag, else 412") {
    CHECK(eval(method::put, {.if_match = "*"}) == precondition_outcome::proceed);
    CHECK(eval(method::put, {.if_match = "\"abc\""}) == precondition_outcome::proceed);
    CHECK(eval(method::put, {.if_match = "\"x\", \"abc\""}) == precondition_outcome::proceed);
    CHECK(eval(method::put, {.if_match = "\"x\""}) == precondition_outcome::precondition_failed);
    CHECK(eval(method::put, {.if_match = "W/\"abc\""}) == precondition_outcome::precondition_failed);
    CHECK(eval(method::get, {.if_match = "\"x\""}) == precondition_outcome::precondition_failed);
    validators weak{"W/\"abc\"", example_time, true};
    CHECK(eval(method::put, {.if_match = "W/\"abc\""}, weak) == precondition_outcome::precondition_failed);
    validators none{"", std::nullopt, false};
    CHECK(eval(method::put, {.if_match = "*"}, none) == precondition_outcome::precondition_failed);
}

TEST_CASE("conditional: If-Unmodified-Since: 412 when modified after the date; ignored when not a date") {
    CHECK(eval(method::put, {.if_unmodified_since = example_date}) == precondition_outcome::proceed);
    CHECK(eval(method::put, {.if_unmodified_since = later_date}) == precondition_outcome::proceed);
    CHECK(eval(method::put, {.if_unmodified_since = earlier_date}) == precondition_outcome::precondition_failed);
    CHECK(eval(method::put, {.if_unmodified_since = "not a date"}) == precondition_outcome::proceed);
    validators no_date{"\"abc\"", std::nullopt, true};
    CHECK(eval(method::put, {.if_unmodified_since = earlier_date}, no_date) == precondition_outcome::proceed);
}

TEST_CASE("conditional: If-None-Match: weak comparison; 304 for GET/HEAD, 412 for other methods") {
    CHECK(eval(method::get, {.if_none_match = "\"abc\""}) == precondition_outcome::not_modified);
    CHECK(eval(method::head, {.if_none_match = "\"abc\""}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_none_match = "W/\"abc\""}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_none_match = "\"x\", W/\"abc\""}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_none_match = "*"}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_none_match = "\"x\""}) == precondition_outcome::proceed);
    CHECK(eval(method::put, {.if_none_match = "\"abc\""}) == precondition_outcome::precondition_failed);
    CHECK(eval(method::put, {.if_none_match = "*"}) == precondition_outcome::precondition_failed);
    validators none{"", std::nullopt, false};
    CHECK(eval(method::put, {.if_none_match = "*"}, none) == precondition_outcome::proceed);   // create-only PUT
}

TEST_CASE("conditional: If-Modified-Since: 304 when not modified since, for GET and HEAD only") {
    CHECK(eval(method::get, {.if_modified_since = example_date}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_modified_since = later_date}) == precondition_outcome::not_modified);
    CHECK(eval(method::head, {.if_modified_since = example_date}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_modified_since = earlier_date}) == precondition_outcome::proceed);
    CHECK(eval(method::post, {.if_modified_since = example_date}) == precondition_outcome::proceed);
    CHECK(eval(method::get, {.if_modified_since = "garbage"}) == precondition_outcome::proceed);
    CHECK(eval(method::get, {.if_modified_since = "Sunday, 06-Nov-94 08:49:37 GMT"}) == precondition_outcome::not_modified);
    CHECK(eval(method::get, {.if_modified_since = "Sun Nov  6 08:49:37 1994"}) == precondition_outcome::not_modified);
}

// ---- precedence (RFC 9110 §13.2.2) ------------------------------------------------------------

TEST_CASE("conditional: precedence: If-Match is evaluated first and If-Unmodified-Since is then ignored") {
    // Step 1 true -> step 2 skipped even though the date alone would fail.
    CHECK(eval(method::put, {.if_match = "\"abc\"", .if_unmodified_since = earlier_date}) == precondition_outcome::proceed);
    // Step 1 false -> 412 even though the date alone would pass.
    CHECK(eval(method::put, {.if_match = "\"x\"", .if_unmodified_since = later_date}) ==
          precondition_outcome::precondition_failed);
}

TEST_CASE("conditional: precedence: a failed If-Match wins over If-None-Match's 304") {
    CHECK(eval(method::get, {.if_match = "\"x\"", .if_none_match = "\"abc\""}) == precondition_outcome::precondition_failed);
}

TEST_CASE("conditional: precedence: a failed If-Unmodified-Since wins over If-None-Match") {
    CHECK(eval(method::get, {.if_none_match = "\"abc\"", .if_unmodified_since = earlier_date}) ==
          precondition_outcome::precondition_failed);
}

TEST_CASE("conditional: precedence: If-None-Match takes precedence over If-Modified-Since") {
    // Tag differs -> proceed, even though the date says not modified.
    CHECK(eval(method::get, {.if_none_match = "\"x\"", .if_modified_since = later_date}) == precondition_outcome::proceed);
    // Tag matches -> 304, even though the date says modified.
    CHECK(eval(method::get, {.if_none_match = "\"abc\"", .if_modified_since = earlier_date}) ==
          precondition_outcome::not_modified);
}

TEST_CASE("conditional: precedence: all four passing proceeds") {
    precondition_fields f{.if_match = "\"abc\"", .if_none_match = "\"x\"", .if_modified_since = earlier_date,
                          .if_unmodified_since = later_date};
    CHECK(eval(method::get, f) == precondition_outcome::proceed);
}

// ---- If-Range ---------------------------------------------------------------------------------

TEST_CASE("conditional: If-Range: absent allows the range") { CHECK(if_range_allows(std::nullopt, current)); }

TEST_CASE("conditional: If-Range with an entity-tag uses strong comparison") {
    CHECK(if_range_allows("\"abc\"", current));
    CHECK_FALSE(if_range_allows("\"old\"", current));
    CHECK_FALSE(if_range_allows("W/\"abc\"", current));
    validators weak{"W/\"abc\"", example_time, true};
    CHECK_FALSE(if_range_allows("W/\"abc\"", weak));
}

TEST_CASE("conditional: If-Range with a date needs an exact, strong Last-Modified") {
    const std::time_t much_later = example_time + 3600;
    CHECK(if_range_allows(example_date, current, much_later));
    CHECK_FALSE(if_range_allows(later_date, current, much_later));     // not exact
    CHECK_FALSE(if_range_allows(earlier_date, current, much_later));
    CHECK_FALSE(if_range_allows(example_date, current, example_time));   // same second as Date: weak
    CHECK_FALSE(if_range_allows("garbage", current, much_later));
}
