// The request parser's streamed bodies (pause_at_head, begin_body, `body` pieces): what a connection
// serving uploads larger than memory relies on. Every input is fed whole and one byte at a time, each
// call's bytes in a fresh allocation (a kept pointer would read freed memory under ASan), and the caller
// drops consumed() bytes after every call, as the contract says.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/parser.hpp>

using namespace tether::http;

namespace {

// What one connection's bytes produced when every body was taken the same way.
struct streamed {
    struct one {
        std::string path, body;
        std::size_t pieces = 0;
        bool expects_continue = false;
    };
    std::vector<one> requests;    // complete ones
    std::size_t heads = 0;        // `head` events
    int error = 0;                // final error status, 0 when none
    std::size_t largest_held = 0; // the most the caller's buffer held after dropping consumed()
    bool in_body_at_end = false;
};

// Feeds `wire` `piece` bytes at a time (0: whole); at each head the body gets `limit`, and the n-th head (from 0)
// `hows[n % hows.size()]`.
streamed feed_each(std::string_view wire, std::size_t piece, std::uint64_t limit, const std::vector<body_delivery>& hows,
                   const limits& lim = limits{}) {
    body_delivery how = hows.front();
    request_parser parser(lim);
    parser.pause_at_head(true);
    request req;
    streamed out;
    std::string held;                 // bytes received and not consumed
    std::size_t fed = 0;
    streamed::one current;
    bool streaming = false;   // between a streamed head and its complete: `req` is not to be read
    for (;;) {
        auto buffer = std::make_unique<std::string>(held);   // moved between calls
        std::string_view data = *buffer;
        auto status = parser.parse(data, req);
        std::size_t drop = 0;
        switch (status) {
        case parse_status::head:
            how = hows[out.heads++ % hows.size()];
            CHECK(parser.at_head());
            CHECK(req.body().empty());
            current = {std::string(req.path()), {}, 0, req.expects_continue()};
            CHECK(parser.awaiting_body_after_continue() == req.expects_continue());
            if (!parser.begin_body(limit, how)) {
                CHECK(parser.parse(data, req) == parse_status::error);
                out.error = parser.error().status;
                return out;
            }
            CHECK(!parser.at_head());
            drop = parser.consumed();   // streamed: the header section; buffered: nothing
            streaming = how == body_delivery::streamed;
            CHECK(drop == (how == body_delivery::streamed ? data.find("\r\n\r\n") + 4 : 0));
            break;
        case parse_status::body:
            REQUIRE(how == body_delivery::streamed);
            REQUIRE(!parser.body_piece().empty());
            // A view into this call's bytes, at their front (framing before it was consumed too).
            CHECK(parser.body_piece().data() >= data.data());
            CHECK(parser.body_piece().data() + parser.body_piece().size() <= data.data() + parser.consumed());
            current.body.append(parser.body_piece());
            ++current.pieces;
            drop = parser.consumed();
            break;
        case parse_status::complete:
            if (!streaming) current = {std::string(req.path()), std::string(req.body()), 0, req.expects_continue()};
            streaming = false;
            out.requests.push_back(current);
            current = {};
            drop = parser.consumed();
            CHECK(drop <= data.size());
            parser.reset();
            parser.pause_at_head(true);
            break;
        case parse_status::error: out.error = parser.error().status; return out;
        case parse_status::need_more:
            drop = parser.consumed();
            CHECK((drop == 0 || parser.streaming_body()));
            break;
        }
        held.erase(0, drop);
        if (status != parse_status::need_more) continue;
        out.largest_held = std::max(out.largest_held, held.size());
        if (fed == wire.size()) {
            out.in_body_at_end = parser.streaming_body();
            return out;
        }
        std::size_t n = piece == 0 ? wire.size() - fed : std::min(piece, wire.size() - fed);
        held.append(wire.substr(fed, n));
        fed += n;
    }
}

streamed feed(std::string_view wire, std::size_t piece, std::uint64_t limit, body_delivery how, const limits& lim = limits{}) {
    return feed_each(wire, piece, limit, {how}, lim);
}

std::string put(std::string_view path, std::string_view body, std::string_view extra = {}) {
    return "PUT " + std::string(path) + " HTTP/1.1\r\nHost: h\r\n" + std::string(extra) +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string put_chunked(std::string_view path, const std::vector<std::string>& chunks, std::string_view trailers = {}) {
    std::string wire = "PUT " + std::string(path) + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const auto& c : chunks) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx", c.size());
        wire.append(size).append(";ext=1\r\n").append(c).append("\r\n");
    }
    return wire.append("0\r\n").append(trailers).append("\r\n");
}

