// RFC 6455 conformance of tether's WebSocket server, over loopback with tether's own client, organised like
// the categories of the Autobahn test suite: framing, ping/pong, reserved bits, opcodes, fragmentation,
// UTF-8, limits, opening and closing handshakes; plus the server's own features (pings, the bounded send
// queue, on_drain, handles from other threads).
//
// Every wait is bounded (client timeouts, observations with deadlines), so a broken server fails a test
// rather than hanging the suite. Malformed frames are written byte by byte with raw_frame().
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/http/error.hpp>
#include <tether/server.hpp>

#include "ws_test_server.hpp"

using namespace std::chrono_literals;
using tether::client::ws_client;
using tether::client::ws_options;
using tether::test::observations;
using tether::test::raw_frame;
using tether::test::server_close_code;
using tether::test::running_server;
using tether::ws::close_code;
using tether::ws::opcode;

namespace {

using echo_socket = tether::server::websocket_connection<>;

// Per-connection state of the /auth route, filled by on_upgrade from the request.
struct session {
    std::string user;
    int messages = 0;
};
using session_socket = tether::server::websocket_connection<session>;

constexpr std::size_t flood_limit = 64 * 1024;  // max_buffered_bytes of the /flood-* routes
constexpr std::size_t flood_message = 16 * 1024;

// One server with every route the tests use, and what its callbacks saw.
struct conformance_fixture {
    observations seen;
    std::mutex handle_mutex;
    echo_socket::handle handle;  // the /handle route's connection, for cross-thread sends
    running_server server{[this](tether::server& app) { install_routes(app); }};

    void install_routes(tether::server& app) {
        auto echo = [](auto& ws, std::string_view m, opcode op) { ws.send(m, op); };
        auto record_close = [this](auto&, close_code code, std::string_view reason) { seen.record_close(code, reason); };

        app.websocket("/echo", {.on_message =
                                    [](echo_socket& ws, std::string_view m, opcode op) {
                                        if (m == "please close") return ws.close(close_code{4000}, "server says bye");
                                        ws.send(m, op);
                                    },
                                .on_close = record_close});
        app.websocket("/small", {.on_message = echo, .on_close = record_close, .max_message_size = 1024});
        app.websocket("/origin", {.origins = {.allowed = {"https://app.example"}, .without_origin = false}, .on_message = echo});
        app.websocket("/proto", {.select_subprotocol =
                                     [](const std::vector<std::string_view>& offered) -> std::string {
                                         for (auto p : offered)
                                             if (p == "v2.chat" || p == "v1.chat") return std::string(p);
                                         return "";
                                     },
                                 .on_message = echo});
        app.websocket<session>(
            "/auth", {.on_upgrade =
                          [](const tether::http::request& req, session& s) {
                              auto auth = req.header("authorization");
                              if (!auth || !auth->starts_with("Bearer "))
                                  throw tether::http::error(401, "a bearer token is required");
                              s.user = std::string(auth->substr(7));
                          },
                      .on_open = [](session_socket& ws) { ws.send("hello " + ws.user_data().user); },
                      .on_message =
                          [](session_socket& ws, std::string_view m, opcode) {
                              ++ws.user_data().messages;
                              ws.send(ws.user_data().user + " #" + std::to_string(ws.user_data().messages) + ": " +
                                      std::string(m));
                          }});
        app.websocket("/ping", {.on_message = echo,
                                .on_close = record_close,
                                .ping_interval = 100ms,
                                .pong_timeout = 300ms});
        auto flood = [this](echo_socket& ws, std::string_view m, opcode op) {
            if (m != "flood") {
                ws.send(m, op);
                return;
            }
            int sent = 0, refused = 0;
            std::size_t buffered_after_first = 0;
            for (int i = 0; i < 16; ++i) {
                if (ws.send(std::string(flood_message, 'x'), opcode::binary)) ++sent;
                else ++refused;
                if (i == 0) buffered_after_first = ws.buffered_amount();
            }
            seen.record("sent " + std::to_string(sent) + " refused " + std::to_string(refused));
            seen.record("buffered after first " + std::to_string(buffered_after_first));
        };
        app.websocket("/flood-close", {.on_message = flood,
                                       .on_close = record_close,
                                       .max_buffered_bytes = flood_limit,
                                       .on_overflow = tether::ws::overflow_action::close_try_again_later});
        app.websocket("/flood-drop", {.on_message = flood,
                                      .on_close = record_close,
                                      .max_buffered_bytes = flood_limit,
                                      .on_overflow = tether::ws::overflow_action::drop_message});
        app.websocket("/drain", {.on_message =
                                     [this](echo_socket& ws, std::string_view, opcode) {
                                         // 8 MiB: about twice what loopback buffers take from a peer that
                                         // is not reading, so the queue must wait for the socket.
                                         for (int i = 0; i < 128; ++i) ws.send(std::string(64 * 1024, 'd'), opcode::binary);
                                         seen.record("queued");
                                     },
                                 .on_drain =
                                     [this](echo_socket& ws) {
                                         seen.record("drained");
                                         ws.send("drained");
                                     },
                                 .max_buffered_bytes = 16 * 1024 * 1024});
        app.websocket("/quick-close", {.on_message =
                                           [](echo_socket& ws, std::string_view, opcode) {
                                               ws.close(close_code{4000}, "server says bye");
                                           },
                                       .on_close = record_close,
                                       .close_timeout = 200ms});
        app.websocket("/idle", {.on_message = echo, .on_close = record_close, .ping_interval = 0ms, .idle_timeout = 200ms});
        app.websocket("/handle", {.on_open =
                                      [this](echo_socket& ws) {
                                          {
                                              std::lock_guard lock(handle_mutex);
                                              handle = ws.get_handle();
                                          }
                                          seen.record("open");
                                      },
                                  .on_message = echo,
                                  .on_close = record_close});
    }

