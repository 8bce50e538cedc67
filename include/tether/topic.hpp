#pragma once
// tether::topic<Policy>: what the application publishes to. One topic reaches every subscriber
// on every transport: it encodes each message once per wire format (a JSON object for polling,
// an unmasked WebSocket frame, an SSE event block) and the I/O threads fan the shared bytes out.
//
//   auto prices = app.topic<tether::backpressure::conflate>("prices");
//   prices.publish(R"({"sym":"ACME","px":12.5})", "ACME");   // any thread, lock-free
//
// Message bodies are text. Over WebSocket and polling they travel inside a small JSON envelope
// (topic, id, data as a JSON string); over SSE the body is the event's data and the topic its
// event type, with the cursor as the event id.
#include <algorithm>
#include <bit>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

struct topic_options {
    // Messages kept for replay (and the fan-out queue's length): at least this many. The ring
    // indexes slots with a mask, so the size is rounded up to a power of two (1000 keeps 1024;
    // topic::history() says what was chosen), at least 2 and at most 2^30. Rounding up rather
    // than refusing keeps the promise the number makes ("at least 1000 back") at the cost of
    // holding up to twice the messages; a ring of any size would pay a division on every read.
    std::size_t history = 1024;
    std::size_t max_history_bytes = 64u << 20;    // bytes kept for replay (all encodings counted); 0: no cap
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

// The envelope WebSocket subscribers and pollers get: {"topic":..,"id":..,"data":..}.
inline void append_envelope(std::string& out, std::string_view topic, const hub::cursor& position, std::string_view body) {
    char id[hub::cursor_max_chars];
    std::string_view id_text(id, static_cast<std::size_t>(hub::format_cursor(position, id) - id));
    json::writer(out).begin_object().member("topic", topic).member("id", id_text).member("data", body).end_object();
}

inline std::vector<hub::wire_format> server_formats(std::string topic_name) {
    std::vector<hub::wire_format> formats(4);
    formats[0] = {"poll", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      append_envelope(out, name, in.position, in.body);
                  }};
    formats[1] = {"ws", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      std::string envelope;
                      envelope.reserve(in.body.size() + name.size() + 64);
                      append_envelope(envelope, name, in.position, in.body);
                      ws::append_frame(out, ws::opcode::text, envelope);
                  }};
    // No id line: a stream may carry several topics, so each connection writes its own
    // composite id in front of these shared bytes.
    formats[2] = {"sse", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      sse::append_event(out, {.data = in.body, .type = name});
                  }};
    formats[3] = {"sse-chunk", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      char id[hub::cursor_max_chars];
                      std::string_view id_text(id, static_cast<std::size_t>(hub::format_cursor(in.position, id) - id));
                      std::string block;
                      block.reserve(in.body.size() + name.size() + 64);
                      sse::append_event(block, {.data = in.body, .type = name, .id = id_text});
                      http::response::append_chunk(out, block);
                  }};
    return formats;
}

} // namespace detail

template <class Policy = backpressure::drop_oldest>
class topic {
public:
    using policy = Policy;

    // Any thread; never blocks. `key` names the value a conflating topic keeps the latest of.
    // Returns the message's sequence number.
    std::uint64_t publish(std::string_view body, std::string_view key = {}) const { return topic_->publish(body, key); }

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
