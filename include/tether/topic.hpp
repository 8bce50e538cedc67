#pragma once
// tether::topic<Policy>: what the application publishes to. One topic reaches every subscriber
// on every transport: it encodes each message once per wire format (a JSON object for polling,
// an unmasked WebSocket frame, an SSE event block) and the I/O threads fan the shared bytes out.
// Formats are built lazily: only those with a subscriber at publish time, any other on first read.
//
//   auto prices = app.topic<tether::backpressure::conflate>("prices");
//   prices.publish(R"({"sym":"ACME","px":12.5})", "ACME");   // any thread, lock-free
//   auto frames = app.topic("frames", {.content = tether::content::binary});
//   frames.publish(bytes);                                    // binary: byte-exact over WebSocket
//
// A message body is bytes, published as text (UTF-8, the default; anything else is refused with
// std::invalid_argument) or binary (a topic's default, or per publish). The formats, by index
// (net::topic_format):
//
//   poll_json  {"topic":"t","id":"<cursor>","data":"<text>"}; binary: "data" is base64 and
//              "encoding":"base64" says so. Polling answers, and the events of a stream of
//              client-named topics (server/topic_access.hpp).
//   ws_frame   the enveloped WebSocket form: text as a text frame of poll_json's object; binary as
//              a binary frame holding {"topic":"t","id":"<cursor>"}, a line feed, then the body's
//              bytes as published (the header is JSON, so it never holds a raw line feed).
//   sse_block  "event: <topic>" and the body as data lines; binary adds "encoding: base64" (a field
//              EventSource ignores, WHATWG HTML §9.2.6) and sends base64 as the data.
//   sse_chunk  the same with its id line, as one HTTP/1.1 chunk (single-topic streams).
//   ws_raw     the body alone, in a text or binary frame: what uWebSockets sends, for clients that
//              know their topic (no id, so no resume; see ws_connection's subscribe).
//
// Why the binary envelope is JSON then bytes, rather than a packed binary header: it is read with
// the same JSON code as every other message (one indexOf in a browser), it names its fields, and a
// field added later breaks no reader; it costs some 20 bytes more than a packed header, and clients
// that want no envelope at all take raw frames.
#include <algorithm>
#include <bit>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/base64.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/backpressure.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/hub/topic.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/sse/event.hpp>
#include <tether/ws/frame.hpp>

