// The Range field (include/tether/http/range.hpp): RFC 9110 §14.1.1's forms against a size, and
// the three outcomes (ignored -> 200, unsatisfiable -> 416, satisfiable -> 206).
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include <tether/http/range.hpp>

using namespace tether::http;

namespace {

std::vector<byte_range> ranges_of(std::string_view field, std::uint64_t size) {
    auto r = parse_range(field, size);
    INFO(field);
    REQUIRE(r.status == range_status::satisfiable);
    return r.ranges;
}

range_status status_of(std::string_view field, std::uint64_t size) { return parse_range(field, size).status; }

using ranges = std::vector<byte_range>;

} // namespace

TEST_CASE("range: a closed range selects first..last inclusive") {
    CHECK(ranges_of("bytes=0-499", 10000) == ranges{{0, 499}});
    CHECK(ranges_of("bytes=500-999", 10000) == ranges{{500, 999}});
    CHECK(ranges_of("bytes=0-0", 1) == ranges{{0, 0}});
    CHECK(ranges_of("bytes=0-499", 10000).front().length() == 500);
}

TEST_CASE("range: a last-pos beyond the end is clipped") {
    CHECK(ranges_of("bytes=9500-20000", 10000) == ranges{{9500, 9999}});
    CHECK(ranges_of("bytes=0-99999999999999999999999999", 10) == ranges{{0, 9}});   // saturates
}

TEST_CASE("range: an open-ended range runs to the end") {
    CHECK(ranges_of("bytes=9500-", 10000) == ranges{{9500, 9999}});
    CHECK(ranges_of("bytes=0-", 10000) == ranges{{0, 9999}});
}

TEST_CASE("range: a suffix range selects the last N bytes, all of them when N exceeds the size") {
    CHECK(ranges_of("bytes=-500", 10000) == ranges{{9500, 9999}});
    CHECK(ranges_of("bytes=-20000", 10000) == ranges{{0, 9999}});
    CHECK(ranges_of("bytes=-1", 1) == ranges{{0, 0}});
}

TEST_CASE("range: several ranges come back in request order, each clipped") {
    CHECK(ranges_of("bytes=0-0,-1", 10000) == ranges{{0, 0}, {9999, 9999}});
    CHECK(ranges_of("bytes=500-600, 601-999", 10000) == ranges{{500, 600}, {601, 999}});
    CHECK(ranges_of("bytes=0-1,,5-6", 10) == ranges{{0, 1}, {5, 6}});   // empty list elements are allowed
}

TEST_CASE("range: unsatisfiable ranges are dropped; the rest are served") {
    CHECK(ranges_of("bytes=20000-30000, 0-9", 10000) == ranges{{0, 9}});
}

TEST_CASE("range: no satisfiable range at all is a 416") {
    CHECK(status_of("bytes=10000-", 10000) == range_status::unsatisfiable);
    CHECK(status_of("bytes=10000-20000", 10000) == range_status::unsatisfiable);
    CHECK(status_of("bytes=-0", 10000) == range_status::unsatisfiable);
    CHECK(status_of("bytes=0-", 0) == range_status::unsatisfiable);
    CHECK(status_of("bytes=99999999999999999999999-", 10) == range_status::unsatisfiable);
    CHECK(parse_range("bytes=10000-", 10000).ranges.empty());
}

TEST_CASE("range: a suffix range on empty content is answered with the whole (empty) representation") {
    CHECK(status_of("bytes=-5", 0) == range_status::ignored);
}

TEST_CASE("range: invalid or foreign ranges are ignored (200 with the whole representation)") {
    for (const char* field : {"", "bytes", "bytes=", "bytes=abc", "bytes=5", "bytes=5-3", "bytes=-", "bytes=1-2-3",
                              "bytes=0-1,x", "bytes = 0-1", "bytes=0 -1", "bytes=+1-2", "items=0-1", "bytes=--1",
                              "bytes=0x10-20"}) {
        INFO(field);
        CHECK(status_of(field, 10000) == range_status::ignored);
    }
}

TEST_CASE("range: the unit is case-insensitive and surrounding whitespace is fine") {
    CHECK(ranges_of("Bytes=0-1", 10) == ranges{{0, 1}});
    CHECK(ranges_of("  bytes=0-1 ", 10) == ranges{{0, 1}});
}

TEST_CASE("range: more than max_ranges ranges are ignored rather than enumerated") {
    std::string many = "bytes=0-0";
    for (std::size_t i = 1; i < max_ranges; ++i) many += ",0-0";
    CHECK(parse_range(many, 10).ranges.size() == max_ranges);
    many += ",0-0";
    CHECK(status_of(many, 10) == range_status::ignored);
}

TEST_CASE("range: Content-Range values for 206 and 416") {
    CHECK(content_range({0, 499}, 1234) == "bytes 0-499/1234");
    CHECK(content_range_unsatisfied(1234) == "bytes */1234");
}

TEST_CASE("range: huge sizes do not overflow") {
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    CHECK(ranges_of("bytes=-18446744073709551615", max) == ranges{{0, max - 1}});
    CHECK(ranges_of("bytes=0-", max) == ranges{{0, max - 1}});
}
