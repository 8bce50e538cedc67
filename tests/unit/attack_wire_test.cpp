// The framing of benchmarks/attack/run.sh's load generator (benchmarks/loadgen/attack_wire.hpp). The tool does not
// link tether on purpose, so these tests check its few lines of HTTP/1.1 and RFC 6455 two ways: against
// hand-written wire bytes, fed at every split point a socket could produce, and against tether's own codecs (what
// tether's serializer writes, the tool must read; what the tool masks, tether's server-side parser must accept).
// A tool that misread a response would report the wrong statuses for every attack.
#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/response.hpp>
#include <tether/http/serializer.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/handshake.hpp>

#include "../../benchmarks/loadgen/attack_wire.hpp"

namespace {

struct seen {
    int status;
    std::string body;
    bool close;
    friend bool operator==(const seen&, const seen&) = default;
};

// Feeds `wire` in pieces of `chunk` bytes; returns the responses, and the bytes left after a 101 (or "error").
std::vector<seen> read_responses(std::string_view wire, std::size_t chunk, std::string* rest = nullptr,
                                 bool peer_closes = false) {
    attack::response_reader reader(1 << 20);
    std::vector<seen> out;
    auto on_response = [&](int status, std::string_view body, bool close) { out.push_back({status, std::string(body), close}); };
    for (std::size_t at = 0; at < wire.size(); at += chunk) {
        const std::string_view piece = wire.substr(at, chunk);
        const std::size_t used = reader.feed(piece, on_response);
        if (used == attack::response_reader::npos) {
            if (rest) *rest = "error";
            return out;
        }
        if (reader.upgraded()) {
            if (rest) *rest = std::string(wire.substr(at + used));
            return out;
        }
    }
    if (peer_closes) reader.finish(on_response);
    return out;
}

std::vector<seen> at_every_split(std::string_view wire, bool peer_closes = false) {
    const auto whole = read_responses(wire, wire.size(), nullptr, peer_closes);
    for (std::size_t chunk = 1; chunk < wire.size(); ++chunk) {
        INFO("pieces of " << chunk << " bytes");
        CHECK(read_responses(wire, chunk, nullptr, peer_closes) == whole);
    }
    return whole;
}

} // namespace

TEST_CASE("attack_wire reads pipelined responses, however the bytes arrive", "[attack_wire]") {
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                             "HTTP/1.1 204 No Content\r\n\r\n"
                             "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"   // 304: no body whatever it says
                             "HTTP/1.1 100 Continue\r\n\r\n"                               // interim: not a response
                             "HTTP/1.1 413 Content Too Large\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno";
    const auto r = at_every_split(wire);
    REQUIRE(r.size() == 4);
    CHECK(r[0] == seen{200, "hello", false});
    CHECK(r[1] == seen{204, "", false});
    CHECK(r[2] == seen{304, "", false});
    CHECK(r[3] == seen{413, "no", true});
}

TEST_CASE("attack_wire decodes chunked bodies with extensions and trailers (RFC 9112 §7.1)", "[attack_wire]") {
    const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
                             "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    const auto r = at_every_split(wire);
    REQUIRE(r.size() == 2);
    CHECK(r[0] == seen{200, "hello world", false});
    CHECK(r[1] == seen{404, "", false});
}

TEST_CASE("attack_wire ends a body without length at the peer's close", "[attack_wire]") {
    const auto r = at_every_split("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n", true);
    REQUIRE(r.size() == 1);
    CHECK(r[0] == seen{200, "data: 1\n\n", true});
}

TEST_CASE("attack_wire stops at a 101 and leaves the frames that followed it", "[attack_wire]") {
    const std::string frame = tether::ws::make_server_frame(tether::ws::opcode::text, "{\"type\":\"pong\"}");
    const std::string wire = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + frame;
    for (std::size_t chunk = 1; chunk <= wire.size(); ++chunk) {
        std::string rest;
        const auto r = read_responses(wire, chunk, &rest);
        REQUIRE(r.size() == 1);
        CHECK(r[0].status == 101);
        // The reader hands back exactly the bytes after the head, from the piece the head ended in on.
        CHECK(wire.ends_with(rest));
        CHECK(rest.size() >= frame.size());
    }
}