namespace tether {

namespace backpressure = hub::backpressure;
using hub::content;

// How a WebSocket subscription frames its messages: in the envelope (topic and id: what resuming
// needs), or raw, the body alone (net::topic_format::ws_raw) for clients that know their topic.
enum class framing : unsigned char { envelope, raw };

struct topic_options {
    // Messages kept for replay (and the fan-out queue's length): at least this many. The ring
    // indexes slots with a mask, so the size is rounded up to a power of two (1000 keeps 1024;
    // topic::history() says what was chosen), at least 2 and at most 2^30. Rounding up rather
    // than refusing keeps the promise the number makes ("at least 1000 back") at the cost of
    // holding up to twice the messages; a ring of any size would pay a division on every read.
    std::size_t history = 1024;
    std::size_t max_history_bytes = 64u << 20;    // bytes kept for replay (all encodings counted); 0: no cap
    hub::content content = hub::content::text;   // what publish(body) publishes; a publish may say otherwise
};

namespace detail {

// topic_options::history as the ring's capacity; throws std::invalid_argument past 2^30.
inline std::size_t history_capacity(std::size_t requested) {
    constexpr std::size_t max = std::size_t{1} << 30;
    if (requested > max) throw std::invalid_argument("tether: topic history above 2^30 messages");
    return std::bit_ceil(std::max<std::size_t>(requested, 2));
}

} // namespace detail

namespace detail {

// The envelope WebSocket subscribers and pollers get: {"topic":..,"id":..,"data":..}; binary data
// as base64 with "encoding":"base64".
inline void append_envelope(std::string& out, std::string_view topic, const hub::cursor& position, std::string_view body,
                            hub::content type = hub::content::text) {
    char id[hub::cursor_max_chars];
    std::string_view id_text(id, static_cast<std::size_t>(hub::format_cursor(position, id) - id));
    json::writer w(out);
    w.begin_object().member("topic", topic).member("id", id_text);
    if (type == hub::content::binary) {
        out.append(",\"data\":\"");   // base64 needs no escaping
        auto at = out.size();
        out.resize(at + core::base64_encoded_size(body.size()));
        core::base64_encode_to(body, out.data() + at);
        out.append("\",\"encoding\":\"base64\"}");
        return;
    }
    w.member("data", body).end_object();
}

// A binary message in the enveloped WebSocket form: {"topic":..,"id":..}, LF, the bytes.
inline void append_binary_envelope(std::string& out, std::string_view topic, const hub::cursor& position,
                                   std::string_view body) {
    char id[hub::cursor_max_chars];
    std::string_view id_text(id, static_cast<std::size_t>(hub::format_cursor(position, id) - id));
    json::writer(out).begin_object().member("topic", topic).member("id", id_text).end_object();
    out.push_back('\n');
    out.append(body);
}

// An SSE event of a topic stream: the body as data, or for binary its base64 under "encoding: base64".
inline void append_topic_event(std::string& out, std::string_view topic, std::string_view id, std::string_view body,
                               hub::content type) {
    if (type == hub::content::text) return sse::append_event(out, {.data = body, .type = topic, .id = id});
    sse::check_single_line(topic, "an event type", false);
    if (!id.empty()) sse::append_field(out, "id", id);
    sse::append_field(out, "event", topic);
    sse::append_field(out, "encoding", "base64");
    out.append("data: ");
    auto at = out.size();
    out.resize(at + core::base64_encoded_size(body.size()));
    core::base64_encode_to(body, out.data() + at);
    out.append("\n\n");
}

inline std::vector<hub::wire_format> server_formats(std::string topic_name) {
    std::vector<hub::wire_format> formats(5);
    formats[0] = {"poll", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      append_envelope(out, name, in.position, in.body, in.type);
                  }};
    formats[1] = {"ws", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      thread_local std::string envelope;
                      envelope.clear();
                      if (in.type == hub::content::binary) {
                          append_binary_envelope(envelope, name, in.position, in.body);
                          ws::append_frame(out, ws::opcode::binary, envelope);
                      } else {
                          append_envelope(envelope, name, in.position, in.body);
                          ws::append_frame(out, ws::opcode::text, envelope);
                      }
                      if (envelope.capacity() > 64 * 1024) std::string{}.swap(envelope);
                  }};
    // No id line: a stream may carry several topics, so each connection writes its own
    // composite id in front of these shared bytes.
    formats[2] = {"sse", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      append_topic_event(out, name, {}, in.body, in.type);
                  }};
    formats[3] = {"sse-chunk", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      char id[hub::cursor_max_chars];
                      std::string_view id_text(id, static_cast<std::size_t>(hub::format_cursor(in.position, id) - id));
                      thread_local std::string block;
                      block.clear();
                      append_topic_event(block, name, id_text, in.body, in.type);
                      http::response::append_chunk(out, block);
                      if (block.capacity() > 64 * 1024) std::string{}.swap(block);
                  }};
    formats[4] = {"ws-raw", [](const hub::encode_input& in, std::string& out) {
                      ws::append_frame(out, in.type == hub::content::binary ? ws::opcode::binary : ws::opcode::text, in.body);
                  }};
    return formats;
}

} // namespace detail

template <class Policy = backpressure::drop_oldest>
class topic {
public:
    using policy = Policy;

    // Any thread; never blocks. `key` names the value a conflating topic keeps the latest of.
    // Returns the message's sequence number. Publishes the topic's content (text unless opened with
    // .content = tether::content::binary); text that is not UTF-8 throws std::invalid_argument.
    std::uint64_t publish(std::string_view body, std::string_view key = {}) const { return topic_->publish(body, key); }
    // The same, saying whether this body is text or binary: frames.publish(bytes, tether::content::binary).
    std::uint64_t publish(std::string_view body, content type, std::string_view key = {}) const {
        return topic_->publish(body, type, key);
    }

    std::string_view name() const noexcept { return topic_->name(); }
    hub::cursor position() const noexcept { return topic_->position(); }
    hub::topic& core() const noexcept { return *topic_; }
    const hub::topic_handle& handle() const noexcept { return topic_; }
    hub::topic_stats stats() const noexcept { return topic_->stats(); }
    // Messages of history kept: topic_options::history rounded up to a power of two.
    std::size_t history() const noexcept { return topic_->capacity(); }

    explicit topic(hub::topic_handle t) : topic_(std::move(t)) {}

private:
    hub::topic_handle topic_;
};

} // namespace tether
