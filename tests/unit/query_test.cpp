// Specification of the URL helpers in include/tether/http/query.hpp.
#include <tether/http/query.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::string_view_literals;
namespace http = tether::http;

namespace {

std::vector<std::pair<std::string, std::string>> pairs(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto [name, value] : http::query_params(query)) out.emplace_back(name, value);
    return out;
}

using pv = std::vector<std::pair<std::string, std::string>>;

} // namespace

TEST_CASE("split_target separates the path from the query") {
    CHECK(http::split_target("/a/b?x=1&y=2").path == "/a/b");
    CHECK(http::split_target("/a/b?x=1&y=2").query == "x=1&y=2");
}

TEST_CASE("split_target without a query gives an empty query") {
    const auto parts = http::split_target("/only/path");
    CHECK(parts.path == "/only/path");
    CHECK(parts.query.empty());
}

TEST_CASE("split_target splits at the first question mark") {
    const auto parts = http::split_target("/p?a=?&b");
    CHECK(parts.path == "/p");
    CHECK(parts.query == "a=?&b");
}

TEST_CASE("split_target drops a fragment") {
    CHECK(http::split_target("/p?q=1#frag").query == "q=1");
    CHECK(http::split_target("/p#frag?notquery").path == "/p");
    CHECK(http::split_target("/p#frag?notquery").query.empty());
}

TEST_CASE("split_target is usable at compile time") {
    static_assert(http::split_target("/x?y").path == "/x"sv);
    static_assert(http::split_target("/x?y").query == "y"sv);
}

TEST_CASE("percent_decode decodes escapes in either case of hex digit") {
    CHECK(http::percent_decode("a%20b", false) == "a b");
    CHECK(http::percent_decode("%e2%82%AC", false) == "\xE2\x82\xAC");
    CHECK(http::percent_decode("%41%42%43", false) == "ABC");
}

TEST_CASE("percent_decode returns the input when there is nothing to decode") {
    CHECK(http::percent_decode("plain-text_1.2~", false) == "plain-text_1.2~");
    CHECK(http::percent_decode("", false) == "");
}

TEST_CASE("percent_decode turns plus into space only when asked") {
    CHECK(http::percent_decode("a+b", true) == "a b");
    CHECK(http::percent_decode("a+b", false) == "a+b");
    CHECK(http::percent_decode("a%2Bb", true) == "a+b");
}

TEST_CASE("percent_decode rejects a malformed escape") {
    CHECK(http::percent_decode("%", false) == std::nullopt);
    CHECK(http::percent_decode("%4", false) == std::nullopt);
    CHECK(http::percent_decode("abc%4", false) == std::nullopt);
    CHECK(http::percent_decode("%zz", false) == std::nullopt);
    CHECK(http::percent_decode("%4g", false) == std::nullopt);
    CHECK(http::percent_decode("%g4", false) == std::nullopt);
    CHECK(http::percent_decode("ok%20then%", true) == std::nullopt);
}

TEST_CASE("percent_decode decodes %00 to a NUL byte") {
    CHECK(http::percent_decode("a%00b", false) == std::string("a\0b", 3));
}

TEST_CASE("percent_decode does not decode twice") {
    CHECK(http::percent_decode("%2541", false) == "%41");
}

TEST_CASE("percent_decode_append appends, and leaves the string alone on error") {
    std::string out = "prefix:";
    CHECK(http::percent_decode_append(out, "a%2Fb", false));
    CHECK(out == "prefix:a/b");
    CHECK_FALSE(http::percent_decode_append(out, "good%20then%zz", false));
    CHECK(out == "prefix:a/b");
}

TEST_CASE("percent_decode_view returns the input itself when nothing needs decoding") {
    std::string scratch = "untouched";
    const std::string_view in = "no-escapes";
    const auto v = http::percent_decode_view(in, scratch, true);
    REQUIRE(v.has_value());
    CHECK(v->data() == in.data());
    CHECK(scratch == "untouched");
}

