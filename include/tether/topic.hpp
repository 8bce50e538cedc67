#pragma once
// tether::topic<Policy>: what the application publishes to. One topic reaches every subscriber
// on every transport: it encodes each message once per wire format (a JSON object for polling,
// an unmasked WebSocket frame, the same frame compressed for permessage-deflate subscribers, an
// SSE event block, the bare body in a frame) and the I/O threads fan the shared bytes out. Formats
// are built lazily: only those with a subscriber at publish time, any other on first read.
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
#include <asio.hpp>
#include <algorithm>
#include <atomic>
#include <bit>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/core/base64.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/backpressure.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/hub/topic.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/server/backplane.hpp>
#include <tether/sse/event.hpp>
#include <tether/ws/deflate_session.hpp>
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
    // Orders this topic across processes (e.g. tether::redis::backplane); nullptr: the server's default
    // (basic_server::use_backplane), else a local topic.
    tether::backplane* backplane = nullptr;
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

// The enveloped frame (text, or binary with the binary envelope) compressed for permessage-deflate
// (RFC 7692 §7.2.1) with a fresh window (broadcast frames never use context takeover: every
// subscriber's inflater can take them whatever it holds), RSV1 set; or the plain frame when deflate
// does not make it smaller. No threshold: the cost is paid once per message, not once per subscriber.
inline void append_deflated_frame(std::string& out, ws::opcode op, std::string_view envelope, std::uint8_t window_bits,
                                  std::atomic<std::uint64_t>* compressions) {
    if (ws::deflate_available && !envelope.empty()) {
        thread_local std::string compressed;
        compressed.clear();
        ws::compress_standalone(envelope, compressed, window_bits);
        if (compressions) compressions->fetch_add(1, std::memory_order_relaxed);
        if (compressed.size() < envelope.size()) {
            ws::append_frame(out, op, compressed, true, std::nullopt, ws::rsv1);
            if (compressed.capacity() > 64 * 1024) std::string{}.swap(compressed);
            return;
        }
    }
    ws::append_frame(out, op, envelope);
}

// The enveloped WebSocket message of `in` (its payload, before framing), and its opcode.
inline ws::opcode append_ws_envelope(std::string& out, std::string_view topic, const hub::encode_input& in) {
    if (in.type == hub::content::binary) {
        append_binary_envelope(out, topic, in.position, in.body);
        return ws::opcode::binary;
    }
    append_envelope(out, topic, in.position, in.body);
    return ws::opcode::text;
}

// `compressions`, when given, counts the messages the permessage-deflate formats compress.
inline std::vector<hub::wire_format> server_formats(std::string topic_name,
                                                    std::shared_ptr<std::atomic<std::uint64_t>> compressions = {}) {
    std::vector<hub::wire_format> formats(7);
    formats[0] = {"poll", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      append_envelope(out, name, in.position, in.body, in.type);
                  }};
    formats[1] = {"ws", [name = topic_name](const hub::encode_input& in, std::string& out) {
                      thread_local std::string envelope;
                      envelope.clear();
                      auto const op = append_ws_envelope(envelope, name, in);
                      ws::append_frame(out, op, envelope);
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
    formats[static_cast<std::size_t>(net::topic_format::ws_raw)] = {"ws-raw", [](const hub::encode_input& in, std::string& out) {
                      ws::append_frame(out, in.type == hub::content::binary ? ws::opcode::binary : ws::opcode::text, in.body);
                  }};
    for (auto [format, window_bits] : {std::pair{net::topic_format::ws_deflate, ws::max_window_bits},
                                       std::pair{net::topic_format::ws_deflate_small, ws::min_window_bits}}) {
        formats[static_cast<std::size_t>(format)] = {
            window_bits == ws::max_window_bits ? "ws-deflate" : "ws-deflate-small",
            // An init-capture: clang 14 cannot capture a structured binding by name (C++20 allows it).
            [name = topic_name, bits = window_bits, compressions](const hub::encode_input& in, std::string& out) {
                thread_local std::string envelope;
                envelope.clear();
                auto const op = append_ws_envelope(envelope, name, in);
                append_deflated_frame(out, op, envelope, bits, compressions.get());
                if (envelope.capacity() > 64 * 1024) std::string{}.swap(envelope);
            }};
    }
    return formats;
}

// A publish request carrying an Asio completion handler (see topic::async_publish).
template <class Handler>
class handler_request final : public hub::publish_request {
public:
    handler_request(std::string body, std::string key, Handler handler)
        : hub::publish_request(std::move(body), std::move(key)), handler_(std::move(handler)),
          work_(asio::prefer(asio::get_associated_executor(handler_), asio::execution::outstanding_work.tracked)) {}

    void complete(std::error_code error, hub::cursor stored_as) override {
        auto work = std::move(work_);
        asio::dispatch(work, [h = std::move(handler_), error, stored_as]() mutable { std::move(h)(error, stored_as); });
    }

private:
    Handler handler_;
    // Keeps the handler's execution context from running out of work while the backplane answers.
    std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                       asio::execution::outstanding_work.tracked))> work_;
};

template <class CompletionToken>
auto async_submit(hub::topic& topic, std::string_view body, std::string_view key, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code, hub::cursor)>(
        [&topic](auto handler, std::string body, std::string key) {
            using handler_type = decltype(handler);
            topic.submit(std::make_unique<handler_request<handler_type>>(std::move(body), std::move(key), std::move(handler)));
        },
        token, std::string(body), std::string(key));
}

} // namespace detail

// async_publish on a topic found by name (server.find_topic(name)->handle), whatever its policy.
template <class CompletionToken>
auto async_publish(hub::topic& topic, std::string_view body, std::string_view key, CompletionToken&& token) {
    return detail::async_submit(topic, body, key, std::forward<CompletionToken>(token));
}

template <class Policy = backpressure::drop_oldest>
class topic {
public:
    using policy = Policy;

    // Any thread; never blocks. `key` names the value a conflating topic keeps the latest of.
    // Returns the message's sequence number. Publishes the topic's content (text unless opened with
    // .content = tether::content::binary); text that is not UTF-8 throws std::invalid_argument. On a
    // topic ordered by a backplane this throws std::logic_error: only the backplane knows the
    // message's id, and only later (async_publish).
    std::uint64_t publish(std::string_view body, std::string_view key = {}) const { return topic_->publish(body, key); }
    // The same, saying whether this body is text or binary: frames.publish(bytes, tether::content::binary).
    std::uint64_t publish(std::string_view body, content type, std::string_view key = {}) const {
        return topic_->publish(body, type, key);
    }

    // Any thread. Publishes and completes with (error, id) in Asio's way: `token` is a callback, or
    // asio::use_future, asio::use_awaitable, ... (signature void(std::error_code, hub::cursor)).
    //   - a local topic publishes at once; the completion runs before this returns unless the
    //     handler has an associated executor, which it is then dispatched to;
    //   - a topic on a backplane completes once the backplane stored the message (or failed to: it
    //     never reports success otherwise), on the backplane's thread or the handler's executor.
    template <class CompletionToken>
    auto async_publish(std::string_view body, std::string_view key, CompletionToken&& token) const {
        return detail::async_submit(*topic_, body, key, std::forward<CompletionToken>(token));
    }
    template <class CompletionToken>
    auto async_publish(std::string_view body, CompletionToken&& token) const {
        return async_publish(body, {}, std::forward<CompletionToken>(token));
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
