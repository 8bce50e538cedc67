// permessage-deflate (RFC 7692): the Sec-WebSocket-Extensions grammar, every §7.1 negotiation rule from both
// ends, the codec against the RFC's own §7.2.3 byte vectors, bounded inflation, windows of every size, context
// takeover with and without an idle release, and the frame parser's RSV1 rules.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <tether/ws/deflate_codec.hpp>
#include <tether/ws/deflate_session.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/message_assembler.hpp>
#include <tether/ws/permessage_deflate.hpp>

using namespace tether::ws;
using namespace std::string_literals;

namespace {

std::optional<deflate_agreement> negotiate(std::string_view header, deflate_options policy = {.mode = deflate_mode::on}) {
    const std::string_view values[] = {header};
    return negotiate_deflate(values, policy);
}

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        if (!out.empty()) out.push_back(' ');
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// Text that deflate shrinks, like a JSON feed, of about `size` bytes.
std::string json_like(std::size_t size, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::string out;
    while (out.size() < size)
        out += R"({"sym":"S)" + std::to_string(rng() % 50) + R"(","px":)" + std::to_string(rng() % 100000) + "},";
    out.resize(size);
    return out;
}

std::string random_bytes(std::size_t size, unsigned seed = 7) {
    std::mt19937 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng());
    return out;
}

}  // namespace

// ---- the header grammar (RFC 6455 §9.1) --------------------------------------------------------------------

TEST_CASE("an extension list is parsed into elements and parameters, with whitespace and quoting") {
    std::vector<extension_element> list;
    REQUIRE(parse_extension_list(R"(permessage-deflate ; client_max_window_bits=10;server_no_context_takeover , )"
                                 R"(x-foo; a="b\"c", ,bar)",
                                 list));
    REQUIRE(list.size() == 3);
    CHECK(list[0].name == "permessage-deflate");
    REQUIRE(list[0].params.size() == 2);
    CHECK(list[0].params[0].name == "client_max_window_bits");
    CHECK(list[0].params[0].has_value);
    CHECK(list[0].params[0].value == "10");
    CHECK(list[0].params[1].name == "server_no_context_takeover");
    CHECK_FALSE(list[0].params[1].has_value);
    CHECK(list[1].params[0].value == "b\"c");
    CHECK(list[2].name == "bar");
}

TEST_CASE("a malformed extension list is a syntax error") {
    for (std::string_view bad : {"permessage-deflate;", "permessage-deflate; =1", "permessage-deflate; a=",
                                 "permessage-deflate; a=\"unterminated", "per message", "permessage-deflate; a b",
                                 ";x", "permessage-deflate; a=\"x\\"}) {
        INFO(bad);
        std::vector<extension_element> list;
        CHECK_FALSE(parse_extension_list(bad, list));
    }
}

// ---- the server's choice (§7.1) ----------------------------------------------------------------------------

TEST_CASE("the offers browsers send are accepted") {
    SECTION("Chromium: client_max_window_bits without a value") {
        auto a = negotiate("permessage-deflate; client_max_window_bits");
        REQUIRE(a);
        CHECK(a->response == "permessage-deflate");
        CHECK(a->params == deflate_params{});
    }
    SECTION("Firefox: the bare token") {
        auto a = negotiate("permessage-deflate");
        REQUIRE(a);
        CHECK(a->response == "permessage-deflate");
    }
}

TEST_CASE("a route that is off, or an offer of other extensions only, negotiates nothing") {
    CHECK_FALSE(negotiate("permessage-deflate", {.mode = deflate_mode::off}));
    CHECK_FALSE(negotiate("x-webkit-deflate-frame"));
    CHECK_FALSE(negotiate(""));
}

