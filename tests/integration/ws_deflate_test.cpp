// permessage-deflate (RFC 7692) over loopback, tether's server against tether's client, organised like the
// Autobahn test suite's compression categories: 12.* (compressed echo of every size, whole and fragmented,
// four kinds of payload) and 13.* (the same under each negotiation: context takeover or not, window sizes 8
// to 15, several offers at once). Then the error paths, each with the close code the RFC asks for, and the
// server's counters.
//
// Autobahn sends 1000 messages per case; these send a few per case so the whole file stays within seconds,
// while still sending several messages per connection, which is what tests context takeover.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/server.hpp>
#include <tether/ws/deflate_codec.hpp>

#include "ws_test_server.hpp"

#if TETHER_DEFLATE_ENABLED

using namespace std::chrono_literals;
using tether::client::deflate_settings;
using tether::client::ws_client;
using tether::client::ws_options;
using tether::test::observations;
using tether::test::raw_frame;
using tether::test::server_close_code;
using tether::test::running_server;
using tether::ws::close_code;
using tether::ws::deflate_mode;
using tether::ws::deflate_request;
using tether::ws::opcode;

namespace {

using socket_type = tether::server::websocket_connection<>;

struct deflate_fixture {
    observations seen;
    running_server server{[this](tether::server& app) { install_routes(app); }};

    void install_routes(tether::server& app) {
        auto echo = [](socket_type& ws, std::string_view m, opcode op) { ws.send(m, op); };
        auto record_close = [this](auto&, close_code code, std::string_view reason) { seen.record_close(code, reason); };
        // threshold 0: every message is compressed on the way back too, so both directions are exercised.
        app.websocket("/deflate", {.on_message = echo, .on_close = record_close,
                                   .permessage_deflate = {.mode = deflate_mode::on, .threshold = 0}});
        app.websocket("/deflate-nct", {.on_message = echo, .on_close = record_close,
                                       .permessage_deflate = {.mode = deflate_mode::no_context_takeover, .threshold = 0}});
        app.websocket("/deflate-small", {.on_message = echo, .on_close = record_close, .max_message_size = 1024,
                                         .permessage_deflate = {.mode = deflate_mode::on, .threshold = 0}});
        app.websocket("/deflate-window10",
                      {.on_message = echo, .on_close = record_close,
                       .permessage_deflate = {.mode = deflate_mode::on, .threshold = 0, .server_max_window_bits = 10,
                                              .client_max_window_bits = 10}});
        app.websocket("/deflate-threshold", {.on_message = echo, .on_close = record_close,
                                             .permessage_deflate = {.mode = deflate_mode::on, .threshold = 100}});
        app.websocket("/plain", {.on_message = echo, .on_close = record_close});
    }

    void open(ws_client& c, std::string_view path, std::optional<deflate_settings> deflate = deflate_settings{}) {
        c.connect("127.0.0.1", server.port(), path,
                  ws_options{.timeout = 5s, .max_message_size = 4u << 20, .permessage_deflate = std::move(deflate)});
    }
};

// The four payload kinds of Autobahn's 12.1-12.4: compressible text and binary, random text and binary.
enum class payload_kind { text, binary, random_text, random_binary };

std::string make_payload(payload_kind kind, std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out;
    out.reserve(size + 64);
    if (kind == payload_kind::text || kind == payload_kind::binary) {
        static const char* words[] = {"tether", "deflate", "κόσμε", "message", "frame", "window", "\"px\":", "{}"};
        while (out.size() < size) out.append(words[rng() % 8]).push_back(' ');
        out.resize(size);
        // Never cut a multi-byte character in half: text must stay UTF-8.
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80)) out.pop_back();
        while (out.size() < size) out.push_back('.');
    } else if (kind == payload_kind::random_text) {
        for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>(' ' + rng() % 95));
    } else {
        for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>(rng()));
    }
    return out;
}

bool is_text(payload_kind k) { return k == payload_kind::text || k == payload_kind::random_text; }

