// A server topic's wire formats (tether/topic.hpp) for text and for binary messages: the polling JSON,
// the enveloped WebSocket frame, the SSE blocks and the raw frame, each read back the way a client
// reads it; text that is not UTF-8 refused before anything is published; and formats built only when
// someone reads them.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/core/base64.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/hub/topic.hpp>
#include <tether/topic.hpp>
#include <tether/ws/frame.hpp>

namespace hub = tether::hub;
using namespace std::string_literals;
using tether::net::topic_format;

namespace {

std::shared_ptr<hub::topic> server_topic(std::string name, hub::content type = hub::content::text,
                                         std::shared_ptr<std::atomic<std::uint64_t>> compressions = {}) {
    return std::make_shared<hub::topic>(name, tether::detail::server_formats(name, std::move(compressions)),
                                        hub::topic_options{.capacity = 16, .lazy_formats = true,
                                                           .default_content = type, .text_must_be_utf8 = true});
}

std::string_view format_of(const hub::topic& t, std::uint64_t sequence, topic_format f) {
    auto r = t.read(sequence);
    REQUIRE(r.state == hub::ring::slot_state::ready);
    return t.encoding(*r.message, static_cast<std::size_t>(f));
}

// One whole unmasked frame, as a client's codec reads it.
struct frame {
    tether::ws::opcode op;
    std::string payload;
};
frame read_frame(std::string_view wire) {
    std::string copy(wire);
    tether::ws::frame_parser p(tether::ws::role::client);
    auto h = p.next(std::span<char>(copy));
    REQUIRE(h.status == tether::ws::parse_status::header);
    frame f{p.header().op, {}};
    auto body = p.next(std::span<char>(copy).subspan(h.consumed));
    if (p.header().payload_length != 0) {
        REQUIRE(body.status == tether::ws::parse_status::payload);
        REQUIRE(body.message_end);
        f.payload.assign(body.payload);
        REQUIRE(h.consumed + body.consumed == copy.size());
    }
    return f;
}

struct envelope {
    std::string topic, id, data, encoding;
};
envelope read_envelope(std::string_view json) {
    INFO(json);
    return tether::json::parse(json, [](simdjson::ondemand::document& doc) {
        auto obj = tether::json::as<simdjson::ondemand::object>(doc, "envelope");
        envelope e;
        e.topic = tether::json::field<std::string>(obj, "topic");
        e.id = tether::json::field<std::string>(obj, "id");
        e.data = tether::json::optional_field<std::string>(obj, "data").value_or("");
        e.encoding = tether::json::optional_field<std::string>(obj, "encoding").value_or("");
        return e;
    });
}

// Every byte value, twice, and the bytes that trip text encodings: NUL, CR, LF, '"', invalid UTF-8.
std::string all_bytes() {
    std::string b;
    for (int round = 0; round < 2; ++round)
        for (int i = 0; i < 256; ++i) b.push_back(static_cast<char>(i));
    return b;
}

} // namespace

TEST_CASE("a binary message is byte-exact in a binary WebSocket frame, after a JSON header naming topic and id", "[topic][binary]") {
    auto t = server_topic("frames", hub::content::binary);
    const std::string body = all_bytes();
    auto seq = t->publish(body);
    auto f = read_frame(format_of(*t, seq, topic_format::ws_frame));
    CHECK(f.op == tether::ws::opcode::binary);
    auto lf = f.payload.find('\n');
    REQUIRE(lf != std::string::npos);
    auto head = read_envelope(std::string_view(f.payload).substr(0, lf));
    CHECK(head.topic == "frames");
    CHECK(head.id == hub::to_string(t->position()));
    CHECK(head.data.empty());
    CHECK(f.payload.substr(lf + 1) == body);
}

TEST_CASE("a raw frame is the body alone, binary or text as published", "[topic][binary]") {
    auto t = server_topic("frames", hub::content::binary);
    const std::string body = all_bytes();
    auto raw = read_frame(format_of(*t, t->publish(body), topic_format::ws_raw));
    CHECK(raw.op == tether::ws::opcode::binary);
    CHECK(raw.payload == body);
    auto text = read_frame(format_of(*t, t->publish("κόσμε", hub::content::text), topic_format::ws_raw));
    CHECK(text.op == tether::ws::opcode::text);
    CHECK(text.payload == "κόσμε");
    auto empty = read_frame(format_of(*t, t->publish(""), topic_format::ws_raw));
    CHECK(empty.op == tether::ws::opcode::binary);
    CHECK(empty.payload.empty());
}

TEST_CASE("polling JSON carries binary as base64 and says so; text as a JSON string", "[topic][binary]") {
    auto t = server_topic("mixed");
    const std::string body = all_bytes();
    auto b = read_envelope(format_of(*t, t->publish(body, hub::content::binary), topic_format::poll_json));
    CHECK(b.topic == "mixed");
    CHECK(b.encoding == "base64");
    CHECK(b.data == tether::core::base64_encode(body));
    CHECK(tether::core::base64_decode(b.data) == body);
    auto text = read_envelope(format_of(*t, t->publish("line\n\"quoted\"\x01"), topic_format::poll_json));
    CHECK(text.encoding.empty());
    CHECK(text.data == "line\n\"quoted\"\x01");
    auto ws_text = read_frame(format_of(*t, 2, topic_format::ws_frame));
    CHECK(ws_text.op == tether::ws::opcode::text);
    CHECK(read_envelope(ws_text.payload).data == "line\n\"quoted\"\x01");
}

