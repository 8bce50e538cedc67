#pragma once
// tether's JSON control protocol over WebSocket, for browser clients (app.pubsub):
//
//   client: {"type":"subscribe","topic":"t","since":"<id>"}   since optional (resume)
//           {"type":"unsubscribe","topic":"t"}
//           {"type":"publish","topic":"t","data":"text"}     only where can_publish allows
//           {"type":"ping"}                                   answered with {"type":"pong"}
//   server: {"type":"subscribed","topic":"t","recovered":true|false,"id":"<id>"}
//           {"topic":"t","id":"<id>","data":"text"}          each message
//           {"type":"missed","topic":"t","first":"<id>","last":"<id>"}
//           {"type":"error","message":"..."}            also when a publish was not stored
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/json_reader.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/topic.hpp>

namespace tether {

struct pubsub_options {
    std::function<bool(std::string_view topic)> can_subscribe{};   // default: every open topic
    std::function<bool(std::string_view topic)> can_publish{};     // default: none
    std::vector<std::string> allowed_origins{};
    std::size_t max_message_size = 64 * 1024;
};

namespace detail {

// One control message from `ws`, a connection on a pubsub route of `server`.
template <class Server, class Connection>
void handle_control_message(Server& server, const pubsub_options& o, Connection& ws, std::string_view text) {
    auto reply_error = [&](std::string_view message) {
        std::string out;
        json::writer(out).begin_object().member("type", "error").member("message", message).end_object();
        ws.send(out);
    };
    struct command {
        std::string type, topic, since, data;
    } c;
    try {
        c = json::parse(text, [](simdjson::ondemand::document& doc) {
            auto obj = json::as<simdjson::ondemand::object>(doc, "message");
            command r;
            r.type = json::field<std::string>(obj, "type");
            r.topic = json::optional_field<std::string>(obj, "topic").value_or("");
            r.since = json::optional_field<std::string>(obj, "since").value_or("");
            r.data = json::optional_field<std::string>(obj, "data").value_or("");
            return r;
        });
    } catch (const json::parse_error& e) {
        return reply_error(e.what());
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
    if (!topic) return reply_error("no such topic: " + c.topic);
    if (c.type == "subscribe") {
        if (o.can_subscribe && !o.can_subscribe(c.topic)) return reply_error("not allowed to subscribe to " + c.topic);
        ws.subscribe(c.topic, c.since);
    } else if (c.type == "unsubscribe") {
        ws.unsubscribe(c.topic);
    } else if (c.type == "publish") {
        if (!o.can_publish || !o.can_publish(c.topic)) return reply_error("not allowed to publish to " + c.topic);
        // A topic on a backplane answers later, and may refuse (Redis unreachable): say so to the client
        // that published, from whichever thread the answer comes on.
        detail::async_submit(*topic->handle, c.data, {},
                             [handle = ws.get_handle(), name = c.topic](std::error_code ec, hub::cursor) {
                                 if (!ec) return;
                                 std::string out;
                                 json::writer(out).begin_object().member("type", "error")
                                     .member("message", "publish to " + name + " failed: " + ec.message()).end_object();
                                 handle.send(std::move(out));
                             });
    } else {
        reply_error("unknown type: " + c.type);
    }
}

} // namespace detail
} // namespace tether
