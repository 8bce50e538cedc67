// The parser's run scanners (include/tether/http/byte_scan.hpp): 16 bytes at a time where SSE2 exists,
// byte by byte otherwise and for the tail. Both must stop at exactly the first byte outside the class,
// wherever it sits against the 16-byte stretches, for every one of the 256 byte values.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

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

// is_plain_host answers "plain name[:port]" or "can't tell"; is_valid_host (the whole Host grammar)
// decides. So it may never accept what the grammar refuses, and must accept the plain shape it is for,
// including when bytes outside the value (read by the same 16-byte load) are anything at all.
TEST_CASE("the plain-Host check accepts only valid hosts, and every plain one", "[http][parser]") {
    const std::string alphabet = std::string("aZ09.-:%[]@_ \t/\x7f\x80\xff") + '\0';
    std::size_t accepted = 0, wrong = 0;
    std::string buffer(32, '\0');
    // Every value of up to 4 bytes over the alphabet, padded after it with each byte of the alphabet.
    std::vector<std::string> values{""};
    for (std::size_t length = 1; length <= 4; ++length) {
        const std::size_t before = values.size();
        for (std::size_t i = 0; i < before; ++i)
            if (values[i].size() == length - 1)
                for (char c : alphabet) values.push_back(values[i] + c);
    }
    for (const std::string& value : values)
        for (char pad : alphabet) {
            buffer.assign(32, pad);
            buffer.replace(0, value.size(), value);
            const bool plain = is_plain_host(buffer.data(), value.size(), buffer.data() + buffer.size());
            if (plain) ++accepted;
            if (plain && !is_valid_host(value)) ++wrong;
            // The value ending where the readable bytes do: the check reads a copy, with the same answer.
            if (is_plain_host(buffer.data(), value.size(), buffer.data() + value.size()) != plain) ++wrong;
        }
    CHECK(wrong == 0);
    for (const char* host : {"", "a", "localhost", "127.0.0.1:8080", "Example-Host.COM", "h:", "a.b.c.d.e.f.g.h:", "0123456789abcdef",
                             "x:01234567890123"}) {
        INFO(host);
        const std::string value(host);
        buffer.assign(32, '\r');
        buffer.replace(0, value.size(), value);
#if defined(__SSE2__)
        CHECK(is_plain_host(buffer.data(), value.size(), buffer.data() + buffer.size()));
#endif
        CHECK(is_valid_host(value));
    }
    for (const char* host : {":80", "a:b", "a:8:0", "[::1]", "a_b", "%41", "a b", "host:8o", "0123456789abcdefg"}) {
        INFO(host);
        const std::string value(host);
        buffer.assign(32, '0');
        buffer.replace(0, value.size(), value);
        CHECK_FALSE(is_plain_host(buffer.data(), value.size(), buffer.data() + buffer.size()));
    }
#if defined(__SSE2__)
    SECTION("without 16 readable bytes it looks at a copy of the value") {
        const std::string value = "example.com:80";
        CHECK(is_plain_host(value.data(), value.size(), value.data() + value.size()));
        const std::string refused = "example.com:8o";
        CHECK_FALSE(is_plain_host(refused.data(), refused.size(), refused.data() + refused.size()));
    }
#endif
#if defined(__SSE2__)
    CHECK(accepted > 1000);   // the loop above tried the plain shape, not only refusals
#endif
}
