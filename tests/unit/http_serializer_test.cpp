// The response serializer (include/tether/http/serializer.hpp), the response it writes
// (include/tether/http/response.hpp) and the Date cache (include/tether/http/date.hpp): status lines,
// the framing fields the serializer owns, HEAD and no-content statuses, connection handling for 1.0 and
// 1.1 peers, chunked bodies read back with an independent decoder, and refusal of header injection.
#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/http/date.hpp>
#include <tether/http/response.hpp>
#include <tether/http/serializer.hpp>

using namespace tether::http;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view test_date = "Sun, 06 Nov 1994 08:49:37 GMT";

// A serialized response cut into its parts.
struct written {
    std::string status_line;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;   // everything after the empty line, still framed
    bool keep_alive = false;

    std::optional<std::string> field(std::string_view name) const {
        for (auto& [n, v] : fields)
            if (n == name) return v;
        return std::nullopt;
    }
    std::size_t count(std::string_view name) const {
        std::size_t n = 0;
        for (auto& f : fields) n += f.first == name;
        return n;
    }
};

written serialize_and_split(const response& res, serialize_context ctx = {}) {
    if (ctx.date.empty()) ctx.date = test_date;
    std::string out;
    written w;
    w.keep_alive = serialize(res, out, ctx);
    const auto head_end = out.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    std::string_view head = std::string_view(out).substr(0, head_end + 2);
    w.body = out.substr(head_end + 4);
    auto line_end = head.find("\r\n");
    w.status_line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    while (!head.empty()) {
        line_end = head.find("\r\n");
        const std::string_view line = head.substr(0, line_end);
        const auto colon = line.find(": ");
        REQUIRE(colon != std::string_view::npos);
        w.fields.emplace_back(line.substr(0, colon), line.substr(colon + 2));
        head.remove_prefix(line_end + 2);
    }
    return w;
}

// Decodes a chunked body (RFC 9112 §7.1) written by the serializer; nullopt when it is malformed or does
// not end exactly with the last chunk and the empty trailer section.
std::optional<std::string> decode_chunked(std::string_view framed) {
    std::string body;
    for (;;) {
        const auto crlf = framed.find("\r\n");
        if (crlf == std::string_view::npos || crlf == 0) return std::nullopt;
        std::size_t size = 0;
        for (char c : framed.substr(0, crlf)) {
            const auto digit = std::string_view("0123456789abcdef").find(c);
            if (digit == std::string_view::npos) return std::nullopt;   // lower-case hex, no extensions
            size = size * 16 + digit;
        }
        framed.remove_prefix(crlf + 2);
        if (size == 0) return framed == "\r\n" ? std::optional<std::string>(body) : std::nullopt;
        if (framed.size() < size + 2 || framed.substr(size, 2) != "\r\n") return std::nullopt;
        body.append(framed.substr(0, size));
        framed.remove_prefix(size + 2);
    }
}

} // namespace

TEST_CASE("the status line is HTTP/1.1 with the code and its reason phrase", "[http][serializer]") {
    response res;
    SECTION("200 by default") { CHECK(serialize_and_split(res).status_line == "HTTP/1.1 200 OK"); }
    SECTION("a common status") {
        res.status(404);
        CHECK(serialize_and_split(res).status_line == "HTTP/1.1 404 Not Found");
    }
    SECTION("a less common status") {
        res.status(431);
        CHECK(serialize_and_split(res).status_line == "HTTP/1.1 431 Request Header Fields Too Large");
    }
    SECTION("a status without a known reason") {
        res.status(299);
        CHECK(serialize_and_split(res).status_line == "HTTP/1.1 299 Unknown");
    }
    SECTION("an HTTP/1.0 peer still gets an HTTP/1.1 status line") {
        // RFC 9110 §2.5: a server sends its own highest version, which the 1.0 peer reads as 1.x.
        CHECK(serialize_and_split(res, {.version_minor = 0, .date = test_date}).status_line == "HTTP/1.1 200 OK");
    }
    SECTION("a status that is not three digits is refused") {
        CHECK_THROWS_AS(res.status(99), std::invalid_argument);
        CHECK_THROWS_AS(res.status(1000), std::invalid_argument);
    }
}

