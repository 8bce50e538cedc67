// TLS on a running server (net/tls.hpp, net/tls/): handshakes and what they negotiate, every
// refusal (old versions, garbage, truncated and stalled handshakes, plain HTTP on the TLS port)
// while other clients keep being served, bytes trickling one at a time through the record
// layer, a large answer to a slow reader, certificate reload with connections open, SNI,
// resumption, the redirect listener, HSTS, and the startup errors. Certificates come from a
// throwaway CA made with the openssl CLI for each test process (tls_support.hpp).
#include <unistd.h>

#include <catch2/catch.hpp>

#include <tether/net/tls_options.hpp>
#if TETHER_HAS_TLS   // the whole file: without OpenSSL tether is plaintext only

#include <csignal>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/server.hpp>

#include "choppy_transport.hpp"
#include "test_server.hpp"
#include "tls_support.hpp"

using namespace std::chrono_literals;
using tether::itest::basic_test_server;
using tether::itest::get_request;
using tether::itest::raw_client;
using tether::itest::test_pki;
using tether::itest::test_server;
using tether::itest::tls_client;

namespace {

test_pki& pki() {
    static test_pki instance;
    return instance;
}
const test_pki::issued& localhost_cert() {
    static const auto cert = pki().issue("localhost", {"localhost"});
    return cert;
}
tether::itest::tls_client_options trusting() { return {.ca_file = pki().ca_file()}; }

std::string pattern(std::size_t n) {
    std::string body(n, '\0');
    for (std::size_t i = 0; i < n; ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
    return body;
}

template <class Server>
void tls_routes(Server& app) {
    app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
    app.get("/big/:n", [](auto& req, auto& res) { res.text(pattern(std::stoul(std::string(req.param("n"))))); });
    app.post("/echo", [](auto& req, auto& res) { res.text(req.body()); });
    app.websocket("/ws", {.on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); }});
}

// A request over a fresh TLS connection succeeds: the server is still serving.
bool served(std::uint16_t port) {
    tls_client c(port, trusting());
    auto r = c.send(get_request("/hello")) ? c.read_response() : std::nullopt;
    return r && r->status == 200 && r->body == "hello";
}

} // namespace

TEST_CASE("tls: REST over TLS 1.3 and 1.2 with ALPN http/1.1, keep-alive and HSTS", "[tls]") {
    auto options = tether::itest::tls_defaults(localhost_cert());
    options.tls.hsts = "max-age=31536000";
    test_server server{tls_routes<tether::server>, options};
    CHECK(server.app().url() == "https://127.0.0.1:" + std::to_string(server.port()));

    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        auto o = trusting();
        o.min_version = o.max_version = version;
        tls_client c(server.port(), o);
        CHECK(c.version() == (version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"));
        CHECK(c.alpn() == "http/1.1");
        REQUIRE(c.send(get_request("/hello") + get_request("/big/100000")));   // pipelined, one connection
        auto a = c.read_response();
        auto b = c.read_response();
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->body == "hello");
        CHECK(a->header("strict-transport-security") == "max-age=31536000");
        CHECK(b->body == pattern(100000));
        std::string upload = pattern(300000);
        REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + upload));
        auto echoed = c.read_response();
        REQUIRE(echoed);
        CHECK(echoed->body == upload);
    }
}

TEST_CASE("tls: plaintext servers never send HSTS", "[tls]") {
    test_server server{tls_routes<tether::server>};
    raw_client c{server.port()};
    REQUIRE(c.send(get_request("/hello")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "hello");
    CHECK_FALSE(r->header("strict-transport-security"));
}

TEST_CASE("tls: wss with the C++ client, and failed verifications reported as errors", "[tls]") {
    test_server server{tls_routes<tether::server>, tether::itest::tls_defaults(localhost_cert())};
    std::string url = "wss://localhost:" + std::to_string(server.port()) + "/ws";

    SECTION("verified against the CA, echo both ways") {
        tether::client::ws_client ws;
        ws.connect(url, {.tls = tether::client::tls_client_options{.ca_file = pki().ca_file()}});
        CHECK(ws.secure());
        std::string big = pattern(200000);
        ws.send_text("hi");
        ws.send_binary(big);
        auto a = ws.receive_message();
        auto b = ws.receive_message();
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->payload == "hi");
        CHECK(b->payload == big);
        CHECK(ws.close() == tether::ws::close_code::normal);
    }
    SECTION("a certificate for another name is refused") {
        tether::client::ws_client ws;
        tether::client::tls_client_options tls{.ca_file = pki().ca_file(), .server_name = "wrong.example"};
        CHECK_THROWS_WITH(ws.connect(url, {.tls = tls}), Catch::Contains("hostname mismatch"));
        CHECK(served(server.port()));
    }
    SECTION("a certificate from an unknown CA is refused") {
        tether::client::ws_client ws;   // the system trust store does not know our CA
        CHECK_THROWS_AS(ws.connect(url), tether::client::tls_error);
        CHECK_THROWS_WITH(ws.connect(url), Catch::Contains("unable to get local issuer certificate"));
        CHECK(served(server.port()));
    }
}

