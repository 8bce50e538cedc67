// URL path normalization for static files (include/tether/http/path.hpp): what a request path
// may name under a served root, and every way of trying to climb out of it; then the other pure
// pieces of static serving: Content-Type, hashed names, Accept-Encoding.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <tether/http/mime.hpp>
#include <tether/http/path.hpp>
#include <tether/http/static_files.hpp>

using tether::http::normalize_url_path;
using tether::http::path_error;

namespace {

std::string relative(std::string_view url, bool dotfiles = false) {
    auto r = normalize_url_path(url, {.allow_dotfiles = dotfiles});
    INFO(url << " -> " << tether::http::to_string(r.error));
    REQUIRE(r);
    return r.relative;
}

path_error error_of(std::string_view url, bool dotfiles = false) {
    return normalize_url_path(url, {.allow_dotfiles = dotfiles}).error;
}

} // namespace

TEST_CASE("path: plain paths come back as relative paths without leading slash") {
    CHECK(relative("app.js") == "app.js");
    CHECK(relative("/app.js") == "app.js");
    CHECK(relative("css/site.css") == "css/site.css");
    CHECK(relative("") == "");
    CHECK(relative("/") == "");
}

TEST_CASE("path: a trailing slash, '.' or '..' marks a directory") {
    CHECK(normalize_url_path("docs/").directory);
    CHECK(normalize_url_path("").directory);
    CHECK(normalize_url_path("docs/.").directory);
    CHECK(normalize_url_path("docs/a/..").directory);
    CHECK_FALSE(normalize_url_path("docs").directory);
    CHECK_FALSE(normalize_url_path("docs/index.html").directory);
}

TEST_CASE("path: repeated slashes and '.' segments are removed") {
    CHECK(relative("a//b///c") == "a/b/c");
    CHECK(relative("./a/./b/.") == "a/b");
    CHECK(relative("//a") == "a");
}

TEST_CASE("path: '..' inside the root is resolved") {
    CHECK(relative("a/b/../c") == "a/c");
    CHECK(relative("a/../b") == "b");
    CHECK(relative("a/..") == "");
}

TEST_CASE("path: '..' climbing above the root is refused") {
    CHECK(error_of("..") == path_error::escapes_root);
    CHECK(error_of("../secret") == path_error::escapes_root);
    CHECK(error_of("/../secret") == path_error::escapes_root);
    CHECK(error_of("a/../../secret") == path_error::escapes_root);
    CHECK(error_of("a/./../b/../../etc/passwd") == path_error::escapes_root);
}

TEST_CASE("path: percent-encoded dots are dots: %2e%2e is '..'") {
    CHECK(error_of("%2e%2e/secret") == path_error::escapes_root);
    CHECK(error_of("%2E%2E/secret") == path_error::escapes_root);
    CHECK(error_of(".%2e/secret") == path_error::escapes_root);
    CHECK(relative("a/%2e%2e/b") == "b");
    CHECK(relative("a/%2e/b") == "a/b");
}

TEST_CASE("path: an encoded slash is a byte of one segment, never a separator, and is refused") {
    CHECK(error_of("..%2fsecret") == path_error::encoded_slash);
    CHECK(error_of("a%2F..%2F..%2Fsecret") == path_error::encoded_slash);
    CHECK(error_of("%2e%2e%2fsecret") == path_error::encoded_slash);
}

TEST_CASE("path: backslashes, raw or encoded, are refused") {
    CHECK(error_of("..\\secret") == path_error::backslash);
    CHECK(error_of("a\\b") == path_error::backslash);
    CHECK(error_of("..%5csecret") == path_error::backslash);
}

TEST_CASE("path: NUL bytes, raw or encoded, are refused") {
    CHECK(error_of(std::string_view("a\0b", 3)) == path_error::nul);
    CHECK(error_of("index.html%00.png") == path_error::nul);
}

TEST_CASE("path: malformed percent-escapes are refused") {
    CHECK(error_of("a%2") == path_error::bad_escape);
    CHECK(error_of("a%zz") == path_error::bad_escape);
    CHECK(error_of("%") == path_error::bad_escape);
}

TEST_CASE("path: other escapes decode into the name") {
    CHECK(relative("my%20file.txt") == "my file.txt");
    CHECK(relative("caf%C3%A9.html") == "caf\xC3\xA9.html");
    CHECK(relative("a+b") == "a+b");   // '+' is a literal in a path
}

TEST_CASE("path: dotfiles and dot-directories are refused unless allowed") {
    CHECK(error_of(".env") == path_error::dotfile);
    CHECK(error_of(".git/config") == path_error::dotfile);
    CHECK(error_of("a/.hidden/b") == path_error::dotfile);
    CHECK(error_of("%2egit/config") == path_error::dotfile);
    CHECK(error_of("a/../.env") == path_error::dotfile);
    CHECK(relative(".well-known/security.txt", true) == ".well-known/security.txt");
    CHECK(relative(".env", true) == ".env");
    CHECK(relative(".well-known/../a.txt") == "a.txt");   // the dot segment is gone after normalizing
}

