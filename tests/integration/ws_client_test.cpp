// tether::client::ws_client against scripted servers: the §4.1 checks a client must make of the server's
// handshake response, masking of everything it sends, failing on a bad server frame, and timeouts.
// (Its behaviour against tether's own server is exercised by ws_conformance_test.cpp.)
#include <catch2/catch.hpp>

#include <asio.hpp>
#include <array>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <tether/client/handshake.hpp>
#include <tether/client/ws_client.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/handshake.hpp>
#include <tether/ws/message_assembler.hpp>

using namespace std::chrono_literals;
using tether::client::ws_client;
namespace ws = tether::ws;

namespace {

// Accepts one connection on 127.0.0.1 and runs `script` on it in a thread: a stand-in for a server that
// misbehaves on purpose. The script gets the socket and the request head.
class scripted_server {
public:
    using script = std::function<void(asio::ip::tcp::socket&, const std::string& request)>;

    explicit scripted_server(script s) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this, s = std::move(s)] {
            try {
                asio::ip::tcp::socket socket(io_);
                acceptor_.accept(socket);
                std::string request;
                std::array<char, 4096> buffer{};
                while (request.find("\r\n\r\n") == std::string::npos) {
                    const std::size_t n = socket.read_some(asio::buffer(buffer));
                    request.append(buffer.data(), n);
                }
                s(socket, request);
            } catch (const std::exception&) {  // the client hung up: the script is over either way
            }
        });
    }
    ~scripted_server() {
        std::error_code ignored;
        acceptor_.close(ignored);
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

std::string key_of(const std::string& request) {
    const auto at = request.find("Sec-WebSocket-Key: ");
    return request.substr(at + 19, 24);
}

std::string accepting_response(const std::string& request, std::string_view extra = {}) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
           ws::accept_key(key_of(request)) + "\r\n" + std::string(extra) + "\r\n";
}

// Reads until the client closes TCP (or 3 s pass), returning everything it sent.
std::string read_until_eof(asio::ip::tcp::socket& s) {
    std::string all;
    std::array<char, 4096> buffer{};
    s.non_blocking(true);
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::error_code ec;
        const std::size_t n = s.read_some(asio::buffer(buffer), ec);
        if (ec == asio::error::would_block) {
            std::this_thread::sleep_for(2ms);
            continue;
        }
        if (ec) break;
        all.append(buffer.data(), n);
    }
    return all;
}

void expect_refused(const scripted_server& server, int status, std::string_view words,
                    tether::client::ws_options options = {}) {
    ws_client c;
    options.timeout = 3s;
    try {
        c.connect("127.0.0.1", server.port(), "/", options);
        FAIL("the client accepted the handshake");
    } catch (const tether::client::handshake_error& e) {
        CHECK(e.status() == status);
        CHECK_THAT(e.what(), Catch::Contains(std::string(words)));
    }
}

}  // namespace

