// crud_web: a single-page app over a REST CRUD API (the resource of rest_crud.cpp), with the
// page in examples/web/crud_web/. It uses tether.js's json() helper, whose errors carry the
// server's {"error":{"status","message"}} body, so a 422 shows its message next to the form.
// Every change is also published on the "items" topic, so other open tabs refresh live.
//
//   ./crud_web --port 8080          then open http://127.0.0.1:8080/ in two tabs
//   curl -i -X POST http://127.0.0.1:8080/api/items -d '{"name":"lamp","price":19.5}'
//   curl -N http://127.0.0.1:8080/sse/items                                 # the change feed
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "items_api.hpp"
#include "web/web_example.hpp"

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    items_api::item_store store;
    auto changes = app.topic("items");
    // {"op":"created|updated|deleted","id":N}: the page re-reads the list, so it needs no more.
    items_api::register_routes(app, store, [changes](std::string_view op, std::uint64_t id) {
        std::string body;
        tether::json::writer(body).begin_object().member("op", op).member("id", id).end_object();
        changes.publish(body);
    });
    app.realtime(changes);   // /ws, /sse/items, /poll/items, /status/items, /tether.js
    web_example::serve_page(app, root);

    app.listen();
    web_example::print_listening(app.url());
    app.run();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help);
} catch (const std::exception& e) {
    std::fprintf(stderr, "crud_web: %s\n", e.what());
    return 1;
}
