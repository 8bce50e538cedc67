// The RFC 6455 frame codec: parser events, every protocol violation and its close code, masking, the encoder,
// and message reassembly. Wire bytes are fed both whole and one byte at a time (and at other split points),
// because a connection may receive any split.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/ws/frame.hpp>
#include <tether/ws/message_assembler.hpp>

using namespace tether::ws;
using namespace std::string_literals;

namespace {

struct frame_record {
    frame_header header;
    std::string payload;
    bool complete = false;
    bool message_end = false;
};

struct outcome {
    std::vector<frame_record> frames;
    std::optional<close_code> error;
    std::size_t leftover = 0;  // bytes the parser left unconsumed at the end
};

// Feeds `wire` in pieces of `chunk` bytes the way a connection would: unconsumed bytes stay at the front of
// the buffer and the next read is appended to them.
outcome parse_in_chunks(role endpoint, const std::string& wire, std::size_t chunk, frame_parser_options opts = {}) {
    frame_parser p(endpoint, opts);
    outcome out;
    std::string buffer;
    std::size_t fed = 0;
    for (;;) {
        const std::size_t used = p.parse(std::span<char>(buffer), [&](const parse_result& e) {
            if (e.status == parse_status::header) {
                out.frames.push_back({p.header(), {}, false, false});
            } else {
                out.frames.back().payload += e.payload;
                out.frames.back().complete = e.frame_end;
                out.frames.back().message_end = e.message_end;
            }
        });
        buffer.erase(0, used);
        if (p.failed()) {
            out.error = p.error_code();
            break;
        }
        if (fed == wire.size()) break;
        const std::size_t n = std::min(chunk, wire.size() - fed);
        buffer.append(wire, fed, n);
        fed += n;
    }
    out.leftover = buffer.size();
    return out;
}

// The same wire, fed whole, one byte at a time, and in 3- and 7-byte pieces; all must agree.
outcome parse_every_way(role endpoint, const std::string& wire, frame_parser_options opts = {}) {
    const outcome whole = parse_in_chunks(endpoint, wire, wire.size() + 1, opts);
    for (std::size_t chunk : {1, 3, 7}) {
        INFO("chunk size " << chunk);
        const outcome split = parse_in_chunks(endpoint, wire, chunk, opts);
        REQUIRE(split.error == whole.error);
        REQUIRE(split.frames.size() == whole.frames.size());
        for (std::size_t i = 0; i < whole.frames.size(); ++i) {
            REQUIRE(split.frames[i].header.op == whole.frames[i].header.op);
            REQUIRE(split.frames[i].header.payload_length == whole.frames[i].header.payload_length);
            if (!whole.error) REQUIRE(split.frames[i].payload == whole.frames[i].payload);
        }
    }
    return whole;
}

std::optional<close_code> error_of(role endpoint, const std::string& wire, frame_parser_options opts = {}) {
    return parse_every_way(endpoint, wire, opts).error;
}

const mask_key sample_key{0x37, 0xfa, 0x21, 0x3d};  // the key of the RFC 6455 §5.7 examples

std::string masked(opcode op, std::string_view payload, bool fin = true) {
    return make_client_frame(op, payload, sample_key, fin);
}

void naive_mask(std::string& data, const mask_key& key, std::size_t offset) {
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(data[i] ^ key[(offset + i) % 4]);
}

}  // namespace

// ---- RFC 6455 §5.7 examples ------------------------------------------------------------------------------

TEST_CASE("RFC 6455 5.7: a single-frame unmasked text message") {
    const std::string wire = "\x81\x05\x48\x65\x6c\x6c\x6f";
    const auto out = parse_every_way(role::client, wire);
    REQUIRE_FALSE(out.error);
    REQUIRE(out.frames.size() == 1);
    CHECK(out.frames[0].header.fin);
    CHECK(out.frames[0].header.op == opcode::text);
    CHECK_FALSE(out.frames[0].header.masked);
    CHECK(out.frames[0].payload == "Hello");
    CHECK(out.frames[0].message_end);
    CHECK(make_server_frame(opcode::text, "Hello") == wire);
}

TEST_CASE("RFC 6455 5.7: a single-frame masked text message") {
    const std::string wire = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    const auto out = parse_every_way(role::server, wire);
    REQUIRE_FALSE(out.error);
    REQUIRE(out.frames.size() == 1);
    CHECK(out.frames[0].header.masked);
    CHECK(out.frames[0].header.key == sample_key);
    CHECK(out.frames[0].payload == "Hello");
    CHECK(make_client_frame(opcode::text, "Hello", sample_key) == wire);
}

