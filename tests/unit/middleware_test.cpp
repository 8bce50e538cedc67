// The built-in middleware (include/tether/middleware/), decision by decision, without a server:
// requests go through the real parser, hooks are called as the route table calls them, and
// encoded bodies are read back with zlib's and libbrotlidec's own decoders.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tether/http/error.hpp>
#include <tether/http/parser.hpp>
#include <tether/middleware/access_log.hpp>
#include <tether/middleware/compress.hpp>
#include <tether/middleware/request_id.hpp>
#include <tether/middleware/security_headers.hpp>

#include "../support/content_decoding.hpp"

using namespace tether;
using namespace std::chrono_literals;

namespace {

// A parsed request with the bytes its views point into. Not copyable: the views would dangle.
struct incoming {
    std::string wire;
    http::request req;

    explicit incoming(std::string_view head_line, std::string_view fields = {})
        : wire(std::string(head_line) + "\r\nHost: x\r\n" + std::string(fields) + "\r\n") {
        http::request_parser parser;
        REQUIRE(parser.parse(wire, req) == http::parse_status::complete);
    }
    incoming(const incoming&) = delete;
    incoming& operator=(const incoming&) = delete;
};

// Runs `m` around a handler the way the route table does: before, the handler, after.
template <class Handler>
http::response run(const middleware& m, http::request& req, Handler&& handler) {
    http::response res;
    if (!m.before || m.before(req, res)) handler(res);
    if (m.after) m.after(req, res);
    return res;
}

std::string repeated(std::string_view piece, std::size_t bytes) {
    std::string s;
    while (s.size() < bytes) s.append(piece);
    s.resize(bytes);
    return s;
}
const std::string json_body = repeated(R"({"id":12345,"name":"a lamp","price":19.5,"tags":["desk","light"]},)", 4096);

bool is_lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

} // namespace

// ---- response: the fields middleware reads back ----------------------------------------------

TEST_CASE("response: fields can be read back, listed, removed, and the body swapped", "[middleware][response]") {
    http::response res;
    res.header("Vary", "Origin").content_type("text/plain").header("ETag", "\"abc\"").header("vary", " Accept-Encoding , Cookie");
    CHECK(res.field("content-type") == "text/plain");
    CHECK(res.field("VARY") == "Origin");   // the first of two
    CHECK_FALSE(res.field("content-encoding"));
    CHECK(res.field_lists("vary", "accept-encoding"));
    CHECK(res.field_lists("Vary", "cookie"));
    CHECK_FALSE(res.field_lists("vary", "accept"));
    CHECK(res.remove_field("vary") == 2);
    CHECK(res.remove_field("vary") == 0);
    CHECK(std::string(res.fields()) == "Content-Type: text/plain\r\nETag: \"abc\"\r\n");
    CHECK(res.remove_field("content-type") == 1);
    CHECK_FALSE(res.has_content_type());
    res.text("now text");   // the flag was reset, so text() sets its own type again
    CHECK(res.field("content-type") == "text/plain; charset=utf-8");

    std::string other = "encoded";
    res.write("a chunk");
    res.swap_body(other);
    CHECK(res.body_bytes() == "encoded");
    CHECK_FALSE(res.chunked());
    CHECK(other == "7\r\na chunk\r\n");
}

