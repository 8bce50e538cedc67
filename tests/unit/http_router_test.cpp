// The router (include/tether/http/router.hpp): which route a request reaches, what it binds, and what it
// answers when no route fits. Handlers are plain ints here, so a test names the route it expects by number.
// Requests go through the real parser, so path and method come out exactly as a connection would see them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/parser.hpp>
#include <tether/http/router.hpp>

using namespace tether::http;

namespace {

using int_router = router<int>;
using outcome = int_router::outcome;

// A parsed request together with the bytes its views point into. Not copyable: the views would dangle.
struct incoming {
    std::string wire;
    request req;

    incoming(std::string_view method_name, std::string_view target)
        : wire(std::string(method_name) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n") {
        request_parser parser;
        REQUIRE(parser.parse(wire, req) == parse_status::complete);
    }
    incoming(const incoming&) = delete;
    incoming& operator=(const incoming&) = delete;
};

// The number of the route `method_name target` reaches, or -1 when it reaches none.
int route_of(const int_router& r, std::string_view method_name, std::string_view target) {
    incoming in(method_name, target);
    auto result = r.match(in.req);
    if (result.result != outcome::found) return -1;
    REQUIRE(result.handler != nullptr);
    return *result.handler;
}

} // namespace

TEST_CASE("literal routes match their exact path", "[http][router]") {
    int_router r;
    r.add(method::get, "/", 1);
    r.add(method::get, "/about", 2);
    r.add(method::get, "/api/items", 3);
    r.add(method::get, "/api/items/", 4);

    CHECK(route_of(r, "GET", "/") == 1);
    CHECK(route_of(r, "GET", "/about") == 2);
    CHECK(route_of(r, "GET", "/api/items") == 3);
    SECTION("a trailing slash is a different path") {
        CHECK(route_of(r, "GET", "/api/items/") == 4);
        CHECK(route_of(r, "GET", "/about/") == -1);
    }
    SECTION("the query is not part of the path") { CHECK(route_of(r, "GET", "/about?x=1") == 2); }
    SECTION("segments compare case-sensitively") { CHECK(route_of(r, "GET", "/About") == -1); }
    SECTION("a prefix of a route is not the route") { CHECK(route_of(r, "GET", "/api") == -1); }
}

TEST_CASE("a :param segment matches one non-empty segment and binds it", "[http][router]") {
    int_router r;
    r.add(method::get, "/items/:id", 1);
    r.add(method::get, "/users/:uid/posts/:pid", 2);

    SECTION("the value is the segment") {
        incoming in("GET", "/items/42?verbose=1");
        auto m = r.match(in.req);
        REQUIRE(m.result == outcome::found);
        CHECK(*m.handler == 1);
        CHECK(in.req.param("id") == "42");
    }
    SECTION("the value is percent-decoded") {
        incoming in("GET", "/items/a%20b%2Fc");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.param("id") == "a b/c");
    }
    SECTION("'+' in a path is a literal plus, not a space") {
        incoming in("GET", "/items/a+b");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.param("id") == "a+b");
    }
    SECTION("several parameters bind by name") {
        incoming in("GET", "/users/7/posts/x%41y");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.param("uid") == "7");
        CHECK(in.req.param("pid") == "xAy");
        CHECK(in.req.param("missing").empty());
    }
    SECTION("an empty segment does not match a parameter") {
        CHECK(route_of(r, "GET", "/items/") == -1);
        CHECK(route_of(r, "GET", "/users//posts/1") == -1);
    }
    SECTION("a parameter matches one segment only") { CHECK(route_of(r, "GET", "/items/1/2") == -1); }
}

TEST_CASE("a malformed percent-escape in a parameter is a bad request", "[http][router]") {
    int_router r;
    r.add(method::get, "/items/:id", 1);
    for (const char* target : {"/items/%zz", "/items/%2", "/items/a%"}) {
        INFO(target);
        incoming in("GET", target);
        auto m = r.match(in.req);
        CHECK(m.result == outcome::bad_request);
        CHECK(m.handler == nullptr);
    }
}