TEST_CASE("every response carries the Date field it is given", "[http][serializer]") {
    response res;
    const written w = serialize_and_split(res);
    CHECK(w.field("Date") == std::optional<std::string>(std::string(test_date)));
    CHECK(w.count("Date") == 1);
}

TEST_CASE("a known body is framed by Content-Length", "[http][serializer]") {
    response res;
    SECTION("a text body") {
        res.text("hello");
        const written w = serialize_and_split(res);
        CHECK(w.field("Content-Length") == "5");
        CHECK(w.field("Content-Type") == "text/plain; charset=utf-8");
        CHECK_FALSE(w.field("Transfer-Encoding"));
        CHECK(w.body == "hello");
    }
    SECTION("an empty body still says Content-Length: 0") {
        const written w = serialize_and_split(res);
        CHECK(w.field("Content-Length") == "0");
        CHECK(w.body.empty());
    }
    SECTION("a body with any bytes") {
        res.body("a\r\n\r\n\0b"sv);
        const written w = serialize_and_split(res);
        CHECK(w.field("Content-Length") == "7");
        CHECK(w.body == "a\r\n\r\n\0b"sv);
    }
    SECTION("a JSON body and the handler's own fields, in order") {
        res.header("X-First", "1").json(R"({"ok":true})").header("X-Second", "2");
        const written w = serialize_and_split(res);
        CHECK(w.fields[0].first == "Date");
        CHECK(w.fields[1] == std::pair<std::string, std::string>{"X-First", "1"});
        CHECK(w.fields[2] == std::pair<std::string, std::string>{"Content-Type", "application/json"});
        CHECK(w.fields[3] == std::pair<std::string, std::string>{"X-Second", "2"});
        CHECK(w.field("Content-Length") == "11");
    }
    SECTION("a Content-Type set by the handler is not overridden") {
        res.content_type("text/csv").text("a,b");
        const written w = serialize_and_split(res);
        CHECK(w.count("Content-Type") == 1);
        CHECK(w.field("Content-Type") == "text/csv");
    }
}

TEST_CASE("a HEAD response has the fields of the GET response and no body", "[http][serializer]") {
    // RFC 9110 §9.3.2 and §8.6: Content-Length is the length the GET body would have.
    response res;
    res.text("twelve bytes");
    const written w = serialize_and_split(res, {.head = true, .date = test_date});
    CHECK(w.status_line == "HTTP/1.1 200 OK");
    CHECK(w.field("Content-Length") == "12");
    CHECK(w.body.empty());
    CHECK(w.keep_alive);
}

TEST_CASE("statuses that forbid content get neither Content-Length nor a body", "[http][serializer]") {
    // RFC 9110 §6.4.1, §8.6.
    for (int status : {204, 304, 101}) {
        INFO(status);
        response res;
        res.status(status).header("ETag", "\"v1\"").body("ignored");
        const written w = serialize_and_split(res);
        CHECK_FALSE(w.field("Content-Length"));
        CHECK_FALSE(w.field("Transfer-Encoding"));
        CHECK(w.field("ETag") == "\"v1\"");
        CHECK(w.body.empty());
    }
    SECTION("not even a streamed one") {
        response res;
        res.status(204).write("ignored");
        const written w = serialize_and_split(res);
        CHECK_FALSE(w.field("Transfer-Encoding"));
        CHECK(w.body.empty());
        CHECK(w.keep_alive);
    }
}