TEST_CASE("response: the Content-Type text(), html() or json() chose reads as a field in its place", "[middleware][response]") {
    // The line is held apart until something needs the lines joined (response.hpp: known_content_type()):
    // every reader must still see it, once, where it was set.
    http::response res;
    res.header("X-First", "1").json("{}");
    CHECK(res.field("content-type") == "application/json");
    CHECK(res.fields_present(std::array<std::string_view, 2>{"x-first", "content-type"}, 2) == 3u);
    CHECK(res.field_lists("content-type", "application/json"));
    res.header("X-Second", "2");   // after it: the type keeps its place between the two
    CHECK(std::string(res.fields()) == "X-First: 1\r\nContent-Type: application/json\r\nX-Second: 2\r\n");

    http::response appended;
    appended.text("t");
    appended.append_fields("X-Kept: yes\r\n");
    CHECK(std::string(appended.fields()) == "Content-Type: text/plain; charset=utf-8\r\nX-Kept: yes\r\n");

    http::response removed;
    removed.html("<p>");
    CHECK(removed.remove_field("Content-Type") == 1);
    CHECK(removed.fields().empty());
    CHECK_FALSE(removed.has_content_type());

    http::response copied;
    copied.text("x");
    const http::response copy = copied;   // a copy holds the same lines
    CHECK(std::string(copy.fields()) == "Content-Type: text/plain; charset=utf-8\r\n");
    copied.clear();
    CHECK(copied.fields().empty());
    CHECK_FALSE(copied.field("content-type"));
}

// ---- Accept-Encoding ------------------------------------------------------------------------

TEST_CASE("accept-encoding: the highest qvalue wins, ties prefer br then gzip, q=0 refuses", "[middleware][compress]") {
    using http::content_coding;
    auto choose = [](std::optional<std::string_view> field, bool gzip = true, bool br = true) {
        return http::choose_coding(http::parse_accept_encoding(field), gzip, br);
    };
    CHECK(choose("gzip, deflate, br") == content_coding::br);   // what browsers send over https
    CHECK(choose("gzip, deflate") == content_coding::gzip);      // and over http
    CHECK(choose("gzip, deflate, br", true, false) == content_coding::gzip);
    CHECK(choose("br", true, false) == content_coding::identity);
    CHECK(choose("gzip;q=1, br;q=0.5") == content_coding::gzip);
    CHECK(choose("br;q=0, gzip;q=1") == content_coding::gzip);
    CHECK(choose("br;q=0, gzip;q=0.1") == content_coding::identity);   // identity, not named, counts as q=1
    CHECK(choose("*") == content_coding::br);
    CHECK(choose("*;q=0.5, gzip;q=0.6") == content_coding::gzip);
    CHECK(choose("identity, gzip;q=0.5") == content_coding::identity);   // identity is q=1 here
    CHECK(choose("gzip;q=0, br;q=0") == content_coding::identity);
    CHECK(choose("deflate, compress") == content_coding::identity);
    CHECK(choose(std::nullopt) == content_coding::identity);            // no field: never encode
    CHECK(choose("identity;q=0") == content_coding::identity);          // refused, but nothing else offered
}

// ---- request_id ------------------------------------------------------------------------------

TEST_CASE("request_id: an incoming id is kept only when it is a sane token of bounded length", "[middleware][request_id]") {
    using http::is_sane_request_id;
    CHECK(is_sane_request_id("f47ac10b-58cc-4372-a567-0e02b2c3d479", 128));   // UUID
    CHECK(is_sane_request_id("01ARZ3NDEKTSV4RRFFQ69G5FAV", 128));             // ULID
    CHECK(is_sane_request_id("aGVsbG8+d29ybGQ/Zm9v==", 128));                 // base64
    CHECK(is_sane_request_id("req_1.2:3", 128));
    CHECK(is_sane_request_id(std::string(128, 'a'), 128));
    CHECK_FALSE(is_sane_request_id(std::string(129, 'a'), 128));
    CHECK_FALSE(is_sane_request_id("", 128));
    CHECK_FALSE(is_sane_request_id("two words", 128));
    CHECK_FALSE(is_sane_request_id("quote\"d", 128));
    CHECK_FALSE(is_sane_request_id("semi;colon", 128));
    CHECK_FALSE(is_sane_request_id("tab\there", 128));
    CHECK_FALSE(is_sane_request_id("caf\xc3\xa9", 128));
    CHECK_FALSE(is_sane_request_id("{\"json\":1}", 128));
}