TEST_CASE("a trailing * matches the rest of the path, which wildcard() returns", "[http][router]") {
    int_router r;
    r.add(method::get, "/static/*", 1);

    SECTION("several segments") {
        incoming in("GET", "/static/css/site.css");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.wildcard() == "css/site.css");
    }
    SECTION("an empty remainder after the slash") {
        incoming in("GET", "/static/");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.wildcard().empty());
    }
    SECTION("not the path without its slash") { CHECK(route_of(r, "GET", "/static") == -1); }
    SECTION("the remainder is passed on as sent, still encoded") {
        incoming in("GET", "/static/a%20b");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.wildcard() == "a%20b");
    }
    SECTION("a route without * leaves wildcard() empty") {
        r.add(method::get, "/plain", 2);
        incoming in("GET", "/plain");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.wildcard().empty());
    }
}

TEST_CASE("a root wildcard matches every path, / included", "[http][router]") {
    int_router r;
    r.add(method::get, "/*", 1);
    r.add(method::get, "/api/status", 2);

    incoming root("GET", "/");
    REQUIRE(r.match(root.req).result == outcome::found);
    CHECK(root.req.wildcard().empty());
    CHECK(route_of(r, "GET", "/index.html") == 1);
    CHECK(route_of(r, "GET", "/api/status") == 2);
    CHECK(route_of(r, "GET", "/api/other") == 1);
}

TEST_CASE("literal segments win over parameters, parameters over the wildcard, with backtracking", "[http][router]") {
    int_router r;
    r.add(method::get, "/files/new", 1);
    r.add(method::get, "/files/:id", 2);
    r.add(method::get, "/files/:id/raw", 3);
    r.add(method::get, "/files/*", 4);

    CHECK(route_of(r, "GET", "/files/new") == 1);
    CHECK(route_of(r, "GET", "/files/42") == 2);
    CHECK(route_of(r, "GET", "/files/42/raw") == 3);
    SECTION("a literal branch that dead-ends falls back to the parameter") {
        incoming in("GET", "/files/new/raw");
        auto m = r.match(in.req);
        REQUIRE(m.result == outcome::found);
        CHECK(*m.handler == 3);
        CHECK(in.req.param("id") == "new");
    }
    SECTION("a parameter branch that dead-ends falls back to the wildcard, without its capture") {
        incoming in("GET", "/files/42/raw/extra");
        auto m = r.match(in.req);
        REQUIRE(m.result == outcome::found);
        CHECK(*m.handler == 4);
        CHECK(in.req.wildcard() == "42/raw/extra");
        CHECK(in.req.param("id").empty());
    }
    SECTION("registration order does not change the priority") {
        int_router reversed;
        reversed.add(method::get, "/files/*", 4);
        reversed.add(method::get, "/files/:id/raw", 3);
        reversed.add(method::get, "/files/:id", 2);
        reversed.add(method::get, "/files/new", 1);
        CHECK(route_of(reversed, "GET", "/files/new") == 1);
        CHECK(route_of(reversed, "GET", "/files/42") == 2);
        CHECK(route_of(reversed, "GET", "/files/new/raw") == 3);
        CHECK(route_of(reversed, "GET", "/files/a/b/c") == 4);
    }
}

TEST_CASE("a path no route serves is not found", "[http][router]") {
    int_router r;
    r.add(method::get, "/a", 1);
    for (const char* m : {"GET", "POST", "OPTIONS", "HEAD"}) {
        INFO(m);
        incoming in(m, "/b");
        auto result = r.match(in.req);
        CHECK(result.result == outcome::not_found);
        CHECK(result.handler == nullptr);
        CHECK(result.allow().empty());
    }
    SECTION("an empty router finds nothing") {
        int_router empty;
        incoming in("GET", "/");
        CHECK(empty.match(in.req).result == outcome::not_found);
    }
    SECTION("asterisk-form and authority-form targets are not paths") {
        incoming star("OPTIONS", "*");
        CHECK(r.match(star.req).result == outcome::not_found);
    }
}

