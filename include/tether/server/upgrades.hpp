#pragma once
// Handlers that switch a request to a long-lived protocol: the WebSocket opening handshake
// (RFC 6455 §4.2) and the head of a Server-Sent Events stream. Each checks the request, runs
// the route's hook (which may refuse with http::error), writes the response head, and leaves a
// pending_upgrade on the thread; the HTTP connection carries it out once the head is written,
// handing over its socket and any bytes the client sent behind the request.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/core/json_writer.hpp>
#include <tether/http/error.hpp>
#include <tether/http/origin.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/composite_cursor.hpp>
#include <tether/net/sse_connection.hpp>
#include <tether/sse/behaviour.hpp>
#include <tether/sse/event.hpp>
#include <tether/ws/deflate_codec.hpp>
#include <tether/ws/handshake.hpp>
#include <tether/ws/permessage_deflate.hpp>

namespace tether::detail {

template <class Server, class UserData>
struct websocket_upgrade final : Server::pending_upgrade {
    using behaviour_type = typename Server::template websocket_behaviour<UserData>;
    websocket_upgrade(const behaviour_type& b, UserData&& d, std::string p, std::optional<ws::deflate_params> z)
        : behaviour(b), data(std::move(d)), protocol(std::move(p)), deflate(z) {}
    void start(typename Server::thread_state& thread, typename Server::transport::socket&& socket,
               std::string early, net::admission ticket) override {
        auto* c = new typename Server::template websocket_connection<UserData>(
            thread, std::move(socket), std::move(ticket), behaviour, std::move(data), std::move(protocol), deflate);
        c->start(std::move(early));
    }
    const behaviour_type& behaviour;
    UserData data;
    std::string protocol;
    std::optional<ws::deflate_params> deflate;
};

// RFC 7692 §5: permessage-deflate when the route allows it, zlib is there, and the client offered it
// (in any number of Sec-WebSocket-Extensions fields, RFC 9110 §5.3). Adds the response field.
inline std::optional<ws::deflate_params> negotiate_extensions(const ws::deflate_options& policy,
                                                              const http::request& req, http::response& res) {
    if (!ws::deflate_available || policy.mode == ws::deflate_mode::off) return std::nullopt;
    std::vector<std::string_view> offers;
    for (const auto& f : req.fields())
        if (ws::iequals_ascii(f.name, "sec-websocket-extensions")) offers.push_back(f.value);
    if (offers.empty()) return std::nullopt;
    auto agreed = ws::negotiate_deflate(offers, policy);
    if (!agreed) return std::nullopt;
    res.header("Sec-WebSocket-Extensions", agreed->response);
    return agreed->params;
}

// The server's side of the opening handshake (RFC 6455 §4.2).
template <class Server, class UserData>
void accept_websocket(Server& server, const typename Server::template websocket_behaviour<UserData>& b,
                      http::request& req, http::response& res) {
    auto field = [&](std::string_view name) { return req.header(name).value_or(std::string_view{}); };
    ws::upgrade_request upgrade{req.method_name(), field("upgrade"), field("connection"),
                                field("sec-websocket-version"), field("sec-websocket-key")};
    switch (ws::check_upgrade_request(upgrade)) {
    case ws::handshake_error::none: break;
    case ws::handshake_error::unsupported_version:   // §4.4: say which version we speak
        http::write_error(res, 426, ws::to_string(ws::handshake_error::unsupported_version));
        res.header("Sec-WebSocket-Version", ws::websocket_version);
        return;
    case ws::handshake_error::missing_upgrade:   // a plain GET on a WebSocket route
        http::write_error(res, 426, "this resource speaks WebSocket only");
        res.header("Upgrade", "websocket");
        return;
    case ws::handshake_error::method_not_get:
    case ws::handshake_error::missing_connection:
    case ws::handshake_error::invalid_key:
        return http::write_error(res, 400, ws::to_string(ws::check_upgrade_request(upgrade)));
    }
    if (req.version_minor() < 1) return http::write_error(res, 400, "WebSocket needs HTTP/1.1");
    if (!http::origin_allowed(b.origins, req)) return http::write_error(res, 403, "origin not allowed");
    if (server.stopping()) return http::write_error(res, 503, "server stopping");

    UserData data{};
    if (b.on_upgrade) b.on_upgrade(req, data);   // may throw http::error(401/403)
    std::string protocol;
    if (auto offered = req.header("sec-websocket-protocol"); offered && b.select_subprotocol) {
        auto list = ws::split_tokens(*offered);
        protocol = b.select_subprotocol(list);
        bool was_offered = protocol.empty();
        for (auto p : list) was_offered = was_offered || p == protocol;
        if (!was_offered) throw std::logic_error("select_subprotocol chose a protocol the client did not offer");
    }
    if (!server.admit_stream(req, res)) return;
    res.status(101)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", ws::accept_key(upgrade.sec_websocket_key));
    if (!protocol.empty()) res.header("Sec-WebSocket-Protocol", protocol);
    auto deflate = negotiate_extensions(b.permessage_deflate, req, res);
    server.current_thread().upgrade =
        std::make_unique<websocket_upgrade<Server, UserData>>(b, std::move(data), std::move(protocol), deflate);
}

template <class Server, class UserData>
struct sse_upgrade final : Server::pending_upgrade {
    using behaviour_type = typename Server::template sse_behaviour<UserData>;
    sse_upgrade(const behaviour_type& b, UserData&& d, std::string id, bool c, std::optional<net::sse_client_topics> t)
        : behaviour(b), data(std::move(d)), last_event_id(std::move(id)), chunked(c), topics(std::move(t)) {}
    void start(typename Server::thread_state& thread, typename Server::transport::socket&& socket, std::string,
               net::admission ticket) override {
        auto* c = new typename Server::template sse_stream<UserData>(thread, std::move(socket), std::move(ticket), behaviour,
                                                                     std::move(data), std::move(last_event_id), chunked);
        c->start(std::move(topics));
    }
    const behaviour_type& behaviour;
    UserData data;
    std::string last_event_id;
    bool chunked;
    std::optional<net::sse_client_topics> topics;
};

// The topics a client names in ?topics= on a route that lets it (sse::behaviour::admit_topic), each
// admitted or refused on its own: nullopt, with the 400 written, when the list itself is unusable.
template <class Server, class UserData>
std::optional<net::sse_client_topics> admit_client_topics(Server& server,
                                                          const typename Server::template sse_behaviour<UserData>& b,
                                                          const http::request& req, const UserData& data,
                                                          http::response& res) {
    auto list = http::find_query_param(req.query_string(), "topics").value_or(std::string{});
    auto names = http::split_list(list, b.max_topics);
    if (!names || names->empty()) {
        http::write_error(res, 400, "topics: 1 to " + std::to_string(b.max_topics) + " names, comma-separated");
        return std::nullopt;
    }
    net::sse_client_topics chosen;
    auto refuse = [&](std::string_view name, int status, std::string_view message) {
        std::string body;
        json::writer(body).begin_object().member("topic", name).member("status", status)
            .member("message", message).end_object();
        sse::append_event(chosen.refusals, {.data = body, .type = "tether:refused"});
    };
    for (auto name : *names) {
        if (!server.find_topic(name)) {
            refuse(name, 404, "no such topic: " + std::string(name));
            continue;
        }
        try {
            b.admit_topic(req, data, name);
        } catch (const http::error& e) {
            refuse(name, e.status(), e.what());
            continue;
        }
        chosen.names.emplace_back(name);
    }
    return chosen;
}

// The head of an event stream (WHATWG HTML §9.2.4): 200, text/event-stream, a chunked body the
// stream connection then writes.
template <class Server, class UserData>
void accept_sse(Server& server, const typename Server::template sse_behaviour<UserData>& b, http::request& req,
                http::response& res) {
    if (server.stopping()) return http::write_error(res, 503, "server stopping");
    if (!http::origin_allowed(b.origins, req)) return http::write_error(res, 403, "origin not allowed");
    UserData data{};
    try {
        if (b.on_request) b.on_request(req, data);   // may throw http::error(401/403)
    } catch (const sse::stop_reconnecting&) {
        res.status(204);
        return;
    }
    // The browser resends the last id it saw as Last-Event-ID; a page can also pass one on
    // its first connect as ?lastEventId= (EventSource cannot set headers).
    std::string last_event_id(req.header("last-event-id").value_or(std::string_view{}));
    if (last_event_id.empty())
        last_event_id = http::find_query_param(req.query_string(), "lastEventId").value_or(std::string{});
    if (last_event_id.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
        return http::write_error(res, 400, "lastEventId must be one line");
    std::optional<net::sse_client_topics> topics;
    if (b.admit_topic) {
        topics = admit_client_topics<Server, UserData>(server, b, req, std::as_const(data), res);
        if (!topics) return;   // 400 written
    }
    res.status(200)
        .content_type("text/event-stream")
        .header("Cache-Control", "no-store")
        .header("X-Accel-Buffering", "no");   // tell nginx-style proxies not to buffer the stream
    if (req.method() == http::method::head) return;   // the head only, no stream
    if (!server.admit_stream(req, res)) return;
    res.stream();
    server.current_thread().upgrade = std::make_unique<sse_upgrade<Server, UserData>>(
        b, std::move(data), std::move(last_event_id), req.version_minor() >= 1, std::move(topics));
}

} // namespace tether::detail