TEST_CASE("request_id: generated ids are 32 hex digits, a per-thread prefix and a counter", "[middleware][request_id]") {
    http::request_id_generator g(0x0123456789abcdefULL, 0xfffffffffffffffeULL);
    http::request_id_generator::buffer out;
    CHECK(g.next(out) == "0123456789abcdeffffffffffffffffe");
    CHECK(g.next(out) == "0123456789abcdefffffffffffffffff");
    CHECK(g.next(out) == "0123456789abcdef0000000000000000");   // wraps, still distinct for 2^64 ids

    // Seeded generators: distinct prefixes per thread, and ids unique within one.
    std::set<std::string> ids, prefixes;
    for (int t = 0; t < 4; ++t)
        std::thread([&] {
            auto& mine = http::request_id_generator::for_this_thread();
            for (int i = 0; i < 1000; ++i) {
                http::request_id_generator::buffer b;
                std::string id(mine.next(b));
                REQUIRE(id.size() == 32);
                REQUIRE(is_lower_hex(id));
                ids.insert(id);
                prefixes.insert(id.substr(0, 16));
            }
        }).join();
    CHECK(ids.size() == 4000);
    CHECK(prefixes.size() == 4);
}

TEST_CASE("request_id: kept or made, set as an attribute, echoed once", "[middleware][request_id]") {
    auto m = middleware::request_id();
    SECTION("a sane incoming id is kept and echoed") {
        incoming in("GET /a HTTP/1.1", "X-Request-Id: abc-123\r\n");
        std::string seen;
        auto res = run(m, in.req, [&](http::response& r) {
            seen = std::string(in.req.attribute("request_id"));
            r.text("ok");
        });
        CHECK(seen == "abc-123");
        CHECK(res.field("x-request-id") == "abc-123");
    }
    SECTION("an insane one is replaced by a new id") {
        incoming in("GET /a HTTP/1.1", "X-Request-Id: <script>\r\n");
        auto res = run(m, in.req, [](http::response& r) { r.text("ok"); });
        REQUIRE(res.field("x-request-id"));
        CHECK(res.field("x-request-id")->size() == 32);
        CHECK(in.req.attribute("request_id") == *res.field("x-request-id"));
    }
    SECTION("two requests get two ids") {
        incoming a("GET /a HTTP/1.1"), b("GET /a HTTP/1.1");
        auto ra = run(m, a.req, [](http::response&) {});
        auto rb = run(m, b.req, [](http::response&) {});
        CHECK(ra.field("x-request-id") != rb.field("x-request-id"));
    }
    SECTION("with accept_incoming = false the client's id is ignored") {
        auto strict = middleware::request_id({.accept_incoming = false});
        incoming in("GET /a HTTP/1.1", "X-Request-Id: abc-123\r\n");
        auto res = run(strict, in.req, [](http::response&) {});
        CHECK(res.field("x-request-id") != "abc-123");
        CHECK(res.field("x-request-id")->size() == 32);
    }
    SECTION("a header and attribute of one's own, and a length bound") {
        auto custom = middleware::request_id({.header = "X-Correlation-Id", .attribute = "cid", .max_length = 4});
        incoming in("GET /a HTTP/1.1", "X-Correlation-Id: abcde\r\n");   // five: too long
        auto res = run(custom, in.req, [](http::response&) {});
        CHECK(in.req.attribute("cid").size() == 32);
        CHECK(res.field("x-correlation-id") == in.req.attribute("cid"));
        CHECK_FALSE(res.has_field("x-request-id"));
    }
    SECTION("a field the handler set is not duplicated") {
        incoming in("GET /a HTTP/1.1");
        auto res = run(m, in.req, [](http::response& r) { r.header("X-Request-Id", "upstream-7"); });
        CHECK(std::string(res.fields()) == "X-Request-Id: upstream-7\r\n");
    }
    SECTION("a response whose request skipped `before` (a CORS preflight) still gets an id") {
        incoming in("OPTIONS /a HTTP/1.1", "X-Request-Id: pre-1\r\n");
        http::response res;
        m.after(in.req, res);
        CHECK(res.field("x-request-id") == "pre-1");
        incoming bare("OPTIONS /a HTTP/1.1");
        http::response other;
        m.after(bare.req, other);
        CHECK(other.field("x-request-id")->size() == 32);
    }
}

