// Static files (include/tether/http/static_files.hpp) and CORS (server.cors()) over loopback
// sockets: a temporary directory holding ordinary, hashed, hidden and precompressed files and a
// symlink pointing outside it, served by a real server and read back with the raw client, so
// the test sees exactly the bytes a browser would.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <tether/http/static_files.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::response;
using tether::itest::test_server;
namespace fs = std::filesystem;

namespace {

const std::string app_js = "console.log('hello from app.js');\n";
const std::string app_js_gz = "GZIP-BYTES-STAND-IN";   // content is opaque to the server
const std::string app_js_br = "BROTLI-BYTES-STAND-IN";
const std::string digits = "0123456789abcdefghijklmnopqrstuvwxyz";

void write_file(const fs::path& p, std::string_view content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

// A temporary tree, removed at the end of the test:
//   <tmp>/secret                       outside the root
//   <tmp>/public/                      the root
//       index.html  app.js  app.js.gz  app.3f2a9c1b.js  digits.txt  .env  docs/index.html
//       only-br.css  only-br.css.br    escape -> ../secret   inside -> app.js
class site_dir {
public:
    site_dir() {
        static std::atomic<int> counter{0};
        base_ = fs::temp_directory_path() / ("tether-static-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(base_);
        write_file(base_ / "secret", "TOP SECRET");
        write_file(root() / "index.html", "<h1>home</h1>");
        write_file(root() / "app.js", app_js);
        write_file(root() / "app.js.gz", app_js_gz);
        write_file(root() / "app.3f2a9c1b.js", "hashed();");
        write_file(root() / "digits.txt", digits);
        write_file(root() / ".env", "PASSWORD=hunter2");
        write_file(root() / "docs" / "index.html", "<h1>docs</h1>");
        write_file(root() / "only-br.css", "body{}");
        write_file(root() / "only-br.css.br", app_js_br);
        fs::create_symlink("../secret", root() / "escape");
        fs::create_symlink("app.js", root() / "inside");
    }
    ~site_dir() {
        std::error_code ignored;
        fs::remove_all(base_, ignored);
    }
    fs::path root() const { return base_ / "public"; }

private:
    fs::path base_;
};

// One request on a fresh connection.
response fetch(std::uint16_t port, std::string_view target, std::string_view fields = {}) {
    raw_client c(port);
    REQUIRE(c.send(get_request(target, fields)));
    auto r = c.read_response();
    INFO(c.last_error());
    REQUIRE(r);
    return *r;
}

bool body_leaks_secret(const response& r) { return r.body.find("SECRET") != std::string::npos; }

} // namespace

TEST_CASE("static: a file is served with its type, a strong ETag and Last-Modified") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto r = fetch(server.port(), "/static/app.js");
    CHECK(r.status == 200);
    CHECK(r.body == app_js);
    CHECK(r.header("content-type") == "text/javascript; charset=utf-8");
    auto etag = r.header("etag");
    REQUIRE(etag);
    CHECK(etag->starts_with("\""));   // strong
    CHECK(r.header("last-modified"));
    CHECK(r.header("cache-control") == "no-cache");
    CHECK(r.header("accept-ranges") == "bytes");
    CHECK(r.header("vary") == "Accept-Encoding");   // a .gz sibling exists
    CHECK(r.header("x-content-type-options") == "nosniff");
    CHECK_FALSE(r.header("content-encoding"));
}

TEST_CASE("static: If-None-Match with the current tag gives 304 without a body") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto first = fetch(server.port(), "/static/app.js");
    auto etag = first.header("etag").value_or("");
    auto r = fetch(server.port(), "/static/app.js", "If-None-Match: " + etag + "\r\n");
    CHECK(r.status == 304);
    CHECK(r.body.empty());
    CHECK(r.header("etag") == etag);
    CHECK(r.header("cache-control") == "no-cache");
    CHECK(fetch(server.port(), "/static/app.js", "If-None-Match: \"other\", " + etag + "\r\n").status == 304);
}