// Autobahn's (size, auto-fragment) pairs of cases 12.x.1 - 12.x.18 (0: no fragmentation).
const std::vector<std::pair<std::size_t, std::size_t>> autobahn_sizes = {
    {16, 0},      {64, 0},       {256, 0},      {1024, 0},     {4096, 0},     {8192, 0},
    {16384, 0},   {32768, 0},    {65536, 0},    {131072, 0},   {8192, 256},   {16384, 256},
    {32768, 256}, {65536, 256},  {131072, 256}, {65536, 1024}, {131072, 4096}, {131072, 32768}};

// Sends `count` messages of each (size, fragment) pair and checks every echo, on one connection.
void echo_all(ws_client& c, payload_kind kind, int count, unsigned seed) {
    for (auto [size, fragment] : autobahn_sizes) {
        for (int i = 0; i < count; ++i) {
            INFO("size " << size << ", fragments of " << fragment << ", message " << i);
            const std::string payload = make_payload(kind, size, seed + static_cast<unsigned>(size + i));
            const opcode op = is_text(kind) ? opcode::text : opcode::binary;
            c.send_message(op, payload, fragment);
            auto echo = c.receive_message();
            REQUIRE(echo.has_value());
            CHECK(echo->op == op);
            // The server sends a message plain (RSV1 clear) when deflate does not shrink it: random bytes
            // never, tiny messages not always; compressible ones from 64 bytes, random text from 1 KiB do.
            if (kind == payload_kind::random_binary) CHECK_FALSE(echo->compressed);
            else if (size >= (kind == payload_kind::random_text ? 1024u : 64u)) CHECK(echo->compressed);
            REQUIRE(echo->payload.size() == payload.size());
            CHECK(echo->payload == payload);
        }
    }
}

std::string compress(std::string_view message, std::uint8_t window_bits = 15) {
    std::string out;
    tether::ws::compress_standalone(message, out, window_bits);
    return out;
}

}  // namespace

// ---- 12.*: compressed echo, default negotiation ---------------------------------------------------------

TEST_CASE("12.1-12.4: compressed messages of 16 B to 128 KiB, whole and fragmented, are echoed") {
    deflate_fixture f;
    const auto kind = GENERATE(payload_kind::text, payload_kind::binary, payload_kind::random_text,
                               payload_kind::random_binary);
    INFO("payload kind " << static_cast<int>(kind));
    ws_client c;
    f.open(c, "/deflate");
    REQUIRE(c.deflate_params() != nullptr);
    CHECK(c.handshake_response().header("sec-websocket-extensions") == "permessage-deflate");
    echo_all(c, kind, 3, 100);
    CHECK(c.close() == close_code::normal);
}

TEST_CASE("12.5: compressed and uncompressed messages interleave on one connection, with pings between fragments") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate", deflate_settings{.threshold = 1000});   // the client compresses only from 1000 bytes
    for (std::size_t size : {10u, 2000u, 999u, 1000u, 5u, 70000u}) {
        INFO("size " << size);
        const std::string payload = make_payload(payload_kind::text, size, static_cast<unsigned>(size));
        CHECK(c.send_message(opcode::text, payload) == (size >= 1000));
        auto echo = c.receive_message();
        REQUIRE(echo.has_value());
        CHECK(echo->payload == payload);
    }
    // A compressed message in three frames with a ping between them.
    std::string compressed = compress(make_payload(payload_kind::text, 3000, 9));
    const std::size_t third = compressed.size() / 3;
    c.send_frame(opcode::text, std::string_view(compressed).substr(0, third), false, tether::ws::rsv1);
    c.ping("between");
    c.send_frame(opcode::continuation, std::string_view(compressed).substr(third, third), false);
    c.send_frame(opcode::continuation, std::string_view(compressed).substr(2 * third), true);
    auto pong = c.receive();
    REQUIRE(pong.has_value());
    CHECK(pong->op == opcode::pong);
    auto echo = c.receive_message();
    REQUIRE(echo.has_value());
    CHECK(echo->payload == make_payload(payload_kind::text, 3000, 9));
}

// ---- 13.*: the same under each negotiation ---------------------------------------------------------------