TEST_CASE("SSE blocks carry binary as base64 under an encoding field EventSource ignores", "[topic][binary]") {
    auto t = server_topic("frames", hub::content::binary);
    const std::string body = "\x00\xff\n\r bytes"s;
    auto seq = t->publish(body);
    CHECK(format_of(*t, seq, topic_format::sse_block) ==
          "event: frames\nencoding: base64\ndata: " + tether::core::base64_encode(body) + "\n\n");
    const std::string id = hub::to_string(t->position());
    const std::string block = "id: " + id + "\nevent: frames\nencoding: base64\ndata: " + tether::core::base64_encode(body) + "\n\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", block.size());
    CHECK(format_of(*t, seq, topic_format::sse_chunk) == std::string(size) + "\r\n" + block + "\r\n");
    // Text is unchanged: the body as data lines.
    CHECK(format_of(*t, t->publish("a\nb", hub::content::text), topic_format::sse_block) == "event: frames\ndata: a\ndata: b\n\n");
}

TEST_CASE("text that is not UTF-8 is refused before a sequence is claimed; the same bytes publish as binary", "[topic][binary]") {
    auto t = server_topic("news");
    const std::string invalid = "ok \xC0\xAF \xED\xA0\x80";
    CHECK_THROWS_AS(t->publish(invalid), std::invalid_argument);
    CHECK_THROWS_AS(t->publish(invalid, hub::content::text), std::invalid_argument);
    CHECK(t->next_sequence() == 1);
    auto seq = t->publish(invalid, hub::content::binary);
    CHECK(seq == 1);
    auto raw = read_frame(format_of(*t, seq, topic_format::ws_raw));
    CHECK(raw.op == tether::ws::opcode::binary);
    CHECK(raw.payload == invalid);
    // A plain hub topic (no such promise) takes any bytes as text.
    hub::topic plain("plain");
    CHECK_NOTHROW(plain.publish(invalid));
}

TEST_CASE("a server topic encodes at publish only the formats someone subscribes in; the rest are never built unless read", "[topic][lazy]") {
    auto compressions = std::make_shared<std::atomic<std::uint64_t>>(0);
    auto t = server_topic("news", hub::content::text, compressions);
    auto counts = t->subscribers_by_format();
    auto seq = t->publish("nobody listens");
    {
        auto m = t->read(seq).message;
        for (std::size_t f = 0; f < t->format_count(); ++f) CHECK_FALSE(m->has_encoding(f));
    }
    // Someone on the raw WebSocket form: only ws_raw is built at publish.
    counts[static_cast<std::size_t>(topic_format::ws_raw)].fetch_add(1);
    seq = t->publish("raw only");
    auto m = t->read(seq).message;
    for (std::size_t f = 0; f < t->format_count(); ++f)
        CHECK(m->has_encoding(f) == (f == static_cast<std::size_t>(topic_format::ws_raw)));
    // Reading another format builds it then, once.
    auto poll = t->encoding(*m, static_cast<std::size_t>(topic_format::poll_json));
    CHECK(read_envelope(poll).data == "raw only");
    CHECK(m->has_encoding(static_cast<std::size_t>(topic_format::poll_json)));
    CHECK_FALSE(m->has_encoding(static_cast<std::size_t>(topic_format::ws_frame)));
    CHECK(t->encoding(*m, static_cast<std::size_t>(topic_format::poll_json)).data() == poll.data());
    // Nobody on permessage-deflate: nothing was compressed, at publish or since.
    CHECK(compressions->load() == 0);
    counts[static_cast<std::size_t>(topic_format::ws_raw)].fetch_sub(1);
    // A compressed subscriber: one compression per message for its format, the other deflate format untouched.
    counts[static_cast<std::size_t>(topic_format::ws_deflate)].fetch_add(1);
    auto third = t->read(t->publish(std::string(200, 'a'))).message;
    CHECK(compressions->load() == 1);
    CHECK(third->has_encoding(static_cast<std::size_t>(topic_format::ws_deflate)));
    CHECK_FALSE(third->has_encoding(static_cast<std::size_t>(topic_format::ws_deflate_small)));
    CHECK_FALSE(third->has_encoding(static_cast<std::size_t>(topic_format::ws_raw)));
    counts[static_cast<std::size_t>(topic_format::ws_deflate)].fetch_sub(1);
}

TEST_CASE("a binary message compressed for permessage-deflate is a compressed binary frame of the binary envelope", "[topic][binary]") {
    if (!tether::ws::deflate_available) return;   // built without zlib: no compressed formats to check
    auto t = server_topic("frames", hub::content::binary);
    const std::string body(300, '\x01');   // compressible
    auto seq = t->publish(body);
    std::string copy(format_of(*t, seq, topic_format::ws_deflate));
    tether::ws::frame_parser p(tether::ws::role::client, {.allowed_rsv = tether::ws::rsv1});
    auto h = p.next(std::span<char>(copy));
    REQUIRE(h.status == tether::ws::parse_status::header);
    CHECK(p.header().op == tether::ws::opcode::binary);
    CHECK(p.header().rsv == tether::ws::rsv1);
    CHECK(p.header().payload_length < body.size());
}