TEST_CASE("path: names that merely contain dots are ordinary") {
    CHECK(relative("app.3f2a9c1b.js") == "app.3f2a9c1b.js");
    CHECK(relative("a..b") == "a..b");
    CHECK(relative("...", true) == "...");   // not a dot-segment, but a name starting with '.'
    CHECK(error_of("...") == path_error::dotfile);
}

TEST_CASE("path: over-long paths are refused") {
    CHECK(error_of(std::string(5000, 'a')) == path_error::too_long);
}

TEST_CASE("path: encode_url_path escapes what a URL path cannot hold") {
    using tether::http::encode_url_path;
    CHECK(encode_url_path("a/b c/%.txt") == "a/b%20c/%25.txt");
    CHECK(encode_url_path("caf\xC3\xA9") == "caf%C3%A9");
    CHECK(encode_url_path("a?b#c") == "a%3Fb%23c");
}

TEST_CASE("static: Content-Type by extension") {
    using tether::http::mime_type_for;
    CHECK(mime_type_for("index.html") == "text/html; charset=utf-8");
    CHECK(mime_type_for("app.js") == "text/javascript; charset=utf-8");
    CHECK(mime_type_for("mod.mjs") == "text/javascript; charset=utf-8");
    CHECK(mime_type_for("site.CSS") == "text/css; charset=utf-8");
    CHECK(mime_type_for("data.json") == "application/json");
    CHECK(mime_type_for("app.js.map") == "application/json");
    CHECK(mime_type_for("logo.svg") == "image/svg+xml");
    CHECK(mime_type_for("a/b/photo.JPG") == "image/jpeg");
    CHECK(mime_type_for("f.woff2") == "font/woff2");
    CHECK(mime_type_for("m.wasm") == "application/wasm");
    CHECK(mime_type_for("clip.webm") == "video/webm");
    CHECK(mime_type_for("notes.txt") == "text/plain; charset=utf-8");
    CHECK(mime_type_for("archive.unknownext") == "application/octet-stream");
    CHECK(mime_type_for("Makefile") == "application/octet-stream");
    CHECK(mime_type_for(".bashrc") == "application/octet-stream");
    CHECK(mime_type_for("dir.d/file") == "application/octet-stream");
}

TEST_CASE("static: content-hashed names have a hex segment of 8+ digits between dots") {
    using tether::http::is_content_hashed_name;
    CHECK(is_content_hashed_name("app.3f2a9c1b.js"));
    CHECK(is_content_hashed_name("assets/chunk.0123ABCDef.min.css"));
    CHECK(is_content_hashed_name("vendor.min.deadbeef42.js"));
    CHECK_FALSE(is_content_hashed_name("app.js"));
    CHECK_FALSE(is_content_hashed_name("app.3f2a9c1.js"));       // 7 digits
    CHECK_FALSE(is_content_hashed_name("3f2a9c1b.js"));          // not between dots
    CHECK_FALSE(is_content_hashed_name("app.3f2a9c1b"));         // the extension, not between dots
    CHECK_FALSE(is_content_hashed_name("app.3f2a9c1g.js"));      // not hex
    CHECK_FALSE(is_content_hashed_name("3f2a9c1b.d/app.js"));    // only the file name counts
}

TEST_CASE("static: Accept-Encoding qvalues, '*' and identity") {
    using tether::http::parse_accept_encoding;
    auto a = parse_accept_encoding("gzip, deflate, br");
    CHECK(a.gzip == 1000);
    CHECK(a.br == 1000);
    CHECK(a.identity == 1000);
    a = parse_accept_encoding("gzip;q=0, br;q=0.5");
    CHECK(a.gzip == 0);
    CHECK(a.br == 500);
    a = parse_accept_encoding("GZIP;Q=0.25");
    CHECK(a.gzip == 250);
    a = parse_accept_encoding("x-gzip");
    CHECK(a.gzip == 1000);
    a = parse_accept_encoding("*;q=0.1, br;q=0");
    CHECK(a.gzip == 100);
    CHECK(a.br == 0);
    CHECK(a.identity == 100);
    a = parse_accept_encoding("*;q=0");
    CHECK(a.identity == 0);
    a = parse_accept_encoding("identity;q=0, gzip");
    CHECK(a.identity == 0);
    a = parse_accept_encoding("gzip;q=1.5");   // capped, never above 1
    CHECK(a.gzip == 1000);
    a = parse_accept_encoding("gzip;q=2");   // not a qvalue: not acceptable
    CHECK(a.gzip == 0);
    a = parse_accept_encoding("gzip;q=x");   // unreadable: not acceptable
    CHECK(a.gzip == 0);
    a = parse_accept_encoding(std::nullopt);
    CHECK(a.gzip == 0);
    CHECK(a.br == 0);
    CHECK(a.identity == 1000);
}
