#pragma once
// tether's JSON control protocol over WebSocket, for browser clients (app.pubsub):
//
//   client: {"type":"subscribe","topic":"t","since":"<id>"}   since optional (resume)
//           {"type":"subscribe","topic":"t","raw":true}       bodies alone, no envelope (below)
//           {"type":"unsubscribe","topic":"t"}
//           {"type":"publish","topic":"t","data":"text","ref":"r"}   only where can_publish allows;
//                                                            ref optional: ask for an answer
//           {"type":"publish","topic":"t","data":"<base64>","encoding":"base64"}   binary
//           {"type":"ping"}                                   answered with {"type":"pong"}
//   server: {"type":"subscribed","topic":"t","recovered":true|false,"id":"<id>"}
//           {"topic":"t","id":"<id>","data":"text"}          each message (text frame)
//           {"topic":"t","id":"<id>"} LF <bytes>             each binary message (binary frame)
//           {"type":"missed","topic":"t","first":"<id>","last":"<id>"}
//           {"type":"published","topic":"t","ref":"r","id":"<id>"}   a publish with a ref went out
//           {"type":"error","status":422,"message":"...","topic":"t","ref":"r"}   topic, ref when known
//
// An error's status uses HTTP's numbers for what went wrong, so a client handles a refusal the
// same way whether it published over this socket or over REST: 400 malformed message, 403 not
// allowed, 404 no such topic, 409 conflicts with a raw subscription, 413 larger than
// max_message_size, 422 (or anything) from prepare_publish, 429 too many subscriptions, 503 a
// publish the topic's backplane did not store (Redis unreachable: never "published" for a message
// that was not). checked_publish below is the one place a client's publish is judged, for this
// protocol and for the REST publish route of app.realtime (server/realtime.hpp).
//
// Raw subscriptions. {"raw":true} makes the topic's messages arrive as bare frames (text or binary
// as published, the body only: 66 bytes on the wire for a 64-byte body rather than 122 enveloped,
// for a topic named "bench"), for clients that know what they subscribed to. A bare frame names no
// topic, and a text one looks like the protocol's own text frames, so a raw subscription must be
// its connection's only one (409 otherwise, either way round); it is answered by the subscribed
// notice ("raw":true), after which the connection carries nothing but that topic's bodies and the
// answers to what the client itself sends. It has no ids, so no resume from where it was, and no
// "missed" notices.
//
// Who may do what: `authorize` runs before the handshake and fills the connection's user data
// from the request (a token, a cookie; see auth/jwt.hpp) or refuses it with http::error(401/403);
// `can_subscribe` and `can_publish` then see that user data with every topic asked for. A
// client is also bounded in what it can make the server do: messages and publishes per second
// (token buckets; past them the connection closes with 1008), and topics held at once.
#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tether/core/base64.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/core/token_bucket.hpp>
#include <tether/core/utf8.hpp>
#include <tether/http/error.hpp>
#include <tether/http/origin.hpp>
#include <tether/http/request.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/hub/notice.hpp>
#include <tether/hub/payload.hpp>
#include <tether/metrics/thread_metrics.hpp>
#include <tether/topic.hpp>
#include <tether/ws/behaviour.hpp>
#include <tether/ws/permessage_deflate.hpp>

namespace tether {

// A rule about topics, written either as `bool(std::string_view topic)` or, when it depends on
// who is asking, `bool(const UserData&, std::string_view topic)`.
template <class UserData>
class topic_rule {
public:
    topic_rule() = default;
    template <class F>
        requires std::invocable<F&, const UserData&, std::string_view>
    topic_rule(F f) : rule_(std::move(f)) {}
    template <class F>
        requires(std::invocable<F&, std::string_view> && !std::invocable<F&, const UserData&, std::string_view>)
    topic_rule(F f) : rule_([f = std::move(f)](const UserData&, std::string_view topic) mutable { return f(topic); }) {}

    explicit operator bool() const noexcept { return static_cast<bool>(rule_); }
    bool operator()(const UserData& user, std::string_view topic) const { return rule_(user, topic); }

private:
    std::function<bool(const UserData&, std::string_view)> rule_;
};

// How a client's publish becomes the body published: `std::string(std::string_view topic,
// std::string_view data)` or, when the body depends on who sent it (the sender's name taken from
// the connection's verified token rather than from the message, which anyone can write),
// `std::string(const UserData&, std::string_view topic, std::string_view data)`.
template <class UserData>
class publish_rule {
public:
    publish_rule() = default;
    template <class F>
        requires std::is_invocable_r_v<std::string, F&, const UserData&, std::string_view, std::string_view>
    publish_rule(F f) : rule_(std::move(f)) {}
    template <class F>
        requires(std::is_invocable_r_v<std::string, F&, std::string_view, std::string_view> &&
                 !std::is_invocable_r_v<std::string, F&, const UserData&, std::string_view, std::string_view>)
    publish_rule(F f)
        : rule_([f = std::move(f)](const UserData&, std::string_view topic, std::string_view data) mutable {
              return f(topic, data);
          }) {}