// ---- access_log ------------------------------------------------------------------------------

namespace {

http::access_log_entry sample_entry() {
    http::access_log_entry e;
    e.time = std::chrono::system_clock::time_point(971186136s + 123ms);   // 2000-10-10 13:55:36.123 UTC
    e.client = "192.0.2.7";
    e.method = "GET";
    e.target = "/a.gif?x=1";
    e.status = 200;
    e.bytes = 2326;
    e.duration = 1500us;
    e.referer = "https://example.com/start";
    e.user_agent = "Mozilla/5.0 X11";
    e.request_id = "abc-123";
    e.route = "/:file";
    return e;
}

std::string line_of(tether::access_log_format f, const http::access_log_entry& e) {
    std::string out;
    http::format_access_log(out, f, e);
    return out;
}

} // namespace

TEST_CASE("access_log: common, combined, combined_timed and JSON lines, exactly", "[middleware][access_log]") {
    using tether::access_log_format;
    auto e = sample_entry();
    CHECK(line_of(access_log_format::common, e) == R"(192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif?x=1 HTTP/1.1" 200 2326)");
    CHECK(line_of(access_log_format::combined, e) ==
          R"(192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif?x=1 HTTP/1.1" 200 2326 "https://example.com/start" "Mozilla/5.0 X11")");
    CHECK(line_of(access_log_format::combined_timed, e) ==
          R"(192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif?x=1 HTTP/1.1" 200 2326 "https://example.com/start" "Mozilla/5.0 X11" 1500 abc-123)");
    CHECK(line_of(access_log_format::json, e) ==
          R"({"time":"2000-10-10T13:55:36.123Z","client":"192.0.2.7","method":"GET","target":"/a.gif?x=1","protocol":"HTTP/1.1",)"
          R"("status":200,"bytes":2326,"duration_us":1500,"route":"/:file","referer":"https://example.com/start",)"
          R"("user_agent":"Mozilla/5.0 X11","request_id":"abc-123"})");

    SECTION("what is absent is '-' (or left out of JSON)") {
        http::access_log_entry bare;
        bare.time = e.time;
        bare.method = "HEAD";
        bare.target = "/";
        bare.version_minor = 0;
        bare.status = 304;
        CHECK(line_of(access_log_format::combined_timed, bare) == R"(- - - [10/Oct/2000:13:55:36 +0000] "HEAD / HTTP/1.0" 304 - "-" "-" - -)");
        CHECK(line_of(access_log_format::json, bare) ==
              R"({"time":"2000-10-10T13:55:36.123Z","client":"","method":"HEAD","target":"/","protocol":"HTTP/1.0","status":304,"bytes":0})");
    }
}

