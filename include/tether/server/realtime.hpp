#pragma once
// app.realtime(topics...): every route tether.js looks for, for a set of topics, in one call.
//
//   auto news = app.topic("news");
//   auto prices = app.topic<tether::backpressure::conflate>("prices");
//   app.realtime(news, prices);          // the page: tether.connect(location.origin)
//
// registers  GET  /ws                WebSocket, tether's pubsub protocol (server/pubsub.hpp)
//            GET  /sse?topics=a,b    Server-Sent Events, the client's topics on one stream
//            GET  /poll?topics=a,b   long polling over the client's topics (poll/many.hpp)
//            GET  /status?topics=a,b short polling over the client's topics
//            GET  /sse/{topic}       Server-Sent Events, one topic per stream
//            GET  /poll/{topic}      long polling (poll/long_poll.hpp)
//            GET  /status/{topic}    short polling (poll/short_poll.hpp)
//            GET  /tether.js         the client itself (browser/tether_js.hpp)
//            POST routes.publish     only when set, e.g. "/api/publish/{topic}": publishing for
//                                    clients not on WebSocket, judged like a WebSocket publish;
//                                    on a backplane's topic answered once stored, or 503
//
// Why one call: routes written by hand drift from the client's defaults, and a client that finds
// none of its routes cycles through every transport and delivers nothing, with no error to read.
// Here the paths are tether.js's own `routes` option, with the same names and the same "{topic}"
// template, so moving a route means passing the same value to tether.connect({routes: ...}).
//
// Why a literal route per topic rather than "/sse/:topic" and a lookup: what is served is then
// the route table and nothing else (a topic outside the set is the router's plain 404), each
// route keeps its topic's policy as a type, and a topic name is checked once, here, rather than
// on every request.
//
// Why the many-topic routes as well: over HTTP/1.1 a browser opens at most six connections per
// origin, so a page with more than five topics and no WebSocket would stall on one stream or
// poll per topic. tether.js uses the many-topic routes; the per-topic ones stay for clients that
// want one topic (curl, an EventSource written by hand). There a topic is looked up by name per
// request, and each topic fails alone: an unknown one (404) or one can_subscribe refuses (403)
// is reported to the client for that topic while the others stream.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <tether/browser/tether_js.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/http/deferred_response.hpp>
#include <tether/http/error.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/poll/long_poll.hpp>
#include <tether/poll/many.hpp>
#include <tether/poll/short_poll.hpp>
#include <tether/server/pubsub.hpp>
#include <tether/sse/behaviour.hpp>
#include <tether/topic.hpp>
#include <tether/ws/behaviour.hpp>

