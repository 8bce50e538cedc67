// What the request parser lets a peer make its caller hold: chunked framing dropped as it is decoded,
// extensions and trailers bounded in total, and the Host and request-target rules of RFC 9112 §3.2.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <tether/http/parser.hpp>

using tether::http::limits;
using tether::http::parse_status;
using tether::http::request;
using tether::http::request_parser;

namespace {

// Feeds `wire` in pieces of `piece` bytes the way a connection does: the unconsumed bytes are kept
// in one buffer, and the chunked body's decoded framing is erased from it after every call.
// Returns the largest the buffer got and the final status.
struct fed {
    parse_status status = parse_status::need_more;
    std::size_t largest_buffer = 0;
    std::string body;
    int error = 0;
};

fed feed_like_a_connection(std::string_view wire, std::size_t piece, const limits& lim = limits{}) {
    request_parser parser(lim);
    request req;
    std::string buffer;
    fed out;
    for (std::size_t at = 0; at < wire.size() && out.status == parse_status::need_more; at += piece) {
        buffer.append(wire.substr(at, piece));
        out.status = parser.parse(buffer, req);
        if (out.status == parse_status::need_more) {
            if (auto n = parser.raw_body_decoded()) {
                buffer.erase(parser.raw_body_start(), n);
                parser.raw_body_erased();
            }
        }
        out.largest_buffer = std::max(out.largest_buffer, buffer.size());
    }
    if (out.status == parse_status::complete) out.body = std::string(req.body());
    if (out.status == parse_status::error) out.error = parser.error().status;
    return out;
}

int status_of(std::string_view wire) {
    request_parser parser;
    request req;
    auto s = parser.parse(wire, req);
    return s == parse_status::error ? parser.error().status : s == parse_status::complete ? 200 : 0;
}

} // namespace

TEST_CASE("a chunked body's framing leaves the buffer as it is decoded", "[http][parser][bounds]") {
    std::string wire = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string expected;
    for (int i = 0; i < 20'000; ++i) {
        wire += i % 1000 == 0 ? "1;name=value\r\n" : "1\r\n";   // extensions within their 16 KiB
        wire += static_cast<char>('a' + i % 26);
        wire += "\r\n";
        expected += static_cast<char>('a' + i % 26);
    }
    wire += "0\r\nTrailer-Field: t\r\n\r\n";
    auto out = feed_like_a_connection(wire, 1000);
    REQUIRE(out.status == parse_status::complete);
    CHECK(out.body == expected);
    // The header section plus less than one piece: never the 120 KB of framing.
    CHECK(out.largest_buffer < 80 + 1000 + 100);
}

TEST_CASE("the same body fed one byte at a time decodes the same", "[http][parser][bounds]") {
    std::string wire = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5;a=b\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
    auto out = feed_like_a_connection(wire, 1);
    REQUIRE(out.status == parse_status::complete);
    CHECK(out.body == "hello world");
}

TEST_CASE("chunk extensions and trailers are bounded together", "[http][parser][bounds]") {
    limits lim;
    lim.max_chunk_metadata_bytes = 1000;
    std::string head = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    SECTION("extensions") {
        std::string wire = head;
        for (int i = 0; i < 10; ++i) wire += "1;" + std::string(200, 'e') + "\r\nx\r\n";
        auto out = feed_like_a_connection(wire, 64, lim);
        CHECK(out.status == parse_status::error);
        CHECK(out.error == 400);
    }
    SECTION("trailers") {
        std::string wire = head + "1\r\nx\r\n0\r\n";
        for (int i = 0; i < 10; ++i) wire += "T" + std::to_string(i) + ": " + std::string(200, 't') + "\r\n";
        wire += "\r\n";
        auto out = feed_like_a_connection(wire, 64, lim);
        CHECK(out.status == parse_status::error);
        CHECK(out.error == 400);
    }
    SECTION("within the bound") {
        std::string wire = head + "1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n";
        CHECK(feed_like_a_connection(wire, 7, lim).status == parse_status::complete);
    }
}

