// Specification of tether::json::parse and its field helpers (include/tether/core/json_reader.hpp).
#include <tether/core/json_reader.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace json = tether::json;
namespace od = simdjson::ondemand;

namespace {

// The message of the parse_error that parsing body with f throws, or "" when nothing is thrown.
template <class F>
std::string error_of(std::string_view body, F f) {
    try {
        json::parse(body, f);
    } catch (const json::parse_error& e) {
        return e.what();
    }
    return {};
}

struct order {
    std::string sku;
    int qty = 0;
    std::optional<std::string> note;
};

order read_order(od::document& doc) {
    auto obj = json::as<od::object>(doc, "body");
    order o;
    o.sku = json::field<std::string>(obj, "sku");
    o.qty = json::field<int>(obj, "qty");
    o.note = json::optional_field<std::string>(obj, "note");
    return o;
}

} // namespace

TEST_CASE("parse runs the callback on the document and returns what it returns") {
    const order o = json::parse(R"({"qty": 3, "sku": "A-1"})", read_order);
    CHECK(o.sku == "A-1");
    CHECK(o.qty == 3);
    CHECK_FALSE(o.note.has_value());
}

TEST_CASE("parse accepts a callback that returns nothing") {
    std::int64_t seen = 0;
    json::parse("[1,2,3]", [&](od::document& doc) {
        for (auto v : doc.get_array()) seen += json::as<std::int64_t>(v.value());
    });
    CHECK(seen == 6);
}

TEST_CASE("parse reads an unpadded view by copying it, so the source needs no padding") {
    const std::string body = R"({"name":"x"})";
    const std::string_view exact(body.data(), body.size());
    CHECK(json::parse(exact, [](od::document& d) { return json::field<std::string>(d, "name"); }) == "x");
}

TEST_CASE("parse reads a padded view in place") {
    const simdjson::padded_string body(std::string_view(R"({"n":5})"));
    CHECK(json::parse(body, [](od::document& d) { return json::field<int>(d, "n"); }) == 5);
    const simdjson::padded_string_view view = body;
    CHECK(json::parse(view, [](od::document& d) { return json::field<int>(d, "n"); }) == 5);
}

TEST_CASE("parse refuses a padded view whose padding is too short") {
    const std::string body = "{}";
    const simdjson::padded_string_view view(body.data(), body.size(), body.size());
    CHECK_THROWS_AS(json::parse(view, [](od::document&) {}), json::parse_error);
}

