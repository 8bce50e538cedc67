#pragma once
// The JSON notices a subscriber is sent about its subscriptions, written in one place so that every
// transport that carries them (today the pubsub WebSocket's text frames) spells them the same way and
// one parser in every client reads them:
//
//   {"type":"subscribed","topic":"t","recovered":true,"id":"<cursor>"}     messages follow from id on;
//                                                                          recovered:false: history lost
//   {"type":"missed","topic":"t","first":"<cursor>","last":"<cursor>"}    skipped on purpose (policy)
//   {"type":"error","status":404,"message":"...","topic":"t","ref":"r"}    a refusal; topic, ref if known
//
// Statuses are HTTP's numbers, as on the REST routes: 400 malformed, 403 not allowed, 404 no such
// topic, 409 conflicts with the connection's raw subscription, 413 too large, 429 too many topics.
#include <cstdint>
#include <string>
#include <string_view>

#include "tether/core/json_writer.hpp"
#include "tether/hub/cursor.hpp"

namespace tether::hub::notice {

/// `raw`: the subscription sends bare frames from here on (tether/topic.hpp, ws_raw).
inline void subscribed(std::string& out, std::string_view topic, bool recovered, cursor id, bool raw = false) {
    json::writer w(out);
    w.begin_object().member("type", "subscribed").member("topic", topic).member("recovered", recovered)
        .member("id", to_string(id));
    if (raw) w.member("raw", true);
    w.end_object();
}

inline void missed(std::string& out, std::string_view topic, cursor first, cursor last) {
    json::writer(out).begin_object().member("type", "missed").member("topic", topic)
        .member("first", to_string(first)).member("last", to_string(last)).end_object();
}

inline void error(std::string& out, int status, std::string_view message, std::string_view topic = {},
                  std::string_view ref = {}) {
    json::writer w(out);
    w.begin_object().member("type", "error").member("status", status).member("message", message);
    if (!topic.empty()) w.member("topic", topic);
    if (!ref.empty()) w.member("ref", ref);
    w.end_object();
}

}  // namespace tether::hub::notice
