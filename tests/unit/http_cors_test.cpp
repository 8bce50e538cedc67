// CORS (include/tether/http/cors.hpp): the fields of an actual response and of a preflight, for
// allowed, disallowed and wildcard origins, with and without credentials.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <tether/http/cors.hpp>

using namespace tether::http;
using namespace std::chrono_literals;

namespace {

std::optional<std::string> field(const std::vector<cors_field>& fields, std::string_view name) {
    for (const auto& f : fields)
        if (f.name == name) return f.value;
    return std::nullopt;
}

bool has_access_control(const std::vector<cors_field>& fields) {
    for (const auto& f : fields)
        if (f.name.starts_with("Access-Control-")) return true;
    return false;
}

cors_options listed() {
    cors_options o;
    o.allowed_origins = {"https://app.example", "http://localhost:5173"};
    return o;
}

cors_options any() {
    cors_options o;
    o.allowed_origins = {"*"};
    return o;
}

} // namespace

TEST_CASE("cors: an allowed origin is echoed, with Vary: Origin") {
    auto f = cors_response_fields(listed(), "https://app.example");
    CHECK(field(f, "Access-Control-Allow-Origin") == "https://app.example");
    CHECK(field(f, "Vary") == "Origin");
    CHECK_FALSE(field(f, "Access-Control-Allow-Credentials"));
}

TEST_CASE("cors: origins compare case-insensitively") {
    CHECK(cors_origin_allowed(listed(), "HTTPS://APP.EXAMPLE"));
    CHECK_FALSE(cors_origin_allowed(listed(), "https://app.example.evil"));
    CHECK_FALSE(cors_origin_allowed(listed(), "https://evil.app.example"));
    CHECK_FALSE(cors_origin_allowed(listed(), ""));
}

TEST_CASE("cors: a disallowed origin gets no CORS fields, but still Vary: Origin") {
    auto f = cors_response_fields(listed(), "https://evil.example");
    CHECK_FALSE(has_access_control(f));
    CHECK(field(f, "Vary") == "Origin");
}

TEST_CASE("cors: a request without Origin gets no CORS fields") {
    auto f = cors_response_fields(listed(), std::nullopt);
    CHECK_FALSE(has_access_control(f));
    CHECK(field(f, "Vary") == "Origin");   // a cache must not reuse it for a cross-origin request
}

TEST_CASE("cors: '*' without credentials answers '*' and does not vary") {
    auto f = cors_response_fields(any(), "https://whoever.example");
    CHECK(field(f, "Access-Control-Allow-Origin") == "*");
    CHECK_FALSE(field(f, "Vary"));
}

TEST_CASE("cors: with credentials the origin is echoed, never '*'") {
    auto o = any();
    o.allow_credentials = true;
    auto f = cors_response_fields(o, "https://whoever.example");
    CHECK(field(f, "Access-Control-Allow-Origin") == "https://whoever.example");
    CHECK(field(f, "Access-Control-Allow-Credentials") == "true");
    CHECK(field(f, "Vary") == "Origin");
}

TEST_CASE("cors: exposed headers are listed on actual responses") {
    auto o = listed();
    o.exposed_headers = {"ETag", "X-Poll-Interval-Ms"};
    auto f = cors_response_fields(o, "https://app.example");
    CHECK(field(f, "Access-Control-Expose-Headers") == "ETag, X-Poll-Interval-Ms");
}

TEST_CASE("cors: is_cors_preflight: OPTIONS with Origin and Access-Control-Request-Method") {
    CHECK(is_cors_preflight("OPTIONS", true, true));
    CHECK_FALSE(is_cors_preflight("OPTIONS", false, true));
    CHECK_FALSE(is_cors_preflight("OPTIONS", true, false));
    CHECK_FALSE(is_cors_preflight("GET", true, true));
}

TEST_CASE("cors: a preflight from an allowed origin for an allowed method and header") {
    auto o = listed();
    o.max_age = 600s;
    auto r = cors_preflight(o, "https://app.example", "PUT", "content-type");
    REQUIRE(r.allowed);
    CHECK(field(r.fields, "Access-Control-Allow-Origin") == "https://app.example");
    CHECK(field(r.fields, "Access-Control-Allow-Methods") == "GET, HEAD, POST, PUT, PATCH, DELETE");
    CHECK(field(r.fields, "Access-Control-Allow-Headers") == "content-type");
    CHECK(field(r.fields, "Access-Control-Max-Age") == "600");
    CHECK(field(r.fields, "Vary") == "Origin, Access-Control-Request-Method");
    CHECK_FALSE(field(r.fields, "Access-Control-Expose-Headers"));
}

TEST_CASE("cors: a preflight from a disallowed origin is refused with no CORS fields") {
    auto r = cors_preflight(listed(), "https://evil.example", "GET", std::nullopt);
    CHECK_FALSE(r.allowed);
    CHECK_FALSE(has_access_control(r.fields));
}

TEST_CASE("cors: a preflight for a method or header not allowed is refused") {
    auto o = listed();
    o.allowed_methods = {"GET"};
    CHECK_FALSE(cors_preflight(o, "https://app.example", "DELETE", std::nullopt).allowed);
    CHECK_FALSE(cors_preflight(o, "https://app.example", "delete", std::nullopt).allowed);   // methods are case-sensitive
    CHECK(cors_preflight(o, "https://app.example", "POST", std::nullopt).allowed);           // safelisted
    CHECK_FALSE(cors_preflight(listed(), "https://app.example", "GET", "X-Secret").allowed);
    CHECK(cors_preflight(listed(), "https://app.example", "GET", "Content-Type").allowed);
}

TEST_CASE("cors: allowed_headers '*' echoes what the preflight asks for, and says so in Vary") {
    auto o = listed();
    o.allowed_headers = {"*"};
    auto r = cors_preflight(o, "https://app.example", "GET", "authorization, x-trace");
    REQUIRE(r.allowed);
    CHECK(field(r.fields, "Access-Control-Allow-Headers") == "authorization, x-trace");
    CHECK(field(r.fields, "Vary") == "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
}

TEST_CASE("cors: a preflight with credentials never answers '*'") {
    auto o = any();
    o.allow_credentials = true;
    o.allowed_methods = {"*"};
    auto r = cors_preflight(o, "https://whoever.example", "PUT", std::nullopt);
    REQUIRE(r.allowed);
    CHECK(field(r.fields, "Access-Control-Allow-Origin") == "https://whoever.example");
    CHECK(field(r.fields, "Access-Control-Allow-Credentials") == "true");
    CHECK(field(r.fields, "Access-Control-Allow-Methods") == "PUT");   // echoed, not "*"
}

TEST_CASE("cors: a preflight with a malformed method or header name is refused") {
    CHECK_FALSE(cors_preflight(listed(), "https://app.example", "GE T", std::nullopt).allowed);
    auto o = listed();
    o.allowed_headers = {"*"};
    CHECK_FALSE(cors_preflight(o, "https://app.example", "GET", "x(y)").allowed);
}