TEST_CASE("tls: refused handshakes close the connection while others are served", "[tls]") {
    auto options = tether::itest::tls_defaults(localhost_cert());
    test_server server{tls_routes<tether::server>, options};
    const auto port = std::to_string(server.port());

    SECTION("a client limited to TLS 1.0 and 1.1") {
        for (std::string version : {"-tls1", "-tls1_1"}) {
            std::string cmd = "echo | timeout 10 openssl s_client -connect 127.0.0.1:" + port + " " + version +
                              " -servername localhost -CAfile " + pki().ca_file() + " 2>&1";
            std::string out;
            if (FILE* p = ::popen(cmd.c_str(), "r")) {
                char chunk[4096];
                while (std::size_t n = std::fread(chunk, 1, sizeof chunk, p)) out.append(chunk, n);
                ::pclose(p);
            }
            INFO(out);
            CHECK(out.find("Cipher is (NONE)") != std::string::npos);   // no session was established
            CHECK(out.find("BEGIN CERTIFICATE") == std::string::npos);
            CHECK(served(server.port()));
        }
    }
    SECTION("a handshake record full of garbage") {
        raw_client c{server.port()};
        REQUIRE(c.send(std::string("\x16\x03\x01\x00\x40", 5) + std::string(64, '\x7f')));
        CHECK(c.closed_within(3s));
        CHECK(c.unread().find("HTTP/1.1") == std::string::npos);   // at most a TLS alert, never HTTP
        CHECK(served(server.port()));
    }
    SECTION("bytes that are neither TLS nor HTTP") {
        raw_client c{server.port()};
        REQUIRE(c.send(std::string("\x00\x01\x02\x03garbage", 11)));
        CHECK(c.closed_within(3s));
        CHECK(c.unread().empty());
        CHECK(served(server.port()));
    }
    SECTION("a truncated ClientHello followed by EOF") {
        std::string hello = tether::itest::client_hello();
        REQUIRE(hello.size() > 100);
        raw_client c{server.port()};
        REQUIRE(c.send(hello.substr(0, hello.size() / 2)));
        c.shutdown_send();
        CHECK(c.closed_within(3s));
        CHECK(served(server.port()));
    }
}

TEST_CASE("tls: a stalled handshake is closed at the header deadline, never answered in plaintext", "[tls]") {
    auto options = tether::itest::tls_defaults(localhost_cert());
    options.header_timeout = 400ms;
    test_server server{tls_routes<tether::server>, options};
    std::string hello = tether::itest::client_hello();
    raw_client stalled{server.port()};
    raw_client silent{server.port()};
    REQUIRE(stalled.send(hello.substr(0, 40)));
    CHECK(served(server.port()));   // others are served while those two wait
    CHECK(stalled.closed_within(5s));
    CHECK(silent.closed_within(5s));
    CHECK(stalled.unread().empty());   // no 408: the client never got to speak HTTP
    CHECK(silent.unread().empty());
}

TEST_CASE("tls: plain HTTP sent to the TLS port is answered 400 and closed", "[tls]") {
    test_server server{tls_routes<tether::server>, tether::itest::tls_defaults(localhost_cert())};
    raw_client c{server.port()};
    REQUIRE(c.send_trickled(get_request("/hello"), 3, 5ms));   // the first byte alone decides
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->body.find("plain HTTP request sent to HTTPS port") != std::string::npos);
    CHECK(r->header_has_token("connection", "close"));
    CHECK(c.closed_within(3s));
    CHECK(served(server.port()));
}

namespace {
#if defined(__linux__)
using epoll_choppy = tether::itest::choppy<tether::transport::epoll_tcp>;
#else
using epoll_choppy = tether::itest::choppy<tether::transport::asio_tcp>;
#endif
struct choppy_epoll_config : tether::default_config {
    using transport = tether::transport::tls<epoll_choppy>;
};
struct choppy_asio_config : tether::default_config {
    using transport = tether::transport::tls<tether::itest::choppy<tether::transport::asio_tcp>>;
};
struct tls_asio_config : tether::default_config {
    using transport = tether::transport::tls<tether::transport::asio_tcp>;
};
} // namespace