// A connection parses each request into the same request object, so what the router bound for one request
// must not show through on the next: the router writes its captures into the request's own slots.
TEST_CASE("a reused request keeps nothing the router bound for the previous one", "[http][router]") {
    int_router r;
    r.add(method::get, "/items/:id/files/*", 1);
    r.add(method::get, "/items/:id/:part", 2);
    r.add(method::post, "/users/:name", 3);
    request req;
    auto parse_into = [&req](std::string& wire, std::string_view target, std::string_view verb = "GET") {
        wire = std::string(verb) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n";
        request_parser parser;
        REQUIRE(parser.parse(wire, req) == parse_status::complete);
    };
    std::string first, second, third, fourth;
    parse_into(first, "/items/a%2Fb/files/x/y");
    REQUIRE(r.match(req).result == outcome::found);
    CHECK(req.param("id") == "a/b");
    CHECK(req.wildcard() == "x/y");

    parse_into(second, "/nothing/here");
    CHECK(r.match(req).result == outcome::not_found);
    CHECK(req.param("id").empty());
    CHECK(req.wildcard().empty());
    CHECK(req.route().empty());

    parse_into(third, "/items/7/summary");   // the wildcard route is tried first and fails
    REQUIRE(r.match(req).result == outcome::found);
    CHECK(req.param("id") == "7");
    CHECK(req.param("part") == "summary");
    CHECK(req.wildcard().empty());

    parse_into(fourth, "/users/ann");         // served under POST only: 405, nothing bound
    CHECK(r.match(req).result == outcome::method_not_allowed);
    CHECK(req.param("name").empty());
    CHECK(req.param("id").empty());
}

TEST_CASE("a path served under other methods answers 405 with the exact Allow list", "[http][router]") {
    int_router r;
    r.add(method::get, "/items", 1);
    r.add(method::post, "/items", 2);
    r.add(method::delete_, "/items/:id", 3);
    r.add(method::get, "/explicit", 4);
    r.add(method::head, "/explicit", 5);
    r.add(method::options, "/explicit", 6);
    r.add(method::put, "/only-put", 7);

    const auto answer = [&](std::string_view m, std::string_view target) {
        incoming in(m, target);
        return r.match(in.req);
    };
    SECTION("GET implies HEAD, and OPTIONS is always listed") {
        auto m = answer("DELETE", "/items");
        CHECK(m.result == outcome::method_not_allowed);
        CHECK(m.handler == nullptr);
        CHECK(m.allow() == "GET, HEAD, POST, OPTIONS");
    }
    SECTION("explicit HEAD and OPTIONS routes are listed once, in method order") {
        CHECK(answer("POST", "/explicit").allow() == "GET, HEAD, OPTIONS");
    }
    SECTION("without GET there is no HEAD") {
        auto m = answer("HEAD", "/only-put");
        CHECK(m.result == outcome::method_not_allowed);
        CHECK(m.allow() == "PUT, OPTIONS");
    }
    SECTION("a method the router does not know is not allowed either") {
        auto m = answer("PURGE", "/items");
        CHECK(m.result == outcome::method_not_allowed);
        CHECK(m.allow() == "GET, HEAD, POST, OPTIONS");
    }
    SECTION("parameter routes are included") { CHECK(answer("GET", "/items/9").allow() == "DELETE, OPTIONS"); }
}

TEST_CASE("Allow lists every method any route accepts for the path, across route shapes", "[http][router]") {
    // RFC 9110 §10.2.1: Allow lists the methods the target resource supports. "/files/new" is served by
    // the literal route for GET and by the parameter route for POST, so both belong in its Allow.
    int_router r;
    r.add(method::get, "/files/new", 1);
    r.add(method::post, "/files/:id", 2);
    r.add(method::put, "/files/*", 3);

    incoming in("DELETE", "/files/new");
    auto m = r.match(in.req);
    CHECK(m.result == outcome::method_not_allowed);
    CHECK(m.allow() == "GET, HEAD, POST, PUT, OPTIONS");
    CHECK(route_of(r, "POST", "/files/new") == 2);
    CHECK(route_of(r, "PUT", "/files/new") == 3);
}