TEST_CASE("13.1-13.7: compressed echo under every offer: context takeover or not, windows of 8 to 15 bits, "
          "several offers") {
    // Autobahn's client offers (requestNoContextTakeover, requestMaxWindowBits), as server_no_context_takeover
    // and server_max_window_bits; the client also accepts whatever limit the server puts on its own window.
    struct offer_case {
        const char* name;
        std::vector<deflate_request> offers;
    };
    const auto take = [](bool no_takeover, std::uint8_t bits) {
        deflate_request r{.server_no_context_takeover = no_takeover};
        if (bits != 0) r.server_max_window_bits = bits;
        return r;
    };
    const std::vector<offer_case> cases = {
        {"13.1 (False, 0)", {take(false, 0)}},
        {"13.2 (True, 0)", {take(true, 0)}},
        {"13.3 (False, 8)", {take(false, 8)}},
        {"13.4 (False, 15)", {take(false, 15)}},
        {"13.5 (True, 8)", {take(true, 8)}},
        {"13.6 (True, 15)", {take(true, 15)}},
        {"13.7 [(True, 8), (True, 0), (False, 0)]", {take(true, 8), take(true, 0), take(false, 0)}},
        {"client_no_context_takeover hint", {{.client_no_context_takeover = true}}},
        {"client limits its own window to 9", {{.client_max_window_bits_value = 9}}},
    };
    deflate_fixture f;
    for (const auto& oc : cases) {
        for (const char* path : {"/deflate", "/deflate-nct", "/deflate-window10"}) {
            INFO(oc.name << " on " << path);
            ws_client c;
            f.open(c, path, deflate_settings{.offers = oc.offers});
            const auto* p = c.deflate_params();
            REQUIRE(p != nullptr);
            if (oc.offers.size() == 1 && oc.offers[0].server_max_window_bits)
                CHECK(p->server_max_window_bits <= *oc.offers[0].server_max_window_bits);
            if (oc.offers.front().server_no_context_takeover) CHECK(p->server_no_context_takeover);
            if (std::string_view(path) == "/deflate-nct") {
                CHECK(p->server_no_context_takeover);
                CHECK(p->client_no_context_takeover);
            }
            if (std::string_view(path) == "/deflate-window10") {
                CHECK(p->server_max_window_bits <= 10);
                CHECK(p->client_max_window_bits <= 10);  // our compressor must respect it, or the server fails us
            }
            // Three passes of the size table with two payload kinds: context carries across all of them.
            echo_all(c, payload_kind::text, 1, 7);
            echo_all(c, payload_kind::random_binary, 1, 8);
            CHECK(c.close() == close_code::normal);
        }
    }
}

TEST_CASE("a route with deflate off, and a client that does not offer it, both speak uncompressed") {
    deflate_fixture f;
    ws_client offered;
    f.open(offered, "/plain");
    CHECK(offered.deflate_params() == nullptr);
    CHECK_FALSE(offered.handshake_response().header("sec-websocket-extensions"));
    offered.send_text(make_payload(payload_kind::text, 5000, 1));
    auto echo = offered.receive_message();
    REQUIRE(echo.has_value());
    CHECK_FALSE(echo->compressed);

    ws_client not_offered;
    f.open(not_offered, "/deflate", std::nullopt);
    CHECK(not_offered.deflate_params() == nullptr);
    not_offered.send_text(make_payload(payload_kind::text, 5000, 1));
    echo = not_offered.receive_message();
    REQUIRE(echo.has_value());
    CHECK_FALSE(echo->compressed);
}

TEST_CASE("messages under the route's threshold are sent uncompressed, the rest compressed") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate-threshold");
    for (std::size_t size : {0u, 1u, 99u, 100u, 101u, 4000u}) {
        INFO("size " << size);
        c.send_text(make_payload(payload_kind::text, size, 3));
        auto echo = c.receive_message();
        REQUIRE(echo.has_value());
        CHECK(echo->compressed == (size >= 100));
        CHECK(echo->payload == make_payload(payload_kind::text, size, 3));
    }
}

TEST_CASE("an empty compressed message, and one ending in a final DEFLATE block, are understood") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate");
    c.send_frame(opcode::text, std::string(1, '\0'), true, tether::ws::rsv1);   // RFC 7692 §7.2.3.6
    auto empty = c.receive_message();
    REQUIRE(empty.has_value());
    CHECK(empty->payload.empty());
    c.send_frame(opcode::text, std::string("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8), true, tether::ws::rsv1);  // §7.2.3.4
    auto hello = c.receive_message();
    REQUIRE(hello.has_value());
    CHECK(hello->payload == "Hello");
}

// ---- error paths -----------------------------------------------------------------------------------------

TEST_CASE("RSV1 on a continuation frame fails the connection with 1002") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate");
    const std::string z = compress(make_payload(payload_kind::text, 2000, 4));
    c.send_frame(opcode::text, std::string_view(z).substr(0, 10), false, tether::ws::rsv1);
    c.send_frame(opcode::continuation, std::string_view(z).substr(10), true, tether::ws::rsv1);
    CHECK(server_close_code(c) == close_code::protocol_error);
}