    void open(ws_client& c, std::string_view path = "/echo", ws_options options = {}) {
        options.timeout = 3s;
        c.connect("127.0.0.1", server.port(), path, std::move(options));
    }
};

constexpr std::uint8_t fin = 0x80;

std::string receive_text(ws_client& c) {
    auto m = c.receive_message();
    REQUIRE(m.has_value());
    CHECK(m->op == opcode::text);
    return m->payload;
}

// An independent reference for "can this prefix still become UTF-8?" (Unicode 15, Table 3-7, well-formed
// byte sequences): -1 when it cannot, else the number of bytes the last code point still needs.
int utf8_prefix_state(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        int len = 0;
        unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
        if (b < 0x80) len = 1;
        else if (b >= 0xc2 && b <= 0xdf) len = 2;
        else if (b == 0xe0) len = 3, lo = 0xa0;
        else if (b >= 0xe1 && b <= 0xec) len = 3;
        else if (b == 0xed) len = 3, hi = 0x9f;
        else if (b >= 0xee && b <= 0xef) len = 3;
        else if (b == 0xf0) len = 4, lo = 0x90;
        else if (b >= 0xf1 && b <= 0xf3) len = 4;
        else if (b == 0xf4) len = 4, hi = 0x8f;
        else return -1;
        for (int k = 1; k < len; ++k) {
            if (i + static_cast<std::size_t>(k) >= s.size()) return len - k;
            const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) return -1;
        }
        i += static_cast<std::size_t>(len);
    }
    return 0;
}

// Invalid sequences from the Autobahn suite's UTF-8 cases (6.x), each inside valid text.
const std::vector<std::string> invalid_utf8_texts = {
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",  // UTF-16 surrogate
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",  // above U+10FFFF
    "ab\xc0\xafz",            // overlong '/'
    "ab\xe0\x80\xafz",        // overlong, 3 bytes
    "ab\xf0\x80\x80\xafz",    // overlong, 4 bytes
    "ab\x80z",                // lone continuation byte
    "ab\xfe\xff",             // bytes that never appear in UTF-8
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xe2\x82",  // ends inside a code point
};

}  // namespace

// ---- framing (Autobahn 1.x) ---------------------------------------------------------------------------

TEST_CASE("text and binary messages of 0, 125, 126, 65535 and 65536 bytes are echoed with 7-, 16- and 64-bit lengths") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    // The client's parser rejects a length that is not minimally encoded, so each echo also shows that
    // the server picks the right one of the three length forms (§5.2).
    for (std::size_t size : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 100000u}) {
        std::string text(size, 'a');
        for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + i % 26);
        c.send_text(text);
        auto m = c.receive();
        REQUIRE(m);
        CHECK(m->op == opcode::text);
        CHECK(m->payload == text);

        std::string binary(size, '\0');
        for (std::size_t i = 0; i < size; ++i) binary[i] = static_cast<char>(i * 7 % 256);
        c.send_binary(binary);
        m = c.receive();
        REQUIRE(m);
        CHECK(m->op == opcode::binary);
        CHECK(m->payload == binary);
    }
    CHECK(c.close() == close_code::normal);
}