TEMPLATE_TEST_CASE("tls: bytes one at a time through the TLS layer (every read split, writes refused and cut)", "[tls]",
                   choppy_epoll_config, choppy_asio_config, tls_asio_config) {
    using server_type = tether::basic_server<TestType>;
    basic_test_server<server_type> server{tls_routes<server_type>, tether::itest::tls_defaults(localhost_cert())};

    tls_client c(server.port(), trusting());
    REQUIRE(c.send(get_request("/hello") + get_request("/big/20000") + get_request("/hello")));
    for (std::size_t expected : {5u, 20000u, 5u}) {
        auto r = c.read_response(20s);
        REQUIRE(r);
        CHECK(r->body == (expected == 5 ? std::string("hello") : pattern(expected)));
    }
    std::string upload = pattern(5000);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + upload));
    auto echoed = c.read_response(20s);
    REQUIRE(echoed);
    CHECK(echoed->body == upload);

    tether::client::ws_client ws;
    ws.connect("wss://localhost:" + std::to_string(server.port()) + "/ws",
               {.timeout = 20s, .tls = tether::client::tls_client_options{.ca_file = pki().ca_file()}});
    ws.send_text("one at a time");
    auto m = ws.receive_message();
    REQUIRE(m);
    CHECK(m->payload == "one at a time");
    CHECK(ws.close() == tether::ws::close_code::normal);
}

TEST_CASE("tls: an 8 MiB answer to a slow reader arrives whole while others are served", "[tls]") {
    test_server server{tls_routes<tether::server>, tether::itest::tls_defaults(localhost_cert())};
    const std::size_t size = 8u << 20;
    tls_client slow(server.port(), trusting());
    REQUIRE(slow.send(get_request("/big/" + std::to_string(size))));
    std::this_thread::sleep_for(300ms);   // the server fills the socket and waits for writability
    CHECK(served(server.port()));
    auto r = slow.read_response(30s);
    REQUIRE(r);
    CHECK(r->body.size() == size);
    CHECK(r->body == pattern(size));
}