TEST_CASE("attack_wire refuses what is not an HTTP/1.1 response, and a head past its cap", "[attack_wire]") {
    std::string rest;
    read_responses("SSH-2.0-OpenSSH\r\n\r\n", 64, &rest);
    CHECK(rest == "error");
    rest.clear();
    read_responses("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 64, &rest);
    CHECK(rest == "error");
    rest.clear();
    const std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(attack::response_reader::max_head, 'a');
    read_responses(huge, 4096, &rest);
    CHECK(rest == "error");
}

TEST_CASE("attack_wire reads what tether's serializer writes", "[attack_wire]") {
    tether::http::response fixed;
    fixed.status(201).json("{\"sequence\":7}");
    tether::http::response streamed;
    streamed.status(200).write("first ").write("second");
    std::string wire;
    tether::http::serialize(fixed, wire, {.date = "Tue, 01 Dec 2026 00:00:00 GMT"});
    tether::http::serialize(streamed, wire, {.date = "Tue, 01 Dec 2026 00:00:00 GMT"});
    const auto r = at_every_split(wire);
    REQUIRE(r.size() == 2);
    CHECK(r[0] == seen{201, "{\"sequence\":7}", false});
    CHECK(r[1] == seen{200, "first second", false});
}

TEST_CASE("attack_wire's masked client frames are what tether's server parser expects (RFC 6455 §5.2, §5.3)",
          "[attack_wire]") {
    for (std::size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u, 70000u}) {
        std::string payload(size, '\0');
        for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
        std::string wire;
        attack::append_frame(wire, attack::opcode::text, payload, 0x12345678u + static_cast<std::uint32_t>(size));
        tether::ws::frame_parser parser(tether::ws::role::server, {.max_message_size = 1 << 20});
        std::string got;
        bool header = false, end = false;
        const std::size_t used = parser.parse(std::span<char>(wire), [&](const tether::ws::parse_result& r) {
            if (r.status == tether::ws::parse_status::header) header = true;
            if (r.status == tether::ws::parse_status::payload) {
                got.append(r.payload);
                end = r.message_end;
            }
        });
        INFO("payload of " << size << " bytes");
        CHECK_FALSE(parser.failed());
        CHECK(used == wire.size());
        CHECK(header);
        CHECK(end);
        CHECK(parser.header().masked);
        CHECK(got == payload);
    }
}

TEST_CASE("attack_wire streams a frame's payload after its header, masked piece by piece", "[attack_wire]") {
    // ws-oversize sends a header announcing N bytes, then N bytes from a pre-masked block, lap after lap.
    const std::uint32_t mask = 0xa1b2c3d4u;
    std::string block(64, 'z');
    attack::mask_payload(block.data(), block.size(), mask);
    std::string wire;
    attack::append_frame_header(wire, attack::opcode::binary, 256, mask);
    for (int lap = 0; lap < 4; ++lap) wire += block;
    tether::ws::frame_parser parser(tether::ws::role::server);
    std::string got;
    parser.parse(std::span<char>(wire), [&](const tether::ws::parse_result& r) {
        if (r.status == tether::ws::parse_status::payload) got.append(r.payload);
    });
    CHECK_FALSE(parser.failed());
    CHECK(got == std::string(256, 'z'));
}

TEST_CASE("attack_wire reads tether's server frames, whole or split", "[attack_wire]") {
    using tether::ws::opcode;
    std::string wire = tether::ws::make_server_frame(opcode::text, "{\"type\":\"subscribed\"}");
    wire += tether::ws::make_server_frame(opcode::ping, "p");
    wire += tether::ws::make_server_frame(opcode::binary, std::string(70000, 'b'));
    std::string close_payload = "\x03\xf1too big";   // 1009
    wire += tether::ws::make_server_frame(opcode::close, close_payload);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, wire.size()}) {
        attack::frame_reader reader;
        std::vector<std::pair<std::uint8_t, std::size_t>> frames;
        int code = 0;
        for (std::size_t at = 0; at < wire.size(); at += chunk) {
            REQUIRE(reader.feed(std::string_view(wire).substr(at, chunk), [&](bool fin, std::uint8_t op, std::string_view p) {
                CHECK(fin);
                frames.emplace_back(op, p.size());
                if (op == attack::opcode::close) code = attack::close_code(p);
            }));
        }
        INFO("pieces of " << chunk << " bytes");
        REQUIRE(frames.size() == 4);
        CHECK(frames[0] == std::pair<std::uint8_t, std::size_t>{attack::opcode::text, 21});
        CHECK(frames[1] == std::pair<std::uint8_t, std::size_t>{attack::opcode::ping, 1});
        CHECK(frames[2] == std::pair<std::uint8_t, std::size_t>{attack::opcode::binary, 70000});
        CHECK(code == 1009);
    }
    CHECK(attack::close_code("") == 1005);
}

TEST_CASE("attack_wire's opening handshake carries a key tether accepts (RFC 6455 §4.1)", "[attack_wire]") {
    const std::string key = attack::random_key(0x0123456789abcdefull, 0xfedcba9876543210ull);
    CHECK(tether::ws::is_valid_client_key(key));
    CHECK(attack::random_key(1, 2) != attack::random_key(1, 3));
    const std::string request = attack::websocket_request("/ws", "127.0.0.1:8080", key);
    CHECK(request.starts_with("GET /ws HTTP/1.1\r\n"));
    CHECK(request.find("\r\nSec-WebSocket-Key: " + key + "\r\n") != std::string::npos);
    CHECK(request.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
    CHECK(request.find("\r\nOrigin: http://127.0.0.1:8080\r\n") != std::string::npos);
    CHECK(request.ends_with("\r\n\r\n"));
}