TEST_CASE("RSV1 on a control frame, or without permessage-deflate agreed, fails with 1002") {
    deflate_fixture f;
    SECTION("a ping with RSV1") {
        ws_client c;
        f.open(c, "/deflate");
        c.send_raw(raw_frame(0x80 | 0x40 | 0x9, ""));
        CHECK(server_close_code(c) == close_code::protocol_error);
    }
    SECTION("a compressed frame on a connection that did not agree to it") {
        ws_client c;
        f.open(c, "/deflate", std::nullopt);
        c.send_frame(opcode::text, compress("hello"), true, tether::ws::rsv1);
        CHECK(server_close_code(c) == close_code::protocol_error);
    }
}

TEST_CASE("a compressed message that is not DEFLATE data fails with 1007") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate");
    SECTION("whole") { c.send_frame(opcode::binary, std::string("\xff\xff\xff\xff\x00", 5), true, tether::ws::rsv1); }
    SECTION("in fragments: a stored block whose length check fails") {
        c.send_frame(opcode::binary, std::string("\x00\x05\x00", 3), false, tether::ws::rsv1);
        c.send_frame(opcode::continuation, std::string("\x00\x00", 2), true);
    }
    CHECK(server_close_code(c) == close_code::invalid_payload);
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::invalid_payload);
}

TEST_CASE("compressed text that inflates to invalid UTF-8 fails with 1007, in the fragment where it breaks") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate");
    SECTION("whole") {
        c.send_frame(opcode::text, compress("valid, then \xc0\xaf"), true, tether::ws::rsv1);
        CHECK(server_close_code(c) == close_code::invalid_payload);
    }
    SECTION("the first of two fragments, before the message ends") {
        // The first fragment is a complete sync-flushed block, so it inflates to the broken text at once.
        const std::string broken = compress(std::string(3000, 'a') + "\xff" + std::string(3000, 'b'));
        c.send_frame(opcode::text, broken, false, tether::ws::rsv1);
        CHECK(server_close_code(c) == close_code::invalid_payload);
    }
    SECTION("a message that ends inside a character") {
        const std::string cut = compress("ends in the middle of \xce");
        c.send_frame(opcode::text, std::string_view(cut).substr(0, 3), false, tether::ws::rsv1);
        c.send_frame(opcode::continuation, std::string_view(cut).substr(3), true);
        CHECK(server_close_code(c) == close_code::invalid_payload);
    }
}

TEST_CASE("a decompression bomb is refused with 1009 once it inflates past max_message_size") {
    deflate_fixture f;
    const std::string bomb = compress(std::string(16u << 20, 'x'));   // 16 MiB in a few KiB
    REQUIRE(bomb.size() < 32 * 1024);
    SECTION("whole, on a route with a 1 KiB limit") {
        ws_client c;
        f.open(c, "/deflate-small");
        c.send_frame(opcode::binary, std::string_view(bomb).substr(0, 1100), true, tether::ws::rsv1);
        CHECK(server_close_code(c) == close_code::message_too_big);
    }
    SECTION("fragmented, on a route with the 1 MiB default: refused before the message ends") {
        ws_client c;
        f.open(c, "/deflate");
        // 4 KB of the bomb in 1000-byte fragments inflate to about 4 MiB; the message never ends.
        for (std::size_t at = 0; at < 4000; at += 1000)
            c.send_frame(at == 0 ? opcode::binary : opcode::continuation, std::string_view(bomb).substr(at, 1000),
                         false, at == 0 ? tether::ws::rsv1 : std::uint8_t{0});
        CHECK(server_close_code(c) == close_code::message_too_big);
    }
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::message_too_big);
}