TEST_CASE("syntax errors become parse_error with an 'invalid JSON' message") {
    const auto touch_all = [](od::document& doc) {
        for (auto f : doc.get_object()) (void)json::as<std::int64_t>(f.value());
    };
    SECTION("empty body") { CHECK(error_of("", touch_all) == "invalid JSON: the body is empty"); }
    SECTION("whitespace only") { CHECK(error_of("  \n", touch_all) == "invalid JSON: the body is empty"); }
    SECTION("unclosed string") { CHECK(error_of(R"({"a":"x)", touch_all) == "invalid JSON: unclosed string"); }
    SECTION("invalid UTF-8") { CHECK(error_of("{\"a\":\"\xff\"}", touch_all) == "invalid JSON: not valid UTF-8"); }
    SECTION("truncated object") {
        CHECK(error_of(R"({"a":1)", touch_all) == "invalid JSON: unbalanced or incomplete object or array");
    }
    SECTION("bad number") { CHECK(error_of(R"({"a":1x})", touch_all) == "invalid JSON: malformed number"); }
    SECTION("bad literal where a value is read") {
        CHECK_THROWS_AS(json::parse(R"({"a":tru})", [](od::document& d) { return json::field<bool>(d, "a"); }),
                        json::parse_error);
    }
}

TEST_CASE("simdjson exceptions thrown inside the callback become parse_error") {
    const std::string msg = error_of(R"({"a":"text"})", [](od::document& doc) {
        std::int64_t n = doc["a"]; // exception-style API: throws simdjson_error(INCORRECT_TYPE)
        return n;
    });
    CHECK(msg == "unexpected JSON type");
}

TEST_CASE("an error code returned by the callback becomes parse_error") {
    CHECK(error_of(R"({"a":1})", [](od::document& doc) -> simdjson::error_code {
              std::string_view s;
              return doc["a"].get_string().get(s);
          }) == "unexpected JSON type");
    CHECK(error_of(R"({"a":"s"})", [](od::document& doc) -> simdjson::error_code {
              std::string_view s;
              return doc["a"].get_string().get(s);
          }) == "");
}

TEST_CASE("other exceptions from the callback pass through unchanged") {
    CHECK_THROWS_AS(json::parse("{}", [](od::document&) { throw std::out_of_range("mine"); }), std::out_of_range);
}

TEST_CASE("field names the field in its error messages") {
    SECTION("missing") {
        CHECK(error_of(R"({"a":1})", [](od::document& d) { return json::field<int>(d, "name"); }) ==
              "field 'name': missing");
    }
    SECTION("wrong type") {
        CHECK(error_of(R"({"name":1})", [](od::document& d) { return json::field<std::string>(d, "name"); }) ==
              "field 'name': expected string");
        CHECK(error_of(R"({"n":"1"})", [](od::document& d) { return json::field<int>(d, "n"); }) ==
              "field 'n': expected integer");
        CHECK(error_of(R"({"b":0})", [](od::document& d) { return json::field<bool>(d, "b"); }) ==
              "field 'b': expected boolean");
        CHECK(error_of(R"({"o":[]})", [](od::document& d) { (void)json::field<od::object>(d, "o"); }) ==
              "field 'o': expected object");
        CHECK(error_of(R"({"o":{}})", [](od::document& d) { (void)json::field<od::array>(d, "o"); }) ==
              "field 'o': expected array");
        CHECK(error_of(R"({"x":true})", [](od::document& d) { return json::field<double>(d, "x"); }) ==
              "field 'x': expected number");
    }
    SECTION("null is a wrong type for field") {
        CHECK(error_of(R"({"s":null})", [](od::document& d) { return json::field<std::string>(d, "s"); }) ==
              "field 's': expected string");
    }
    SECTION("the document is not an object") {
        CHECK(error_of("[1]", [](od::document& d) { return json::field<int>(d, "a"); }) ==
              "field 'a': expected an enclosing object");
    }
}

TEST_CASE("integer fields are range-checked for the requested type") {
    CHECK(json::parse(R"({"n":-128})", [](od::document& d) { return json::field<std::int8_t>(d, "n"); }) == -128);
    CHECK(error_of(R"({"n":128})", [](od::document& d) { return json::field<std::int8_t>(d, "n"); }) ==
          "field 'n': number out of range for integer");
    CHECK(error_of(R"({"n":-1})", [](od::document& d) { return json::field<unsigned>(d, "n"); }) ==
          "field 'n': expected non-negative integer");
    CHECK(error_of(R"({"n":1.5})", [](od::document& d) { return json::field<int>(d, "n"); }) ==
          "field 'n': expected integer");
    CHECK(json::parse(R"({"n":18446744073709551615})",
                      [](od::document& d) { return json::field<std::uint64_t>(d, "n"); }) == UINT64_MAX);
    CHECK(error_of(R"({"n":18446744073709551616})",
                   [](od::document& d) { return json::field<std::uint64_t>(d, "n"); })
              .starts_with("field 'n': "));
}

TEST_CASE("double fields accept integers") {
    CHECK(json::parse(R"({"x":2})", [](od::document& d) { return json::field<double>(d, "x"); }) == 2.0);
}

TEST_CASE("optional_field gives nullopt for a missing member or null, and the value otherwise") {
    const auto get = [](std::string_view body) {
        return json::parse(body, [](od::document& d) { return json::optional_field<std::string>(d, "s"); });
    };
    CHECK(get("{}") == std::nullopt);
    CHECK(get(R"({"s":null})") == std::nullopt);
    CHECK(get(R"({"s":"v"})") == std::optional<std::string>("v"));
    CHECK(error_of(R"({"s":3})", [](od::document& d) { return json::optional_field<std::string>(d, "s"); }) ==
          "field 's': expected string");
}

TEST_CASE("fields are found in any order") {
    const auto sum = json::parse(R"({"b":2,"a":1,"c":3})", [](od::document& d) {
        auto o = json::as<od::object>(d);
        return json::field<int>(o, "c") + json::field<int>(o, "a") + json::field<int>(o, "b");
    });
    CHECK(sum == 6);
}

TEST_CASE("strings are unescaped") {
    CHECK(json::parse(R"({"s":"a\nb\u00e9\"\\"})", [](od::document& d) { return json::field<std::string>(d, "s"); }) ==
          "a\nb\xC3\xA9\"\\");
}

TEST_CASE("as reads a whole scalar document and names what it read in errors") {
    CHECK(json::parse("\"hi\"", [](od::document& d) { return json::as<std::string>(d); }) == "hi");
    CHECK(error_of("42", [](od::document& d) { return json::as<std::string>(d, "body"); }) ==
          "body: expected string");
}

TEST_CASE("a nested parse inside a callback leaves the outer document usable") {
    // A field that itself carries JSON text, as some clients send.
    const auto result = json::parse(R"({"inner":"{\"x\":7}","after":"yes"})", [](od::document& outer) {
        auto o = json::as<od::object>(outer);
        const std::string inner_text = json::field<std::string>(o, "inner");
        const int x = json::parse(inner_text, [](od::document& inner) { return json::field<int>(inner, "x"); });
        const std::string after = json::field<std::string>(o, "after");
        return after + std::to_string(x);
    });
    CHECK(result == "yes7");
}

TEST_CASE("the per-thread buffer is reused across bodies of different sizes") {
    const std::string big = "[" + std::string(100000, ' ') + "1]";
    CHECK(json::parse(big, [](od::document& d) { return json::as<int>(d.at(0).value()); }) == 1);
    CHECK(json::parse("[2]", [](od::document& d) { return json::as<int>(d.at(0).value()); }) == 2);
    // A short body after a long one must not see the long one's leftover bytes.
    CHECK_THROWS_AS(json::parse("[3", [](od::document& d) { return json::as<int>(d.at(1).value()); }),
                    json::parse_error);
}

TEST_CASE("a body larger than the retained capacity is parsed, then its memory released") {
    const std::string huge = "[" + std::string(3u << 20, ' ') + "\"end\"]";
    CHECK(json::parse(huge, [](od::document& d) { return json::as<std::string>(d.at(0).value()); }) == "end");
    CHECK(json::detail::this_thread_state().capacity == 0);
    CHECK(json::parse("[true]", [](od::document& d) { return json::as<bool>(d.at(0).value()); }));
}

TEST_CASE("each thread parses with its own parser") {
    std::vector<std::thread> threads;
    std::vector<int> sums(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &sums] {
            for (int i = 0; i < 500; ++i) {
                const std::string body = "{\"v\":" + std::to_string(t * 1000 + i) + "}";
                sums[static_cast<std::size_t>(t)] +=
                    json::parse(body, [](od::document& d) { return json::field<int>(d, "v"); }) - t * 1000;
            }
        });
    }
    for (auto& th : threads) th.join();
    for (const int s : sums) CHECK(s == 499 * 500 / 2);
}