// A Host value, bare and with tabs, spaces and a mixed-case name around it, gets is_valid_host's verdict,
// and a valid value is the request's host.
TEST_CASE("Host must be uri-host [\":\" port]", "[http][parser][bounds]") {
    auto with_host = [](std::string_view host) { return "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n"; };
    auto spaced = [](std::string_view host) { return "GET / HTTP/1.1\r\nhOsT:\t " + std::string(host) + " \t\r\n\r\n"; };
    for (auto good : {"example.com", "a.b-c_d~e", "example.com:8080", "[::1]", "[2001:db8::1]:443", "127.0.0.1:1",
                      "%41bc", "x!$&'()*+,;=", "", "h:", "[::1]:"}) {
        INFO(good);
        CHECK(tether::http::detail::is_valid_host(good));
        for (const std::string& wire : {with_host(good), spaced(good)}) {
            request_parser parser;
            request req;
            REQUIRE(parser.parse(wire, req) == parse_status::complete);
            CHECK(req.host() == good);
        }
    }
    for (auto bad : {"a b", "a, b", "user@host", "a:b:c", "[::1", "[]", "[::1]x", "host:8o", ":80", "a/b", "a\"b",
                     "%4", "%zz", "[::1]]", "[::g]", "a%4", "\xc3\xa9", "h:80 x"}) {
        INFO(bad);
        CHECK_FALSE(tether::http::detail::is_valid_host(bad));
        CHECK(status_of(with_host(bad)) == 400);
        CHECK(status_of(spaced(bad)) == 400);
    }
    SECTION("a valid Host beside an invalid second one is still a 400") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b c\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: b c\r\nHost: a\r\n\r\n") == 400);
    }
}

TEST_CASE("an absolute-form target names the host; the Host field is overridden", "[http][parser][bounds]") {
    request_parser parser;
    request req;
    std::string wire = "GET http://Target.example:81/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n";
    REQUIRE(parser.parse(wire, req) == parse_status::complete);
    CHECK(req.host() == "Target.example:81");
    CHECK(req.header("host") == "Target.example:81");
    CHECK(req.path() == "/p");
    CHECK(req.query_string() == "q=1");
    CHECK(status_of("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("the origin-form target keeps the Host field as the host", "[http][parser][bounds]") {
    request_parser parser;
    request req;
    std::string wire = "GET /p HTTP/1.1\r\nHost: example.com:8080\r\n\r\n";
    REQUIRE(parser.parse(wire, req) == parse_status::complete);
    CHECK(req.host() == "example.com:8080");
}

TEST_CASE("raw bytes >= 0x80 in the request-target are refused", "[http][parser][bounds]") {
    CHECK(status_of("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET /caf%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n") == 200);
}

// A whole request in one buffer is read in one pass (read_plain_head); the same bytes arriving one at a time
// go through the search for the header section's end first. Both must give the same answer at every limit
// that search applies, and wherever the plain form stops short of the empty line.
TEST_CASE("a request read in one pass and one byte at a time get the same answer at the limits", "[http][parser][bounds]") {
    limits lim;
    lim.max_header_bytes = 200;
    lim.max_target_bytes = 40;
    lim.max_fields = 3;
    const std::string long_method(lim.max_target_bytes + 70, 'A');   // the request-line over the target bound
    const std::string at_limit_value(200 - std::string_view("GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n").size(), 'v');
    const struct { std::string_view what; std::string wire; int status; } cases[] = {
        {"a method that takes the request-line past its bound", long_method + " / HTTP/1.1\r\nHost: h\r\n\r\n", 414},
        {"a header section of exactly the limit", "GET / HTTP/1.1\r\nHost: h\r\nX: " + at_limit_value + "\r\n\r\n", 200},
        {"one byte over it", "GET / HTTP/1.1\r\nHost: h\r\nX: v" + at_limit_value + "\r\n\r\n", 431},
        {"one field over the count", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
        {"a leading empty line", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 200},
        {"a bare LF ending a field line", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400},
        {"an empty line of a bare LF", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
        {"a refused absolute-form target", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"a refused target in a section over the limit", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\nX: " + at_limit_value + "\r\n\r\n", 431},
        {"two Hosts", "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400},
        {"a field value with a control byte", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        request_parser whole(lim);
        request req;
        const parse_status s = whole.parse(c.wire, req);
        const int status = s == parse_status::error ? whole.error().status : s == parse_status::complete ? 200 : 0;
        CHECK(status == c.status);
        const fed trickled = feed_like_a_connection(c.wire, 1, lim);
        CHECK((trickled.status == parse_status::complete ? 200 : trickled.error) == c.status);
        if (s == parse_status::complete) CHECK(whole.consumed() == c.wire.size());
    }
}