TEST_CASE("OPTIONS is answered automatically from the routes of the path", "[http][router]") {
    int_router r;
    r.add(method::get, "/items", 1);
    r.add(method::patch, "/items", 2);
    r.add(method::options, "/custom", 3);
    r.add(method::get, "/custom", 4);

    SECTION("without an OPTIONS route the outcome is options, with the Allow list") {
        incoming in("OPTIONS", "/items");
        auto m = r.match(in.req);
        CHECK(m.result == outcome::options);
        CHECK(m.handler == nullptr);
        CHECK(m.allow() == "GET, HEAD, PATCH, OPTIONS");
    }
    SECTION("an OPTIONS route takes precedence") { CHECK(route_of(r, "OPTIONS", "/custom") == 3); }
    SECTION("OPTIONS for an unknown path is not found") {
        incoming in("OPTIONS", "/nothing");
        CHECK(r.match(in.req).result == outcome::not_found);
    }
}

TEST_CASE("HEAD falls back to the GET route", "[http][router]") {
    int_router r;
    r.add(method::get, "/page", 1);
    r.add(method::get, "/both", 2);
    r.add(method::head, "/both", 3);
    r.add(method::get, "/items/:id", 4);

    CHECK(route_of(r, "HEAD", "/page") == 1);
    CHECK(route_of(r, "HEAD", "/both") == 3);
    SECTION("and binds the GET route's parameters") {
        incoming in("HEAD", "/items/5");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.param("id") == "5");
    }
}

TEST_CASE("a malformed route registration throws std::invalid_argument", "[http][router]") {
    int_router r;
    r.add(method::get, "/a/:id", 1);
    r.add(method::get, "/static/*", 2);

    SECTION("the same method and pattern twice") { CHECK_THROWS_AS(r.add(method::get, "/a/:id", 9), std::invalid_argument); }
    SECTION("the same pattern under another method is fine") { CHECK_NOTHROW(r.add(method::post, "/a/:id", 9)); }
    SECTION("'*' before the end") { CHECK_THROWS_AS(r.add(method::get, "/x/*/y", 9), std::invalid_argument); }
    SECTION("two parameters with different names at one position") {
        CHECK_THROWS_AS(r.add(method::get, "/a/:name/raw", 9), std::invalid_argument);
    }
    SECTION("a pattern that does not start with '/'") {
        CHECK_THROWS_AS(r.add(method::get, "a/b", 9), std::invalid_argument);
        CHECK_THROWS_AS(r.add(method::get, "", 9), std::invalid_argument);
        CHECK_THROWS_AS(r.add(method::get, "*", 9), std::invalid_argument);
    }
    SECTION("a parameter without a name") { CHECK_THROWS_AS(r.add(method::get, "/b/:", 9), std::invalid_argument); }
    SECTION("a method the router cannot dispatch on") {
        CHECK_THROWS_AS(r.add(method::other, "/c", 9), std::invalid_argument);
    }
    SECTION("more parameters than a request can hold") {
        CHECK_THROWS_AS(r.add(method::get, "/p/:a/:b/:c/:d/:e/:f/:g/:h/:i", 9), std::invalid_argument);
        CHECK_NOTHROW(r.add(method::get, "/p/:a/:b/:c/:d/:e/:f/:g/:h", 9));
    }
    SECTION("the routes registered before still work") { CHECK(route_of(r, "GET", "/a/1") == 1); }
}