TEST_CASE("static: If-Modified-Since gives 304, but If-None-Match takes precedence over it") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto first = fetch(server.port(), "/static/app.js");
    auto etag = first.header("etag").value_or("");
    auto last_modified = first.header("last-modified").value_or("");
    CHECK(fetch(server.port(), "/static/app.js", "If-Modified-Since: " + last_modified + "\r\n").status == 304);
    // A stale tag with a date that alone would give 304: the tag decides, 200.
    auto r = fetch(server.port(), "/static/app.js",
                   "If-None-Match: \"stale\"\r\nIf-Modified-Since: " + last_modified + "\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == app_js);
    // A matching tag with a date that alone would give 200: the tag decides, 304.
    CHECK(fetch(server.port(), "/static/app.js",
                "If-None-Match: " + etag + "\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n")
              .status == 304);
    CHECK(fetch(server.port(), "/static/app.js", "If-Match: \"stale\"\r\n").status == 412);
}

TEST_CASE("static: Range gives 206 with Content-Range, and 416 when unsatisfiable") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto r = fetch(server.port(), "/static/digits.txt", "Range: bytes=2-5\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == "2345");
    CHECK(r.header("content-range") == "bytes 2-5/36");
    CHECK(r.header("content-type") == "text/plain; charset=utf-8");

    r = fetch(server.port(), "/static/digits.txt", "Range: bytes=-3\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == "xyz");

    r = fetch(server.port(), "/static/digits.txt", "Range: bytes=36-\r\n");
    CHECK(r.status == 416);
    CHECK(r.header("content-range") == "bytes */36");

    // Several ranges: answered with the whole file (documented choice).
    r = fetch(server.port(), "/static/digits.txt", "Range: bytes=0-1,4-5\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == digits);
    // A syntactically invalid Range is ignored.
    CHECK(fetch(server.port(), "/static/digits.txt", "Range: bytes=5-1\r\n").status == 200);
}

TEST_CASE("static: If-Range with a stale validator gives the whole file, a current one the range") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto etag = fetch(server.port(), "/static/digits.txt").header("etag").value_or("");
    auto r = fetch(server.port(), "/static/digits.txt", "Range: bytes=0-3\r\nIf-Range: \"stale\"\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == digits);
    r = fetch(server.port(), "/static/digits.txt", "Range: bytes=0-3\r\nIf-Range: " + etag + "\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == "0123");
}

TEST_CASE("static: a precompressed sibling is chosen by Accept-Encoding, and q=0 refuses it") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto plain = fetch(server.port(), "/static/app.js");
    auto gz = fetch(server.port(), "/static/app.js", "Accept-Encoding: gzip, deflate\r\n");
    CHECK(gz.status == 200);
    CHECK(gz.header("content-encoding") == "gzip");
    CHECK(gz.body == app_js_gz);
    CHECK(gz.header("content-type") == "text/javascript; charset=utf-8");
    CHECK(gz.header("vary") == "Accept-Encoding");
    CHECK(gz.header("etag") != plain.header("etag"));   // another representation, another tag

    auto refused = fetch(server.port(), "/static/app.js", "Accept-Encoding: gzip;q=0, identity\r\n");
    CHECK(refused.status == 200);
    CHECK_FALSE(refused.header("content-encoding"));
    CHECK(refused.body == app_js);

    auto br = fetch(server.port(), "/static/only-br.css", "Accept-Encoding: gzip, br\r\n");
    CHECK(br.header("content-encoding") == "br");
    CHECK(br.body == app_js_br);
    CHECK(br.header("content-type") == "text/css; charset=utf-8");

    // The compressed tag revalidates the compressed representation.
    auto again = fetch(server.port(), "/static/app.js",
                       "Accept-Encoding: gzip\r\nIf-None-Match: " + gz.header("etag").value_or("") + "\r\n");
    CHECK(again.status == 304);
}

TEST_CASE("static: path traversal is refused, raw or percent-encoded") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    for (std::string_view target : {"/static/../secret", "/static/%2e%2e/secret", "/static/%2E%2E/secret",
                                    "/static/..%2fsecret", "/static/docs/../../secret", "/static/..%5csecret",
                                    "/static/app.js%00.png"}) {
        INFO(target);
        auto r = fetch(server.port(), target);
        CHECK(r.status >= 400);
        CHECK(r.status < 500);
        CHECK_FALSE(body_leaks_secret(r));
    }
    CHECK(fetch(server.port(), "/static/%2e%2e/secret").status == 404);
    CHECK(fetch(server.port(), "/static/bad%zzescape").status == 400);
}

TEST_CASE("static: a symlink pointing outside the root is refused; one inside is served") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    auto r = fetch(server.port(), "/static/escape");
    CHECK(r.status == 404);
    CHECK_FALSE(body_leaks_secret(r));
    auto inside = fetch(server.port(), "/static/inside");
    CHECK(inside.status == 200);
    CHECK(inside.body == app_js);
}