TEST_CASE("the connection closes when the request or the handler asks for it", "[http][serializer]") {
    response res;
    res.text("x");
    SECTION("an HTTP/1.1 keep-alive request gets no Connection field") {
        const written w = serialize_and_split(res);
        CHECK_FALSE(w.field("Connection"));
        CHECK(w.keep_alive);
    }
    SECTION("Connection: close when the request will not be kept alive") {
        const written w = serialize_and_split(res, {.keep_alive = false, .date = test_date});
        CHECK(w.field("Connection") == "close");
        CHECK_FALSE(w.keep_alive);
    }
    SECTION("res.close() asks for close") {
        res.close();
        const written w = serialize_and_split(res);
        CHECK(w.field("Connection") == "close");
        CHECK_FALSE(w.keep_alive);
    }
    SECTION("a handler's Connection: close field is the same as res.close(), and written once") {
        res.header("Connection", "close");
        const written w = serialize_and_split(res);
        CHECK(w.count("Connection") == 1);
        CHECK_FALSE(w.keep_alive);
    }
}

TEST_CASE("an HTTP/1.0 peer is told the connection stays open", "[http][serializer]") {
    response res;
    res.text("x");
    SECTION("keep-alive is answered with Connection: keep-alive") {
        const written w = serialize_and_split(res, {.version_minor = 0, .keep_alive = true, .date = test_date});
        CHECK(w.field("Connection") == "keep-alive");
        CHECK(w.keep_alive);
    }
    SECTION("otherwise Connection: close") {
        const written w = serialize_and_split(res, {.version_minor = 0, .keep_alive = false, .date = test_date});
        CHECK(w.field("Connection") == "close");
        CHECK_FALSE(w.keep_alive);
    }
}

TEST_CASE("pieces written with write() are sent with chunked coding", "[http][serializer]") {
    response res;
    const std::string big(300, 'z');
    res.header("Content-Type", "text/plain");
    res.write("hello").write("").write(" world").write(big);

    SECTION("framed by Transfer-Encoding: chunked and decodable back to the pieces") {
        const written w = serialize_and_split(res);
        CHECK(w.field("Transfer-Encoding") == "chunked");
        CHECK_FALSE(w.field("Content-Length"));
        CHECK(decode_chunked(w.body) == "hello world" + big);
        CHECK(w.keep_alive);
    }
    SECTION("an empty piece does not end the body early") {
        const written w = serialize_and_split(res);
        CHECK(w.body.find("0\r\n") == w.body.size() - 5);
    }
    SECTION("a streamed response with no pieces is an empty chunked body") {
        response empty;
        empty.write("");
        CHECK(serialize_and_split(empty).body == "0\r\n\r\n");
    }
    SECTION("HEAD gets the chunked fields and no body") {
        const written w = serialize_and_split(res, {.head = true, .date = test_date});
        CHECK(w.field("Transfer-Encoding") == "chunked");
        CHECK(w.body.empty());
    }
    SECTION("the first piece replaces a body set before, and body() replaces pieces") {
        response mixed;
        mixed.body("old").write("new");
        CHECK(decode_chunked(serialize_and_split(mixed).body) == "new");
        mixed.body("fixed");
        const written w = serialize_and_split(mixed);
        CHECK(w.field("Content-Length") == "5");
        CHECK(w.body == "fixed");
    }
}

TEST_CASE("a streamed response to an HTTP/1.0 peer is unframed and ends by closing", "[http][serializer]") {
    // HTTP/1.0 has no chunked coding: the body is delimited by closing the connection (RFC 9112 §6.3).
    response res;
    res.write("line 1\r\n").write("line 2\r\n");
    const written w = serialize_and_split(res, {.version_minor = 0, .keep_alive = true, .date = test_date});
    CHECK_FALSE(w.field("Transfer-Encoding"));
    CHECK_FALSE(w.field("Content-Length"));
    CHECK(w.field("Connection") == "close");
    CHECK(w.body == "line 1\r\nline 2\r\n");
    CHECK_FALSE(w.keep_alive);
}