TEST_CASE("percent_decode_view decodes into the scratch string otherwise") {
    std::string scratch = "old contents";
    const auto v = http::percent_decode_view("a+b%21", scratch, true);
    REQUIRE(v.has_value());
    CHECK(*v == "a b!");
    CHECK(v->data() == scratch.data());
    CHECK(http::percent_decode_view("%x", scratch, true) == std::nullopt);
}

TEST_CASE("query_params yields raw name and value views") {
    CHECK(pairs("a=1&b=2") == pv{{"a", "1"}, {"b", "2"}});
    CHECK(pairs("q=a%20b+c") == pv{{"q", "a%20b+c"}});
}

TEST_CASE("query_params gives an empty value for a name without '='") {
    CHECK(pairs("flag&x=") == pv{{"flag", ""}, {"x", ""}});
}

TEST_CASE("query_params splits a pair at its first '='") {
    CHECK(pairs("eq=a=b") == pv{{"eq", "a=b"}});
    CHECK(pairs("=v") == pv{{"", "v"}});
}

TEST_CASE("query_params skips empty pieces") {
    CHECK(pairs("").empty());
    CHECK(pairs("&&").empty());
    CHECK(pairs("&a=1&&b=2&") == pv{{"a", "1"}, {"b", "2"}});
}

TEST_CASE("query_params views point into the query") {
    const std::string q = "name=value";
    const auto p = *http::query_params(q).begin();
    CHECK(p.name.data() == q.data());
    CHECK(p.value.data() == q.data() + 5);
}

TEST_CASE("query_params works on a default-constructed view") {
    CHECK(pairs(std::string_view{}).empty());
}

TEST_CASE("query_params is a forward range") {
    const http::query_params params("a=1&b=2");
    auto it = params.begin();
    auto copy = it;
    ++it;
    CHECK(copy->name == "a");
    CHECK(it->name == "b");
    CHECK(it != params.end());
    CHECK(++it == params.end());
}

TEST_CASE("for_each_query_param visits every pair and can stop early") {
    std::vector<std::string> names;
    http::for_each_query_param("a=1&b=2&c=3", [&](std::string_view n, std::string_view) { names.emplace_back(n); });
    CHECK(names == std::vector<std::string>{"a", "b", "c"});
    names.clear();
    http::for_each_query_param("a=1&b=2&c=3", [&](std::string_view n, std::string_view) {
        names.emplace_back(n);
        return n != "b";
    });
    CHECK(names == std::vector<std::string>{"a", "b"});
}

TEST_CASE("find_query_param returns the decoded value of the first match") {
    CHECK(http::find_query_param("a=1&b=x+y%21&b=2", "b") == "x y!");
}

TEST_CASE("find_query_param returns nullopt when the name is absent") {
    CHECK(http::find_query_param("a=1", "b") == std::nullopt);
    CHECK(http::find_query_param("", "b") == std::nullopt);
}

TEST_CASE("find_query_param gives an empty string for a bare flag") {
    CHECK(http::find_query_param("debug&x=1", "debug") == "");
}

TEST_CASE("find_query_param matches the decoded name") {
    CHECK(http::find_query_param("first+name=Ann&a%62c=1", "first name") == "Ann");
    CHECK(http::find_query_param("a%62c=1", "abc") == "1");
    CHECK(http::find_query_param("a%62c=1", "a%62c") == std::nullopt);
}

TEST_CASE("find_query_param keeps a malformed escape as text, as URLSearchParams does") {
    CHECK(http::find_query_param("q=100%&r=%zz%4", "q") == "100%");
    CHECK(http::find_query_param("q=100%&r=%zz%4", "r") == "%zz%4");
}

TEST_CASE("a ?topics= list: names in order, empties and repeats dropped, more than the cap refused") {
    auto names = http::split_list("b,,a,b,c,", 3);
    REQUIRE(names);
    CHECK(*names == std::vector<std::string_view>{"b", "a", "c"});
    CHECK_FALSE(http::split_list("a,b,c,d", 3));
    CHECK(http::split_list("a,a,a,a,a", 1)->size() == 1);   // repeats do not count against it
    CHECK(http::split_list("", 3)->empty());
}