    explicit operator bool() const noexcept { return static_cast<bool>(rule_); }
    std::string operator()(const UserData& user, std::string_view topic, std::string_view data) const {
        return rule_(user, topic, data);
    }

private:
    std::function<std::string(const UserData&, std::string_view, std::string_view)> rule_;
};

template <class UserData = ws::no_user_data>
struct pubsub_options {
    // Before the handshake: fill the user data from the request or throw http::error(401/403).
    std::function<void(const http::request&, UserData&)> authorize{};
    topic_rule<UserData> can_subscribe{};   // default: every open topic
    topic_rule<UserData> can_publish{};     // default: none
    // Checks a client's publish before it reaches the topic and returns the body to publish (the
    // data as sent, or re-encoded); throws http::error (say 422) or json::parse_error (400) to
    // refuse. Runs for WebSocket publishes and app.realtime's REST publish route alike, so a
    // message is judged by one rule whichever way it came. Default: publish the data as sent.
    // It may take the sender's user data first (publish_rule above).
    publish_rule<UserData> prepare_publish{};
    http::origin_policy origins{};          // default: same origin, and non-browser clients
    std::size_t max_message_size = 64 * 1024;
    std::size_t max_subscriptions = 256;                 // topics one connection holds at once
    rate_limit max_message_rate{.per_second = 200, .burst = 400};   // any control message; 1008 past it
    rate_limit max_publish_rate{.per_second = 50, .burst = 100};    // publishes; 1008 past it
    // permessage-deflate (RFC 7692; off by default): topic messages then go out as one compressed frame
    // per message, shared by every subscriber (see ws/behaviour.hpp and topic.hpp).
    ws::deflate_options permessage_deflate{};
};

// What a pubsub connection carries: the application's user data, its publish budget, and the
// topic of its raw subscription (which excludes every other), if it has one.
template <class UserData>
struct pubsub_session {
    UserData user{};
    token_bucket publishes{};
    std::string raw_topic{};
};

namespace detail {

// The body `user` may publish to `topic` for `data`, or an http::error saying why not (403, 413,
// what prepare_publish throws, its json::parse_error as 400, and 400 for text that is not UTF-8:
// server topics refuse it, and a client should publish such bytes as binary).
template <class UserData>
std::string checked_publish(const pubsub_options<UserData>& o, const UserData& user, std::string_view topic,
                            std::string_view data, hub::content type = hub::content::text) {
    if (!o.can_publish || !o.can_publish(user, topic))
        throw http::error(403, "not allowed to publish to " + std::string(topic));
    if (data.size() > o.max_message_size)
        throw http::error(413, "message larger than " + std::to_string(o.max_message_size) + " bytes");
    std::string body(data);
    if (o.prepare_publish) {
        try {
            body = o.prepare_publish(user, topic, data);
        } catch (const json::parse_error& e) {
            throw http::error(400, e.what());
        }
    }
    if (type == hub::content::text && !core::is_valid_utf8(body))
        throw http::error(400, "text is not valid UTF-8 (publish bytes as binary)");
    return body;
}

// One control message from `ws`, a connection on a pubsub route of `server`.
template <class Server, class UserData, class Connection>
void handle_control_message(Server& server, const pubsub_options<UserData>& o, Connection& ws, std::string_view text) {
    struct command {
        std::string type, topic, since, data, ref, encoding;
        bool raw = false;
    } c;
    auto reply_error = [&](int status, std::string_view message) {
        std::string out;
        hub::notice::error(out, status, message, c.topic, c.ref);
        ws.send(out);
    };
    try {
        c = json::parse(text, [](simdjson::ondemand::document& doc) {
            auto obj = json::as<simdjson::ondemand::object>(doc, "message");
            command r;
            r.type = json::field<std::string>(obj, "type");
            r.topic = json::optional_field<std::string>(obj, "topic").value_or("");
            r.since = json::optional_field<std::string>(obj, "since").value_or("");
            r.data = json::optional_field<std::string>(obj, "data").value_or("");
            r.ref = json::optional_field<std::string>(obj, "ref").value_or("");
            r.encoding = json::optional_field<std::string>(obj, "encoding").value_or("");
            r.raw = json::optional_field<bool>(obj, "raw").value_or(false);
            return r;
        });
    } catch (const json::parse_error& e) {
        return reply_error(400, e.what());
    }
    // An application-level ping (browsers cannot send WebSocket pings): the client's proof that
    // the connection still carries traffic both ways, through proxies that ignore control frames.
    if (c.type == "ping") {
        std::string out;
        json::writer(out).begin_object().member("type", "pong").end_object();
        ws.send(out);
        return;
    }
    auto& session = ws.user_data();
    const UserData& user = session.user;
    auto* topic = server.find_topic(c.topic);
    if (!topic) return reply_error(404, "no such topic: " + c.topic);
    if (c.type == "subscribe") {
        if (o.can_subscribe && !o.can_subscribe(user, c.topic)) return reply_error(403, "not allowed to subscribe to " + c.topic);
        if (!session.raw_topic.empty() && session.raw_topic != c.topic)
            return reply_error(409, "this connection holds a raw subscription (to " + session.raw_topic + "): it can hold no other");
        if (c.raw && ws.subscription_count() > 0 && session.raw_topic != c.topic)
            return reply_error(409, "a raw subscription must be the connection's only one");
        if (ws.subscription_count() >= o.max_subscriptions) {
            server.current_thread().metrics.hit(metrics::budget::subscriptions);
            return reply_error(429, "too many subscriptions");
        }
        if (ws.subscribe(c.topic, c.since, c.raw ? framing::raw : framing::envelope) && c.raw) session.raw_topic = c.topic;
    } else if (c.type == "unsubscribe") {
        ws.unsubscribe(c.topic);
        if (session.raw_topic == c.topic) session.raw_topic.clear();
    } else if (c.type == "publish") {
        if (!session.publishes.take(o.max_publish_rate)) {
            server.current_thread().metrics.hit(metrics::budget::publish_rate);
            return ws.close(ws::close_code::policy_violation, "publish rate exceeded");
        }
        auto type = hub::content::text;
        if (c.encoding == "base64") {
            auto bytes = core::base64_decode(c.data);
            if (!bytes) return reply_error(400, "data is not base64 (RFC 4648 §4, padded)");
            c.data = std::move(*bytes);
            type = hub::content::binary;
        } else if (!c.encoding.empty()) {
            return reply_error(400, "unknown encoding: " + c.encoding + " (base64, or none for text)");
        }
        std::string body;
        try {
            body = checked_publish(o, user, c.topic, c.data, type);
        } catch (const http::error& e) {
            return reply_error(e.status(), e.what());
        }
        // What the publisher is told: "published" when it asked (a ref), an error whenever the message
        // was not stored (on a backplane's topic: Redis unreachable), nothing otherwise.
        auto answer = [name = c.topic, ref = c.ref](std::error_code ec, hub::cursor id) {
            std::string out;
            if (!ec && ref.empty()) return out;
            json::writer w(out);
            w.begin_object();
            if (ec) {
                w.member("type", "error").member("status", 503);
                w.member("message", "publish to " + name + " failed: " + ec.message());
            } else {
                w.member("type", "published");
            }
            w.member("topic", name);
            if (!ref.empty()) w.member("ref", ref);
            if (!ec) w.member("id", hub::to_string(id));
            w.end_object();
            return out;
        };
        if (!topic->handle->sequenced_externally()) {   // a local topic: stored now, answered now
            std::uint64_t sequence = topic->handle->publish(body, type);
            if (auto out = answer({}, {topic->handle->epoch(), sequence}); !out.empty()) ws.send(out);
            return;
        }
        // A backplane stores bodies, not their kind: its topic carries its own content only.
        if (type != topic->handle->default_content())
            return reply_error(422, std::string("this topic is ordered by a backplane and carries ") +
                                        (type == hub::content::binary ? "text" : "binary") + " only");
        // A backplane's topic answers later, from the backplane's thread: through the connection's
        // handle, which does nothing once the client is gone.
        async_submit(*topic->handle, body, {}, [handle = ws.get_handle(), answer](std::error_code ec, hub::cursor id) {
            if (auto out = answer(ec, id); !out.empty()) handle.send(std::move(out));
        });
    } else {
        reply_error(400, "unknown type: " + c.type);
    }
}

} // namespace detail
} // namespace tether
