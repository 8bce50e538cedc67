// Specification of tether::json::writer and tether::json::escape (include/tether/core/json_writer.hpp).
#include <tether/core/json_writer.hpp>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>

namespace {

std::string escaped(std::string_view s) {
    std::string out;
    tether::json::escape(out, s);
    return out;
}

// Parses json as a single JSON string with simdjson (on-demand) and returns its unescaped contents.
std::string read_back_string(const std::string& json) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(json);
    simdjson::ondemand::document doc;
    REQUIRE(parser.iterate(padded).get(doc) == simdjson::SUCCESS);
    std::string_view s;
    REQUIRE(doc.get_string().get(s) == simdjson::SUCCESS);
    return std::string(s);
}

// Checks the whole text is one valid JSON value, with the DOM parser (which validates everything).
bool is_valid_json(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    return parser.parse(json).get(e) == simdjson::SUCCESS;
}

bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

} // namespace

TEST_CASE("writer builds nested objects and arrays with commas in the right places") {
    std::string out;
    tether::json::writer w(out);
    w.begin_object()
        .key("id").value(42)
        .key("name").value("tick")
        .key("tags").begin_array().value("a").value("b").end_array()
        .key("empty_obj").begin_object().end_object()
        .key("empty_arr").begin_array().end_array()
        .key("nested").begin_array().begin_object().key("x").value(true).end_object().value(nullptr).end_array()
        .end_object();
    CHECK(out == R"({"id":42,"name":"tick","tags":["a","b"],"empty_obj":{},"empty_arr":[],)"
                 R"("nested":[{"x":true},null]})");
    CHECK(w.complete());
    CHECK(is_valid_json(out));
}

TEST_CASE("writer appends to the caller's buffer without touching what is already there") {
    std::string out = "data: ";
    tether::json::writer w(out);
    w.begin_array().value(1).value(2).end_array();
    CHECK(out == "data: [1,2]");
}

TEST_CASE("writer writes scalars") {
    std::string out;
    tether::json::writer w(out);
    SECTION("true") { w.value(true); CHECK(out == "true"); }
    SECTION("false") { w.value(false); CHECK(out == "false"); }
    SECTION("null") { w.value(nullptr); CHECK(out == "null"); }
    SECTION("a null C string as null") { w.value(static_cast<const char*>(nullptr)); CHECK(out == "null"); }
    SECTION("a string literal as a string, not as bool") { w.value("x"); CHECK(out == R"("x")"); }
    SECTION("std::string") { w.value(std::string("s")); CHECK(out == R"("s")"); }
    SECTION("a top-level scalar is complete") { w.value(1); CHECK(w.complete()); }
}

TEST_CASE("writer writes every integer type exactly") {
    std::string out;
    tether::json::writer w(out);
    w.begin_array()
        .value(std::numeric_limits<std::int8_t>::min() + 0)
        .value(short{-300})
        .value(std::numeric_limits<std::uint16_t>::max())
        .value(std::numeric_limits<int>::min())
        .value(0u)
        .value(std::numeric_limits<long>::min())
        .value(std::numeric_limits<long long>::max())
        .value(std::numeric_limits<unsigned long long>::max())
        .value(std::size_t{7})
        .end_array();
    CHECK(out == "[-128,-300,65535,-2147483648,0,-9223372036854775808,9223372036854775807,"
                 "18446744073709551615,7]");
    CHECK(is_valid_json(out));
}

TEST_CASE("writer writes doubles as the shortest text that reads back to the same value") {
    std::string out;
    tether::json::writer w(out);
    SECTION("0.1") { w.value(0.1); CHECK(out == "0.1"); }
    SECTION("a float keeps its own shortest form") { w.value(0.1f); CHECK(out == "0.1"); }
    SECTION("an integral double has no fraction") { w.value(3.0); CHECK(out == "3"); }
    SECTION("negative zero") { w.value(-0.0); CHECK(out == "-0"); }
    SECTION("large exponents use JSON's e+NN form") { w.value(1e300); CHECK(out == "1e+300"); }
    SECTION("from 1e16 up, always the exponent form") {
        w.begin_array().value(1e16).value(-17371808993903353856.0).value(9007199254740992.0).end_array();
        CHECK(out == "[1e+16,-1.7371808993903354e+19,9007199254740992]");
    }
    SECTION("small exponents") { w.value(5e-324); CHECK(out == "5e-324"); }
    SECTION("round trip through simdjson") {
        std::mt19937_64 rng(12345);
        for (int i = 0; i < 2000; ++i) {
            std::uint64_t bits = rng();
            double d;
            std::memcpy(&d, &bits, sizeof d);
            if (!std::isfinite(d)) continue;
            std::string s;
            tether::json::writer(s).value(d);
            simdjson::dom::parser parser;
            double back = 0;
            REQUIRE(parser.parse(s).get_double().get(back) == simdjson::SUCCESS);
            REQUIRE(back == d);
        }
    }
}