TEST_CASE("Content-Length has the right digits for every body length", "[http][serializer]") {
    // Every length from 0 to 1,100 (each count of digits, each carry), then powers of ten and their neighbours.
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n <= 1100; ++n) lengths.push_back(n);
    for (std::size_t power = 10000; power <= 10000000; power *= 10)
        for (std::size_t n : {power - 1, power, power + 1, power + 99}) lengths.push_back(n);
    std::size_t wrong = 0;
    response res;
    for (std::size_t n : lengths) {
        res.clear();
        res.body(std::string(n, 'b'));
        const written w = serialize_and_split(res);
        if (w.field("Content-Length") != std::to_string(n) || w.body.size() != n) ++wrong;
    }
    CHECK(wrong == 0);
}

TEST_CASE("a connection's byte_buffer gets the same bytes a std::string does", "[http][serializer]") {
    // Bodies either side of the length written with the head (short_body_bytes), and the other framings.
    std::size_t differ = 0;
    response res;
    for (std::size_t n = 0; n <= 2 * short_body_bytes + 1; ++n) {
        for (const serialize_context ctx : {serialize_context{.date = test_date},
                                            serialize_context{.version_minor = 0, .date = test_date},
                                            serialize_context{.head = true, .date = test_date},
                                            serialize_context{.keep_alive = false, .date = test_date}}) {
            res.clear();
            res.header("X-N", std::to_string(n)).text(std::string(n, 't'));
            std::string text = "earlier bytes stay";
            byte_buffer buffer;
            buffer.append(text);
            const bool text_open = serialize(res, text, ctx);
            const bool buffer_open = serialize(res, buffer, ctx);
            if (text_open != buffer_open || buffer.view() != text) ++differ;
        }
    }
    CHECK(differ == 0);
    res.clear();
    res.write("piece one").write("two");
    std::string text;
    byte_buffer buffer;
    serialize(res, text, serialize_context{.date = test_date});
    serialize(res, buffer, serialize_context{.date = test_date});
    CHECK(buffer.view() == text);
}

TEST_CASE("body() given bytes of the body it replaces keeps them", "[http][serializer]") {
    response res;
    res.text("hello, world and more");   // longer than a string keeps inline
    res.body(res.body_bytes().substr(7, 5));
    CHECK(res.body_bytes() == "world");
    res.body(res.body_bytes());   // all of itself
    CHECK(res.body_bytes() == "world");
    res.body(res.body_bytes().substr(0, 0));
    CHECK(res.body_bytes().empty());
    std::string elsewhere = "from another string";
    res.body(elsewhere);
    CHECK(res.body_bytes() == elsewhere);
}

TEST_CASE("responses are appended to the output, so pipelined answers queue in order", "[http][serializer]") {
    std::string out;
    response a, b;
    a.text("one");
    b.status(404).text("two");
    const serialize_context ctx{.date = test_date};
    serialize(a, out, ctx);
    serialize(b, out, ctx);
    CHECK(out.find("HTTP/1.1 200 OK") == 0);
    CHECK(out.find("one") < out.find("HTTP/1.1 404 Not Found"));
    CHECK(out.substr(out.size() - 3) == "two");
}