TEST_CASE("a message of exactly the default max_message_size (1 MiB) is echoed by a route with default settings") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    const std::string big(1024 * 1024, 'z');
    c.send_binary(big);
    auto m = c.receive();
    REQUIRE(m);
    CHECK(m->op == opcode::binary);
    CHECK(m->payload.size() == big.size());
    CHECK(c.close() == close_code::normal);
}

TEST_CASE("a message just under the 1 MiB default limit is echoed") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    const std::string big(1024 * 1024 - 1024, 'z');
    c.send_binary(big);
    auto m = c.receive();
    REQUIRE(m);
    CHECK(m->payload.size() == big.size());
    CHECK(m->payload == big);
}

TEST_CASE("many frames arriving in one TCP segment are each answered, in order") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += raw_frame(fin | 0x1, "message " + std::to_string(i));
    c.send_raw(batch);
    for (int i = 0; i < 100; ++i) CHECK(receive_text(c) == "message " + std::to_string(i));
}

TEST_CASE("a frame arriving one byte at a time is reassembled") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    const std::string frame = raw_frame(fin | 0x1, std::string(300, 'q')) + raw_frame(fin | 0x9, "ping!");
    for (char byte : frame) {
        c.send_raw(std::string_view(&byte, 1));
        std::this_thread::sleep_for(100us);  // separate segments, so the server sees partial headers
    }
    CHECK(receive_text(c) == std::string(300, 'q'));
    auto pong = c.receive();
    REQUIRE(pong);
    CHECK(pong->op == opcode::pong);
    CHECK(pong->payload == "ping!");
}

// A connection keeps its frame parser only while a read ends inside a frame or a fragmented
// message (72 bytes an idle connection does not hold): what was pending must survive the reads
// between, and a connection between messages must read on as strictly as ever.
TEST_CASE("a fragmented message whose fragments arrive in separate reads, a ping between them, is delivered whole") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_raw(raw_frame(0x1, "first half, "));   // text, not final
    std::this_thread::sleep_for(50ms);             // its own read: the parser is kept meanwhile
    c.send_raw(raw_frame(fin | 0x9, "between"));
    auto pong = c.receive();
    REQUIRE(pong);
    CHECK(pong->op == opcode::pong);
    CHECK(pong->payload == "between");
    c.send_raw(raw_frame(fin | 0x0, "second half"));
    CHECK(receive_text(c) == "first half, second half");
}

TEST_CASE("a continuation frame after a whole message, in a later read, still fails the connection with 1002") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_raw(raw_frame(fin | 0x1, "whole"));
    CHECK(receive_text(c) == "whole");
    c.send_raw(raw_frame(fin | 0x0, "orphan"));
    CHECK(server_close_code(c) == close_code::protocol_error);
}

TEST_CASE("an idle WebSocket connection holds at most 200 bytes of its own") {
    // glibc's malloc serves n bytes from a chunk of n + 8 rounded up to 16: 200 bytes take 208, and
    // 201 to 216 take 224. 200 is the size with TLS built in (its socket is 8 bytes larger; 192
    // without). With the reactor's per-descriptor entry and the accept path's share, a 224-byte
    // chunk measured 251-260 bytes per idle connection in benchmarks/ws/run.sh, against issue 17's
    // budget of 256; a 208-byte one leaves that margin. Past 200, something an idle connection
    // does not need has moved back in: put it in the extras.
    STATIC_REQUIRE(sizeof(tether::server::websocket_connection<>) <= 200);
}

// ---- ping and pong (Autobahn 2.x) ---------------------------------------------------------------------

TEST_CASE("a ping is answered at once with a pong carrying the same payload") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    for (std::string payload : {std::string{}, std::string("hello"), std::string(125, '\xfe')}) {
        c.ping(payload);
        auto m = c.receive();
        REQUIRE(m);
        CHECK(m->op == opcode::pong);
        CHECK(m->payload == payload);
    }
}

TEST_CASE("a ping with a 126-byte payload fails the connection with 1002") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_raw(raw_frame(fin | 0x9, std::string(126, 'p')));
    CHECK(server_close_code(c) == close_code::protocol_error);
}

TEST_CASE("an unsolicited pong is ignored") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::pong, "nobody asked");
    c.send_text("still open");
    CHECK(receive_text(c) == "still open");
}

// ---- reserved bits, opcodes, masking (Autobahn 3.x, 4.x) ---------------------------------------------