TEST_CASE("exactly max_message_size after inflation is accepted, one byte more is not") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate-small");
    c.send_message(opcode::binary, std::string(1024, 'q'));
    auto echo = c.receive_message();
    REQUIRE(echo.has_value());
    CHECK(echo->payload.size() == 1024);
    c.send_message(opcode::binary, std::string(1025, 'q'));
    CHECK(server_close_code(c) == close_code::message_too_big);
}

TEST_CASE("a compressed frame announcing more than the wire allows for max_message_size fails from its header") {
    deflate_fixture f;
    ws_client c;
    f.open(c, "/deflate-small");
    // The header alone: 1024 + 1024/8 + 64 is the wire bound for a 1 KiB message.
    tether::ws::frame_header h{.fin = true, .rsv = tether::ws::rsv1, .op = opcode::binary, .masked = true,
                               .key = {1, 2, 3, 4}, .payload_length = tether::ws::compressed_message_wire_limit(1024) + 1};
    c.send_raw(tether::ws::encode_frame_header(h).view());
    CHECK(server_close_code(c) == close_code::message_too_big);
}

TEST_CASE("the client refuses a compressed message that inflates past its max_message_size with 1009") {
    deflate_fixture f;
    running_server big{[&f](tether::server& app) {
        app.websocket("/big", {.on_message = [](socket_type& ws, std::string_view, opcode) {
                                   ws.send(std::string(8u << 20, 'z'), opcode::binary);   // ~8 KiB compressed
                               },
                               .on_close = [&f](auto&, close_code code, std::string_view r) { f.seen.record_close(code, r); },
                               .permessage_deflate = {.mode = deflate_mode::on}});
    }};
    ws_client c;
    c.connect("127.0.0.1", big.port(), "/big",
              ws_options{.timeout = 5s, .max_message_size = 1u << 20, .permessage_deflate = deflate_settings{}});
    c.send_text("send me something big");
    try {
        (void)c.receive_message();
        FAIL("the client accepted 8 MiB with a 1 MiB limit");
    } catch (const tether::client::protocol_error& e) {
        CHECK(e.code() == close_code::message_too_big);
    }
    auto closed = f.seen.wait_for_close();
    REQUIRE(closed);
    CHECK(closed->code == close_code::message_too_big);
}

// ---- compress once per broadcast ---------------------------------------------------------------------------

namespace {

// A pubsub client: subscribes to `topic` and waits for the "subscribed" notice.
void subscribe(ws_client& c, std::uint16_t port, std::optional<deflate_settings> deflate, std::string_view topic) {
    c.connect("127.0.0.1", port, "/pubsub",
              ws_options{.timeout = 5s, .permessage_deflate = std::move(deflate)});
    c.send_text(R"({"type":"subscribe","topic":")" + std::string(topic) + "\"}");
    auto notice = c.receive_message();
    REQUIRE(notice.has_value());
    REQUIRE(notice->payload.find(R"("type":"subscribed")") != std::string::npos);
}

std::string ticker(int i) {
    return R"({"sym":"ACME","seq":)" + std::to_string(i) + R"(,"bid":)" + std::to_string(10000 + i * 7) +
           R"(,"ask":)" + std::to_string(10002 + i * 7) + R"(,"bidSize":300,"askSize":200,"venue":"XNAS","side":"buy"})";
}

}  // namespace