TEST_CASE("static: dotfiles are refused unless allowed") {
    site_dir dir;
    test_server server{[&](tether::server& app) {
        tether::http::serve_directory(app, "/static", dir.root());
        tether::http::serve_directory(app, "/open", dir.root(), {.dotfiles = true});
    }};
    auto r = fetch(server.port(), "/static/.env");
    CHECK(r.status == 404);
    CHECK(r.body.find("hunter2") == std::string::npos);
    CHECK(fetch(server.port(), "/static/docs/../.env").status == 404);
    CHECK(fetch(server.port(), "/open/.env").body == "PASSWORD=hunter2");
}

TEST_CASE("static: HEAD has the GET's fields and no body") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    raw_client c(server.port());
    REQUIRE(c.send("HEAD /static/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    auto head = c.read_response(5s, /*head_request=*/true);
    INFO(c.last_error());
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->header("content-length") == std::to_string(app_js.size()));
    CHECK(head->header("content-type") == "text/javascript; charset=utf-8");
    CHECK(head->header("etag"));
    // The next response on the connection starts right after the head: no body bytes were sent.
    REQUIRE(c.send(get_request("/static/digits.txt")));
    auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->body == digits);
}

TEST_CASE("static: directories serve index.html, and redirect to add the slash") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    CHECK(fetch(server.port(), "/static/").body == "<h1>home</h1>");
    auto docs = fetch(server.port(), "/static/docs/");
    CHECK(docs.status == 200);
    CHECK(docs.body == "<h1>docs</h1>");
    CHECK(docs.header("content-type") == "text/html; charset=utf-8");
    auto redirect = fetch(server.port(), "/static/docs?x=1");
    CHECK(redirect.status == 301);
    CHECK(redirect.header("location") == "/static/docs/?x=1");
}

TEST_CASE("static: missing files are 404, hashed names are immutable") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/static", dir.root()); }};
    CHECK(fetch(server.port(), "/static/nope.js").status == 404);
    CHECK(fetch(server.port(), "/static/app.js?v=3").body == app_js);   // the query is not part of the name
    CHECK(fetch(server.port(), "/static/app.js/").status == 404);
    auto hashed = fetch(server.port(), "/static/app.3f2a9c1b.js");
    CHECK(hashed.status == 200);
    CHECK(hashed.header("cache-control") == "public, max-age=31536000, immutable");
    CHECK_FALSE(hashed.header("vary"));   // no sibling, nothing to negotiate
}