std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) % 251);
    return s;
}

} // namespace

TEST_CASE("a Content-Length body streams in pieces that sum to the body, however it arrives", "[http][parser][stream]") {
    const std::string body = pattern(10'000, 1);
    for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
        INFO("fed " << piece << " bytes at a time");
        auto out = feed(put("/files/a", body), piece, 1 << 20, body_delivery::streamed);
        REQUIRE(out.error == 0);
        REQUIRE(out.requests.size() == 1);
        CHECK(out.requests[0].path == "/files/a");
        CHECK(out.requests[0].body == body);
        CHECK(out.requests[0].pieces >= 1);
        if (piece == 1) CHECK(out.requests[0].pieces == body.size());
        // Nothing of the body stays with the caller: at most the header section before the head.
        CHECK(out.largest_held <= put("/files/a", body).find("\r\n\r\n") + 4);
    }
}

TEST_CASE("a chunked body streams its chunk data without its framing", "[http][parser][stream]") {
    std::vector<std::string> chunks{pattern(1, 2), pattern(300, 3), pattern(5000, 4), pattern(17, 5)};
    std::string expected;
    for (auto& c : chunks) expected += c;
    const std::string wire = put_chunked("/u", chunks, "Checksum: 12\r\n");
    for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{1000}}) {
        INFO("fed " << piece << " bytes at a time");
        auto out = feed(wire, piece, 1 << 20, body_delivery::streamed);
        REQUIRE(out.error == 0);
        REQUIRE(out.requests.size() == 1);
        CHECK(out.requests[0].body == expected);
        if (piece == 0) CHECK(out.requests[0].pieces == chunks.size());
    }
    // What stays between calls is one partial framing line at most.
    auto trickled = feed(wire, 1, 1 << 20, body_delivery::streamed);
    CHECK(trickled.largest_held <= wire.find("\r\n\r\n") + 4);
}

TEST_CASE("the parser pauses at the head only when a body follows", "[http][parser][stream]") {
    for (std::string wire : {std::string("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"), put("/b", ""),
                             std::string("DELETE /c HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")}) {
        auto out = feed(wire, 1, 0, body_delivery::streamed);
        CHECK(out.heads == 0);
        CHECK(out.requests.size() == 1);
    }
    // An empty chunked body still has framing to read: it pauses, and streams no piece.
    auto out = feed(put_chunked("/d", {}), 1, 0, body_delivery::streamed);
    CHECK(out.heads == 1);
    REQUIRE(out.requests.size() == 1);
    CHECK(out.requests[0].pieces == 0);
    CHECK(out.requests[0].body.empty());
}