TEST_CASE("writer refuses NaN and infinity with invalid_argument and appends nothing") {
    std::string out;
    tether::json::writer w(out);
    w.begin_array().value(1);
    CHECK_THROWS_AS(w.value(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
    CHECK_THROWS_AS(w.value(std::numeric_limits<double>::infinity()), std::invalid_argument);
    CHECK_THROWS_AS(w.value(-std::numeric_limits<float>::infinity()), std::invalid_argument);
    CHECK_THROWS_WITH(w.value(std::nan("")), Catch::Contains("NaN"));
    CHECK(out == "[1");
    w.value(2).end_array();
    CHECK(out == "[1,2]");
}

TEST_CASE("raw inserts pre-encoded JSON as one value") {
    std::string out;
    tether::json::writer w(out);
    w.begin_object().key("a").raw(R"({"b":[1,2]})").key("c").value(3).end_object();
    CHECK(out == R"({"a":{"b":[1,2]},"c":3})");
    CHECK(w.complete());
}

TEST_CASE("member writes a key and its value") {
    std::string out;
    tether::json::writer w(out);
    w.begin_object().member("a", 1).member("b", "two").end_object();
    CHECK(out == R"({"a":1,"b":"two"})");
}

TEST_CASE("escape handles the characters RFC 8259 requires") {
    CHECK(escaped("plain") == "plain");
    CHECK(escaped("") == "");
    CHECK(escaped("\"") == "\\\"");
    CHECK(escaped("\\") == "\\\\");
    CHECK(escaped("/") == "/");
    CHECK(escaped("\b\f\n\r\t") == "\\b\\f\\n\\r\\t");
    CHECK(escaped(std::string_view("\0", 1)) == "\\u0000");
    CHECK(escaped("\x01\x1f") == "\\u0001\\u001f");
    CHECK(escaped("\x7f") == "\x7f"); // DEL is not a control character for JSON
    CHECK(escaped("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("escape finds characters to escape at every position of an 8-byte block") {
    for (std::size_t len = 1; len <= 24; ++len) {
        for (std::size_t at = 0; at < len; ++at) {
            for (const char special : {'"', '\\', '\n', '\x1f', '\0'}) {
                std::string in(len, 'x');
                in[at] = special;
                const std::string out = escaped(in);
                REQUIRE(out.size() > in.size());
                REQUIRE(read_back_string('"' + out + '"') == in);
            }
        }
    }
}

TEST_CASE("escape writes U+2028 and U+2029 as escapes so the output is safe in a script element") {
    CHECK(escaped("a\xE2\x80\xA8" "b\xE2\x80\xA9") == "a\\u2028b\\u2029");
    CHECK(escaped("\xE2\x80\xA7") == "\xE2\x80\xA7"); // U+2027, its neighbour, is left alone
}

TEST_CASE("escape copies valid UTF-8 through unchanged") {
    const std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF";
    CHECK(escaped(s) == s);
}

TEST_CASE("escape replaces invalid UTF-8 with U+FFFD, one per maximal ill-formed subpart") {
    const std::string fffd = "\xEF\xBF\xBD";
    SECTION("a lone continuation byte") { CHECK(escaped("a\x80z") == "a" + fffd + "z"); }
    SECTION("bytes that never start a sequence") {
        CHECK(escaped("\xC0\xC1\xF5\xFF") == fffd + fffd + fffd + fffd);
    }
    SECTION("an overlong encoding") { CHECK(escaped("\xC0\xAF") == fffd + fffd); }
    SECTION("an overlong three-byte form") { CHECK(escaped("\xE0\x80\xAF") == fffd + fffd + fffd); }
    SECTION("a surrogate") { CHECK(escaped("\xED\xA0\x80") == fffd + fffd + fffd); }
    SECTION("beyond U+10FFFF") { CHECK(escaped("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd); }
    SECTION("a truncated sequence is one replacement") { CHECK(escaped("\xE2\x82z") == fffd + "z"); }
    SECTION("a truncated sequence at the end") { CHECK(escaped("ab\xF0\x9F\x98") == "ab" + fffd); }
    SECTION("the Unicode standard's example") {
        // Unicode §3.9, Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
        CHECK(escaped("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") ==
              "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
    }
}

TEST_CASE("every control character round-trips through simdjson") {
    for (int c = 0; c < 0x20; ++c) {
        const std::string in(1, static_cast<char>(c));
        std::string json;
        tether::json::writer(json).value(in);
        REQUIRE(read_back_string(json) == in);
    }
}

TEST_CASE("random strings produce valid JSON that reads back as the input when it was valid UTF-8") {
    std::mt19937 rng(2024);
    // Biased towards interesting bytes: controls, quote, backslash, UTF-8 leads and continuations.
    const std::string alphabet = "\"\\\n\t\x01\x1f\x7f aZ/\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80\xBF\xC0\xED\xF4\xFF";
    for (int i = 0; i < 3000; ++i) {
        std::string in;
        const int len = static_cast<int>(rng() % 40);
        for (int j = 0; j < len; ++j) {
            if (rng() % 4 == 0)
                in.push_back(static_cast<char>(rng() % 256));
            else
                in.push_back(alphabet[rng() % alphabet.size()]);
        }
        std::string json;
        tether::json::writer w(json);
        w.begin_object().key(in).value(in).end_object();
        REQUIRE(is_valid_json(json));
        std::string one;
        tether::json::writer(one).value(in);
        const std::string back = read_back_string(one);
        REQUIRE(valid_utf8(back));
        if (valid_utf8(in)) REQUIRE(back == in);
    }
}

TEST_CASE("keys are escaped like strings") {
    std::string out;
    tether::json::writer w(out);
    w.begin_object().key("a\"b").value(1).end_object();
    CHECK(out == R"({"a\"b":1})");
}

TEST_CASE("writer reports misuse with writer_error and appends nothing") {
    std::string out;
    tether::json::writer w(out);
    SECTION("a value inside an object without a key") {
        w.begin_object();
        CHECK_THROWS_AS(w.value(1), tether::json::writer_error);
        CHECK_THROWS_WITH(w.value(1), Catch::Contains("key"));
        CHECK(out == "{");
    }
    SECTION("a key inside an array") {
        w.begin_array();
        CHECK_THROWS_AS(w.key("k"), tether::json::writer_error);
        CHECK(out == "[");
    }
    SECTION("a key at top level") { CHECK_THROWS_AS(w.key("k"), tether::json::writer_error); }
    SECTION("two keys in a row") {
        w.begin_object().key("a");
        CHECK_THROWS_AS(w.key("b"), tether::json::writer_error);
    }
    SECTION("closing an object after a key without its value") {
        w.begin_object().key("a");
        CHECK_THROWS_AS(w.end_object(), tether::json::writer_error);
    }
    SECTION("closing with nothing open") {
        CHECK_THROWS_AS(w.end_object(), tether::json::writer_error);
        CHECK_THROWS_AS(w.end_array(), tether::json::writer_error);
    }
    SECTION("closing an array as an object") {
        w.begin_array();
        CHECK_THROWS_AS(w.end_object(), tether::json::writer_error);
        w.end_array();
        CHECK(out == "[]");
    }
    SECTION("closing an object as an array") {
        w.begin_object();
        CHECK_THROWS_AS(w.end_array(), tether::json::writer_error);
    }
    SECTION("a second top-level value") {
        w.value(1);
        CHECK_THROWS_AS(w.value(2), tether::json::writer_error);
        CHECK_THROWS_AS(w.begin_array(), tether::json::writer_error);
        CHECK(out == "1");
    }
    SECTION("an unfinished document is not complete") {
        CHECK_FALSE(w.complete());
        w.begin_array();
        CHECK_FALSE(w.complete());
    }
}

TEST_CASE("writer nests up to max_depth and refuses one more level") {
    std::string out;
    tether::json::writer w(out);
    for (int i = 0; i < tether::json::writer::max_depth; ++i) w.begin_array();
    CHECK(w.depth() == tether::json::writer::max_depth);
    const std::string before = out;
    CHECK_THROWS_AS(w.begin_array(), tether::json::writer_error);
    CHECK_THROWS_AS(w.begin_object(), tether::json::writer_error);
    CHECK(out == before);
    for (int i = 0; i < tether::json::writer::max_depth; ++i) w.end_array();
    CHECK(w.complete());
    CHECK(is_valid_json(out));
}

TEST_CASE("objects deeper in the stack keep their kind after inner containers close") {
    std::string out;
    tether::json::writer w(out);
    w.begin_object().key("a").begin_array().begin_array().end_array().end_array();
    CHECK_THROWS_AS(w.value(1), tether::json::writer_error); // back in the object: a key is due
    w.key("b").value(1).end_object();
    CHECK(out == R"({"a":[[]],"b":1})");
}

template <class T>
concept writable = requires(tether::json::writer& w, T v) { w.value(v); };

TEST_CASE("writer does not accept characters or non-string pointers as values, at compile time") {
    STATIC_REQUIRE_FALSE(writable<char>);
    STATIC_REQUIRE_FALSE(writable<char8_t>);
    STATIC_REQUIRE_FALSE(writable<int*>);
    STATIC_REQUIRE(writable<char*>);
    STATIC_REQUIRE(writable<const char*>);
    STATIC_REQUIRE(writable<std::int64_t>);
    STATIC_REQUIRE(writable<std::string>);
}