TEST_CASE("a frame with a reserved bit set fails the connection with 1002") {
    conformance_fixture f;
    for (std::uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
        for (std::uint8_t op : {0x1, 0x2, 0x9}) {
            INFO("RSV bits " << int(rsv >> 4) << ", opcode " << int(op));
            ws_client c;
            f.open(c);
            c.send_raw(raw_frame(static_cast<std::uint8_t>(fin | rsv | op), "abc"));
            CHECK(server_close_code(c) == close_code::protocol_error);
        }
    }
}

TEST_CASE("a frame with a reserved opcode fails the connection with 1002") {
    conformance_fixture f;
    for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf}) {
        INFO("opcode " << int(op));
        ws_client c;
        f.open(c);
        c.send_text("before");
        CHECK(receive_text(c) == "before");
        c.send_raw(raw_frame(static_cast<std::uint8_t>(fin | op), "x"));
        CHECK(server_close_code(c) == close_code::protocol_error);
    }
}

TEST_CASE("an unmasked client frame fails the connection with 1002") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_raw(raw_frame(fin | 0x1, "not masked", false));
    CHECK(server_close_code(c) == close_code::protocol_error);
}

// ---- fragmentation (Autobahn 5.x) ---------------------------------------------------------------------

TEST_CASE("a text message split into many frames, some empty, is echoed as one message") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    std::string whole;
    c.send_frame(opcode::text, "", false);
    for (int i = 0; i < 40; ++i) {
        const std::string piece = "piece " + std::to_string(i) + "; ";
        whole += piece;
        c.send_frame(opcode::continuation, piece, false);
        if (i % 10 == 0) c.send_frame(opcode::continuation, "", false);
    }
    c.send_frame(opcode::continuation, "end", true);
    CHECK(receive_text(c) == whole + "end");

    SECTION("binary too") {
        c.send_frame(opcode::binary, std::string("\x00\x01", 2), false);
        c.send_frame(opcode::continuation, std::string("\x02\x03", 2), true);
        auto m = c.receive();
        REQUIRE(m);
        CHECK(m->op == opcode::binary);
        CHECK(m->payload == std::string("\x00\x01\x02\x03", 4));
    }
}

TEST_CASE("control frames between the fragments of a message are answered and do not disturb it") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::text, "frag", false);
    c.ping("in between");
    // §5.5: the pong comes before the message is even complete.
    auto pong = c.receive();
    REQUIRE(pong);
    CHECK(pong->op == opcode::pong);
    CHECK(pong->payload == "in between");
    c.send_frame(opcode::pong, "unsolicited", true);
    c.send_frame(opcode::continuation, "men", false);
    c.ping("again");
    c.send_frame(opcode::continuation, "ted", true);
    pong = c.receive();
    REQUIRE(pong);
    CHECK(pong->op == opcode::pong);
    CHECK(pong->payload == "again");
    CHECK(receive_text(c) == "fragmented");
}

TEST_CASE("a continuation frame with no message to continue fails the connection with 1002") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::continuation, "orphan", true);
    CHECK(server_close_code(c) == close_code::protocol_error);
}

TEST_CASE("a new data frame inside a fragmented message fails the connection with 1002") {
    conformance_fixture f;
    for (opcode second : {opcode::text, opcode::binary}) {
        ws_client c;
        f.open(c);
        c.send_frame(opcode::text, "first half", false);
        c.send_frame(second, "not a continuation", true);
        CHECK(server_close_code(c) == close_code::protocol_error);
    }
}

TEST_CASE("a fragmented control frame fails the connection with 1002") {
    conformance_fixture f;
    for (std::uint8_t op : {0x9, 0xa, 0x8}) {
        INFO("opcode " << int(op));
        ws_client c;
        f.open(c);
        c.send_raw(raw_frame(op, op == 0x8 ? std::string("\x03\xe8", 2) : std::string("part")));  // FIN clear
        CHECK(server_close_code(c) == close_code::protocol_error);
    }
}

// ---- UTF-8 (Autobahn 6.x) -----------------------------------------------------------------------------

TEST_CASE("valid multi-byte text is echoed, even split between fragments at every byte") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    // 1-, 2-, 3- and 4-byte code points: "Hello-µ@ßöäüàá-UTF-8!!", Greek, CJK, an emoji, U+10FFFF.
    const std::string text = "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!! "
                             "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xe4\xb8\xad\xe6\x96\x87 "
                             "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf";
    c.send_text(text);
    CHECK(receive_text(c) == text);
    for (std::size_t cut = 1; cut < text.size(); ++cut) {
        c.send_frame(opcode::text, std::string_view(text).substr(0, cut), false);
        c.send_frame(opcode::continuation, std::string_view(text).substr(cut), true);
        CHECK(receive_text(c) == text);
    }
}