TEST_CASE("the upgrade request carries the fields RFC 6455 section 4.1 requires") {
    const std::string r = tether::client::make_upgrade_request(
        "example.com", 8080, "/chat?room=1", "dGhlIHNhbXBsZSBub25jZQ==",
        {.headers = {{"Authorization", "Bearer x"}}, .subprotocols = {"chat", "superchat"}, .origin = "http://example.com"});
    CHECK(r.starts_with("GET /chat?room=1 HTTP/1.1\r\n"));
    CHECK_THAT(r, Catch::Contains("Host: example.com:8080\r\n"));
    CHECK_THAT(r, Catch::Contains("Upgrade: websocket\r\n"));
    CHECK_THAT(r, Catch::Contains("Connection: Upgrade\r\n"));
    CHECK_THAT(r, Catch::Contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    CHECK_THAT(r, Catch::Contains("Sec-WebSocket-Version: 13\r\n"));
    CHECK_THAT(r, Catch::Contains("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    CHECK_THAT(r, Catch::Contains("Origin: http://example.com\r\n"));
    CHECK_THAT(r, Catch::Contains("Authorization: Bearer x\r\n"));
    CHECK(r.ends_with("\r\n\r\n"));
    CHECK_THROWS_AS(tether::client::make_upgrade_request("h", 80, "/", "k", {.headers = {{"X", "a\r\nInjected: 1"}}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(tether::client::make_upgrade_request("h", 80, "no-slash", "k"), std::invalid_argument);
}

TEST_CASE("a response head is parsed into status and case-insensitive fields") {
    auto head = tether::client::parse_response_head("HTTP/1.1 101 Switching Protocols\r\nUPGRADE:  websocket \r\n"
                                                    "connection: Upgrade\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    REQUIRE(head);
    CHECK(head->status == 101);
    CHECK(head->reason == "Switching Protocols");
    CHECK(head->header("Upgrade") == "websocket");
    CHECK(head->header_list_value("x-a") == "1, 2");
    CHECK_FALSE(tether::client::parse_response_head("HTTP/1.1 1O1 Nope\r\n\r\n"));
    CHECK_FALSE(tether::client::parse_response_head("ICY 200 OK\r\n\r\n"));
    CHECK_FALSE(tether::client::parse_response_head("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n"));
}

TEST_CASE("the client refuses a 101 whose Sec-WebSocket-Accept does not match its key") {
    scripted_server server([](asio::ip::tcp::socket& s, const std::string&) {
        asio::write(s, asio::buffer(std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                                "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")));
        read_until_eof(s);
    });
    expect_refused(server, 101, "Sec-WebSocket-Accept");
}

TEST_CASE("the client refuses a 101 without Upgrade: websocket or Connection: Upgrade") {
    SECTION("no Upgrade") {
        scripted_server server([](asio::ip::tcp::socket& s, const std::string& request) {
            asio::write(s, asio::buffer("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                                        ws::accept_key(key_of(request)) + "\r\n\r\n"));
            read_until_eof(s);
        });
        expect_refused(server, 101, "Upgrade");
    }
    SECTION("no Connection") {
        scripted_server server([](asio::ip::tcp::socket& s, const std::string& request) {
            asio::write(s, asio::buffer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " +
                                        ws::accept_key(key_of(request)) + "\r\n\r\n"));
            read_until_eof(s);
        });
        expect_refused(server, 101, "Connection");
    }
}

TEST_CASE("the client refuses a subprotocol or extension it did not offer") {
    SECTION("subprotocol") {
        scripted_server server([](asio::ip::tcp::socket& s, const std::string& request) {
            asio::write(s, asio::buffer(accepting_response(request, "Sec-WebSocket-Protocol: mqtt\r\n")));
            read_until_eof(s);
        });
        expect_refused(server, 101, "subprotocol 'mqtt'", {.subprotocols = {"chat"}});
    }
    SECTION("extension") {
        scripted_server server([](asio::ip::tcp::socket& s, const std::string& request) {
            asio::write(s, asio::buffer(accepting_response(request, "Sec-WebSocket-Extensions: permessage-deflate\r\n")));
            read_until_eof(s);
        });
        expect_refused(server, 101, "extensions");
    }
}

TEST_CASE("a refused upgrade exposes its HTTP status and body") {
    scripted_server server([](asio::ip::tcp::socket& s, const std::string&) {
        asio::write(s, asio::buffer(std::string("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                                                "Content-Length: 11\r\n\r\nupgrade me!")));
        read_until_eof(s);
    });
    ws_client c;
    try {
        c.connect("127.0.0.1", server.port(), "/", {.timeout = 3s});
        FAIL("the client accepted the handshake");
    } catch (const tether::client::handshake_error& e) {
        CHECK(e.status() == 426);
        CHECK(e.body() == "upgrade me!");
        CHECK(e.response().header("sec-websocket-version") == "13");
        CHECK_THAT(e.what(), Catch::Contains("HTTP 426"));
    }
}

TEST_CASE("every frame the client sends is masked, with keys that vary") {
    std::string sent;
    {
        scripted_server server([&](asio::ip::tcp::socket& s, const std::string& request) {
            asio::write(s, asio::buffer(accepting_response(request)));
            sent = read_until_eof(s);
        });
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/", {.timeout = 3s});
        for (int i = 0; i < 32; ++i) c.send_text("same payload");
        c.ping("p");
        c.send_frame(ws::opcode::binary, "part", false);
        c.send_frame(ws::opcode::continuation, "end", true);
        c.send_close(ws::close_code::going_away, "bye");
        c.disconnect();
    }
    // A server-role parser rejects unmasked frames, so parsing it all is the masking check.
    ws::frame_parser parser(ws::role::server);
    std::set<std::uint32_t> keys;
    std::size_t frames = 0;
    std::string texts;
    parser.parse(std::span<char>(sent), [&](const ws::parse_result& r) {
        if (r.status == ws::parse_status::header) {
            const auto& k = parser.header().key;
            keys.insert(std::uint32_t(k[0]) << 24 | std::uint32_t(k[1]) << 16 | std::uint32_t(k[2]) << 8 | k[3]);
            ++frames;
        } else if (parser.header().op == ws::opcode::text) {
            texts.append(r.payload);
        }
    });
    CHECK_FALSE(parser.failed());
    CHECK(parser.close_received());
    CHECK(frames == 36);
    CHECK(keys.size() >= 34);  // 32-bit keys from a seeded generator: collisions are vanishingly rare
    CHECK(texts.size() == 32 * std::string_view("same payload").size());
}

TEST_CASE("a masked frame from the server fails the connection with 1002") {
    std::string answer;
    {
        scripted_server server([&](asio::ip::tcp::socket& s, const std::string& request) {
            asio::write(s, asio::buffer(accepting_response(request) + ws::make_client_frame(ws::opcode::text, "hi", {1, 2, 3, 4})));
            answer = read_until_eof(s);
        });
        ws_client c;
        c.connect("127.0.0.1", server.port(), "/", {.timeout = 3s});
        try {
            (void)c.receive();
            FAIL("the client accepted a masked server frame");
        } catch (const tether::client::protocol_error& e) {
            CHECK(e.code() == ws::close_code::protocol_error);
        }
        CHECK(c.connection_ended());
    }
    ws::message_assembler frames(ws::role::server);
    frames.append(answer);
    auto m = frames.next();
    REQUIRE(m.status == ws::assemble_status::message);
    CHECK(m.op == ws::opcode::close);
    CHECK(ws::parse_close_payload(m.payload)->code == ws::close_code::protocol_error);
}

TEST_CASE("receive() times out when nothing arrives, and the connection stays usable") {
    scripted_server server([](asio::ip::tcp::socket& s, const std::string& request) {
        asio::write(s, asio::buffer(accepting_response(request)));
        std::this_thread::sleep_for(300ms);
        asio::write(s, asio::buffer(ws::make_server_frame(ws::opcode::text, "late but here")));
        asio::write(s, asio::buffer(ws::make_server_frame(ws::opcode::close, ws::close_payload(ws::close_code::normal))));
        read_until_eof(s);
    });
    ws_client c;
    c.connect("127.0.0.1", server.port(), "/", {.timeout = 3s});
    c.set_timeout(50ms);
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(c.receive(), tether::client::timeout_error);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    c.set_timeout(3s);
    auto m = c.receive();
    REQUIRE(m);
    CHECK(m->payload == "late but here");
    m = c.receive();
    REQUIRE(m);
    CHECK(m->op == ws::opcode::close);
    CHECK(c.close_code() == ws::close_code::normal);
    CHECK(c.close_sent());  // answered automatically (§5.5.1)
}

TEST_CASE("connecting to a port nobody listens on fails with std::system_error") {
    std::uint16_t port = 0;
    {
        asio::io_context io;
        asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    ws_client c;
    CHECK_THROWS_AS(c.connect("127.0.0.1", port, "/", {.timeout = 3s}), std::system_error);
}
