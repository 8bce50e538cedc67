// The parser's run scanners (include/tether/http/byte_scan.hpp): 16 bytes at a time where SSE2 exists,
// byte by byte otherwise and for the tail. Both must stop at exactly the first byte outside the class,
// wherever it sits against the 16-byte stretches, for every one of the 256 byte values.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>

#include <tether/http/byte_scan.hpp>
#include <tether/http/char_class.hpp>

using namespace tether::http::detail;

namespace {

// Counts the (length, position, byte) cases where `scan` disagrees with the per-byte class `allowed`:
// a run of `length` allowed bytes with `byte` at `position` must end there exactly when `byte` is not allowed.
template <class Scan, class Allowed>
std::size_t disagreements(Scan scan, Allowed allowed, char filler) {
    std::size_t wrong = 0;
    for (std::size_t length = 1; length <= 48; ++length)
        for (std::size_t position = 0; position < length; ++position)
            for (int byte = 0; byte < 256; ++byte) {
                std::string run(length, filler);
                run[position] = static_cast<char>(byte);
                const char* end = run.data() + run.size();
                const char* expected = allowed(run[position]) ? end : run.data() + position;
                if (scan(run.data(), end) != expected) ++wrong;
            }
    return wrong;
}

} // namespace

TEST_CASE("the run scanners stop at the first byte outside their class, at any position", "[http][parser]") {
    SECTION("field values") {
        CHECK(disagreements([](const char* p, const char* e) { return skip_field_value(p, e); }, is_field_value_char, 'v') == 0);
    }
    SECTION("request-targets") {
        CHECK(disagreements([](const char* p, const char* e) { return skip_target(p, e, false); }, is_target_char, 't') == 0);
    }
    SECTION("origin-form paths, which '?' and '#' end") {
        CHECK(disagreements([](const char* p, const char* e) { return skip_target(p, e, true); }, is_path_char, 'p') == 0);
    }
    SECTION("an empty run ends where it starts") {
        const char none[1] = {'x'};
        CHECK(skip_field_value(none, none) == none);
        CHECK(skip_target(none, none, true) == none);
    }
}