TEST_CASE("a text message that is not UTF-8 fails the connection with 1007") {
    conformance_fixture f;
    for (const std::string& text : invalid_utf8_texts) {
        INFO("text bytes: " << text.size());
        ws_client c;
        f.open(c);
        c.send_frame(opcode::text, text);
        CHECK(server_close_code(c) == close_code::invalid_payload);
    }
}

TEST_CASE("invalid UTF-8 split between two fragments at every byte position fails with 1007, as early as it can") {
    conformance_fixture f;
    for (const std::string& text : invalid_utf8_texts) {
        for (std::size_t cut = 1; cut < text.size(); ++cut) {
            const std::string_view first = std::string_view(text).substr(0, cut);
            INFO("text bytes: " << text.size() << ", first fragment: " << cut << " bytes");
            ws_client c;
            f.open(c);
            c.send_frame(opcode::text, first, false);
            if (utf8_prefix_state(first) < 0) {
                // §8.1 fail fast: the first fragment alone already cannot be UTF-8, so the Close must come
                // without the rest of the message ever being sent.
                CHECK(server_close_code(c) == close_code::invalid_payload);
                continue;
            }
            c.send_frame(opcode::continuation, std::string_view(text).substr(cut), true);
            CHECK(server_close_code(c) == close_code::invalid_payload);
        }
    }
}

TEST_CASE("an invalid first fragment is answered with 1007 before the message is complete") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::text, "valid start \xc0\xaf then more", false);
    CHECK(server_close_code(c) == close_code::invalid_payload);

    SECTION("and inside one frame, before the frame is complete") {
        ws_client d;
        f.open(d);
        // The header announces 1000 bytes; only the first 20 are sent, and they are already invalid.
        const std::string payload = "abc\xed\xa0\x80" + std::string(994, 'x');
        const std::string frame = raw_frame(fin | 0x1, payload);
        d.send_raw(std::string_view(frame).substr(0, 8 + 20));
        CHECK(server_close_code(d) == close_code::invalid_payload);
    }
}

TEST_CASE("binary messages are not checked for UTF-8") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    const std::string bytes = "\xc0\xaf\xed\xa0\x80\xff\xfe";
    c.send_binary(bytes);
    auto m = c.receive();
    REQUIRE(m);
    CHECK(m->op == opcode::binary);
    CHECK(m->payload == bytes);
}

// ---- limits (Autobahn 9.x sizes, against a route's max_message_size) -----------------------------------

TEST_CASE("a message of exactly max_message_size is accepted") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/small");
    c.send_text(std::string(1024, 'm'));
    CHECK(receive_text(c) == std::string(1024, 'm'));
    c.send_frame(opcode::text, std::string(1000, 'a'), false);
    c.send_frame(opcode::continuation, std::string(24, 'b'), true);
    CHECK(receive_text(c) == std::string(1000, 'a') + std::string(24, 'b'));
}

TEST_CASE("a message over max_message_size fails the connection with 1009") {
    conformance_fixture f;
    SECTION("in one frame") {
        ws_client c;
        f.open(c, "/small");
        c.send_text(std::string(1025, 'm'));
        CHECK(server_close_code(c) == close_code::message_too_big);
    }
    SECTION("in fragments that add up to more") {
        ws_client c;
        f.open(c, "/small");
        c.send_frame(opcode::binary, std::string(600, 'm'), false);
        c.send_frame(opcode::continuation, std::string(600, 'm'), true);
        CHECK(server_close_code(c) == close_code::message_too_big);
    }
    SECTION("announced by a header alone, before any payload is sent") {
        ws_client c;
        f.open(c, "/small");
        std::string header = {'\x82', '\xff', 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};  // 2^40 bytes, masked
        c.send_raw(header);
        CHECK(server_close_code(c) == close_code::message_too_big);
    }
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::message_too_big);
}

// ---- opening handshake (§4.2) -------------------------------------------------------------------------

namespace {
std::string upgrade_request(std::string_view path, std::string_view extra) {
    return "GET " + std::string(path) +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + std::string(extra) + "\r\n";
}
}  // namespace