TEST_CASE("tls: certificate reload keeps open connections and gives new ones the new certificate", "[tls]") {
    // The server reads these two paths; the test writes each generation over them.
    const std::string cert_file = pki().path("reload.pem"), key_file = pki().path("reload.key");
    auto install = [&](const test_pki::issued& generation) {
        std::filesystem::copy_file(generation.certificate_file, cert_file, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::copy_file(generation.private_key_file, key_file, std::filesystem::copy_options::overwrite_existing);
    };
    auto first = pki().issue("generation1", {"localhost"}, 2, "generation one");
    auto second = pki().issue("generation2", {"localhost"}, 2, "generation two");
    install(first);
    test_server server{tls_routes<tether::server>, tether::itest::tls_defaults({cert_file, key_file})};

    tls_client old_connection(server.port(), trusting());
    CHECK(old_connection.peer_subject().find("generation one") != std::string::npos);
    REQUIRE(old_connection.send(get_request("/hello")));
    REQUIRE(old_connection.read_response());   // TLS 1.3 tickets arrive with the first answer
    SSL_SESSION* ticket = SSL_get1_session(old_connection.native_handle());
    REQUIRE(ticket);

    install(second);
    server.app().reload_certificates();

    REQUIRE(old_connection.send(get_request("/hello")));   // the open connection goes on
    auto again = old_connection.read_response();
    REQUIRE(again);
    CHECK(again->body == "hello");

    tls_client fresh(server.port(), trusting());
    CHECK(fresh.peer_subject().find("generation two") != std::string::npos);

    auto o = trusting();
    o.resume = ticket;
    tls_client resumed(server.port(), o);
    CHECK(resumed.resumed());   // ticket keys survived the reload
    SSL_SESSION_free(ticket);
    CHECK(served(server.port()));

    // A broken reload throws and keeps the certificate that works.
    std::filesystem::copy_file(first.private_key_file, key_file, std::filesystem::copy_options::overwrite_existing);
    CHECK_THROWS_WITH(server.app().reload_certificates(), Catch::Contains("does not match"));
    tls_client after_failure(server.port(), trusting());
    CHECK(after_failure.peer_subject().find("generation two") != std::string::npos);
}

TEST_CASE("tls: with handle_signals, SIGHUP reloads the certificates and SIGTERM stops the server", "[tls]") {
    const std::string cert_file = pki().path("signal.pem"), key_file = pki().path("signal.key");
    auto install = [&](const test_pki::issued& generation) {
        std::filesystem::copy_file(generation.certificate_file, cert_file, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::copy_file(generation.private_key_file, key_file, std::filesystem::copy_options::overwrite_existing);
    };
    install(pki().issue("signal1", {"localhost"}, 2, "signal one"));
    auto options = tether::itest::tls_defaults({cert_file, key_file});
    options.handle_signals = true;
    test_server server{tls_routes<tether::server>, options};
    // run() watches the signals before it reports serving: only then may the test send them.
    for (int i = 0; i < 500 && !server.app().serving(); ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(server.app().serving());
    CHECK(tls_client(server.port(), trusting()).peer_subject().find("signal one") != std::string::npos);

    install(pki().issue("signal2", {"localhost"}, 2, "signal two"));
    REQUIRE(::kill(::getpid(), SIGHUP) == 0);
    bool reloaded = false;   // the reload runs on I/O thread 0, after the signal reaches it
    for (int i = 0; i < 500 && !reloaded; ++i) {
        reloaded = tls_client(server.port(), trusting()).peer_subject().find("signal two") != std::string::npos;
        if (!reloaded) std::this_thread::sleep_for(10ms);
    }
    CHECK(reloaded);

    REQUIRE(::kill(::getpid(), SIGTERM) == 0);
    CHECK(server.wait_returned(10s));   // run() returned by itself: the signal stopped the server
    CHECK(server.app().stopping());
}

TEST_CASE("tls: SNI chooses among several certificates", "[tls]") {
    auto a = pki().issue("sni-a", {"a.test"});
    auto b = pki().issue("sni-b", {"b.test", "*.b.test"});
    auto options = tether::itest::tls_defaults(localhost_cert());
    options.tls.certificates.push_back({a.certificate_file, a.private_key_file});
    options.tls.certificates.push_back({b.certificate_file, b.private_key_file});
    test_server server{tls_routes<tether::server>, options};

    auto subject_for = [&](const std::string& name) {
        auto o = trusting();
        o.server_name = name;
        tls_client c(server.port(), o);
        REQUIRE(c.send(get_request("/hello")));
        REQUIRE(c.read_response());
        return c.peer_subject();
    };
    CHECK(subject_for("a.test").ends_with("/CN=a.test"));
    CHECK(subject_for("b.test").ends_with("/CN=b.test"));
    CHECK(subject_for("www.b.test").ends_with("/CN=b.test"));
    CHECK(subject_for("localhost").ends_with("/CN=localhost"));
}

TEST_CASE("tls: the redirect listener sends every plaintext request to https", "[tls]") {
    auto options = tether::itest::tls_defaults(localhost_cert());
    options.tls.redirect_port = 0;   // any free port
    test_server server{tls_routes<tether::server>, options};
    REQUIRE(server.app().redirect_port() != 0);
    const std::string tls_port = std::to_string(server.port());

    raw_client c{server.app().redirect_port()};
    REQUIRE(c.send("GET /a/b?c=1 HTTP/1.1\r\nHost: example.test:8080\r\n\r\n"
                   "POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\nab"
                   "GET / HTTP/1.1\r\nHost: a!b\r\n\r\n"));   // a valid reg-name (RFC 3986), but no DNS name
    auto answers = c.read_responses(3);
    REQUIRE(answers.size() == 3);
    CHECK(answers[0].status == 301);
    CHECK(answers[0].header("location") == "https://example.test:" + tls_port + "/a/b?c=1");
    CHECK_FALSE(answers[0].header("strict-transport-security"));
    CHECK(answers[1].status == 308);   // keeps the method and body
    CHECK(answers[1].header("location") == "https://example.test:" + tls_port + "/form");
    CHECK(answers[2].status == 301);
    CHECK(answers[2].header("location") == "https://127.0.0.1:" + tls_port + "/");   // an odd Host is not echoed
}

TEST_CASE("tls: startup errors name the file and the problem", "[tls]") {
    auto expired = pki().issue("expired", {"localhost"}, -1);
    auto other = pki().issue("other", {"localhost"});
    auto attempt = [](const std::string& cert, const std::string& key) {
        tether::server_options o;
        o.port = 0;
        o.tls.certificates = {{cert, key}};
        tether::server app{o};
    };
    const auto& good = localhost_cert();
    CHECK_THROWS_WITH(attempt(pki().path("missing.pem"), good.private_key_file),
                      Catch::Contains("missing.pem") && Catch::Contains("No such file"));
    CHECK_THROWS_WITH(attempt(good.certificate_file, other.private_key_file),
                      Catch::Contains("does not match") && Catch::Contains(other.private_key_file));
    CHECK_THROWS_WITH(attempt(expired.certificate_file, expired.private_key_file),
                      Catch::Contains("expired") && Catch::Contains("expired.pem"));
    CHECK_THROWS_WITH(attempt(good.private_key_file, good.private_key_file), Catch::Contains("certificate chain"));
    CHECK_NOTHROW(attempt(good.certificate_file, good.private_key_file));
}

#endif // TETHER_HAS_TLS
