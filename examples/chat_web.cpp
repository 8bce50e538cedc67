// chat_web: chat rooms in the browser over tether's WebSocket pubsub protocol, each room a hub
// topic. The page (examples/web/chat_web/) publishes with tether.js over the WebSocket, and
// when WebSocket is blocked it falls back to SSE or polling and publishes over REST instead;
// after any reconnect it resumes each room from its last message, without repeats.
//
//   ./chat_web --port 8080          then open http://127.0.0.1:8080/ in two tabs
//   curl -N http://127.0.0.1:8080/sse/room.lobby                          # watch a room
//   curl -X POST http://127.0.0.1:8080/api/publish/room.lobby -d '{"from":"curl","text":"hi"}'
//
// Messages are small JSON objects the page renders as text (never as HTML), checked in one
// place, checked_message, which app.realtime() applies to a publish whether it came over the
// WebSocket or over REST: the same message is refused (422) or accepted the same way on both.
// A real application would take the sender's name from its session instead of the message.
//
// With `--redis redis://127.0.0.1:6379/0` it is one node of a cluster (examples/cluster.hpp): tabs on
// nodes started on different ports with the same URL chat in the same rooms.
#include <array>
#include <cstdio>
#include <exception>
#include <string>

#include "cluster.hpp"
#include "web/web_example.hpp"

namespace {

constexpr std::array<std::string_view, 3> rooms = {"room.lobby", "room.random", "room.help"};

bool is_room(std::string_view topic) {
    for (auto room : rooms)
        if (room == topic) return true;
    return false;
}

// {"from": 1..40 bytes, "text": 1..2000 bytes}, re-encoded so only those two fields travel.
std::string checked_message(std::string_view body) {
    auto [from, text] = tether::json::parse(body, [](auto& doc) {
        auto object = tether::json::as<simdjson::ondemand::object>(doc, "message");
        return std::pair{tether::json::field<std::string>(object, "from"), tether::json::field<std::string>(object, "text")};
    });
    if (from.empty() || from.size() > 40) throw tether::http::error(422, "field 'from': must be 1 to 40 bytes");
    if (text.empty() || text.size() > 2000) throw tether::http::error(422, "field 'text': must be 1 to 2000 bytes");
    std::string out;
    tether::json::writer(out).begin_object().member("from", from).member("text", text).end_object();
    return out;
}

} // namespace

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    auto redis_url = cluster::take_redis_url(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    auto redis = cluster::join(redis_url);   // before the server: it outlives it
    tether::server app{options};
#ifdef TETHER_EXAMPLE_WITH_REDIS
    if (redis) app.use_backplane(*redis);
#endif
    auto lobby = app.topic(rooms[0], {.history = 256});
    auto random = app.topic(rooms[1], {.history = 256});
    auto help = app.topic(rooms[2], {.history = 256});

    app.realtime({.routes = {.publish = "/api/publish/{topic}"},   // for clients not on WebSocket
                  .pubsub = {.can_publish = is_room,
                             .prepare_publish = [](std::string_view, std::string_view data) { return checked_message(data); },
                             .max_message_size = 4096}},
                 lobby, random, help);
    web_example::serve_page(app, root);

    cluster::wait_until_ready(redis.get());
    app.listen();
    web_example::print_listening(app.url());
    app.run();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help, cluster::usage);
} catch (const std::exception& e) {
    std::fprintf(stderr, "chat_web: %s\n", e.what());
    return 1;
}