TEST_CASE("a valid upgrade is answered 101 with the RFC's Sec-WebSocket-Accept") {
    conformance_fixture f;
    auto r = tether::test::http_exchange(
        f.server.port(),
        upgrade_request("/echo", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"));
    CHECK(r.head.status == 101);
    CHECK(r.head.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 §1.3
    CHECK_FALSE(r.head.header("sec-websocket-protocol"));
}

TEST_CASE("an unsupported Sec-WebSocket-Version is answered 426 naming version 13") {
    conformance_fixture f;
    auto r = tether::test::http_exchange(
        f.server.port(),
        upgrade_request("/echo", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"));
    CHECK(r.head.status == 426);
    CHECK(r.head.header("sec-websocket-version") == "13");  // §4.4
}

TEST_CASE("an upgrade without a valid Sec-WebSocket-Key is answered 400") {
    conformance_fixture f;
    auto r = tether::test::http_exchange(f.server.port(), upgrade_request("/echo", "Sec-WebSocket-Version: 13\r\n"));
    CHECK(r.head.status == 400);
    r = tether::test::http_exchange(f.server.port(),
                                    upgrade_request("/echo", "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n"));
    CHECK(r.head.status == 400);
}

TEST_CASE("a plain GET on a WebSocket route is answered 426 Upgrade Required") {
    conformance_fixture f;
    auto r = tether::test::http_exchange(f.server.port(), "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(r.head.status == 426);
    CHECK(r.head.header("upgrade") == "websocket");
}

TEST_CASE("an Origin the route's policy does not allow is refused with 403") {
    conformance_fixture f;
    ws_client c;
    SECTION("a foreign origin") {
        try {
            f.open(c, "/origin", {.origin = "https://evil.example"});
            FAIL("the upgrade was accepted");
        } catch (const tether::client::handshake_error& e) {
            CHECK(e.status() == 403);
        }
    }
    SECTION("no origin at all") {
        try {
            f.open(c, "/origin");
            FAIL("the upgrade was accepted");
        } catch (const tether::client::handshake_error& e) {
            CHECK(e.status() == 403);
        }
    }
    SECTION("the allowed origin connects") {
        f.open(c, "/origin", {.origin = "https://app.example"});
        c.send_text("hi");
        CHECK(receive_text(c) == "hi");
    }
}

TEST_CASE("on_upgrade throwing http::error(401) refuses the upgrade with 401") {
    conformance_fixture f;
    ws_client c;
    try {
        f.open(c, "/auth");
        FAIL("the upgrade was accepted");
    } catch (const tether::client::handshake_error& e) {
        CHECK(e.status() == 401);
        CHECK(e.body().find("a bearer token is required") != std::string::npos);
    }
}

TEST_CASE("user data filled by on_upgrade is seen by on_open and on_message of that connection") {
    conformance_fixture f;
    ws_client alice, bob;
    f.open(alice, "/auth", {.headers = {{"Authorization", "Bearer alice"}}});
    f.open(bob, "/auth", {.headers = {{"Authorization", "Bearer bob"}}});
    CHECK(receive_text(alice) == "hello alice");
    CHECK(receive_text(bob) == "hello bob");
    alice.send_text("one");
    alice.send_text("two");
    bob.send_text("three");
    CHECK(receive_text(alice) == "alice #1: one");
    CHECK(receive_text(alice) == "alice #2: two");
    CHECK(receive_text(bob) == "bob #1: three");
}

TEST_CASE("the server selects the client's most preferred subprotocol it supports") {
    conformance_fixture f;
    ws_client c;
    SECTION("one of several") {
        f.open(c, "/proto", {.subprotocols = {"v3.chat", "v2.chat", "v1.chat"}});
        CHECK(c.subprotocol() == "v2.chat");
        CHECK(c.handshake_response().header("sec-websocket-protocol") == "v2.chat");
    }
    SECTION("none supported: no Sec-WebSocket-Protocol header") {
        f.open(c, "/proto", {.subprotocols = {"mqtt"}});
        CHECK(c.subprotocol().empty());
        CHECK_FALSE(c.handshake_response().header("sec-websocket-protocol"));
    }
    SECTION("none offered") {
        f.open(c, "/proto");
        CHECK(c.subprotocol().empty());
    }
    c.send_text("works");
    CHECK(receive_text(c) == "works");
}

// ---- closing handshake (Autobahn 7.x) -----------------------------------------------------------------

TEST_CASE("a client Close 1000 with a reason is echoed with 1000 and the server closes TCP") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_close(close_code::normal, "done here");
    CHECK(server_close_code(c) == close_code::normal);
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::normal);
    CHECK(closed->reason == "done here");
}

TEST_CASE("messages sent before the client's Close are answered before the Close is echoed") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    std::string batch = raw_frame(fin | 0x1, "first") + raw_frame(fin | 0x1, "second");
    batch += raw_frame(fin | 0x8, std::string("\x03\xe8", 2) + "bye");
    c.send_raw(batch);
    CHECK(receive_text(c) == "first");
    CHECK(receive_text(c) == "second");
    auto m = c.receive();
    REQUIRE(m);
    CHECK(m->op == opcode::close);
    CHECK(c.close_code() == close_code::normal);
    CHECK_FALSE(c.receive());  // then the server closes TCP
}

TEST_CASE("a protocol error is reported to on_close with the code the server sent") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_raw(raw_frame(fin | 0x3, "x"));
    CHECK(server_close_code(c) == close_code::protocol_error);
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::protocol_error);
}

TEST_CASE("an empty Close is answered with an empty Close, and on_close sees 1005") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::close, "");
    CHECK(server_close_code(c) == close_code::no_status_received);
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::no_status_received);
}