TEST_CASE("the no_context_takeover policy answers both no_context_takeover parameters unasked") {
    auto a = negotiate("permessage-deflate; client_max_window_bits", {.mode = deflate_mode::no_context_takeover});
    REQUIRE(a);
    CHECK(a->params.server_no_context_takeover);
    CHECK(a->params.client_no_context_takeover);
    CHECK(a->response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

TEST_CASE("server_no_context_takeover in an offer is always answered, client_no_context_takeover taken as the hint") {
    auto a = negotiate("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    REQUIRE(a);
    CHECK(a->params.server_no_context_takeover);
    CHECK(a->params.client_no_context_takeover);
}

TEST_CASE("server_max_window_bits is answered with the offered value or a smaller one of ours") {
    for (int w = 8; w <= 15; ++w) {
        INFO("offered " << w);
        auto a = negotiate("permessage-deflate; server_max_window_bits=" + std::to_string(w));
        REQUIRE(a);
        CHECK(a->params.server_max_window_bits == w);
        // §7.1.2.1: accepting the offer means answering the parameter, even at 15.
        CHECK(a->response == "permessage-deflate; server_max_window_bits=" + std::to_string(w));
    }
    auto ours = negotiate("permessage-deflate; server_max_window_bits=12",
                          {.mode = deflate_mode::on, .server_max_window_bits = 10});
    REQUIRE(ours);
    CHECK(ours->params.server_max_window_bits == 10);
    auto unasked = negotiate("permessage-deflate", {.mode = deflate_mode::on, .server_max_window_bits = 11});
    REQUIRE(unasked);
    CHECK(unasked->response == "permessage-deflate; server_max_window_bits=11");
}

TEST_CASE("client_max_window_bits is answered only when offered") {
    const deflate_options small{.mode = deflate_mode::on, .client_max_window_bits = 10};
    auto offered = negotiate("permessage-deflate; client_max_window_bits", small);
    REQUIRE(offered);
    CHECK(offered->params.client_max_window_bits == 10);
    CHECK(offered->response == "permessage-deflate; client_max_window_bits=10");
    auto with_value = negotiate("permessage-deflate; client_max_window_bits=9", small);
    REQUIRE(with_value);
    CHECK(with_value->params.client_max_window_bits == 9);   // the client's own limit is smaller
    auto fifteen = negotiate("permessage-deflate; client_max_window_bits=15");
    REQUIRE(fifteen);
    CHECK(fifteen->response == "permessage-deflate; client_max_window_bits=15");   // what we inflate with, said
    auto unoffered = negotiate("permessage-deflate", small);  // §7.1.2.2: MUST NOT answer it
    REQUIRE(unoffered);
    CHECK(unoffered->params.client_max_window_bits == 15);
    CHECK(unoffered->response == "permessage-deflate");
}

TEST_CASE("an offer that breaks a §7.1 rule is declined and the next offer is considered") {
    for (std::string_view bad : {
             "permessage-deflate; server_max_window_bits",         // a value is required
             "permessage-deflate; server_max_window_bits=7",       // below 8
             "permessage-deflate; server_max_window_bits=16",      // above 15
             "permessage-deflate; server_max_window_bits=010",     // leading zero
             "permessage-deflate; server_max_window_bits=1a",      // not decimal
             "permessage-deflate; client_max_window_bits=0",       //
             "permessage-deflate; client_max_window_bits=\"1,5\"",  // quoted, not a token
             "permessage-deflate; server_no_context_takeover=1",   // takes no value
             "permessage-deflate; client_no_context_takeover=x",   //
             "permessage-deflate; server_no_context_takeover; server_no_context_takeover",  // twice
             "permessage-deflate; client_max_window_bits; client_max_window_bits=10",       // twice
             "permessage-deflate; unknown_parameter",              // unknown
             "permessage-deflate; Server_No_Context_Takeover",     // names are case-sensitive
         }) {
        INFO(bad);
        CHECK_FALSE(negotiate(bad));
        auto next = negotiate(std::string(bad) + ", permessage-deflate; client_no_context_takeover");
        REQUIRE(next);
        CHECK(next->params.client_no_context_takeover);
    }
}

TEST_CASE("a quoted window size that is a token once unquoted is accepted (RFC 6455 §9.1)") {
    auto a = negotiate(R"(permessage-deflate; server_max_window_bits="10")");
    REQUIRE(a);
    CHECK(a->params.server_max_window_bits == 10);
}

TEST_CASE("offers spread over several header fields are considered in order") {
    const std::string_view values[] = {"x-unknown", "permessage-deflate; server_max_window_bits=9",
                                       "permessage-deflate"};
    auto a = negotiate_deflate(values, {.mode = deflate_mode::on});
    REQUIRE(a);
    CHECK(a->params.server_max_window_bits == 9);
}

TEST_CASE("a header that is not an extension list declines compression instead of failing the handshake") {
    CHECK_FALSE(negotiate("permessage-deflate; server_max_window_bits=\"10"));
}

// ---- the client's side -----------------------------------------------------------------------------------

TEST_CASE("the client's offer names only what it asks for") {
    CHECK(format_deflate_offer({}) == "permessage-deflate; client_max_window_bits");
    CHECK(format_deflate_offer({.server_no_context_takeover = true,
                                .client_no_context_takeover = true,
                                .server_max_window_bits = 10,
                                .client_max_window_bits_value = 9}) ==
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
          "client_max_window_bits=9");
    CHECK_THROWS_AS(format_deflate_offer({.server_max_window_bits = 7}), std::invalid_argument);
}

TEST_CASE("the client accepts every answer a server may give and refuses the rest") {
    std::optional<deflate_params> agreed;
    const deflate_request plain{};
    const deflate_request offers[] = {plain};
    CHECK(check_deflate_response("", offers, agreed).empty());
    CHECK_FALSE(agreed);
    CHECK(check_deflate_response("permessage-deflate; server_no_context_takeover; client_max_window_bits=9", offers,
                                 agreed)
              .empty());
    REQUIRE(agreed);
    CHECK(agreed->server_no_context_takeover);
    CHECK(agreed->client_max_window_bits == 9);
    CHECK(check_deflate_response("permessage-deflate; server_max_window_bits=10", offers, agreed).empty());
    CHECK(agreed->server_max_window_bits == 10);

    for (std::string_view bad : {"permessage-deflate; client_max_window_bits",  // a value is required here
                                 "permessage-deflate; foo", "x-other", "permessage-deflate, permessage-deflate",
                                 "permessage-deflate; server_max_window_bits=16", "permessage-deflate;;"}) {
        INFO(bad);
        CHECK_FALSE(check_deflate_response(bad, offers, agreed).empty());
    }
    SECTION("client_max_window_bits only when an offer allowed it") {
        const deflate_request no_limit[] = {{.client_max_window_bits = false}};
        CHECK_FALSE(check_deflate_response("permessage-deflate; client_max_window_bits=10", no_limit, agreed).empty());
    }
    SECTION("a larger server window than offered, or none at all when one was offered") {
        const deflate_request limited[] = {{.server_max_window_bits = 10}};
        CHECK_FALSE(check_deflate_response("permessage-deflate; server_max_window_bits=11", limited, agreed).empty());
        CHECK_FALSE(check_deflate_response("permessage-deflate", limited, agreed).empty());
        CHECK(check_deflate_response("permessage-deflate; server_max_window_bits=9", limited, agreed).empty());
    }
    SECTION("the server_no_context_takeover the client asked for") {
        const deflate_request asked[] = {{.server_no_context_takeover = true}};
        CHECK_FALSE(check_deflate_response("permessage-deflate", asked, agreed).empty());
    }
    SECTION("any extension at all when none was offered") {
        CHECK_FALSE(check_deflate_response("permessage-deflate", {}, agreed).empty());
    }
}

#if TETHER_DEFLATE_ENABLED

// ---- the codec against RFC 7692 §7.2.3 -------------------------------------------------------------------

TEST_CASE("RFC 7692 7.2.3.1-2: 'Hello' compressed, then again with the sender's context taken over") {
    deflater z(15, Z_DEFAULT_COMPRESSION, 8);
    std::string first, second;
    z.compress("Hello", first);
    CHECK(hex(first) == "f2 48 cd c9 c9 07 00");
    z.compress("Hello", second);
    CHECK(hex(second) == "f2 00 11 00 00");  // a back-reference into the first message

    inflater in(15);
    std::string out;
    REQUIRE(in.inflate(first, out, 100) == inflate_status::ok);
    REQUIRE(in.finish(out, 100) == inflate_status::ok);
    CHECK(out == "Hello");
    out.clear();
    REQUIRE(in.inflate(second, out, 100) == inflate_status::ok);
    REQUIRE(in.finish(out, 100) == inflate_status::ok);
    CHECK(out == "Hello");
}

TEST_CASE("RFC 7692 7.2.3.3-5: stored blocks, a final block, and two blocks in one message inflate") {
    const std::string stored = "\x00\x05\x00\xfa\xff" "Hello" "\x00"s;          // 7.2.3.3: BTYPE=00
    const std::string final_block = "\xf3\x48\xcd\xc9\xc9\x07\x00\x00"s;       // 7.2.3.4: BFINAL=1
    const std::string two_blocks = "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00"s;  // 7.2.3.5
    for (const std::string& message : {stored, final_block, two_blocks}) {
        INFO(hex(message));
        inflater in(15);
        std::string out;
        for (char c : message) REQUIRE(in.inflate(std::string_view(&c, 1), out, 100) == inflate_status::ok);
        REQUIRE(in.finish(out, 100) == inflate_status::ok);
        CHECK(out == "Hello");
        // The window survives the message, whichever way it ended: the second message refers back to it.
        out.clear();
        REQUIRE(in.inflate("\xf2\x00\x11\x00\x00"s, out, 100) == inflate_status::ok);
        REQUIRE(in.finish(out, 100) == inflate_status::ok);
        CHECK(out == "Hello");
    }
}

TEST_CASE("a final block with nothing behind it, and one followed by garbage") {
    inflater in(15);
    std::string out;
    REQUIRE(in.inflate("\xf3\x48\xcd\xc9\xc9\x07\x00"s, out, 100) == inflate_status::ok);
    REQUIRE(in.finish(out, 100) == inflate_status::ok);
    CHECK(out == "Hello");
    inflater bad(15);
    out.clear();
    CHECK(bad.inflate("\xf3\x48\xcd\xc9\xc9\x07\x00\xff\xff\xff"s, out, 100) == inflate_status::invalid);
}

TEST_CASE("an empty message compresses to the single byte 0x00 (7.2.3.6) and inflates to nothing") {
    deflater z(15, 6, 8);
    std::string payload;
    z.compress("", payload);
    CHECK(payload == "\x00"s);
    z.compress("", payload);  // twice in a row, with context: still one stored block each
    CHECK(payload == "\x00\x00"s);
    inflater in(15);
    std::string out;
    REQUIRE(in.inflate(payload.substr(0, 1), out, 10) == inflate_status::ok);
    REQUIRE(in.finish(out, 10) == inflate_status::ok);
    CHECK(out.empty());
}

TEST_CASE("messages of every size round-trip, fed to the inflater whole and in small pieces") {
    for (std::size_t size : {1u, 2u, 100u, 4095u, 4096u, 65536u, 300000u}) {
        for (bool text : {true, false}) {
            const std::string message = text ? json_like(size) : random_bytes(size);
            INFO("size " << size << (text ? " text" : " random"));
            deflater z(15, 6, 8);
            std::string payload;
            z.compress(message, payload);
            if (text && size > 200) CHECK(payload.size() < message.size() / 2);
            for (std::size_t piece : {payload.size(), std::size_t{1}, std::size_t{777}}) {
                inflater in(15);
                std::string out;
                for (std::size_t i = 0; i < payload.size(); i += piece)
                    REQUIRE(in.inflate(std::string_view(payload).substr(i, piece), out, size) == inflate_status::ok);
                REQUIRE(in.finish(out, size) == inflate_status::ok);
                CHECK(out == message);
            }
        }
    }
}

TEST_CASE("every window size round-trips, and a 256-byte window decodes what the 8-bit compressor makes") {
    const std::string message = json_like(50000, 3);
    for (std::uint8_t w = 8; w <= 15; ++w) {
        INFO("window bits " << int(w));
        deflater z(w, 9, 9);
        inflater in(w);
        for (int round = 0; round < 3; ++round) {  // with context takeover across messages
            std::string payload, out;
            z.compress(message, payload);
            REQUIRE(in.inflate(payload, out, message.size()) == inflate_status::ok);
            REQUIRE(in.finish(out, message.size()) == inflate_status::ok);
            CHECK(out == message);
        }
    }
}

TEST_CASE("a stream that refers past the inflater's window is invalid") {
    // 20 KiB of noise and then its first KiB again: the repeat is a distance of about 20 KiB.
    const std::string noise = random_bytes(20000, 11);
    const std::string message = noise + noise.substr(0, 1024);
    deflater z(15, 9, 9);
    std::string payload;
    z.compress(message, payload);
    inflater narrow(10);
    std::string out;
    const auto s = narrow.inflate(payload, out, message.size());
    CHECK((s == inflate_status::invalid || narrow.finish(out, message.size()) == inflate_status::invalid));
}

TEST_CASE("inflation stops one byte past the limit: a decompression bomb costs no more than that") {
    const std::string zeros(8 * 1024 * 1024, '\0');
    deflater z(15, 9, 9);
    std::string bomb;
    z.compress(zeros, bomb);
    REQUIRE(bomb.size() < 16 * 1024);  // 8 MiB in a few KiB
    for (std::size_t limit : {0u, 1u, 1000u, 65536u, 1u << 20}) {
        INFO("limit " << limit);
        inflater in(15);
        std::string out;
        inflate_status s = inflate_status::ok;
        for (std::size_t i = 0; i < bomb.size() && s == inflate_status::ok; i += 512)
            s = in.inflate(std::string_view(bomb).substr(i, 512), out, limit);
        if (s == inflate_status::ok) s = in.finish(out, limit);
        CHECK(s == inflate_status::too_big);
        CHECK(out.size() <= limit + 1);
    }
    SECTION("exactly the limit is fine") {
        inflater in(15);
        std::string out;
        REQUIRE(in.inflate(bomb, out, zeros.size()) == inflate_status::ok);
        REQUIRE(in.finish(out, zeros.size()) == inflate_status::ok);
        CHECK(out.size() == zeros.size());
    }
}

TEST_CASE("bytes that are not DEFLATE are invalid") {
    for (std::string bad : {"\xff\xff\xff\xff"s, "\x07"s, "\xfe\x00\x00"s}) {
        INFO(hex(bad));
        inflater in(15);
        std::string out;
        auto s = in.inflate(bad, out, 1000);
        if (s == inflate_status::ok) s = in.finish(out, 1000);
        CHECK(s == inflate_status::invalid);
    }
}

// ---- the session: memory and keeping both windows in step ---------------------------------------------------

namespace {
struct peer {  // the other end: an inflater that keeps its window, as a conforming peer with takeover does
    inflater in{15};
    std::string receive(std::string_view payload, bool compressed, std::string_view plain) {
        if (!compressed) return std::string(plain);
        std::string out;
        REQUIRE(in.inflate(payload, out, 1 << 24) == inflate_status::ok);
        REQUIRE(in.finish(out, 1 << 24) == inflate_status::ok);
        return out;
    }
};
}  // namespace

TEST_CASE("without context takeover a session holds no zlib state between messages") {
    deflate_session s(role::server, {.server_no_context_takeover = true, .client_no_context_takeover = true},
                      {.threshold = 16});
    std::string payload;
    REQUIRE(s.compress(json_like(1000), payload));
    CHECK(s.zlib_streams_held() == 0);
    // The client's message arrives in two pieces: the inflater is held across them, and only then.
    deflater client(15, 6, 8);
    std::string wire, out;
    client.compress(json_like(2000, 5), wire);
    s.begin_message();
    REQUIRE(s.inflate(std::string_view(wire).substr(0, 10), out, 1 << 20) == inflate_status::ok);
    CHECK(s.zlib_streams_held() == 1);
    REQUIRE(s.inflate(std::string_view(wire).substr(10), out, 1 << 20) == inflate_status::ok);
    REQUIRE(s.end_message(out, 1 << 20) == inflate_status::ok);
    CHECK(out == json_like(2000, 5));
    CHECK(s.zlib_streams_held() == 0);
}

TEST_CASE("a message below the threshold, or one deflate does not shrink, is sent uncompressed") {
    deflate_session s(role::server, {}, {.threshold = 100});
    std::string payload;
    CHECK_FALSE(s.compress(json_like(99), payload));
    CHECK(payload.empty());
    CHECK_FALSE(s.compress(random_bytes(5000), payload));
    CHECK(payload.empty());
    CHECK(s.compress(json_like(100), payload));
}

TEST_CASE("with context takeover the peer decodes every message, across incompressible ones, shared frames and "
          "idle releases") {
    deflate_session s(role::server, {}, {.threshold = 1});
    peer client;
    std::vector<std::string> messages;
    for (int i = 0; i < 12; ++i) messages.push_back(i % 4 == 3 ? random_bytes(3000, i) : json_like(3000, i % 2));
    for (std::size_t i = 0; i < messages.size(); ++i) {
        INFO("message " << i);
        std::string payload;
        const bool compressed = s.compress(messages[i], payload);
        CHECK(client.receive(payload, compressed, messages[i]) == messages[i]);
        if (i == 4) {
            // A broadcast compressed elsewhere reaches the peer's window but not our compressor.
            std::string shared;
            compress_standalone("a shared broadcast frame, compressed once for every subscriber", shared, 15);
            s.shared_frame_sent();
            CHECK(client.receive(shared, true, {}) == "a shared broadcast frame, compressed once for every subscriber");
        }
        if (i == 6 || i == 9) {
            s.release_if_idle();  // active since the last call: kept
            CHECK(s.zlib_streams_held() == 1);
            s.release_if_idle();  // idle for a whole period: reduced to the window's bytes
            CHECK(s.zlib_streams_held() == 0);
        }
    }
    SECTION("and the context really is taken over: a repeat compresses to a few bytes") {
        std::string first, again;
        REQUIRE(s.compress(messages[10], first));
        CHECK(client.receive(first, true, {}) == messages[10]);
        REQUIRE(s.compress(messages[10], again));
        CHECK(again.size() < 100);  // 3000 bytes as a dozen back-references of 258 bytes
        CHECK(client.receive(again, true, {}) == messages[10]);
    }
}

TEST_CASE("an inflater released while idle resumes with the peer's context") {
    deflate_session s(role::server, {}, {});
    deflater client(15, 6, 8);
    const std::string message = json_like(5000, 9);
    for (int i = 0; i < 3; ++i) {
        std::string wire, out;
        client.compress(message, wire);
        if (i > 0) CHECK(wire.size() < 150);  // back-references into the previous message
        s.begin_message();
        REQUIRE(s.inflate(wire, out, 1 << 20) == inflate_status::ok);
        REQUIRE(s.end_message(out, 1 << 20) == inflate_status::ok);
        CHECK(out == message);
        s.release_if_idle();
        s.release_if_idle();
        CHECK(s.zlib_streams_held() == 0);
    }
}

TEST_CASE("the client's session uses the client side of the agreement") {
    deflate_session s(role::client,
                      {.server_no_context_takeover = true, .client_no_context_takeover = false,
                       .server_max_window_bits = 9, .client_max_window_bits = 11},
                      {});
    CHECK(s.our_context_takeover());
    CHECK_FALSE(s.peer_context_takeover());
    CHECK(s.our_window_bits() == 11);
    CHECK(s.peer_window_bits() == 9);
}

#endif  // TETHER_DEFLATE_ENABLED

// ---- RSV1 in the frame parser (§6) -------------------------------------------------------------------------

TEST_CASE("RSV1 marks a message compressed on its first frame and fails with 1002 on a continuation") {
    const frame_parser_options deflate_on{.allowed_rsv = rsv1};
    std::string first, rest;
    append_frame(first, opcode::text, "abc", false, std::nullopt, rsv1);
    append_frame(rest, opcode::continuation, "def", true, std::nullopt, 0);
    message_assembler ok(role::client, deflate_on);
    ok.append(first + rest);
    auto m = ok.next();
    REQUIRE(m.status == assemble_status::message);
    CHECK(m.compressed);
    CHECK(m.payload == "abcdef");

    std::string bad;
    append_frame(bad, opcode::continuation, "def", true, std::nullopt, rsv1);
    message_assembler fails(role::client, deflate_on);
    fails.append(first + bad);
    CHECK(fails.next().status == assemble_status::error);
    CHECK(fails.parser().error_code() == close_code::protocol_error);
}

TEST_CASE("a compressed message may be a little larger on the wire than max_message_size, but not without bound") {
    const frame_parser_options opts{.max_message_size = 1000, .allowed_rsv = rsv1};
    std::string frame;
    append_frame(frame, opcode::binary, std::string(1100, 'x'), true, std::nullopt, rsv1);
    message_assembler fits(role::client, opts);
    fits.append(frame);
    CHECK(fits.next().status == assemble_status::message);

    std::string too_long;
    append_frame(too_long, opcode::binary, std::string(compressed_message_wire_limit(1000) + 1, 'x'), true,
                 std::nullopt, rsv1);
    message_assembler refused(role::client, opts);
    refused.append(too_long);
    CHECK(refused.next().status == assemble_status::error);
    CHECK(refused.parser().error_code() == close_code::message_too_big);
    SECTION("an uncompressed message keeps the exact limit") {
        std::string plain;
        append_frame(plain, opcode::binary, std::string(1001, 'x'));
        message_assembler p(role::client, opts);
        p.append(plain);
        CHECK(p.next().status == assemble_status::error);
    }
}

TEST_CASE("compressed text is not checked for UTF-8 before it is inflated") {
    std::string frame;
    append_frame(frame, opcode::text, "\xf2\x48\xcd\xc9\xc9\x07\x00"s, true, std::nullopt, rsv1);
    message_assembler a(role::client, {.allowed_rsv = rsv1});
    a.append(frame);
    auto m = a.next();
    REQUIRE(m.status == assemble_status::message);
    CHECK(m.compressed);
}