TEST_CASE("static: a file larger than max_file_bytes is refused whole but served in ranges") {
    site_dir dir;
    test_server server{[&](tether::server& app) {
        tether::http::serve_directory(app, "/static", dir.root(), {.max_file_bytes = 10});
    }};
    CHECK(fetch(server.port(), "/static/digits.txt").status == 500);
    auto r = fetch(server.port(), "/static/digits.txt", "Range: bytes=5-\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == "56789abcde");
    CHECK(r.header("content-range") == "bytes 5-14/36");
}

TEST_CASE("static: serving the site root") {
    site_dir dir;
    test_server server{[&](tether::server& app) { tether::http::serve_directory(app, "/", dir.root()); }};
    CHECK(fetch(server.port(), "/").body == "<h1>home</h1>");
    CHECK(fetch(server.port(), "/app.js").body == app_js);
    CHECK(fetch(server.port(), "/../secret").status == 404);
    // "//x" must not become a protocol-relative redirect.
    auto r = fetch(server.port(), "//docs");
    CHECK(r.status == 301);
    CHECK(r.header("location") == "/docs/");
}

TEST_CASE("static: a root that is not a directory is refused at setup") {
    site_dir dir;
    tether::server app{test_server::defaults()};
    CHECK_THROWS_AS(tether::http::serve_directory(app, "/x", dir.root() / "missing"), std::invalid_argument);
    CHECK_THROWS_AS(tether::http::serve_directory(app, "/x", dir.root() / "app.js"), std::invalid_argument);
    CHECK_THROWS_AS(tether::http::serve_directory(app, "x", dir.root()), std::invalid_argument);
}

// ---- CORS over sockets -----------------------------------------------------------------------

namespace {

void cors_routes(tether::server& app) {
    tether::http::cors_options o;
    o.allowed_origins = {"https://app.example"};
    o.allowed_headers = {"Content-Type", "X-Token"};
    o.exposed_headers = {"ETag"};
    o.max_age = std::chrono::seconds(600);
    app.cors(o);
    app.get("/api/items", [](auto&, auto& res) { res.json("[]"); });
    app.put("/api/items", [](auto&, auto& res) { res.status(204); });
}

std::string preflight(std::string_view origin, std::string_view method, std::string_view headers = {}) {
    std::string r = "OPTIONS /api/items HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ";
    r.append(origin).append("\r\nAccess-Control-Request-Method: ").append(method).append("\r\n");
    if (!headers.empty()) r.append("Access-Control-Request-Headers: ").append(headers).append("\r\n");
    return r + "\r\n";
}

response exchange(std::uint16_t port, const std::string& request) {
    raw_client c(port);
    REQUIRE(c.send(request));
    auto r = c.read_response();
    INFO(c.last_error());
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_CASE("cors: a preflight from an allowed origin is answered 204 before routing") {
    test_server server{cors_routes};
    auto r = exchange(server.port(), preflight("https://app.example", "PUT", "x-token"));
    CHECK(r.status == 204);
    CHECK(r.header("access-control-allow-origin") == "https://app.example");
    CHECK(r.header("access-control-allow-methods"));
    CHECK(r.header("access-control-allow-headers") == "x-token");
    CHECK(r.header("access-control-max-age") == "600");
    CHECK(r.header_has_token("vary", "Origin"));
    CHECK_FALSE(r.header("allow"));   // not the router's automatic OPTIONS answer
}

TEST_CASE("cors: a preflight from a disallowed origin, or for a disallowed header, is 403") {
    test_server server{cors_routes};
    auto r = exchange(server.port(), preflight("https://evil.example", "PUT"));
    CHECK(r.status == 403);
    CHECK_FALSE(r.header("access-control-allow-origin"));
    CHECK(exchange(server.port(), preflight("https://app.example", "PUT", "x-other")).status == 403);
}

TEST_CASE("cors: an actual request from an allowed origin gets the fields; others do not") {
    test_server server{cors_routes};
    auto r = fetch(server.port(), "/api/items", "Origin: https://app.example\r\n");
    CHECK(r.status == 200);
    CHECK(r.header("access-control-allow-origin") == "https://app.example");
    CHECK(r.header("access-control-expose-headers") == "ETag");
    CHECK(r.header_has_token("vary", "Origin"));

    auto evil = fetch(server.port(), "/api/items", "Origin: https://evil.example\r\n");
    CHECK(evil.status == 200);   // CORS is enforced by the browser; the server just says nothing
    CHECK_FALSE(evil.header("access-control-allow-origin"));

    auto same_origin = fetch(server.port(), "/api/items");
    CHECK_FALSE(same_origin.header("access-control-allow-origin"));
    // Errors carry the fields too, so the page can read the failure.
    auto missing = fetch(server.port(), "/api/nope", "Origin: https://app.example\r\n");
    CHECK(missing.status == 404);
    CHECK(missing.header("access-control-allow-origin") == "https://app.example");
    // A plain OPTIONS (no Access-Control-Request-Method) still reaches the router.
    auto options = exchange(server.port(), "OPTIONS /api/items HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n");
    CHECK(options.status == 204);
    CHECK(options.header("allow"));
}