TEST_CASE("a published message is compressed once per format, and every deflate subscriber gets the same frame") {
    observations seen;
    running_server server{[](tether::server& app) {
        app.topic("ticks");
        app.pubsub("/pubsub", {.permessage_deflate = {.mode = deflate_mode::on}});
    }};
    auto ticks = server.app().topic("ticks");
    // 12 browsers' worth of default offers (15-bit windows), 4 clients limiting the server's window, 4 plain.
    std::vector<std::unique_ptr<ws_client>> full, limited, plain;
    for (int i = 0; i < 12; ++i) subscribe(*full.emplace_back(std::make_unique<ws_client>()), server.port(), deflate_settings{}, "ticks");
    for (int i = 0; i < 4; ++i)
        subscribe(*limited.emplace_back(std::make_unique<ws_client>()), server.port(),
                  deflate_settings{.offers = {{.server_max_window_bits = 10}}}, "ticks");
    for (int i = 0; i < 4; ++i) subscribe(*plain.emplace_back(std::make_unique<ws_client>()), server.port(), std::nullopt, "ticks");
    REQUIRE(limited.front()->deflate_params()->server_max_window_bits == 10);

    const auto before = server.app().stats();
    constexpr int count = 25;
    for (int i = 0; i < count; ++i) ticks.publish(ticker(i));
    const auto check = [&](std::vector<std::unique_ptr<ws_client>>& group, bool compressed) {
        for (auto& c : group) {
            for (int i = 0; i < count; ++i) {
                auto m = c->receive_message();
                REQUIRE(m.has_value());
                CHECK(m->compressed == compressed);
                // The envelope carries the body as a JSON string: its quotes escaped.
                std::string escaped;
                for (char ch : ticker(i)) escaped += ch == '"' ? std::string("\\\"") : std::string(1, ch);
                CHECK(m->payload.find(R"("data":")" + escaped + "\"}") != std::string::npos);
            }
        }
    };
    check(full, true);
    check(limited, true);
    check(plain, false);
    const auto after = server.app().stats();
    // Exactly once per message for each of the two compressed formats in use, for 16 subscribers.
    CHECK(after.ws_broadcast_compressions - before.ws_broadcast_compressions == 2 * count);
    CHECK(after.ws_compressed_deliveries - before.ws_compressed_deliveries == 16 * count);
}

TEST_CASE("shared compressed frames and a connection's own context-takeover sends interleave without corruption") {
    // The client's inflater keeps one window for both; a shared frame enters it without passing through the
    // connection's compressor, which must then start afresh rather than refer to a history the client no
    // longer has in that shape.
    running_server server{[](tether::server& app) {
        auto mixed = app.topic("mixed");
        app.websocket("/mixed", {.on_open = [mixed](socket_type& ws) { ws.subscribe(mixed); },
                                 .on_message = [](socket_type& ws, std::string_view m, opcode op) { ws.send(m, op); },
                                 .permessage_deflate = {.mode = deflate_mode::on, .threshold = 0}});
    }};
    auto mixed = server.app().topic("mixed");
    ws_client c;
    c.connect("127.0.0.1", server.port(), "/mixed", ws_options{.timeout = 5s, .permessage_deflate = deflate_settings{}});
    auto notice = c.receive_message();   // {"type":"subscribed",...}
    REQUIRE(notice.has_value());
    REQUIRE(!c.deflate_params()->server_no_context_takeover);
    const std::string repeated = make_payload(payload_kind::text, 3000, 77);
    for (int round = 0; round < 6; ++round) {
        INFO("round " << round);
        c.send_text(repeated);   // echoed with the connection's context: a back-reference after round 0
        auto echo = c.receive_message();
        REQUIRE(echo.has_value());
        CHECK(echo->compressed);
        CHECK(echo->payload == repeated);
        mixed.publish(repeated + " #" + std::to_string(round));   // a shared frame in between
        auto published = c.receive_message();
        REQUIRE(published.has_value());
        CHECK(published->compressed);
        CHECK(published->payload.find(" #" + std::to_string(round)) != std::string::npos);
    }
}

// ---- counters ----------------------------------------------------------------------------------------------

TEST_CASE("the server counts deflate connections, compressed sends and inflated messages") {
    deflate_fixture f;
    const auto before = f.server.app().stats();
    ws_client c;
    f.open(c, "/deflate-threshold");
    c.send_message(opcode::text, make_payload(payload_kind::text, 500, 1));   // compressed both ways
    REQUIRE(c.receive_message());
    // Compressed by the client, under the route's threshold so echoed plain.
    CHECK(c.send_message(opcode::text, make_payload(payload_kind::text, 90, 2)));
    auto plain = c.receive_message();
    REQUIRE(plain);
    CHECK_FALSE(plain->compressed);
    CHECK(c.close() == close_code::normal);
    REQUIRE(f.seen.wait_for_close());
    const auto after = f.server.app().stats();
    CHECK(after.ws_deflate_connections - before.ws_deflate_connections == 1);
    CHECK(after.ws_inflated_messages - before.ws_inflated_messages == 2);
    CHECK(after.ws_compressed_sends - before.ws_compressed_sends == 1);
}

#endif  // TETHER_DEFLATE_ENABLED
