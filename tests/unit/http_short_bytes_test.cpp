// The short copies and compares the serializer and the router use (include/tether/http/short_bytes.hpp):
// each length picks two fixed-size moves that overlap, so every length from 0 past the last fixed size
// must copy exactly its bytes (nothing before, nothing after) and compare equal exactly when memcmp does,
// with the one differing byte at every position.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include <tether/http/short_bytes.hpp>

using namespace tether::http::detail;

namespace {
std::string pattern(std::size_t n, char first) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + static_cast<char>(i % 61));
    return s;
}
} // namespace

TEST_CASE("copy_short copies exactly n bytes for every length up to and past 64", "[http][short_bytes]") {
    std::size_t wrong = 0;
    for (std::size_t n = 0; n <= 140; ++n) {
        const std::string from = pattern(n, '!');
        std::string to(n + 32, '~');   // 16 guard bytes either side, a byte pattern() never makes
        char* end = copy_short(to.data() + 16, from.data(), n);
        if (end != to.data() + 16 + n) ++wrong;
        if (to.compare(16, n, from) != 0) ++wrong;
        if (to.find_first_not_of('~') != (n ? 16 : std::string::npos)) ++wrong;
        if (to.find_last_not_of('~') != (n ? 16 + n - 1 : std::string::npos)) ++wrong;
    }
    CHECK(wrong == 0);
}

TEST_CASE("equal_short agrees with memcmp for every length and every differing position", "[http][short_bytes]") {
    std::size_t wrong = 0, compared = 0;
    for (std::size_t n = 0; n <= 40; ++n) {
        const std::string a = pattern(n, 'A');
        std::string b = a;
        if (!equal_short(a, b)) ++wrong;
        for (std::size_t at = 0; at < n; ++at) {
            b[at] ^= 0x20;
            if (equal_short(a, b)) ++wrong;
            b[at] = a[at];
            ++compared;
        }
        if (n > 0) {   // one byte longer or shorter: never equal, whatever the bytes
            if (equal_short(a, std::string_view(a).substr(0, n - 1))) ++wrong;
            if (equal_short(std::string_view(a).substr(0, n - 1), a)) ++wrong;
        }
    }
    CHECK(compared == 820);
    CHECK(wrong == 0);
    CHECK(equal_short(std::string_view{}, std::string_view{}));
    CHECK_FALSE(equal_short("/plaintext", "/plaintexT"));
}