// The all-literal lookup (router.hpp's opening comment) may answer only where the search would have answered
// the same; every other case must fall through to the search.
TEST_CASE("a literal path the lookup holds still reaches other routes when its node does not serve the method",
          "[http][router]") {
    int_router r;
    r.add(method::get, "/files/new", 1);
    r.add(method::post, "/files/:id", 2);
    r.add(method::put, "/files/*", 3);
    r.add(method::head, "/files/:id", 4);

    CHECK(route_of(r, "GET", "/files/new") == 1);
    SECTION("a parameter route serving the method") {
        incoming in("POST", "/files/new");
        auto m = r.match(in.req);
        REQUIRE(m.result == outcome::found);
        CHECK(*m.handler == 2);
        CHECK(in.req.param("id") == "new");
        CHECK(in.req.route() == "/files/:id");
    }
    SECTION("a wildcard route serving the method") {
        incoming in("PUT", "/files/new");
        REQUIRE(r.match(in.req).result == outcome::found);
        CHECK(in.req.wildcard() == "new");
    }
    SECTION("an explicit HEAD on a parameter route beats the literal route's GET") {
        CHECK(route_of(r, "HEAD", "/files/new") == 4);
    }
    SECTION("a method no route serves on the path answers 405 with every method") {
        incoming in("DELETE", "/files/new");
        auto m = r.match(in.req);
        CHECK(m.result == outcome::method_not_allowed);
        CHECK(m.allow() == "GET, HEAD, POST, PUT, OPTIONS");
    }
    SECTION("a request after a parameter match keeps none of its captures") {
        incoming first("POST", "/files/9");
        REQUIRE(r.match(first.req).result == outcome::found);
        incoming second("GET", "/files/new");
        auto m = r.match(second.req);
        REQUIRE(m.result == outcome::found);
        CHECK(second.req.param("id").empty());
        CHECK(second.req.wildcard().empty());
        CHECK(second.req.route() == "/files/new");
    }
}

TEST_CASE("many literal routes with shared prefixes and lengths each reach their own handler", "[http][router]") {
    int_router r;
    std::vector<std::string> paths;
    for (int i = 0; i < 300; ++i) {
        // Same prefix, same length within each hundred: only the middle bytes tell some of them apart.
        paths.push_back("/api/v1/resource-" + std::to_string(100 + i % 100) + "/" + std::string(1 + i / 100, 'x') +
                        "/list");
        r.add(method::get, paths.back(), i);
    }
    r.add(method::get, "/", 1000);
    r.add(method::get, "/a", 1001);
    for (int i = 0; i < 300; ++i) CHECK(route_of(r, "GET", paths[static_cast<std::size_t>(i)]) == i);
    CHECK(route_of(r, "GET", "/") == 1000);
    CHECK(route_of(r, "GET", "/a") == 1001);
    CHECK(route_of(r, "GET", "/api/v1/resource-100/x/lis") == -1);
    CHECK(route_of(r, "GET", "/api/v1/resource-100/x/list/") == -1);
    CHECK(route_of(r, "GET", "/b") == -1);
}

TEST_CASE("literal routes of every length the lookup's hash reads differently each reach their own handler", "[http][router]") {
    // The hash reads short paths byte by byte, 4 to 7 bytes as two 4-byte words, longer ones as two 8-byte
    // words: every length from 1 to 40, two routes per length that differ in one byte only (first, middle, last).
    int_router r;
    std::vector<std::string> paths;
    for (std::size_t n = 1; n <= 40; ++n) {
        std::string path(n, 'p');
        path[0] = '/';
        for (std::size_t at : {n - 1, n / 2}) {
            std::string variant = path;
            if (at != 0) variant[at] = 'q';
            paths.push_back(variant);
        }
    }
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    for (std::size_t i = 0; i < paths.size(); ++i) r.add(method::get, paths[i], static_cast<int>(i));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < paths.size(); ++i)
        if (route_of(r, "GET", paths[i]) != static_cast<int>(i)) ++wrong;
    CHECK(wrong == 0);
    std::size_t found_unregistered = 0;
    for (std::size_t n = 2; n <= 40; ++n) {
        std::string path(n, 'r');   // same lengths, other bytes
        path[0] = '/';
        if (route_of(r, "GET", path) != -1) ++found_unregistered;
    }
    CHECK(found_unregistered == 0);
}