TEST_CASE("access_log: what a client sends cannot forge a line or a field", "[middleware][access_log]") {
    auto e = sample_entry();
    e.user_agent = "evil\" \"x\\\n127.0.0.1 - - [fake]\x1b[31m caf\xc3\xa9";
    e.referer = std::nullopt;
    CHECK(line_of(tether::access_log_format::combined, e).ends_with(
        R"( "-" "evil\" \"x\\\x0a127.0.0.1 - - [fake]\x1b[31m caf\xc3\xa9")"));
    std::string json = line_of(tether::access_log_format::json, e);
    CHECK(json.find(R"("user_agent":"evil\" \"x\\\n127.0.0.1 - - [fake]\u001b[31m café")") != std::string::npos);
    e.user_agent = "bad \xff utf-8";
    CHECK(line_of(tether::access_log_format::json, e).find(R"("user_agent":"bad )" "\xef\xbf\xbd" R"( utf-8")") != std::string::npos);
}

TEST_CASE("access_log: bytes are the body sent, and the middleware fills every field", "[middleware][access_log]") {
    std::vector<std::string> lines;
    auto m = middleware::access_log({.format = tether::access_log_format::combined_timed,
                                     .sink = [&](std::string_view line) { lines.emplace_back(line); }});
    auto request_id = middleware::request_id();
    auto log_one = [&](std::string_view head_line, auto&& handler, std::string_view fields = {}) {
        incoming in(head_line, fields);
        in.req.set_received_at(std::chrono::steady_clock::now() - 2ms);
        http::response res;
        request_id.before(in.req, res);
        handler(res);
        m.after(in.req, res);
        request_id.after(in.req, res);
        REQUIRE(!lines.empty());
        return lines.back();
    };
    auto line = log_one("GET /x?y HTTP/1.1", [](http::response& r) { r.text("hello"); },
                        "User-Agent: curl/8\r\nReferer: http://r/\r\nX-Request-Id: id-1\r\n");
    CHECK(line.starts_with("- - - ["));   // no server: no client address
    CHECK(line.find(R"("GET /x?y HTTP/1.1" 200 5 "http://r/" "curl/8" )") != std::string::npos);
    CHECK(line.ends_with(" id-1"));
    auto duration = std::stoll(line.substr(line.rfind('"') + 2));
    CHECK(duration >= 2000);   // at least the 2 ms since received_at

    CHECK(log_one("HEAD /x HTTP/1.1", [](http::response& r) { r.text("hello"); }).find(R"(" 200 - ")") != std::string::npos);
    CHECK(log_one("GET /x HTTP/1.1", [](http::response& r) { r.status(304); }).find(R"(" 304 - ")") != std::string::npos);
    CHECK(log_one("GET /x HTTP/1.1", [](http::response& r) { r.write("abc").write("defg"); }).find(R"(" 200 7 ")") != std::string::npos);
    CHECK(log_one("GET /x HTTP/1.1", [](http::response& r) { r.stream(); }).find(R"(" 200 - ")") != std::string::npos);
    CHECK(lines.size() == 5);
}

// ---- compress ----------------------------------------------------------------------------------

TEST_CASE("compress: with no coding to offer, nothing changes", "[middleware][compress]") {
    // What a build without zlib and libbrotlienc does, and what switching both off does.
    auto m = middleware::compress({.gzip = false, .brotli = false});
    incoming in("GET / HTTP/1.1", "Accept-Encoding: gzip, br\r\n");
    auto res = run(m, in.req, [](http::response& r) { r.json(json_body); });
    CHECK(std::string(res.fields()) == "Content-Type: application/json\r\n");
    CHECK(res.body_bytes() == json_body);
}

// The rest needs zlib (gzip), which CI always has; a build without it has no gzip to test.
#if TETHER_WITH_GZIP

namespace {

struct compressed {
    http::response res;
    std::optional<std::string> decoded;
};

compressed compress_with(const middleware& m, std::string_view head_line, std::string_view fields, auto&& handler) {
    incoming in(head_line, fields);
    compressed c{run(m, in.req, handler), std::nullopt};
    c.decoded = test::decode(c.res.field("content-encoding").value_or(""), c.res.body_bytes());
    return c;
}

} // namespace

TEST_CASE("compress: gzip and br bodies decode to the original, with Vary and a weak ETag", "[middleware][compress]") {
    auto m = middleware::compress();
    auto json = [](http::response& r) { r.header("ETag", "\"v1\"").json(json_body); };

    {
        auto c = compress_with(m, "GET /a HTTP/1.1", "Accept-Encoding: gzip, deflate\r\n", json);
        CHECK(c.res.field("content-encoding") == "gzip");
        CHECK(c.res.body_bytes().size() < json_body.size() / 4);
        REQUIRE(c.decoded);
        CHECK(*c.decoded == json_body);
        CHECK(c.res.field("vary") == "Accept-Encoding");
        CHECK(c.res.field("etag") == "W/\"v1\"");
        CHECK(c.res.field("content-type") == "application/json");
    }
#if TETHER_WITH_BROTLI
    {
        auto c = compress_with(m, "GET /a HTTP/1.1", "Accept-Encoding: gzip, deflate, br\r\n", json);
        CHECK(c.res.field("content-encoding") == "br");
        CHECK(c.res.body_bytes().size() < json_body.size() / 4);
        auto quality_one = compress_with(middleware::compress({.level = {.brotli = 1}}), "GET /a HTTP/1.1",
                                         "Accept-Encoding: br\r\n", json);
        CHECK(quality_one.res.field("content-encoding") == "br");
#if TETHER_TEST_BROTLI_DECODER
        REQUIRE(c.decoded);
        CHECK(*c.decoded == json_body);
        CHECK(quality_one.decoded == json_body);
#endif
    }
#endif
    SECTION("no Accept-Encoding: identity, but Vary all the same") {
        auto c = compress_with(m, "GET /a HTTP/1.1", "", json);
        CHECK_FALSE(c.res.has_field("content-encoding"));
        CHECK(c.res.body_bytes() == json_body);
        CHECK(c.res.field("etag") == "\"v1\"");
        CHECK(c.res.field("vary") == "Accept-Encoding");
    }
}

TEST_CASE("compress: which responses are encoded", "[middleware][compress]") {
    const middleware::compress_options o;
    auto plan = [&](std::string_view head_line, auto&& handler, std::string_view fields = "Accept-Encoding: gzip\r\n") {
        incoming in(head_line, fields);
        http::response res;
        handler(res);
        return http::plan_compression(o, in.req, res);
    };
    auto body = [](std::string_view type, std::size_t size) {
        return [type, size](http::response& r) { r.content_type(type).body(repeated("abc ", size)); };
    };
    using http::content_coding;
    auto encoded = [](http::compression_plan p) { return p.vary && p.coding == content_coding::gzip; };
    auto untouched = [](http::compression_plan p) { return !p.vary && p.coding == content_coding::identity; };

    // Types: text/*, JSON, JavaScript, SVG; parameters and case do not matter.
    CHECK(encoded(plan("GET / HTTP/1.1", body("text/html; charset=utf-8", 2000))));
    CHECK(encoded(plan("GET / HTTP/1.1", body("TEXT/CSS", 2000))));
    CHECK(encoded(plan("GET / HTTP/1.1", body("application/json", 2000))));
    CHECK(encoded(plan("GET / HTTP/1.1", body("application/javascript", 2000))));
    CHECK(encoded(plan("GET / HTTP/1.1", body("image/svg+xml", 2000))));
    CHECK(untouched(plan("GET / HTTP/1.1", body("image/png", 2000))));
    CHECK(untouched(plan("GET / HTTP/1.1", body("application/octet-stream", 2000))));
    CHECK(untouched(plan("GET / HTTP/1.1", body("text", 2000))));
    CHECK(untouched(plan("GET / HTTP/1.1", [](http::response& r) { r.body(repeated("x", 2000)); })));   // no type

    // Size: min_bytes (1024) inclusive, max_bytes inclusive.
    CHECK(untouched(plan("GET / HTTP/1.1", body("text/plain", 1023))));
    CHECK(encoded(plan("GET / HTTP/1.1", body("text/plain", 1024))));
    CHECK(encoded(plan("GET / HTTP/1.1", body("text/plain", o.max_bytes))));
    CHECK(untouched(plan("GET / HTTP/1.1", body("text/plain", o.max_bytes + 1))));

    // Statuses and framings that have no body of their own to encode.
    auto with = [&](auto&& more) {
        return [&, more](http::response& r) {
            body("text/plain", 2000)(r);
            more(r);
        };
    };
    CHECK(untouched(plan("GET / HTTP/1.1", with([](http::response& r) { r.status(204); }))));
    CHECK(untouched(plan("GET / HTTP/1.1", with([](http::response& r) { r.status(304); }))));
    CHECK(untouched(plan("GET / HTTP/1.1", with([](http::response& r) { r.status(206).header("Content-Range", "bytes 0-1999/5000"); }))));
    CHECK(untouched(plan("GET / HTTP/1.1", with([](http::response& r) { r.status(101); }))));
    CHECK(untouched(plan("GET / HTTP/1.1", with([](http::response& r) { r.header("Content-Encoding", "br"); }))));
    CHECK(untouched(plan("GET / HTTP/1.1", with([](http::response& r) { r.header("Cache-Control", "no-store, no-transform"); }))));
    CHECK(untouched(plan("GET / HTTP/1.1", [](http::response& r) { r.content_type("text/event-stream").stream(); })));
    CHECK(untouched(plan("GET / HTTP/1.1", [](http::response& r) { r.content_type("text/plain").write(repeated("a", 2000)); })));
    CHECK(encoded(plan("GET / HTTP/1.1", with([](http::response& r) { r.status(404); }))));   // errors are bodies too

    // HEAD: no encoding (its Content-Length must stay the GET's), but the answer still varies.
    auto head = plan("HEAD / HTTP/1.1", body("text/plain", 2000));
    CHECK(head.vary);
    CHECK(head.coding == content_coding::identity);
    // Not accepted: Vary only.
    auto refused = plan("GET / HTTP/1.1", body("text/plain", 2000), "Accept-Encoding: gzip;q=0\r\n");
    CHECK(refused.vary);
    CHECK(refused.coding == content_coding::identity);

    // Options: types of one's own, thresholds, a coding switched off.
    middleware::compress_options csv{.min_bytes = 10, .types = {"text/csv"}, .gzip = false};
    incoming in("GET / HTTP/1.1", "Accept-Encoding: gzip, br\r\n");
    http::response res;
    res.content_type("text/csv").body(repeated("a,b\n", 20));
    auto p = http::plan_compression(csv, in.req, res);
    CHECK(p.vary == http::brotli_available);
    CHECK(p.coding == (http::brotli_available ? content_coding::br : content_coding::identity));
    res.remove_field("content-type");
    res.content_type("text/plain");
    CHECK_FALSE(http::plan_compression(csv, in.req, res).vary);
}

TEST_CASE("compress: a body that would not shrink is sent as it is", "[middleware][compress]") {
    std::string noise;
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 4096; ++i) {   // xorshift: incompressible
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise.push_back(static_cast<char>(x));
    }
    for (std::string_view accept : {"gzip", "br"}) {
        auto c = compress_with(middleware::compress(), "GET / HTTP/1.1", "Accept-Encoding: " + std::string(accept) + "\r\n",
                               [&](http::response& r) { r.content_type("text/plain").body(noise); });
        CHECK_FALSE(c.res.has_field("content-encoding"));
        CHECK(c.res.body_bytes() == noise);
        CHECK(c.res.field("vary") == "Accept-Encoding");
    }
}

TEST_CASE("compress: Vary is merged, never duplicated", "[middleware][compress]") {
    auto m = middleware::compress();
    auto text = [](std::string_view vary) {
        return [vary](http::response& r) {
            if (!vary.empty()) r.header("Vary", vary);
            r.text(repeated("hello ", 3000));
        };
    };
    auto c = compress_with(m, "GET / HTTP/1.1", "Accept-Encoding: gzip\r\n", text("Origin"));
    CHECK(std::string(c.res.fields()).find("Vary: Origin\r\n") != std::string::npos);
    CHECK(c.res.field_lists("vary", "accept-encoding"));
    c = compress_with(m, "GET / HTTP/1.1", "Accept-Encoding: gzip\r\n", text("accept-encoding"));
    CHECK(c.res.remove_field("vary") == 1);
    c = compress_with(m, "GET / HTTP/1.1", "Accept-Encoding: gzip\r\n", text("*"));
    CHECK(c.res.remove_field("vary") == 1);
    CHECK(c.res.field("content-encoding") == "gzip");
}

TEST_CASE("compress: levels are checked when the middleware is made", "[middleware][compress]") {
    CHECK_THROWS_AS(middleware::compress({.level = {.gzip = 0}}), std::invalid_argument);
    CHECK_THROWS_AS(middleware::compress({.level = {.gzip = 10}}), std::invalid_argument);
    CHECK_THROWS_AS(middleware::compress({.level = {.brotli = 12}}), std::invalid_argument);
    CHECK_NOTHROW(middleware::compress({.level = {.gzip = 1, .brotli = 11}}));
}

#endif // TETHER_WITH_GZIP

// ---- security_headers --------------------------------------------------------------------------

TEST_CASE("security_headers: the defaults, on every response", "[middleware][security_headers]") {
    auto m = middleware::security_headers();
    incoming in("GET / HTTP/1.1");
    auto res = run(m, in.req, [](http::response& r) { r.html("<p>hi"); });
    CHECK(std::string(res.fields()) ==
          "Content-Type: text/html; charset=utf-8\r\n"
          "X-Content-Type-Options: nosniff\r\n"
          "Referrer-Policy: strict-origin-when-cross-origin\r\n"
          "X-Frame-Options: SAMEORIGIN\r\n"
          "Content-Security-Policy: frame-ancestors 'self'\r\n"
          "Cross-Origin-Opener-Policy: same-origin\r\n");
    auto error = run(m, in.req, [](http::response& r) { http::write_error(r, 404, "no"); });
    CHECK(error.field("x-frame-options") == "SAMEORIGIN");
}

TEST_CASE("security_headers: what the handler set stays; options change or drop fields", "[middleware][security_headers]") {
    incoming in("GET / HTTP/1.1");
    auto res = run(middleware::security_headers(), in.req, [](http::response& r) {
        r.header("X-Frame-Options", "DENY").header("content-security-policy", "default-src 'none'");
    });
    CHECK(res.field("x-frame-options") == "DENY");
    CHECK(res.field("content-security-policy") == "default-src 'none'");
    // The fields the handler did not set are still added, each once, in their usual order.
    CHECK(std::string(res.fields()) ==
          "X-Frame-Options: DENY\r\n"
          "content-security-policy: default-src 'none'\r\n"
          "X-Content-Type-Options: nosniff\r\n"
          "Referrer-Policy: strict-origin-when-cross-origin\r\n"
          "Cross-Origin-Opener-Policy: same-origin\r\n");
    CHECK(res.remove_field("x-frame-options") == 1);
    CHECK(res.remove_field("content-security-policy") == 1);

    auto fields = [](middleware::security_headers_options o) {
        std::string all;
        for (const auto& [n, v] : http::security_fields(o)) all += n + ": " + v + "\n";
        return all;
    };
    CHECK(fields({.frame_ancestors = "'none'"}).find("X-Frame-Options: DENY\nContent-Security-Policy: frame-ancestors 'none'\n") !=
          std::string::npos);
    auto other_origin = fields({.frame_ancestors = "https://app.example"});
    CHECK(other_origin.find("X-Frame-Options") == std::string::npos);   // it cannot say that
    CHECK(other_origin.find("Content-Security-Policy: frame-ancestors https://app.example\n") != std::string::npos);
    CHECK(fields({.content_security_policy = "default-src 'self'; img-src *;"})
              .find("Content-Security-Policy: default-src 'self'; img-src *; frame-ancestors 'self'\n") != std::string::npos);
    CHECK(fields({.content_security_policy = "frame-ancestors https://a.example"})
              .find("Content-Security-Policy: frame-ancestors https://a.example\n") != std::string::npos);
    CHECK(fields({.nosniff = false, .referrer_policy = "", .frame_ancestors = "", .cross_origin_opener_policy = ""}).empty());
    CHECK_THROWS_AS(middleware::security_headers({.referrer_policy = "no-referrer\r\nSet-Cookie: x=1"}), std::invalid_argument);
}
