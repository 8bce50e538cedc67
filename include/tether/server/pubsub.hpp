#pragma once
// tether's JSON control protocol over WebSocket, for browser clients (app.pubsub):
//
//   client: {"type":"subscribe","topic":"t","since":"<id>"}   since optional (resume)
//           {"type":"unsubscribe","topic":"t"}
//           {"type":"publish","topic":"t","data":"text","ref":"r"}   only where can_publish allows;
//                                                            ref optional: ask for an answer
//           {"type":"ping"}                                   answered with {"type":"pong"}
//   server: {"type":"subscribed","topic":"t","recovered":true|false,"id":"<id>"}
//           {"topic":"t","id":"<id>","data":"text"}          each message
//           {"type":"missed","topic":"t","first":"<id>","last":"<id>"}
//           {"type":"published","topic":"t","ref":"r","id":"<id>"}   a publish with a ref went out
//           {"type":"error","status":422,"message":"...","topic":"t","ref":"r"}   topic, ref when known
//
// An error's status uses HTTP's numbers for what went wrong, so a client handles a refusal the
// same way whether it published over this socket or over REST: 400 malformed message, 403 not
// allowed, 404 no such topic, 413 larger than max_message_size, 422 (or anything) from
// prepare_publish. checked_publish below is the one place a client's publish is judged, for this
// protocol and for the REST publish route of app.realtime (server/realtime.hpp).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/json_reader.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/http/error.hpp>
#include <tether/hub/cursor.hpp>

namespace tether {

struct pubsub_options {
    std::function<bool(std::string_view topic)> can_subscribe{};   // default: every open topic
    std::function<bool(std::string_view topic)> can_publish{};     // default: none
    // Checks a client's publish before it reaches the topic and returns the body to publish (the
    // data as sent, or re-encoded); throws http::error (say 422) or json::parse_error (400) to
    // refuse. Runs for WebSocket publishes and app.realtime's REST publish route alike, so a
    // message is judged by one rule whichever way it came. Default: publish the data as sent.
    std::function<std::string(std::string_view topic, std::string_view data)> prepare_publish{};
    std::vector<std::string> allowed_origins{};                    // WebSocket Origin allowlist
    std::size_t max_message_size = 64 * 1024;                      // a control message; a REST publish's body
};

namespace detail {

// The body to publish to `topic` for a client that sent `data`, or an http::error saying why not
// (403, 413, or what prepare_publish throws; its json::parse_error becomes 400).
inline std::string checked_publish(const pubsub_options& o, std::string_view topic, std::string_view data) {
    if (!o.can_publish || !o.can_publish(topic))
        throw http::error(403, "not allowed to publish to " + std::string(topic));
    if (data.size() > o.max_message_size)
        throw http::error(413, "message larger than " + std::to_string(o.max_message_size) + " bytes");
    if (!o.prepare_publish) return std::string(data);
    try {
        return o.prepare_publish(topic, data);
    } catch (const json::parse_error& e) {
        throw http::error(400, e.what());
    }
}

// One control message from `ws`, a connection on a pubsub route of `server`.
template <class Server, class Connection>
void handle_control_message(Server& server, const pubsub_options& o, Connection& ws, std::string_view text) {
    struct command {
        std::string type, topic, since, data, ref;
    } c;
    auto reply_error = [&](int status, std::string_view message) {
        std::string out;
        json::writer w(out);
        w.begin_object().member("type", "error").member("status", status).member("message", message);
        if (!c.topic.empty()) w.member("topic", c.topic);
        if (!c.ref.empty()) w.member("ref", c.ref);
        w.end_object();
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
    auto* topic = server.find_topic(c.topic);
    if (!topic) return reply_error(404, "no such topic: " + c.topic);
    if (c.type == "subscribe") {
        if (o.can_subscribe && !o.can_subscribe(c.topic)) return reply_error(403, "not allowed to subscribe to " + c.topic);
        ws.subscribe(c.topic, c.since);
    } else if (c.type == "unsubscribe") {
        ws.unsubscribe(c.topic);
    } else if (c.type == "publish") {
        std::string body;
        try {
            body = checked_publish(o, c.topic, c.data);
        } catch (const http::error& e) {
            return reply_error(e.status(), e.what());
        }
        std::uint64_t sequence = topic->handle->publish(body);
        if (c.ref.empty()) return;
        std::string out;
        json::writer(out)
            .begin_object()
            .member("type", "published")
            .member("topic", c.topic)
            .member("ref", c.ref)
            .member("id", hub::to_string({topic->handle->epoch(), sequence}))
            .end_object();
        ws.send(out);
    } else {
        reply_error(400, "unknown type: " + c.type);
    }
}

} // namespace detail
} // namespace tether