TEST_CASE("begin_body's limit replaces max_body_bytes for that request", "[http][parser][stream]") {
    limits small;
    small.max_body_bytes = 100;
    const std::string body = pattern(5000, 6);
    SECTION("a route's larger limit lets a body past max_body_bytes through, streamed or buffered") {
        CHECK(feed(put("/u", body), 13, 5000, body_delivery::streamed, small).requests.at(0).body == body);
        CHECK(feed(put("/u", body), 13, 5000, body_delivery::buffered, small).requests.at(0).body == body);
        CHECK(feed(put_chunked("/u", {body}), 13, 5000, body_delivery::streamed, small).requests.at(0).body == body);
    }
    SECTION("a Content-Length over the limit is refused at begin_body, before any body byte") {
        auto out = feed(put("/u", body), 0, 4999, body_delivery::streamed, small);
        CHECK(out.error == 413);
        CHECK(out.requests.empty());
    }
    SECTION("a chunked body over the limit is refused at the chunk that crosses it") {
        auto out = feed(put_chunked("/u", {pattern(3000, 7), pattern(3000, 8)}), 0, 4999, body_delivery::streamed, small);
        CHECK(out.error == 413);
    }
    SECTION("without the pause, max_body_bytes still decides at the header section") {
        request_parser parser(small);
        request req;
        CHECK(parser.parse(put("/u", body), req) == parse_status::error);
        CHECK(parser.error().status == 413);
    }
}

TEST_CASE("a buffered body after the pause parses exactly as without it", "[http][parser][stream]") {
    const std::string wire = put("/one", pattern(3000, 9)) + put_chunked("/two", {"abc", pattern(700, 10)}) +
                             "GET /three HTTP/1.1\r\nHost: h\r\n\r\n";
    auto paused = feed(wire, 5, limits{}.max_body_bytes, body_delivery::buffered);
    request_parser plain;
    request req;
    std::vector<std::string> bodies;
    std::string_view rest = wire;
    while (!rest.empty()) {
        REQUIRE(plain.parse(rest, req) == parse_status::complete);
        bodies.emplace_back(req.body());
        rest.remove_prefix(plain.consumed());
        plain.reset();
    }
    REQUIRE(paused.error == 0);
    REQUIRE(paused.requests.size() == 3);
    CHECK(paused.heads == 2);
    for (std::size_t i = 0; i < 3; ++i) CHECK(paused.requests[i].body == bodies[i]);
}

TEST_CASE("requests pipelined behind a streamed body parse from where it ended", "[http][parser][stream]") {
    const std::string a = pattern(2000, 11), b = pattern(33, 12);
    const std::string wire = put("/a", a) + "GET /between HTTP/1.1\r\nHost: h\r\n\r\n" + put_chunked("/b", {b, b}) + put("/c", "");
    for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
        auto out = feed(wire, piece, 1 << 20, body_delivery::streamed);
        REQUIRE(out.error == 0);
        REQUIRE(out.requests.size() == 4);
        CHECK(out.requests[0].body == a);
        CHECK(out.requests[1].path == "/between");
        CHECK(out.requests[2].body == b + b);
        CHECK(out.requests[3].path == "/c");
        CHECK(!out.in_body_at_end);
    }
}

TEST_CASE("each body is taken as its own head says, whatever the one before it was", "[http][parser][stream]") {
    // The parser resets a body's state only after a request that had one (reset()): a streamed body must leave
    // nothing behind that would stream the buffered one after it, or the other way round, nor a bodiless GET
    // between them.
    const std::string a = pattern(900, 21), b = pattern(40, 22), c = pattern(300, 23), d = pattern(70, 24);
    const std::string wire = put("/a", a) + put("/b", b) + "GET /between HTTP/1.1\r\nHost: h\r\n\r\n" +
                             put_chunked("/c", {c, c}) + put_chunked("/d", {d}) + put("/e", a);
    for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
        INFO(piece);
        auto out = feed_each(wire, piece, 1 << 20, {body_delivery::streamed, body_delivery::buffered});
        REQUIRE(out.error == 0);
        REQUIRE(out.heads == 5);
        REQUIRE(out.requests.size() == 6);
        const std::vector<std::string> bodies{a, b, "", c + c, d, a};
        for (std::size_t i = 0; i < bodies.size(); ++i) CHECK(out.requests[i].body == bodies[i]);
        // Streamed bodies arrive as pieces, buffered ones whole: heads 0, 2 and 4 (/a, /c, /e) were streamed.
        CHECK(out.requests[0].pieces >= 1);
        CHECK(out.requests[1].pieces == 0);
        CHECK(out.requests[2].path == "/between");
        CHECK(out.requests[3].pieces >= 1);
        CHECK(out.requests[4].pieces == 0);
        CHECK(out.requests[5].pieces >= 1);
        CHECK(!out.in_body_at_end);
    }
}

