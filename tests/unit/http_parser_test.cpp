// The HTTP/1.1 request parser (include/tether/http/parser.hpp): what it reports for valid requests and
// the exact status of every rejection. Every input is fed three ways, because a connection may receive
// any split and may move its buffer between reads:
// - in one piece;
// - one byte at a time, calling parse() with the growing prefix, as the parser's contract says;
// - one byte at a time with each prefix copied into a fresh allocation and the previous one freed, so a
//   parser that kept a pointer instead of an offset reads freed memory (and ASan says so).
// The three must agree on every request, every status and every offset.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/http/limits.hpp>
#include <tether/http/parser.hpp>
#include <tether/http/request.hpp>

using namespace tether::http;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

enum class feeding { whole, byte_by_byte, moved_between_calls };

// One parsed request, copied out of the views so it can be compared after the buffer is gone.
struct message {
    std::string method_name, target, path, query, body;
    tether::http::method verb = tether::http::method::other;
    int version_minor = -1;
    std::vector<std::pair<std::string, std::string>> fields;
    bool keep_alive = false, upgrade = false, expects_continue = false, chunked = false;
    std::optional<std::uint64_t> content_length;
    std::size_t consumed = 0;   // parser.consumed(): this request's length in the stream
    std::size_t offset = 0;     // where it started in the stream
};

// Everything a stream of bytes produced: the complete requests, then either an error or a partial request.
struct outcome {
    std::vector<message> requests;
    int error_status = 0;        // 0 when no error
    std::size_t leftover = 0;    // bytes after the last complete request, when no error
    bool header_complete = false;
    bool awaiting_continue = false;
};

bool inside(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Copies the request out and checks that every view lies inside the bytes given to parse().
message record(const request_parser& parser, const request& req, std::string_view data, std::size_t offset) {
    message m;
    CHECK(inside(req.method_name(), data));
    CHECK(inside(req.target(), data));
    // The path is a view into the target, except the "/" the parser supplies for "http://host".
    CHECK((inside(req.path(), data) || req.path() == "/"));
    CHECK(inside(req.query_string(), data));
    for (const field& f : req.fields()) {
        CHECK(inside(f.name, data));
        CHECK(inside(f.value, data));
        m.fields.emplace_back(f.name, f.value);
    }
    // A chunked body is decoded into the parser's own storage; any other body is a view.
    if (!req.chunked()) CHECK(inside(req.body(), data));
    m.method_name = req.method_name();
    m.verb = req.method();
    m.target = req.target();
    m.path = req.path();
    m.query = req.query_string();
    m.body = req.body();
    m.version_minor = req.version_minor();
    m.keep_alive = req.keep_alive();
    m.upgrade = req.wants_upgrade();
    m.expects_continue = req.expects_continue();
    m.chunked = req.chunked();
    m.content_length = req.content_length();
    m.consumed = parser.consumed();
    m.offset = offset;
    CHECK(parser.consumed() <= data.size());
    return m;
}

outcome parse_stream(std::string_view wire, feeding how, const limits& lim) {
    request_parser parser(lim);
    request req;
    outcome out;
    std::size_t begin = 0;                                       // the current request's first byte in wire
    std::size_t end = how == feeding::whole ? wire.size() : 0;   // bytes received so far
    std::unique_ptr<std::string> buffer;
    for (;;) {
        std::string_view data = wire.substr(begin, end - begin);
        if (how == feeding::moved_between_calls) {
            buffer = std::make_unique<std::string>(data);   // the previous allocation is freed here
            data = *buffer;
        }
        switch (parser.parse(data, req)) {
        case parse_status::complete:
            out.requests.push_back(record(parser, req, data, begin));
            begin += parser.consumed();
            parser.reset();
            continue;
        case parse_status::error:
            out.error_status = parser.error().status;
            CHECK(!parser.error().reason.empty());
            return out;
        case parse_status::need_more:
            if (end == wire.size()) {
                out.leftover = end - begin;
                out.header_complete = parser.header_complete();
                out.awaiting_continue = parser.awaiting_body_after_continue();
                return out;
            }
            ++end;
            continue;
        case parse_status::head:
        case parse_status::body: FAIL("head and body come only with pause_at_head (http_parser_stream_test.cpp)");
        }
    }
}

void require_same(const outcome& a, const outcome& b) {
    REQUIRE(a.error_status == b.error_status);
    REQUIRE(a.leftover == b.leftover);
    REQUIRE(a.header_complete == b.header_complete);
    REQUIRE(a.awaiting_continue == b.awaiting_continue);
    REQUIRE(a.requests.size() == b.requests.size());
    for (std::size_t i = 0; i < a.requests.size(); ++i) {
        const message& x = a.requests[i];
        const message& y = b.requests[i];
        INFO("request " << i);
        CHECK(x.method_name == y.method_name);
        CHECK(x.target == y.target);
        CHECK(x.path == y.path);
        CHECK(x.query == y.query);
        CHECK(x.body == y.body);
        CHECK(x.version_minor == y.version_minor);
        CHECK(x.fields == y.fields);
        CHECK(x.keep_alive == y.keep_alive);
        CHECK(x.upgrade == y.upgrade);
        CHECK(x.expects_continue == y.expects_continue);
        CHECK(x.chunked == y.chunked);
        CHECK(x.content_length == y.content_length);
        CHECK(x.consumed == y.consumed);
        CHECK(x.offset == y.offset);
    }
}

// Parses `wire` the three ways, requires that they agree, and returns what they found.
outcome parse_every_way(std::string_view wire, const limits& lim = limits{}) {
    outcome whole = parse_stream(wire, feeding::whole, lim);
    {
        INFO("fed one byte at a time");
        require_same(whole, parse_stream(wire, feeding::byte_by_byte, lim));
    }
    {
        INFO("fed one byte at a time, the buffer moved before every call");
        require_same(whole, parse_stream(wire, feeding::moved_between_calls, lim));
    }
    return whole;
}

// The one request `wire` holds, which must parse completely with nothing left over.
message parse_one(std::string_view wire, const limits& lim = limits{}) {
    outcome out = parse_every_way(wire, lim);
    INFO("error status " << out.error_status);
    REQUIRE(out.error_status == 0);
    REQUIRE(out.requests.size() == 1);
    REQUIRE(out.leftover == 0);
    REQUIRE(out.requests[0].consumed == wire.size());
    return out.requests[0];
}

// The status `wire` is rejected with (0 when it is not rejected).
int rejection(std::string_view wire, const limits& lim = limits{}) {
    outcome out = parse_every_way(wire, lim);
    return out.error_status;
}

limits without_host_requirement() {
    limits l;
    l.require_host = false;
    return l;
}

} // namespace