TEST_CASE("a Close with a code that may not be sent fails the connection with 1002") {
    conformance_fixture f;
    for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
        INFO("close code " << code);
        ws_client c;
        f.open(c);
        const char payload[] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
        c.send_frame(opcode::close, std::string_view(payload, 2));
        CHECK(server_close_code(c) == close_code::protocol_error);
    }
}

TEST_CASE("a Close with codes 1000-1003, 1007-1014 and 3000-4999 is echoed") {
    conformance_fixture f;
    for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
        INFO("close code " << code);
        ws_client c;
        f.open(c);
        c.send_close(close_code{code});
        CHECK(server_close_code(c) == close_code{code});
    }
}

TEST_CASE("a Close with a 1-byte payload fails the connection with 1002") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::close, "\x03");
    CHECK(server_close_code(c) == close_code::protocol_error);
}

TEST_CASE("a Close whose reason is not UTF-8 fails the connection with 1007") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_frame(opcode::close, std::string("\x03\xe8", 2) + "bad \xc0\xaf reason");
    CHECK(server_close_code(c) == close_code::invalid_payload);
}

TEST_CASE("ws.close() starts the closing handshake from the server") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_text("please close");
    CHECK(server_close_code(c) == close_code{4000});  // the client echoes it; then the server closes TCP
    CHECK(c.close_reason() == "server says bye");
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code{4000});
}

TEST_CASE("a server Close the client never answers ends the connection after close_timeout and not before") {
    conformance_fixture f;
    // At several phases of the server's 100 ms timer tick: a deadline may be late by up to a tick, never early.
    for (auto phase : {0ms, 25ms, 50ms, 75ms}) {
        INFO("sent " << phase.count() << " ms after connecting");
        ws_client c;
        f.open(c, "/quick-close", {.auto_close = false});
        std::this_thread::sleep_for(phase);
        const auto start = std::chrono::steady_clock::now();
        c.send_text("close please");
        while (c.receive()) {
        }
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(c.close_received());
        CHECK(c.close_code() == close_code{4000});
        CHECK(took >= 200ms);
        CHECK(took < 2s);
    }
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code{4000});
}

TEST_CASE("a route with an idle_timeout closes a silent connection with 1001") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/idle");
    c.send_text("one message");
    CHECK(receive_text(c) == "one message");
    const auto start = std::chrono::steady_clock::now();
    CHECK(server_close_code(c) == close_code::going_away);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("a frame sent in the same segment as the upgrade request is answered") {
    conformance_fixture f;
    // The server must hand the bytes behind the request's head to the WebSocket connection.
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), f.server.port()});
    const std::string request = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    asio::write(s, asio::buffer(request + raw_frame(fin | 0x1, "early bird")));
    std::string received;
    const std::string expected_frame = std::string("\x81\x0a", 2) + "early bird";
    std::array<char, 4096> buffer{};
    s.non_blocking(true);
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (received.find(expected_frame) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::error_code ec;
        const std::size_t n = s.read_some(asio::buffer(buffer), ec);
        if (ec == asio::error::would_block) {
            std::this_thread::sleep_for(5ms);
            continue;
        }
        REQUIRE_FALSE(ec);
        received.append(buffer.data(), n);
    }
    CHECK(received.starts_with("HTTP/1.1 101"));
    CHECK(received.ends_with("\r\n\r\n" + expected_frame));
}