namespace tether {

// Paths, as in tether.js's `routes` option; "{topic}" stands for the topic's name. An empty
// path registers nothing for that transport.
struct realtime_routes {
    std::string websocket = "/ws";
    std::string sse_many = "/sse";          // ?topics=a,b; tether.js: routes.sseMany
    std::string longpoll_many = "/poll";    // tether.js: routes.longpollMany
    std::string shortpoll_many = "/status"; // tether.js: routes.shortpollMany
    std::string sse = "/sse/{topic}";
    std::string longpoll = "/poll/{topic}";
    std::string shortpoll = "/status/{topic}";
    std::string publish{};                // POST; needs pubsub.can_publish; tether.js: routes.publish
    std::string client = "/tether.js";    // where tether.js is served
};

template <class UserData = ws::no_user_data>
struct realtime_options {
    realtime_routes routes{};
    // can_subscribe defaults to "one of the realtime topics". authorize and can_subscribe guard
    // every transport (the WebSocket handshake, each SSE stream, each poll), and origins the
    // WebSocket and SSE; authorize, can_publish, prepare_publish and max_message_size apply to
    // WebSocket publishes and to the REST publish route alike.
    pubsub_options<UserData> pubsub{};
    long_poll_options long_poll{};
    short_poll_options short_poll{};
    std::size_t max_topics_per_request = 64;   // on one many-topic stream or poll; more is 400
};

namespace detail {

// Topic names travel in paths as they are (tether.js percent-encodes them, and a literal route
// compares the raw segment), so they are kept to RFC 3986 §2.3's unreserved characters.
inline void check_realtime_topic_name(std::string_view name) {
    auto unreserved = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~';
    };
    bool ok = !name.empty();
    for (char c : name) ok = ok && unreserved(c);
    if (!ok)
        throw std::invalid_argument("tether: realtime topic '" + std::string(name) +
                                    "' must be letters, digits, '-', '.', '_' or '~' (it appears in paths)");
}

inline std::string realtime_path(std::string_view pattern, std::string_view topic) {
    std::string out(pattern);
    if (auto at = out.find("{topic}"); at != std::string::npos) out.replace(at, 7, topic);
    else throw std::invalid_argument("tether: realtime route '" + std::string(pattern) + "' has no {topic}");
    return out;
}

template <class Server, class UserData, class Policy>
void register_realtime_topic(Server& app, const realtime_options<UserData>& o,
                             const std::shared_ptr<const pubsub_options<UserData>>& pubsub, const tether::topic<Policy>& t) {
    std::string name(t.name());
    // Who may read the topic is decided once for all four transports: the WebSocket's authorize
    // and can_subscribe also guard every SSE stream and every poll, so a route set protected by a
    // token on the WebSocket is not open to anyone over /sse or /poll (401/403 as on the handshake).
    auto admit = [pubsub, name](const http::request& req) {
        UserData user{};
        if (pubsub->authorize) pubsub->authorize(req, user);
        if (!pubsub->can_subscribe(std::as_const(user), name)) throw http::error(403, "not allowed to subscribe to " + name);
    };
    const auto then_admit = [&admit](std::function<void(const http::request&)> own) {
        return [own = std::move(own), admit](const http::request& req) {
            if (own) own(req);
            admit(req);
        };
    };
    if (!o.routes.sse.empty()) {
        typename Server::template sse_behaviour<> b;
        b.topics.push_back(name);
        b.origins = pubsub->origins;
        b.on_request = [admit](const http::request& req, sse::no_user_data&) { admit(req); };
        app.sse(realtime_path(o.routes.sse, name), std::move(b));
    }
    if (!o.routes.longpoll.empty()) {
        long_poll_options lp = o.long_poll;
        lp.authorize = then_admit(std::move(lp.authorize));
        app.long_poll(realtime_path(o.routes.longpoll, name), t, std::move(lp));
    }
    if (!o.routes.shortpoll.empty()) {
        short_poll_options sp = o.short_poll;
        sp.authorize = then_admit(std::move(sp.authorize));
        app.short_poll(realtime_path(o.routes.shortpoll, name), t, std::move(sp));
    }
    if (!o.routes.publish.empty()) {
        app.post(realtime_path(o.routes.publish, name), [pubsub, name, handle = t.handle()](auto& req, auto& res) {
            UserData user{};
            if (pubsub->authorize) pubsub->authorize(req, user);   // 401/403 as on the WebSocket
            std::string message = checked_publish(*pubsub, std::as_const(user), name, req.body());
            auto answer = [name](std::error_code ec, hub::cursor id, auto& out) {
                if (ec) return http::write_error(out, 503, "publish to " + name + " failed: " + ec.message());
                std::string body;
                json::writer(body).begin_object().member("topic", name).member("id", hub::to_string(id)).end_object();
                out.json(std::move(body));
            };
            if (!handle->sequenced_externally()) {   // a local topic answers now, on this thread
                std::uint64_t sequence = handle->publish(message);
                return answer({}, {handle->epoch(), sequence}, res);
            }
            // A backplane's topic answers once the message is stored, or 503 if it was not (Redis
            // unreachable); the I/O thread does not wait for it.
            async_submit(*handle, message, {},
                         [reply = res.defer(), answer](std::error_code ec, hub::cursor id) mutable {
                             answer(ec, id, reply.response());
                             reply.send();
                         });
        });
    }
}

// The routes that serve the topics a client names (?topics=a,b). Who may read them is the same
// rule as everywhere: authorize once for the request (401/403 for all of it), then can_subscribe
// per topic, whose refusal fails that topic alone.
template <class Server, class UserData>
void register_realtime_many(Server& app, const realtime_options<UserData>& o,
                            const std::shared_ptr<const pubsub_options<UserData>>& pubsub) {
    auto topic_check = [pubsub](const UserData& user, std::string_view name) {
        if (!pubsub->can_subscribe(user, name)) throw http::error(403, "not allowed to subscribe to " + std::string(name));
    };
    if (!o.routes.sse_many.empty()) {
        typename Server::template sse_behaviour<UserData> b;
        b.origins = pubsub->origins;
        b.max_topics = o.max_topics_per_request;
        b.on_request = [pubsub](const http::request& req, UserData& user) {
            if (pubsub->authorize) pubsub->authorize(req, user);
        };
        b.admit_topic = [topic_check](const http::request&, const UserData& user, std::string_view name) {
            topic_check(user, name);
        };
        app.sse(o.routes.sse_many, std::move(b));
    }
    // A poll authorizes its request, then checks each topic with the user that gave.
    auto admit_request = [pubsub, topic_check](const http::request& req) {
        auto user = std::make_shared<UserData>();
        if (pubsub->authorize) pubsub->authorize(req, *user);
        return [user, topic_check](std::string_view name) { topic_check(*user, name); };
    };
    if (!o.routes.longpoll_many.empty())
        app.get(o.routes.longpoll_many,
                poll::long_poll_many_handler(app, o.long_poll, o.max_topics_per_request, admit_request));
    if (!o.routes.shortpoll_many.empty())
        app.get(o.routes.shortpoll_many,
                poll::short_poll_many_handler(app, o.short_poll, o.max_topics_per_request, admit_request));
}

template <class Server, class UserData, class... Policies>
void register_realtime(Server& app, realtime_options<UserData> o, const tether::topic<Policies>&... topics) {
    static_assert(sizeof...(Policies) > 0, "tether: app.realtime needs at least one topic");
    (check_realtime_topic_name(topics.name()), ...);
    if (!o.routes.publish.empty() && !o.pubsub.can_publish)
        throw std::invalid_argument("tether: realtime routes.publish needs pubsub.can_publish (who may publish where)");
    if (!o.pubsub.can_subscribe) {
        o.pubsub.can_subscribe = [names = std::vector<std::string>{std::string(topics.name())...}](std::string_view t) {
            for (const auto& n : names)
                if (n == t) return true;
            return false;
        };
    }
    auto pubsub = std::make_shared<const pubsub_options<UserData>>(o.pubsub);
    (register_realtime_topic(app, o, pubsub, topics), ...);
    register_realtime_many(app, o, pubsub);
    if (!o.routes.websocket.empty()) app.template pubsub<UserData>(o.routes.websocket, o.pubsub);
    if (!o.routes.client.empty()) browser::serve_client(app, o.routes.client);
}

} // namespace detail
} // namespace tether