TEST_CASE("header injection and framing fields are refused with std::invalid_argument", "[http][serializer]") {
    response res;
    SECTION("CR or LF in a value") {
        CHECK_THROWS_AS(res.header("X", "a\r\nSet-Cookie: evil=1"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X", "a\nb"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X", "a\rb"), std::invalid_argument);
    }
    SECTION("NUL or another control character in a value") {
        CHECK_THROWS_AS(res.header("X", "a\0b"sv), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X", "a\x7f"), std::invalid_argument);
    }
    SECTION("a name that is not a token") {
        CHECK_THROWS_AS(res.header("", "v"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X Y", "v"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X:", "v"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X\r\nY", "v"), std::invalid_argument);
    }
    SECTION("the framing fields the serializer owns, in any case") {
        CHECK_THROWS_AS(res.header("Content-Length", "5"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("transfer-encoding", "chunked"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("DATE", "yesterday"), std::invalid_argument);
    }
    SECTION("a refused field leaves the response unchanged") {
        CHECK_THROWS(res.header("X", "a\r\nb"));
        CHECK(res.fields().empty());
    }
    SECTION("tabs, spaces and obs-text in a value are fine") {
        CHECK_NOTHROW(res.header("X", "a\tb c \xc3\xa9"));
    }
}

TEST_CASE("clear() returns the response to 200 with nothing set", "[http][serializer]") {
    response res;
    res.status(500).header("X", "1").close();
    res.write("piece");
    res.clear();
    CHECK(res.status() == 200);
    CHECK(res.fields().empty());
    CHECK(res.body_bytes().empty());
    CHECK_FALSE(res.chunked());
    CHECK_FALSE(res.wants_close());
    CHECK_FALSE(res.has_content_type());
}

TEST_CASE("a body may be set from any view, its own bytes included, and any body form replaces another",
          "[http][serializer]") {
    response res;
    SECTION("a view of the body itself, copied or handed over") {
        res.body("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz");
        res.body(res.body_bytes().substr(10, 26));
        CHECK(res.body_bytes() == "abcdefghijklmnopqrstuvwxyz");
        res.body(res.body_bytes().substr(1));   // overlapping the copy it replaces
        CHECK(res.body_bytes() == "bcdefghijklmnopqrstuvwxyz");
        res.body(std::string("handed over, then viewed"));
        res.body(res.body_bytes().substr(13));
        CHECK(res.body_bytes() == "then viewed");
    }
    SECTION("copied, handed over, chunked and swapped in turn") {
        res.body("copied");
        CHECK(res.body_bytes() == "copied");
        res.body(std::string("handed over"));
        CHECK(res.body_bytes() == "handed over");
        res.body("copied again");
        CHECK(res.body_bytes() == "copied again");
        res.write("chunk");
        CHECK(res.chunked());
        CHECK(res.body_bytes() == "5\r\nchunk\r\n");
        res.body("after the chunks");
        CHECK_FALSE(res.chunked());
        CHECK(res.body_bytes() == "after the chunks");
        std::string other = "swapped in";
        res.swap_body(other);
        CHECK(res.body_bytes() == "swapped in");
        CHECK(other == "after the chunks");   // the body it replaced comes back
        res.clear();
        CHECK(res.body_bytes().empty());
        res.body("short");
        CHECK(res.body_bytes() == "short");
    }
}

TEST_CASE("the interim 100 Continue response is a complete status line and empty header section", "[http][serializer]") {
    CHECK(continue_response == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("date_cache formats IMF-fixdate", "[http][date]") {
    // RFC 9110 §5.6.7: IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT, always 29 characters.
    std::array<char, 32> buffer{};
    SECTION("the RFC's own example") {
        CHECK(date_cache::format(784111777, buffer) == "Sun, 06 Nov 1994 08:49:37 GMT");
    }
    SECTION("the epoch") { CHECK(date_cache::format(0, buffer) == "Thu, 01 Jan 1970 00:00:00 GMT"); }
    SECTION("a leap day") { CHECK(date_cache::format(951782400, buffer) == "Tue, 29 Feb 2000 00:00:00 GMT"); }
    SECTION("the current time is 29 characters ending in GMT") {
        const std::string_view now = date_cache::for_this_thread().now();
        CHECK(now.size() == 29);
        CHECK(now.size() == date_cache::length);
        CHECK(now.substr(3, 2) == ", ");
        CHECK(now.substr(25) == " GMT");
    }
}

TEST_CASE("date_cache::recent() is the date now() last formatted, without reading the clock", "[http][date]") {
    std::array<char, 32> buffer{};
    date_cache dates;
    CHECK(dates.second() == -1);
    // Never formatted: recent() reads the clock itself.
    const std::time_t before = std::time(nullptr);
    const std::string first(dates.recent());
    const std::time_t after = std::time(nullptr);
    REQUIRE(dates.second() >= before);
    REQUIRE(dates.second() <= after);
    CHECK(first == date_cache::format(dates.second(), buffer));
    // Afterwards it answers what now() last formatted, for that second.
    const std::string formatted(dates.now());
    CHECK(dates.recent() == formatted);
    CHECK(dates.recent() == date_cache::format(dates.second(), buffer));
}