TEST_CASE("a client that drops TCP without a Close is reported to on_close as 1006") {
    conformance_fixture f;
    ws_client c;
    f.open(c);
    c.send_text("hi");
    CHECK(receive_text(c) == "hi");
    c.disconnect();
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::abnormal_closure);
}

// ---- server pings -------------------------------------------------------------------------------------

TEST_CASE("a route with a ping_interval pings the client, and a client that answers stays connected") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/ping");
    const auto start = std::chrono::steady_clock::now();
    int pings = 0;
    while (std::chrono::steady_clock::now() - start < 900ms) {
        auto m = c.receive();  // answers each ping (auto_pong)
        REQUIRE(m);
        if (m->op == opcode::ping) ++pings;
    }
    CHECK(pings >= 2);  // 100 ms interval, 100 ms timer resolution
    c.send_text("still here");
    CHECK(receive_text(c) == "still here");
}

TEST_CASE("a client that does not answer a ping within pong_timeout is dropped, and on_close sees 1006") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/ping", {.auto_pong = false});
    auto m = c.receive();
    REQUIRE(m);
    CHECK(m->op == opcode::ping);
    const auto after_ping = std::chrono::steady_clock::now();
    while (c.receive()) {
    }
    CHECK(c.connection_ended());
    CHECK_FALSE(c.close_received());
    CHECK(std::chrono::steady_clock::now() - after_ping < 2s);
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::abnormal_closure);
}

// ---- the bounded send queue, on_drain, handles ----------------------------------------------------------

TEST_CASE("send() past max_buffered_bytes closes the connection with 1013 when so configured") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/flood-close");
    c.send_text("flood");
    int received = 0;
    while (auto m = c.receive()) {
        if (m->op == opcode::binary) {
            CHECK(m->payload.size() == flood_message);
            ++received;
        }
    }
    CHECK(c.close_received());
    CHECK(c.close_code() == close_code::try_again_later);
    // 16 KiB frames against a 64 KiB bound: three fit, the fourth overflows.
    CHECK(received == 3);
    CHECK(f.seen.wait_for_event("sent 3 refused 13"));
    CHECK(f.seen.wait_for_event("buffered after first " + std::to_string(flood_message + 4)));
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::try_again_later);
}

TEST_CASE("send() past max_buffered_bytes drops the message and keeps the connection when so configured") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/flood-drop");
    c.send_text("flood");
    for (int i = 0; i < 3; ++i) {
        auto m = c.receive();
        REQUIRE(m);
        CHECK(m->op == opcode::binary);
    }
    CHECK(f.seen.wait_for_event("sent 3 refused 13"));
    c.send_text("after the flood");
    CHECK(receive_text(c) == "after the flood");  // nothing else was queued in between
    CHECK(c.close() == close_code::normal);
}

TEST_CASE("on_drain runs once a queue that had to wait for the socket has been written") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/drain");
    c.send_text("go");
    // Read nothing until the server has queued everything and had time to fill the socket, so its write
    // must stop on EAGAIN and wait: only a queue that waited for the peer drains.
    REQUIRE(f.seen.wait_for_event("queued"));
    std::this_thread::sleep_for(200ms);
    CHECK_FALSE(f.seen.wait_for_event("drained", 0ms));
    for (int i = 0; i < 128; ++i) {
        auto m = c.receive();
        REQUIRE(m);
        REQUIRE(m->op == opcode::binary);
        REQUIRE(m->payload.size() == 64 * 1024);
    }
    CHECK(receive_text(c) == "drained");
    CHECK(f.seen.wait_for_event("drained"));
}

TEST_CASE("a handle sends from another thread, and returns false once the connection is gone") {
    conformance_fixture f;
    ws_client c;
    f.open(c, "/handle");
    REQUIRE(f.seen.wait_for_event("open"));
    echo_socket::handle h;
    {
        std::lock_guard lock(f.handle_mutex);
        h = f.handle;
    }
    bool sent = false;
    std::thread other([&] { sent = h.send("from another thread"); });
    other.join();
    CHECK(sent);
    CHECK(receive_text(c) == "from another thread");

    std::thread closer([&] { h.close(close_code{4001}, "closed from a thread"); });
    closer.join();
    CHECK(server_close_code(c) == close_code{4001});
    CHECK(c.close_reason() == "closed from a thread");
    REQUIRE(f.seen.wait_for_close());
    CHECK_FALSE(h.alive());
    CHECK_FALSE(h.send("too late"));
}