TEST_CASE("RFC 6455 5.7: a fragmented unmasked text message") {
    const std::string wire = "\x01\x03\x48\x65\x6c"s + "\x80\x02\x6c\x6f"s;
    const auto out = parse_every_way(role::client, wire);
    REQUIRE_FALSE(out.error);
    REQUIRE(out.frames.size() == 2);
    CHECK(out.frames[0].header.op == opcode::text);
    CHECK_FALSE(out.frames[0].header.fin);
    CHECK(out.frames[0].payload == "Hel");
    CHECK_FALSE(out.frames[0].message_end);
    CHECK(out.frames[1].header.op == opcode::continuation);
    CHECK(out.frames[1].payload == "lo");
    CHECK(out.frames[1].message_end);
    CHECK(make_server_frame(opcode::text, "Hel", false) + make_server_frame(opcode::continuation, "lo") == wire);
}

TEST_CASE("RFC 6455 5.7: an unmasked ping and a masked pong") {
    const auto ping = parse_every_way(role::client, "\x89\x05\x48\x65\x6c\x6c\x6f");
    REQUIRE(ping.frames.size() == 1);
    CHECK(ping.frames[0].header.op == opcode::ping);
    CHECK(ping.frames[0].payload == "Hello");
    const auto pong = parse_every_way(role::server, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    REQUIRE(pong.frames.size() == 1);
    CHECK(pong.frames[0].header.op == opcode::pong);
    CHECK(pong.frames[0].payload == "Hello");
}

TEST_CASE("RFC 6455 5.7: 256 bytes of binary data use the 16-bit length") {
    const std::string body(256, '\x5a');
    const std::string wire = "\x82\x7e\x01\x00"s + body;
    CHECK(make_server_frame(opcode::binary, body) == wire);
    const auto out = parse_every_way(role::client, wire);
    REQUIRE(out.frames.size() == 1);
    CHECK(out.frames[0].header.length_bits == 16);
    CHECK(out.frames[0].header.payload_length == 256);
    CHECK(out.frames[0].payload == body);
}

TEST_CASE("RFC 6455 5.7: 64 KiB of binary data use the 64-bit length") {
    const std::string body(65536, '\x01');
    const std::string wire = "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"s + body;
    CHECK(make_server_frame(opcode::binary, body) == wire);
    const auto out = parse_in_chunks(role::client, wire, 1000);
    REQUIRE(out.frames.size() == 1);
    CHECK(out.frames[0].header.length_bits == 64);
    CHECK(out.frames[0].payload == body);
}

// ---- lengths ---------------------------------------------------------------------------------------------

TEST_CASE("lengths at the encoding boundaries round-trip through encoder and parser") {
    for (std::size_t len : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
        INFO("length " << len);
        const std::string body(len, 'q');
        const std::string wire = masked(opcode::binary, body);
        const std::size_t expected_header = (len < 126 ? 2 : len <= 65535 ? 4 : 10) + 4;
        CHECK(wire.size() == expected_header + len);
        const auto out = parse_in_chunks(role::server, wire, 4093);
        REQUIRE_FALSE(out.error);
        REQUIRE(out.frames.size() == 1);
        CHECK(out.frames[0].header.length_bits == (len < 126 ? 7 : len <= 65535 ? 16 : 64));
        CHECK(out.frames[0].payload == body);
        CHECK(out.frames[0].complete);
    }
}

TEST_CASE("an empty data frame yields one empty, final payload piece") {
    frame_parser p(role::client);
    std::string wire = make_server_frame(opcode::text, "");
    const auto h = p.next(std::span<char>(wire));
    CHECK(h.status == parse_status::header);
    CHECK(h.consumed == 2);
    const auto body = p.next(std::span<char>(wire).subspan(2));
    CHECK(body.status == parse_status::payload);
    CHECK(body.payload.empty());
    CHECK(body.message_end);
}

TEST_CASE("a partial header is not consumed until it is complete") {
    frame_parser p(role::server);
    std::string wire = masked(opcode::binary, std::string(300, 'x'));
    for (std::size_t n = 0; n < 8; ++n) {  // 2 + 2 length + 4 key
        const auto r = p.next(std::span<char>(wire).first(n));
        CHECK(r.status == parse_status::need_more);
        CHECK(r.consumed == 0);
    }
    CHECK(p.next(std::span<char>(wire).first(8)).consumed == 8);
}

// ---- violations ------------------------------------------------------------------------------------------

TEST_CASE("RSV bits without a negotiated extension fail with 1002") {
    for (int bits : {0x40, 0x20, 0x10}) {
        INFO("first byte " << (0x81 | bits));
        CHECK(error_of(role::client, std::string(1, static_cast<char>(0x81 | bits)) + "\x00"s) ==
              close_code::protocol_error);
    }
}

TEST_CASE("an RSV bit a negotiated extension allows is passed through") {
    const auto out = parse_every_way(role::client, "\xc2\x01\x00"s, {.allowed_rsv = rsv1});
    REQUIRE_FALSE(out.error);
    CHECK(out.frames[0].header.rsv == rsv1);
    SECTION("but never on a control frame") {
        CHECK(error_of(role::client, "\xc9\x00"s, {.allowed_rsv = rsv1}) == close_code::protocol_error);
    }
}

TEST_CASE("unknown opcodes fail with 1002") {
    for (int op : {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf}) {
        INFO("opcode " << op);
        CHECK(error_of(role::client, std::string(1, static_cast<char>(0x80 | op)) + "\x00"s) == close_code::protocol_error);
    }
}

TEST_CASE("a server fails an unmasked client frame with 1002") {
    CHECK(error_of(role::server, make_server_frame(opcode::text, "hi")) == close_code::protocol_error);
}

TEST_CASE("a client fails a masked server frame with 1002") {
    CHECK(error_of(role::client, masked(opcode::text, "hi")) == close_code::protocol_error);
}

TEST_CASE("a control frame over 125 bytes fails with 1002 as soon as its length byte arrives") {
    CHECK(error_of(role::client, "\x89\x7e"s) == close_code::protocol_error);
    CHECK(error_of(role::client, "\x8a\x7f"s) == close_code::protocol_error);
}

TEST_CASE("a fragmented control frame fails with 1002") {
    CHECK(error_of(role::client, "\x09\x00"s) == close_code::protocol_error);
    CHECK(error_of(role::client, "\x08\x00"s) == close_code::protocol_error);
}

TEST_CASE("a 64-bit length with the most significant bit set fails with 1002") {
    CHECK(error_of(role::client, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"s) == close_code::protocol_error);
}

TEST_CASE("a non-minimal length encoding fails with 1002 unless allowed") {
    const std::string sixteen = "\x82\x7e\x00\x05hello"s;
    const std::string sixty_four = "\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff"s + std::string(65535, 'x');
    CHECK(error_of(role::client, sixteen) == close_code::protocol_error);
    CHECK(error_of(role::client, sixty_four.substr(0, 10)) == close_code::protocol_error);
    SECTION("allowed when the option says so") {
        const auto out = parse_every_way(role::client, sixteen, {.allow_non_minimal_length = true});
        REQUIRE_FALSE(out.error);
        CHECK(out.frames[0].payload == "hello");
        CHECK(out.frames[0].header.length_bits == 16);
        CHECK_FALSE(parse_in_chunks(role::client, sixty_four, 5000, {.allow_non_minimal_length = true}).error);
    }
}

TEST_CASE("a continuation frame with no message to continue fails with 1002") {
    CHECK(error_of(role::client, "\x80\x02lo"s) == close_code::protocol_error);
    SECTION("also right after a complete message") {
        CHECK(error_of(role::client, make_server_frame(opcode::text, "done") + "\x80\x00"s) ==
              close_code::protocol_error);
    }
}

TEST_CASE("a new data frame inside a fragmented message fails with 1002") {
    const std::string wire = make_server_frame(opcode::text, "Hel", false) + make_server_frame(opcode::binary, "x");
    const auto out = parse_every_way(role::client, wire);
    CHECK(out.error == close_code::protocol_error);
    CHECK(out.frames.size() == 1);  // the first frame was delivered; the second never got a header event
}

TEST_CASE("invalid UTF-8 in a text message fails with 1007") {
    CHECK(error_of(role::client, make_server_frame(opcode::text, "bad \xff byte")) == close_code::invalid_payload);
    SECTION("binary messages are not checked") {
        CHECK_FALSE(error_of(role::client, make_server_frame(opcode::binary, "bad \xff byte")));
    }
}

TEST_CASE("UTF-8 is checked across fragments and fails at the fragment where it breaks") {
    // "€" is E2 82 AC: split across frames is fine, a surrogate started in frame 2 fails there, before frame 3.
    const std::string good = make_server_frame(opcode::text, "a\xe2", false) +
                             make_server_frame(opcode::continuation, "\x82", false) +
                             make_server_frame(opcode::continuation, "\xac!");
    const auto ok = parse_every_way(role::client, good);
    REQUIRE_FALSE(ok.error);
    CHECK(ok.frames.size() == 3);

    const std::string bad = make_server_frame(opcode::text, "ok", false) +
                            make_server_frame(opcode::continuation, "\xed\xa0", false) +
                            make_server_frame(opcode::continuation, "\x80 tail");
    const auto out = parse_every_way(role::client, bad);
    CHECK(out.error == close_code::invalid_payload);
    CHECK(out.frames.size() == 2);
}

TEST_CASE("a text message that ends inside a UTF-8 sequence fails with 1007 at its last frame") {
    CHECK(error_of(role::client, make_server_frame(opcode::text, "caf\xc3")) == close_code::invalid_payload);
    const std::string wire = make_server_frame(opcode::text, "caf\xc3", false) + make_server_frame(opcode::continuation, "");
    CHECK(error_of(role::client, wire) == close_code::invalid_payload);
}

TEST_CASE("a message over the size limit fails with 1009 from its header, before any payload") {
    frame_parser_options small{.max_message_size = 100};
    const std::string too_big = masked(opcode::binary, std::string(101, 'x'));
    CHECK(error_of(role::server, too_big.substr(0, 8), small) == close_code::message_too_big);
    CHECK_FALSE(error_of(role::server, masked(opcode::binary, std::string(100, 'x')), small));
    SECTION("the limit counts all fragments of a message") {
        const std::string wire = masked(opcode::text, std::string(60, 'a'), false) +
                                 masked(opcode::continuation, std::string(41, 'b'));
        const auto out = parse_every_way(role::server, wire, small);
        CHECK(out.error == close_code::message_too_big);
        CHECK(out.frames.size() == 1);
    }
    SECTION("each message starts counting afresh") {
        const std::string wire = masked(opcode::text, std::string(60, 'a')) + masked(opcode::text, std::string(60, 'b'));
        CHECK_FALSE(error_of(role::server, wire, small));
    }
    SECTION("the default limit is 1 MiB") {
        CHECK(error_of(role::client, "\x82\x7f\x00\x00\x00\x00\x00\x10\x00\x01"s) == close_code::message_too_big);
        CHECK_FALSE(error_of(role::client, "\x82\x7f\x00\x00\x00\x00\x00\x10\x00\x00"s));
    }
}

TEST_CASE("close frame payload rules") {
    SECTION("a 1-byte close payload fails with 1002") {
        CHECK(error_of(role::client, "\x88\x01\x03"s) == close_code::protocol_error);
    }
    SECTION("close codes that may not be on the wire fail with 1002") {
        for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
            INFO("code " << code);
            const std::string body{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
            CHECK(error_of(role::client, make_server_frame(opcode::close, body)) == close_code::protocol_error);
        }
    }
    SECTION("close codes valid on the wire are accepted") {
        for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
            INFO("code " << code);
            const std::string body{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
            CHECK_FALSE(error_of(role::client, make_server_frame(opcode::close, body)));
        }
    }
    SECTION("a reason that is not UTF-8 fails with 1007") {
        CHECK(error_of(role::client, make_server_frame(opcode::close, "\x03\xe8\xc0\xaf")) == close_code::invalid_payload);
    }
    SECTION("an empty close payload is accepted") {
        const auto out = parse_every_way(role::server, masked(opcode::close, ""));
        REQUIRE_FALSE(out.error);
        CHECK(out.frames[0].header.op == opcode::close);
    }
}

TEST_CASE("anything after a Close frame fails with 1002") {
    frame_parser p(role::client);
    std::string wire = make_server_frame(opcode::close, close_payload(close_code::normal)) +
                       make_server_frame(opcode::text, "late");
    p.parse(std::span<char>(wire), [](const parse_result&) {});
    CHECK(p.failed());
    CHECK(p.error_code() == close_code::protocol_error);
    SECTION("but nothing at all is fine") {
        frame_parser q(role::client);
        std::string close_only = make_server_frame(opcode::close, "");
        q.parse(std::span<char>(close_only), [](const parse_result&) {});
        CHECK(q.close_received());
        CHECK_FALSE(q.failed());
    }
}

TEST_CASE("a failed parser stays failed and consumes nothing more") {
    frame_parser p(role::client);
    std::string wire = "\x83\x00"s;
    CHECK(p.next(std::span<char>(wire)).status == parse_status::error);
    CHECK_FALSE(p.error_reason().empty());
    std::string good = make_server_frame(opcode::text, "x");
    const auto r = p.next(std::span<char>(good));
    CHECK(r.status == parse_status::error);
    CHECK(r.consumed == 0);
    p.reset();
    CHECK(p.next(std::span<char>(good)).status == parse_status::header);
}

// ---- control frames inside fragmented messages (§5.4) ----------------------------------------------------

TEST_CASE("control frames may be interleaved with the fragments of a message") {
    const std::string wire = masked(opcode::text, "Hel", false) + masked(opcode::ping, "p1") +
                             masked(opcode::continuation, "l", false) + masked(opcode::pong, "") +
                             masked(opcode::continuation, "o");
    const auto out = parse_every_way(role::server, wire);
    REQUIRE_FALSE(out.error);
    REQUIRE(out.frames.size() == 5);
    CHECK(out.frames[1].header.op == opcode::ping);
    CHECK(out.frames[1].payload == "p1");
    CHECK(out.frames[4].payload == "o");
    CHECK(out.frames[4].message_end);
}

TEST_CASE("a control frame is delivered whole, only once all its bytes are present") {
    frame_parser p(role::server);
    std::string wire = masked(opcode::ping, "12345");
    CHECK(p.next(std::span<char>(wire)).consumed == 6);
    auto rest = std::span<char>(wire).subspan(6);
    for (std::size_t n = 0; n < 5; ++n) CHECK(p.next(rest.first(n)).status == parse_status::need_more);
    const auto r = p.next(rest);
    CHECK(r.status == parse_status::payload);
    CHECK(r.payload == "12345");
    CHECK(r.consumed == 5);
}

// ---- masking (§5.3) ----------------------------------------------------------------------------------------

TEST_CASE("masking matches a byte-at-a-time reference at every key offset, alignment and split point") {
    const mask_key key{0x01, 0x9c, 0x5e, 0xf3};
    std::string original;
    for (int i = 0; i < 83; ++i) original.push_back(static_cast<char>(i * 37 + 11));
    alignas(8) char storage[128];
    for (std::size_t offset = 0; offset < 4; ++offset)
        for (std::size_t misalign = 0; misalign < 8; ++misalign)
            for (std::size_t cut = 0; cut <= original.size(); cut += 1) {
                std::string expected = original;
                naive_mask(expected, key, offset);
                std::copy(original.begin(), original.end(), storage + misalign);
                std::span<char> data(storage + misalign, original.size());
                const std::size_t next = apply_mask(data.first(cut), key, offset);
                CHECK(next == (offset + cut) % 4);
                apply_mask(data.subspan(cut), key, next);
                REQUIRE(std::string(data.data(), data.size()) == expected);
            }
}

TEST_CASE("masking twice restores the data") {
    std::string data = "any payload at all, long enough for the word loop";
    const std::string copy = data;
    apply_mask(std::span<char>(data), sample_key, 2);
    CHECK(data != copy);
    apply_mask(std::span<char>(data), sample_key, 2);
    CHECK(data == copy);
}

TEST_CASE("a masked payload split at odd points is unmasked correctly") {
    std::string body;
    for (int i = 0; i < 1000; ++i) body.push_back(static_cast<char>('a' + i % 26));
    const std::string wire = make_client_frame(opcode::text, body, {0xde, 0xad, 0xbe, 0xef});
    for (std::size_t chunk : {1, 2, 3, 5, 13, 127, 999}) {
        const auto out = parse_in_chunks(role::server, wire, chunk);
        REQUIRE(out.frames.size() == 1);
        CHECK(out.frames[0].payload == body);
    }
}

// ---- encoder ---------------------------------------------------------------------------------------------

TEST_CASE("frame headers are 2 to 14 bytes") {
    CHECK(encode_frame_header({.payload_length = 125}).size == 2);
    CHECK(encode_frame_header({.payload_length = 126}).size == 4);
    CHECK(encode_frame_header({.payload_length = 65536}).size == 10);
    CHECK(encode_frame_header({.masked = true, .payload_length = 65536}).size == 14);
}

TEST_CASE("the encoder refuses headers no peer would accept") {
    CHECK_THROWS_AS(encode_frame_header({.op = opcode::ping, .payload_length = 126}), std::invalid_argument);
    CHECK_THROWS_AS(encode_frame_header({.fin = false, .op = opcode::close}), std::invalid_argument);
    CHECK_THROWS_AS(encode_frame_header({.payload_length = std::uint64_t{1} << 63}), std::invalid_argument);
    CHECK_THROWS_AS(encode_frame_header({.op = static_cast<opcode>(3)}), std::invalid_argument);
    CHECK_THROWS_AS(encode_frame_header({.rsv = 8}), std::invalid_argument);
    CHECK_THROWS_AS(make_server_frame(opcode::ping, std::string(126, 'x')), std::invalid_argument);
}

TEST_CASE("close payloads carry the code in network byte order and the reason") {
    CHECK(close_payload(close_code::normal) == "\x03\xe8"s);
    CHECK(close_payload(close_code{4001}, "bye") == "\x0f\xa1" "bye"s);
    const std::string body = close_payload(close_code::going_away, "restart");
    const auto info = parse_close_payload(body);  // views into body
    REQUIRE(info);
    CHECK(info->code == close_code::going_away);
    CHECK(info->reason == "restart");
    CHECK(parse_close_payload("")->code == close_code::no_status_received);
    CHECK_FALSE(parse_close_payload("\x03"));
}

TEST_CASE("close payloads refuse reserved codes, long reasons and invalid UTF-8") {
    for (close_code c : {close_code::no_status_received, close_code::abnormal_closure, close_code::tls_handshake,
                         close_code{999}, close_code{2000}, close_code{5000}}) {
        INFO("code " << to_underlying(c));
        CHECK_THROWS_AS(close_payload(c), std::invalid_argument);
    }
    CHECK_THROWS_WITH(close_payload(close_code::no_status_received), Catch::Contains("1005"));
    CHECK_NOTHROW(close_payload(close_code::normal, std::string(123, 'r')));
    CHECK_THROWS_WITH(close_payload(close_code::normal, std::string(124, 'r')), Catch::Contains("123"));
    CHECK_THROWS_WITH(close_payload(close_code::normal, "\xff"), Catch::Contains("UTF-8"));
}

TEST_CASE("append_frame builds several frames into one buffer") {
    std::string out;
    append_frame(out, opcode::text, "a", false);
    append_frame(out, opcode::continuation, "b");
    CHECK(out == "\x01\x01" "a" "\x80\x01" "b"s);
}

// ---- message assembler -----------------------------------------------------------------------------------

TEST_CASE("the assembler reassembles fragments and passes control frames through in order") {
    const std::string wire = masked(opcode::text, "Hel", false) + masked(opcode::ping, "p") +
                             masked(opcode::continuation, "lo") + masked(opcode::binary, "\x00\x01"s) +
                             masked(opcode::close, close_payload(close_code::normal, "done"));
    for (std::size_t chunk : {1, 2, 5, 1000}) {
        INFO("chunk " << chunk);
        message_assembler a(role::server);
        std::vector<std::pair<opcode, std::string>> got;
        for (std::size_t i = 0; i < wire.size(); i += chunk) {
            a.append(std::string_view(wire).substr(i, chunk));
            for (auto m = a.next(); m.status == assemble_status::message; m = a.next())
                got.emplace_back(m.op, std::string(m.payload));
        }
        REQUIRE(got.size() == 4);
        CHECK(got[0] == std::pair{opcode::ping, "p"s});
        CHECK(got[1] == std::pair{opcode::text, "Hello"s});
        CHECK(got[2] == std::pair{opcode::binary, "\x00\x01"s});
        CHECK(got[3].first == opcode::close);
        CHECK(parse_close_payload(got[3].second)->reason == "done");
        CHECK(a.buffered_size() == 0);
    }
}

TEST_CASE("the assembler reports violations with the parser's close code") {
    message_assembler a(role::server, {.max_message_size = 4});
    a.append(masked(opcode::text, "too long"));
    CHECK(a.next().status == assemble_status::error);
    CHECK(a.parser().error_code() == close_code::message_too_big);
}
