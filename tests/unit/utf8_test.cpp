// UTF-8 validation (RFC 3629): the whole-buffer check and the incremental validator used across WebSocket
// fragments, which must fail in the very piece where the text stops being a prefix of valid UTF-8.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include <tether/core/utf8.hpp>

using tether::core::is_valid_utf8;
using tether::core::utf8_validator;

namespace {
struct invalid_case {
    std::string text;
    std::size_t first_bad;  // index of the byte at which no valid continuation exists any more
};

// Each case with the first byte that makes it hopeless; the prefix before that byte could still become valid.
const std::vector<invalid_case>& invalid_cases() {
    static const std::vector<invalid_case> cases = {
        {"\x80", 0},                      // stray continuation byte
        {"a\xbf" "b", 1},                 // stray continuation after ASCII
        {"\xc0\x80", 0},                  // overlong NUL (C0 is never valid)
        {"\xc1\xbf", 0},                  // overlong 2-byte
        {"\xe0\x80\x80", 1},              // overlong 3-byte
        {"\xe0\x9f\xbf", 1},              // overlong 3-byte, top of range
        {"\xf0\x80\x80\x80", 1},          // overlong 4-byte
        {"\xf0\x8f\xbf\xbf", 1},          // overlong 4-byte, top of range
        {"\xed\xa0\x80", 1},              // U+D800, first surrogate
        {"\xed\xbf\xbf", 1},              // U+DFFF, last surrogate
        {"\xf4\x90\x80\x80", 1},          // U+110000, above the Unicode range
        {"\xf5\x80\x80\x80", 0},          // F5 can never start a sequence
        {"\xff", 0},
        {"\xfe", 0},
        {"\xc3" "a", 1},                  // lead byte followed by ASCII
        {"\xe2\x82" "a", 2},              // truncated 3-byte sequence followed by ASCII
        {"\xf0\x9f\x98" "\xf0", 3},       // truncated 4-byte sequence followed by a new lead
        {"Hello-\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5-\xed\xa0\x80-world-and-some-more-ascii", 19},
        {std::string(40, 'x') + "\xe0\xa0" + std::string(40, 'y'), 42},  // long runs: exercises the SIMD path
        {std::string(40, 'x') + "\xc0\xaf" + std::string(40, 'y'), 40},
    };
    return cases;
}

const std::vector<std::string>& valid_texts() {
    static const std::vector<std::string> texts = {
        "",
        "plain ASCII",
        "\x7f",
        "\xc2\x80",                          // U+0080, smallest 2-byte
        "\xdf\xbf",                          // U+07FF
        "\xe0\xa0\x80",                      // U+0800, smallest 3-byte
        "\xed\x9f\xbf",                      // U+D7FF, just below the surrogates
        "\xee\x80\x80",                      // U+E000, just above the surrogates
        "\xef\xbf\xbf",                      // U+FFFF
        "\xf0\x90\x80\x80",                  // U+10000, smallest 4-byte
        "\xf4\x8f\xbf\xbf",                  // U+10FFFF, the largest code point
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",  // "κόσμε"
        "Hello-\xf0\x9f\x98\x80-" + std::string(50, 'z') + "\xe2\x82\xac" + std::string(30, '!') + "\xf4\x8f\xbf\xbf",
    };
    return texts;
}
}  // namespace

TEST_CASE("whole-buffer validation accepts valid UTF-8") {
    for (const auto& t : valid_texts()) {
        INFO(t);
        CHECK(is_valid_utf8(t));
    }
}

TEST_CASE("whole-buffer validation rejects overlongs, surrogates, out-of-range and stray bytes") {
    for (const auto& c : invalid_cases()) {
        INFO(c.text);
        CHECK_FALSE(is_valid_utf8(c.text));
    }
}

TEST_CASE("whole-buffer validation rejects text that ends inside a code point") {
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));
    CHECK_FALSE(is_valid_utf8("abc\xf0\x9f\x98"));
}

TEST_CASE("incremental validation of valid text split at every byte position") {
    for (const auto& t : valid_texts()) {
        for (std::size_t cut = 0; cut <= t.size(); ++cut) {
            INFO("text " << t << " cut " << cut);
            utf8_validator v;
            REQUIRE(v.feed(std::string_view(t).substr(0, cut)));
            REQUIRE(v.feed(std::string_view(t).substr(cut)));
            REQUIRE(v.is_complete());
        }
    }
}

TEST_CASE("incremental validation of valid text fed one byte at a time") {
    for (const auto& t : valid_texts()) {
        utf8_validator v;
        for (char c : t) REQUIRE(v.feed(std::string_view(&c, 1)));
        CHECK(v.is_complete());
    }
}

TEST_CASE("incremental validation fails in the piece holding the first hopeless byte") {
    for (const auto& c : invalid_cases()) {
        for (std::size_t cut = 0; cut <= c.text.size(); ++cut) {
            INFO("text index of first bad byte " << c.first_bad << ", cut " << cut);
            utf8_validator v;
            const bool first_ok = v.feed(std::string_view(c.text).substr(0, cut));
            CHECK(first_ok == (cut <= c.first_bad));
            CHECK_FALSE(v.feed(std::string_view(c.text).substr(cut)));
            CHECK(v.failed());
            CHECK_FALSE(v.is_complete());
        }
    }
}

TEST_CASE("incremental validation byte by byte fails exactly at the first hopeless byte") {
    for (const auto& c : invalid_cases()) {
        utf8_validator v;
        std::size_t failed_at = c.text.size();
        for (std::size_t i = 0; i < c.text.size(); ++i)
            if (!v.feed(std::string_view(c.text).substr(i, 1))) {
                failed_at = i;
                break;
            }
        INFO(c.text);
        CHECK(failed_at == c.first_bad);
    }
}

TEST_CASE("incremental validation reports a text ending mid code point as incomplete, not failed") {
    utf8_validator v;
    CHECK(v.feed("caf\xc3"));
    CHECK_FALSE(v.is_complete());
    CHECK_FALSE(v.failed());
    CHECK(v.feed("\xa9"));
    CHECK(v.is_complete());
}

TEST_CASE("incremental validation stays failed until reset") {
    utf8_validator v;
    CHECK_FALSE(v.feed("\xff"));
    CHECK_FALSE(v.feed("fine"));
    v.reset();
    CHECK(v.feed("fine"));
    CHECK(v.is_complete());
}

TEST_CASE("incremental validation agrees with the whole-buffer check on long mixed input at every split") {
    std::string text;
    for (int i = 0; i < 8; ++i) text += std::string(i * 3, 'a') + "\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9";
    for (const std::string& bad : {std::string("\xed\xa0\x80"), std::string("\xc0\x80"), std::string("\xf4\x90")})
        for (std::size_t at : {std::size_t{0}, text.size() / 2, text.size()}) {
            const std::string candidate = text.substr(0, at) + bad + text.substr(at);
            for (const std::string& t : {text, candidate})
                for (std::size_t cut = 0; cut <= t.size(); ++cut) {
                    utf8_validator v;
                    const bool ok = v.feed(std::string_view(t).substr(0, cut)) &&
                                    v.feed(std::string_view(t).substr(cut)) && v.is_complete();
                    REQUIRE(ok == is_valid_utf8(t));
                }
        }
}