TEST_CASE("a simple GET is parsed into method, target, version and fields", "[http][parser]") {
    const message m = parse_one("GET /hello HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    CHECK(m.method_name == "GET");
    CHECK(m.verb == method::get);
    CHECK(m.target == "/hello");
    CHECK(m.path == "/hello");
    CHECK(m.query.empty());
    CHECK(m.version_minor == 1);
    CHECK(m.fields == std::vector<std::pair<std::string, std::string>>{{"Host", "example.com"}, {"Accept", "*/*"}});
    CHECK(m.body.empty());
    CHECK(m.keep_alive);
    CHECK_FALSE(m.upgrade);
    CHECK_FALSE(m.chunked);
    CHECK_FALSE(m.content_length);
}

TEST_CASE("an incomplete request asks for more bytes", "[http][parser]") {
    const outcome out = parse_every_way("GET / HTTP/1.1\r\nHost: x\r\n");
    CHECK(out.error_status == 0);
    CHECK(out.requests.empty());
    CHECK_FALSE(out.header_complete);
}

TEST_CASE("fields are views into the caller's bytes, with surrounding whitespace removed", "[http][parser]") {
    const std::string wire = "GET /a?b=c HTTP/1.1\r\nHost:   example.com \t\r\nX-Empty:\r\nX-Case: MiXeD\r\n\r\n";
    request_parser parser;
    request req;
    REQUIRE(parser.parse(wire, req) == parse_status::complete);
    const char* const begin = wire.data();

    SECTION("request-line parts point into the input") {
        CHECK(req.method_name().data() == begin);
        CHECK(req.target().data() == begin + 4);
        CHECK(req.path().data() == begin + 4);
        CHECK(req.query_string().data() == begin + 7);
    }
    SECTION("field names and values point into the input") {
        REQUIRE(req.fields().size() == 3);
        CHECK(req.fields()[0].name.data() == begin + wire.find("Host"));
        CHECK(req.fields()[0].value == "example.com");
        CHECK(req.fields()[0].value.data() == begin + wire.find("example.com"));
        CHECK(req.fields()[1].value.empty());
    }
    SECTION("header() looks names up case-insensitively and returns the first") {
        CHECK(req.header("host") == std::optional<std::string_view>{"example.com"});
        CHECK(req.header("X-CASE") == std::optional<std::string_view>{"MiXeD"});
        CHECK(req.has_header("x-empty"));
        CHECK_FALSE(req.header("missing"));
    }
}

TEST_CASE("pipelined requests in one buffer are parsed one after another", "[http][parser]") {
    const std::string first = "GET /one HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string second = "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    const std::string third = "POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
    const std::string partial = "GET /fou";
    const outcome out = parse_every_way(first + second + third + partial);
    REQUIRE(out.error_status == 0);
    REQUIRE(out.requests.size() == 3);

    SECTION("consumed() is each request's length, so the next starts right after it") {
        CHECK(out.requests[0].consumed == first.size());
        CHECK(out.requests[1].offset == first.size());
        CHECK(out.requests[1].consumed == second.size());
        CHECK(out.requests[2].offset == first.size() + second.size());
        CHECK(out.requests[2].consumed == third.size());
    }
    SECTION("each request has its own target and body") {
        CHECK(out.requests[0].target == "/one");
        CHECK(out.requests[0].body.empty());
        CHECK(out.requests[1].target == "/two");
        CHECK(out.requests[1].body == "abc");
        CHECK(out.requests[2].target == "/three");
        CHECK(out.requests[2].body == "hi");
    }
    SECTION("the start of a fourth request is left for the next read") {
        CHECK(out.leftover == partial.size());
    }
}

TEST_CASE("empty lines before the request-line are ignored", "[http][parser]") {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request-line.
    SECTION("one CRLF") {
        const message m = parse_one("\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.target == "/x");
    }
    SECTION("the CRLF a client sends after a body, before its next request") {
        const outcome out = parse_every_way(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
        REQUIRE(out.requests.size() == 2);
        CHECK(out.requests[1].target == "/next");
    }
    SECTION("a bare LF is not an empty line") {
        CHECK(rejection("\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
}

TEST_CASE("HTTP/1.0 requests close the connection unless they ask for keep-alive", "[http][parser]") {
    SECTION("without Connection: keep-alive the connection closes") {
        const message m = parse_one("GET / HTTP/1.0\r\n\r\n");
        CHECK(m.version_minor == 0);
        CHECK_FALSE(m.keep_alive);
    }
    SECTION("with Connection: keep-alive it stays open") {
        CHECK(parse_one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    }
    SECTION("close wins over keep-alive") {
        CHECK_FALSE(parse_one("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
    }
    SECTION("HTTP/1.0 needs no Host field") {
        CHECK(parse_one("GET / HTTP/1.0\r\n\r\n").path == "/");
    }
}

TEST_CASE("HTTP/1.1 requests keep the connection open unless they ask to close it", "[http][parser]") {
    CHECK(parse_one("GET / HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
    CHECK_FALSE(parse_one("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
    CHECK_FALSE(parse_one("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n").keep_alive);
}

TEST_CASE("a later HTTP/1.x minor version is handled as HTTP/1.1", "[http][parser]") {
    // RFC 9110 §2.5: a recipient treats a higher minor version as the highest it implements.
    CHECK(parse_one("GET / HTTP/1.9\r\nHost: h\r\n\r\n").version_minor == 1);
}

TEST_CASE("the request-target is split into path and query", "[http][parser]") {
    SECTION("origin-form with a query") {
        const message m = parse_one("GET /search?q=a+b&x=%20 HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.path == "/search");
        CHECK(m.query == "q=a+b&x=%20");
        CHECK(m.target == "/search?q=a+b&x=%20");
    }
    SECTION("a second '?' belongs to the query") {
        const message m = parse_one("GET /t?a=b?c HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.path == "/t");
        CHECK(m.query == "a=b?c");
    }
    SECTION("an empty query") {
        const message m = parse_one("GET /t? HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.path == "/t");
        CHECK(m.query.empty());
    }
    SECTION("a fragment is dropped from path and query but kept in the target") {
        const message m = parse_one("GET /p?q=1#frag HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.path == "/p");
        CHECK(m.query == "q=1");
        CHECK(m.target == "/p?q=1#frag");
    }
    SECTION("absolute-form keeps the path and query after the authority") {
        const message m = parse_one("GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n");
        CHECK(m.target == "http://example.com:8080/a/b?c=d");
        CHECK(m.path == "/a/b");
        CHECK(m.query == "c=d");
    }
    SECTION("absolute-form without a path has the path /") {
        const message m = parse_one("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
        CHECK(m.path == "/");
        CHECK(m.query.empty());
    }
    SECTION("absolute-form with a query right after the authority") {
        const message m = parse_one("GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
        CHECK(m.path == "/");
        CHECK(m.query == "x=1");
    }
    SECTION("asterisk-form is accepted for OPTIONS") {
        const message m = parse_one("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.verb == method::options);
        CHECK(m.target == "*");
        CHECK(m.path == "*");
    }
    SECTION("asterisk-form is refused for any other method") {
        CHECK(rejection("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
    SECTION("authority-form is accepted for CONNECT") {
        const message m = parse_one("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        CHECK(m.verb == method::connect);
        CHECK(m.target == "example.com:443");
        CHECK(m.path == "example.com:443");
    }
    SECTION("authority-form is refused for any other method") {
        CHECK(rejection("GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
    SECTION("bytes that are not allowed in a target are refused") {
        CHECK(rejection("GET /a\x01z HTTP/1.1\r\nHost: h\r\n\r\n"sv) == 400);
        CHECK(rejection("GET /a\x7fz HTTP/1.1\r\nHost: h\r\n\r\n"sv) == 400);
    }
}

// The parser reads each line first in one pass that accepts only its plain form, and gives any other
// line to the exact per-line code (parser.hpp, parse_header_section). These pairs differ only in what
// sends a line down one path or the other, so both must describe the same request.
TEST_CASE("a plain line and its unusual but valid spelling parse to the same request", "[http][parser]") {
    auto same_request = [](std::string_view plain, std::string_view unusual) {
        const message a = parse_one(plain), b = parse_one(unusual);
        CHECK(a.method_name == b.method_name);
        CHECK(a.verb == b.verb);
        CHECK(a.path == b.path);
        CHECK(a.query == b.query);
        CHECK(a.version_minor == b.version_minor);
        CHECK(a.fields == b.fields);
        CHECK(a.keep_alive == b.keep_alive);
    };
    SECTION("a later minor version (the exact code reads the request-line)") {
        same_request("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "GET /a HTTP/1.9\r\nHost: h\r\n\r\n");
    }
    SECTION("a query and a fragment (split by the exact code), against a target without them") {
        same_request("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "GET /a#f?q HTTP/1.1\r\nHost: h\r\n\r\n");
        const message m = parse_one("GET /a?q#f HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.path == "/a");
        CHECK(m.query == "q");
    }
    SECTION("whitespace around values, empty values and obs-text") {
        same_request("GET / HTTP/1.1\r\nHost: h\r\nX: v w\r\nY:\r\nZ: \xc3\xa9\r\n\r\n"sv,
                     "GET / HTTP/1.1\r\nHost:h\r\nX: \t v w \t\r\nY:  \t\r\nZ:\xc3\xa9 \r\n\r\n"sv);
    }
    SECTION("an unknown method is still a token") {
        const message m = parse_one("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(m.method_name == "BREW");
        CHECK(m.verb == tether::http::method::other);
    }
    SECTION("a line the plain pass refuses still gets the exact status") {
        CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"sv) == 400);   // a bare CR inside a value
        CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n") == 400);            // an empty name
        CHECK(rejection("GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);                   // two spaces
        CHECK(rejection("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
        limits l;
        l.max_fields = 2;
        CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n", l) == 0);
        CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", l) == 431);
        l = limits{};
        l.max_target_bytes = 4;
        CHECK(rejection("GET /abc HTTP/1.1\r\nHost: h\r\n\r\n", l) == 0);
        CHECK(rejection("GET /abcd HTTP/1.1\r\nHost: h\r\n\r\n", l) == 414);
    }
}

TEST_CASE("methods are tokens, compared case-sensitively", "[http][parser]") {
    CHECK(parse_one("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n").verb == method::delete_);
    const message custom = parse_one("PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(custom.verb == method::other);
    CHECK(custom.method_name == "PURGE");
    CHECK(parse_one("get /x HTTP/1.1\r\nHost: h\r\n\r\n").verb == method::other);   // RFC 9110 §9.1
}

TEST_CASE("a Content-Length body is read whole and exposed as a view", "[http][parser]") {
    SECTION("the body is exactly Content-Length bytes") {
        const message m = parse_one("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
        CHECK(m.body == "hello world");
        CHECK(m.content_length == std::optional<std::uint64_t>{11});
    }
    SECTION("a body may hold any byte, CR, LF and NUL included") {
        const message m = parse_one("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\na\r\n\0b"sv);
        CHECK(m.body == "a\r\n\0b"s);
    }
    SECTION("Content-Length: 0 means no body") {
        const message m = parse_one("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
        CHECK(m.body.empty());
        CHECK(m.content_length == std::optional<std::uint64_t>{0});
    }
    SECTION("a body still arriving leaves the header complete and asks for more") {
        const outcome out = parse_every_way("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
        CHECK(out.requests.empty());
        CHECK(out.error_status == 0);
        CHECK(out.header_complete);
        CHECK_FALSE(out.awaiting_continue);
    }
    SECTION("a request without Content-Length or Transfer-Encoding has no body") {
        // RFC 9112 §6.3: the bytes after it are the next request.
        const outcome out = parse_every_way("POST /p HTTP/1.1\r\nHost: h\r\n\r\nGET");
        REQUIRE(out.requests.size() == 1);
        CHECK(out.requests[0].body.empty());
        CHECK(out.leftover == 3);
    }
}

TEST_CASE("a chunked body is decoded, with extensions and trailers validated and dropped", "[http][parser]") {
    SECTION("chunks are joined in order") {
        const message m = parse_one("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n");
        CHECK(m.chunked);
        CHECK(m.body == "hello 0123456789");
        CHECK_FALSE(m.content_length);
    }
    SECTION("chunk sizes are hexadecimal in either case, leading zeros allowed") {
        const message m = parse_one("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "0a\r\n0123456789\r\nB\r\nabcdefghijk\r\n000\r\n\r\n");
        CHECK(m.body == "0123456789abcdefghijk");
    }
    SECTION("chunk extensions, with token and quoted-string values, are accepted") {
        const message m = parse_one("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "3;name=value\r\nabc\r\n"
                                    "2 ; flag ; q=\"quoted \\\" string\"\r\nde\r\n"
                                    "0;last\r\n\r\n");
        CHECK(m.body == "abcde");
    }
    SECTION("trailer fields are accepted and are not added to the header fields") {
        const message m = parse_one("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "2\r\nok\r\n0\r\nX-Checksum: abc\r\nX-Other:  1 \r\n\r\n");
        CHECK(m.body == "ok");
        CHECK(m.fields.size() == 2);
    }
    SECTION("an empty chunked body") {
        const message m = parse_one("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        CHECK(m.body.empty());
    }
    SECTION("Transfer-Encoding is matched case-insensitively") {
        CHECK(parse_one("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n").chunked);
    }
    SECTION("the next pipelined request starts right after the last CRLF") {
        const outcome out = parse_every_way("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                            "1\r\na\r\n0\r\n\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\n");
        REQUIRE(out.requests.size() == 2);
        CHECK(out.requests[0].body == "a");
        CHECK(out.requests[1].target == "/n");
    }
}

TEST_CASE("Expect: 100-continue makes the parser wait for permission to read the body", "[http][parser]") {
    const std::string head = "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    SECTION("after the header section it is awaiting the body") {
        const outcome out = parse_every_way(head);
        CHECK(out.requests.empty());
        CHECK(out.header_complete);
        CHECK(out.awaiting_continue);
    }
    SECTION("the same holds for a chunked body") {
        const outcome out =
            parse_every_way("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n");
        CHECK(out.awaiting_continue);
    }
    SECTION("once the body arrives the request is complete and says it expected 100-continue") {
        const message m = parse_one(head + "data");
        CHECK(m.expects_continue);
        CHECK(m.body == "data");
    }
    SECTION("a request without a body has nothing to wait for") {
        const outcome out = parse_every_way("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
        REQUIRE(out.requests.size() == 1);
        CHECK_FALSE(out.awaiting_continue);
    }
    SECTION("an HTTP/1.0 request's 100-continue expectation is ignored") {
        // RFC 9110 §10.1.1: a server that receives 100-continue in an HTTP/1.0 request MUST ignore it.
        const outcome out = parse_every_way("PUT /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
        CHECK(out.header_complete);
        CHECK_FALSE(out.awaiting_continue);
    }
}

TEST_CASE("an upgrade needs both an Upgrade field and the upgrade connection option", "[http][parser]") {
    SECTION("a WebSocket handshake asks for an upgrade, and the bytes after it are left alone") {
        const std::string wire = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                                 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";
        const outcome out = parse_every_way(wire + "\x81\x05hello");
        REQUIRE(out.requests.size() == 1);
        CHECK(out.requests[0].upgrade);
        CHECK(out.requests[0].consumed == wire.size());
    }
    SECTION("Upgrade without Connection: upgrade is not an upgrade") {
        CHECK_FALSE(parse_one("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n").upgrade);
    }
    SECTION("Connection: upgrade without an Upgrade field is not an upgrade") {
        CHECK_FALSE(parse_one("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n").upgrade);
    }
}

TEST_CASE("a request with both Content-Length and Transfer-Encoding is refused with 400", "[http][parser][smuggling]") {
    // RFC 9112 §6.3: the two disagree on where the message ends, the classic request-smuggling setup.
    CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
    CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("a duplicate or malformed Content-Length is refused with 400", "[http][parser][smuggling]") {
    const auto with_length = [](std::string_view fields) {
        return "POST / HTTP/1.1\r\nHost: h\r\n"s.append(fields).append("\r\nhello");
    };
    SECTION("two equal fields") { CHECK(rejection(with_length("Content-Length: 5\r\nContent-Length: 5\r\n")) == 400); }
    SECTION("two different fields") { CHECK(rejection(with_length("Content-Length: 5\r\nContent-Length: 6\r\n")) == 400); }
    SECTION("a list of equal values") { CHECK(rejection(with_length("Content-Length: 5, 5\r\n")) == 400); }
    SECTION("a plus sign") { CHECK(rejection(with_length("Content-Length: +5\r\n")) == 400); }
    SECTION("a minus sign") { CHECK(rejection(with_length("Content-Length: -5\r\n")) == 400); }
    SECTION("an empty value") { CHECK(rejection(with_length("Content-Length:\r\n")) == 400); }
    SECTION("a hexadecimal value") { CHECK(rejection(with_length("Content-Length: 0x5\r\n")) == 400); }
    SECTION("a value with inner whitespace") { CHECK(rejection(with_length("Content-Length: 5 5\r\n")) == 400); }
    SECTION("a value that overflows 64 bits") {
        CHECK(rejection(with_length("Content-Length: 99999999999999999999999\r\n")) == 400);
    }
    SECTION("surrounding whitespace is not part of the value") {
        CHECK(parse_one(with_length("Content-Length:  5 \r\n")).body == "hello");
    }
    SECTION("leading zeros are still a decimal number") {
        CHECK(parse_one(with_length("Content-Length: 005\r\n")).body == "hello");
    }
}

TEST_CASE("an invalid chunk size or chunk extension is refused with 400", "[http][parser][smuggling]") {
    const auto chunked = [](std::string_view body) {
        return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"s.append(body);
    };
    SECTION("a non-hex size") { CHECK(rejection(chunked("g\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("an empty size") { CHECK(rejection(chunked("\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("a signed size") { CHECK(rejection(chunked("+3\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("a 0x prefix") { CHECK(rejection(chunked("0x3\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("more than 16 hex digits") { CHECK(rejection(chunked("00000000000000003\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("16 hex digits are still accepted") {
        CHECK(parse_one(chunked("0000000000000003\r\nabc\r\n0\r\n\r\n")).body == "abc");
    }
    SECTION("data longer than the size, so no CRLF follows it") {
        CHECK(rejection(chunked("3\r\nabcd\r\n0\r\n\r\n")) == 400);
    }
    SECTION("data followed by a bare LF") { CHECK(rejection(chunked("3\r\nabc\n0\r\n\r\n")) == 400); }
    SECTION("a size line ended by a bare LF") { CHECK(rejection(chunked("3\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("a bare CR inside a size line") { CHECK(rejection(chunked("3\r;a\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("whitespace after the size without an extension") {
        // chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1): BWS only precedes a ';'.
        CHECK(rejection(chunked("3 \r\nabc\r\n0\r\n\r\n")) == 400);
    }
    SECTION("whitespace after an extension") { CHECK(rejection(chunked("3;a=b \r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("an extension without a name") { CHECK(rejection(chunked("3;\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("an extension name that is not a token") { CHECK(rejection(chunked("3;a@b\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("an extension with '=' but no value") { CHECK(rejection(chunked("3;a=\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("text after the size that is not an extension") {
        CHECK(rejection(chunked("3 abc\r\nabc\r\n0\r\n\r\n")) == 400);
    }
    SECTION("an unterminated quoted-string") { CHECK(rejection(chunked("3;a=\"b\r\nabc\r\n0\r\n\r\n")) == 400); }
    SECTION("a control character in a quoted-string") {
        CHECK(rejection(chunked("3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n")) == 400);
    }
    SECTION("a size line longer than 4 KiB") {
        CHECK(rejection(chunked("3;a=" + std::string(5000, 'x') + "\r\nabc\r\n0\r\n\r\n")) == 400);
    }
    SECTION("a malformed trailer field") {
        CHECK(rejection(chunked("3\r\nabc\r\n0\r\nno colon here\r\n\r\n")) == 400);
        CHECK(rejection(chunked("3\r\nabc\r\n0\r\nX : y\r\n\r\n")) == 400);
        CHECK(rejection(chunked("3\r\nabc\r\n0\r\n folded: y\r\n\r\n")) == 400);
    }
}

TEST_CASE("a bare CR or bare LF in the header section is refused with 400", "[http][parser][smuggling]") {
    // RFC 9112 §2.2: a bare CR must be rejected or replaced; this parser rejects, and treats a bare LF alike.
    SECTION("bare LF ending the request-line") { CHECK(rejection("GET / HTTP/1.1\nHost: h\r\n\r\n") == 400); }
    SECTION("bare CR ending the request-line") { CHECK(rejection("GET / HTTP/1.1\rHost: h\r\n\r\n") == 400); }
    SECTION("bare CR inside the request-line") { CHECK(rejection("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n") == 400); }
    SECTION("bare LF ending a field line") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n") == 400); }
    SECTION("bare LF ending the header section") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\n\n") == 400); }
    SECTION("bare LFs only") { CHECK(rejection("GET / HTTP/1.1\nHost: h\n\n") == 400); }
    SECTION("bare CR inside a field value") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n") == 400); }
    SECTION("bare CR at the end of a field value") {
        CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: ab\r\r\n\r\n") == 400);
    }
    SECTION("bare CR inside a field name") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX\rY: a\r\n\r\n") == 400); }
}

TEST_CASE("whitespace between a field name and its colon is refused with 400", "[http][parser][smuggling]") {
    // RFC 9112 §5.1: a server MUST reject it.
    CHECK(rejection("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 0\r\n\r\n") == 400);
}

TEST_CASE("obsolete line folding is refused with 400", "[http][parser][smuggling]") {
    // RFC 9112 §5.2: outside message/http a server rejects obs-fold with 400 (or replaces it; we reject).
    CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400);
}

TEST_CASE("invalid characters in the method, field names and field values are refused with 400", "[http][parser]") {
    SECTION("a method with a non-token byte") { CHECK(rejection("G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400); }
    SECTION("an empty method") { CHECK(rejection(" / HTTP/1.1\r\nHost: h\r\n\r\n") == 400); }
    SECTION("a field name with a non-token byte") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX[1]: y\r\n\r\n") == 400); }
    SECTION("a field name with a space") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX Y: z\r\n\r\n") == 400); }
    SECTION("an empty field name") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\n: z\r\n\r\n") == 400); }
    SECTION("a field line without a colon") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nXY\r\n\r\n") == 400); }
    SECTION("a control character in a value") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n") == 400); }
    SECTION("DEL in a value") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n") == 400); }
    SECTION("NUL in a value") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n"sv) == 400); }
    SECTION("NUL in a field name") { CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX\0: z\r\n\r\n"sv) == 400); }
    SECTION("NUL in the method") { CHECK(rejection("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"sv) == 400); }
    SECTION("NUL in the target") { CHECK(rejection("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n"sv) == 400); }
    SECTION("obs-text (bytes 0x80-0xff) in a value is allowed") {
        CHECK(parse_one("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n").fields[1].second == "caf\xc3\xa9");
    }
    SECTION("a tab inside a value is allowed") {
        CHECK(parse_one("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n").fields[1].second == "a\tb");
    }
}

TEST_CASE("a malformed request-line is refused with 400", "[http][parser]") {
    SECTION("no version (HTTP/0.9)") { CHECK(rejection("GET /\r\n\r\n") == 400); }
    SECTION("two spaces between method and target") { CHECK(rejection("GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400); }
    SECTION("a space after the version") { CHECK(rejection("GET / HTTP/1.1 \r\nHost: h\r\n\r\n") == 400); }
    SECTION("a space inside the target") { CHECK(rejection("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n") == 400); }
    SECTION("a tab as separator") { CHECK(rejection("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400); }
    SECTION("an empty request-line") { CHECK(rejection("\r\n\r\n\r\n\r\n\r\n\r\n") == 400); }
}

TEST_CASE("a major version other than 1 is refused with 505", "[http][parser]") {
    CHECK(rejection("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
    CHECK(rejection("GET / HTTP/3.1\r\nHost: h\r\n\r\n") == 505);
    CHECK(rejection("GET / HTTP/0.9\r\nHost: h\r\n\r\n") == 505);
}

TEST_CASE("a malformed HTTP-version is refused with 400", "[http][parser]") {
    CHECK(rejection("GET / HTTP/1\r\nHost: h\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/1.1x\r\nHost: h\r\n\r\n") == 400);
    CHECK(rejection("GET / http/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/1.10\r\nHost: h\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/a.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(rejection("GET / HTTP/1,1\r\nHost: h\r\n\r\n") == 400);
    CHECK(rejection("GET / ICE/1.0\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("Transfer-Encoding is refused in an HTTP/1.0 request with 400", "[http][parser][smuggling]") {
    // RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty framing.
    CHECK(rejection("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("transfer codings other than a final chunked are refused", "[http][parser][smuggling]") {
    const auto with_te = [](std::string_view te) {
        return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "s.append(te).append("\r\n\r\n0\r\n\r\n");
    };
    SECTION("a coding we do not implement before chunked is 501") { CHECK(rejection(with_te("gzip, chunked")) == 501); }
    SECTION("the same coding split over two fields is 501") {
        CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "0\r\n\r\n") == 501);
    }
    SECTION("chunked that is not the last coding is 400") { CHECK(rejection(with_te("chunked, gzip")) == 400); }
    SECTION("a coding without chunked is 400") { CHECK(rejection(with_te("gzip")) == 400); }
    SECTION("chunked applied twice is 400") { CHECK(rejection(with_te("chunked, chunked")) == 400); }
    SECTION("an empty Transfer-Encoding is 400") { CHECK(rejection(with_te("")) == 400); }
    SECTION("empty list elements around chunked are allowed") { CHECK(rejection(with_te(" , chunked ,")) == 0); }
}

TEST_CASE("an expectation other than 100-continue is refused with 417", "[http][parser]") {
    CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n") == 417);
    CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, foo\r\n\r\n") == 417);
}

TEST_CASE("an HTTP/1.1 request needs exactly one Host field", "[http][parser]") {
    // RFC 9112 §3.2.
    SECTION("without Host it is refused with 400") { CHECK(rejection("GET / HTTP/1.1\r\n\r\n") == 400); }
    SECTION("without Host it is accepted when limits.require_host is false") {
        CHECK(parse_one("GET / HTTP/1.1\r\n\r\n", without_host_requirement()).path == "/");
    }
    SECTION("with two Host fields it is refused with 400") {
        CHECK(rejection("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
        CHECK(rejection("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
    }
    SECTION("two Host fields are refused even when Host is not required") {
        CHECK(rejection("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", without_host_requirement()) == 400);
    }
    SECTION("an empty Host is allowed") { CHECK(rejection("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 0); }
}

TEST_CASE("a header section over the size limit is refused with 431", "[http][parser][limits]") {
    SECTION("with the default 16 KiB limit, complete") {
        const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(16 * 1024, 'a') + "\r\n\r\n";
        CHECK(rejection(wire) == 431);
    }
    SECTION("with the default limit, still arriving") {
        CHECK(rejection("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(17 * 1024, 'a')) == 431);
    }
    SECTION("exactly at the limit is accepted, one byte over is not") {
        limits l;
        const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        l.max_header_bytes = wire.size();
        CHECK(rejection(wire, l) == 0);
        l.max_header_bytes = wire.size() - 1;
        CHECK(rejection(wire, l) == 431);
    }
}

TEST_CASE("too many header fields are refused with 431", "[http][parser][limits]") {
    const auto with_fields = [](std::size_t count) {
        std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n";
        for (std::size_t i = 1; i < count; ++i) wire += "X-" + std::to_string(i) + ": v\r\n";
        return wire + "\r\n";
    };
    CHECK(rejection(with_fields(100)) == 0);
    CHECK(rejection(with_fields(101)) == 431);
}

TEST_CASE("a request-target over the limit is refused with 414", "[http][parser][limits]") {
    const std::string long_target = "/" + std::string(9000, 'a');
    SECTION("when the request-line is complete") {
        CHECK(rejection("GET " + long_target + " HTTP/1.1\r\nHost: h\r\n\r\n") == 414);
    }
    SECTION("while the request-line is still arriving") {
        CHECK(rejection("GET " + long_target) == 414);
    }
    SECTION("just over the limit, with the rest of the request complete") {
        limits l;
        l.max_target_bytes = 10;
        CHECK(rejection("GET /123456789 HTTP/1.1\r\nHost: h\r\n\r\n", l) == 0);
        CHECK(rejection("GET /1234567890 HTTP/1.1\r\nHost: h\r\n\r\n", l) == 414);
    }
    SECTION("a header limit below the target limit is crossed first, so the answer is 431") {
        // parse_every_way also requires the trickled and the one-piece answers to agree.
        limits l;
        l.max_header_bytes = 100;
        l.max_target_bytes = 1000;
        CHECK(rejection("GET /" + std::string(500, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", l) == 431);
        CHECK(rejection("GET /" + std::string(2000, 'a'), l) == 431);
    }
}

TEST_CASE("a body over the limit is refused with 413", "[http][parser][limits]") {
    SECTION("a Content-Length over the default 1 MiB is refused before the body arrives") {
        CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n") == 413);
    }
    SECTION("a Content-Length at the limit is accepted") {
        limits l;
        l.max_body_bytes = 5;
        CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", l) == 0);
        CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nhello!", l) == 413);
    }
    SECTION("a chunked body whose chunks add up to more than the limit") {
        limits l;
        l.max_body_bytes = 10;
        const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        CHECK(rejection(head + "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", l) == 0);
        CHECK(rejection(head + "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", l) == 413);
    }
    SECTION("a single chunk announcing 2^64-1 bytes") {
        CHECK(rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n") == 413);
    }
}

TEST_CASE("a CONNECT request with content is refused with 400", "[http][parser][smuggling]") {
    // RFC 9110 §9.3.6: a CONNECT request has no content; the bytes after its header section belong to the
    // tunnel. A Content-Length there makes a reader that honours it and one that does not disagree on
    // where the next message starts.
    CHECK(rejection("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 3\r\n\r\nabc") == 400);
    CHECK(rejection("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
    SECTION("the bytes after a CONNECT are left for the tunnel") {
        const outcome out = parse_every_way("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01");
        REQUIRE(out.requests.size() == 1);
        CHECK(out.leftover == 3);
    }
}

TEST_CASE("after an error the parser keeps reporting it until reset", "[http][parser]") {
    request_parser parser;
    request req;
    const std::string bad = "GET / HTTP/1.1\r\nHost : h\r\n\r\n";
    REQUIRE(parser.parse(bad, req) == parse_status::error);
    CHECK(parser.error().status == 400);

    SECTION("more bytes do not revive it") {
        CHECK(parser.parse(bad + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", req) == parse_status::error);
        CHECK(parser.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", req) == parse_status::error);
        CHECK(parser.error().status == 400);
        CHECK_FALSE(parser.header_complete());
    }
    SECTION("reset() readies it for a new request") {
        parser.reset();
        REQUIRE(parser.parse("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", req) == parse_status::complete);
        CHECK(req.target() == "/ok");
    }
}

TEST_CASE("reset() readies the parser for the next request on the connection", "[http][parser]") {
    request_parser parser;
    request req;
    const std::string first = "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                              "3\r\nabc\r\n0\r\n\r\n";
    REQUIRE(parser.parse(first, req) == parse_status::complete);
    CHECK(req.body() == "abc");
    parser.reset();

    SECTION("no state of the previous request leaks into the next") {
        const std::string second = "GET /b HTTP/1.0\r\n\r\n";
        REQUIRE(parser.parse(second, req) == parse_status::complete);
        CHECK(req.target() == "/b");
        CHECK(req.body().empty());
        CHECK_FALSE(req.chunked());
        CHECK_FALSE(req.expects_continue());
        CHECK_FALSE(req.keep_alive());
        CHECK(req.fields().empty());
        CHECK(parser.consumed() == second.size());
    }
    SECTION("a second chunked body does not include the first") {
        REQUIRE(parser.parse("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n", req) ==
                parse_status::complete);
        CHECK(req.body() == "de");
    }
    SECTION("an idle connection has nothing pending") {
        CHECK(parser.idle(""));
        CHECK_FALSE(parser.idle("G"));
    }
}