TEST_CASE("a streamed body leaves nothing behind for a request read without the pause", "[http][parser][stream]") {
    // The pause may be switched between requests (pause_at_head()); without it the next body is buffered,
    // whatever the last one was.
    const std::string body = pattern(500, 25);
    for (bool chunked : {false, true}) {
        INFO(chunked);
        const std::string first = chunked ? put_chunked("/a", {body}) : put("/a", body);
        request_parser parser;
        request req;
        parser.pause_at_head(true);
        REQUIRE(parser.parse(first, req) == parse_status::head);
        REQUIRE(parser.begin_body(1 << 20, body_delivery::streamed));
        std::string_view rest = std::string_view{first}.substr(parser.consumed());
        std::string got;
        for (;;) {
            const auto status = parser.parse(rest, req);
            if (status == parse_status::complete) break;
            REQUIRE(status == parse_status::body);
            got.append(parser.body_piece());
            rest.remove_prefix(parser.consumed());
        }
        REQUIRE(got == body);
        parser.reset();
        parser.pause_at_head(false);
        // Its body arriving after its head, so that the second call finds the parser in the body's stage.
        const std::string second = put("/b", "buffered");
        REQUIRE(parser.parse(std::string_view{second}.substr(0, second.size() - 3), req) == parse_status::need_more);
        CHECK(!parser.streaming_body());
        REQUIRE(parser.parse(second, req) == parse_status::complete);
        CHECK(req.body() == "buffered");
    }
}

TEST_CASE("a request cut off inside a streamed body leaves the parser in it", "[http][parser][stream]") {
    std::string wire = put("/a", pattern(100, 13));
    wire.resize(wire.size() - 10);
    auto out = feed(wire, 0, 1 << 20, body_delivery::streamed);
    CHECK(out.requests.empty());
    CHECK(out.in_body_at_end);
}

TEST_CASE("malformed chunk framing inside a streamed body is a 400 at the byte that breaks it", "[http][parser][stream]") {
    std::string wire = put_chunked("/a", {pattern(10, 14)});
    wire.replace(wire.find("\r\n0\r\n"), 2, "XX");   // the CRLF after the chunk data
    auto out = feed(wire, 1, 1 << 20, body_delivery::streamed);
    CHECK(out.error == 400);
    CHECK(out.requests.empty());
}

TEST_CASE("the head is reported again, views re-pointed, until begin_body", "[http][parser][stream]") {
    request_parser parser;
    parser.pause_at_head(true);
    request req;
    std::string wire = put("/again", "body", "Expect: 100-continue\r\n");
    REQUIRE(parser.parse(wire, req) == parse_status::head);
    CHECK(req.expects_continue());
    CHECK(parser.awaiting_body_after_continue());
    std::string moved = wire;
    wire.assign(wire.size(), 'x');   // the old bytes are gone
    REQUIRE(parser.parse(moved, req) == parse_status::head);
    CHECK(req.path() == "/again");
    CHECK(req.path().data() >= moved.data());
    REQUIRE(parser.begin_body(10, body_delivery::streamed));
    std::string_view rest = std::string_view(moved).substr(parser.consumed());
    REQUIRE(parser.parse(rest, req) == parse_status::body);
    CHECK(parser.body_piece() == "body");
    rest.remove_prefix(parser.consumed());
    CHECK(rest.empty());
    // The body is whole: complete without another byte.
    CHECK(parser.parse(rest, req) == parse_status::complete);
    CHECK(parser.consumed() == 0);
}
