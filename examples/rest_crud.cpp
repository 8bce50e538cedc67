// rest_crud: a JSON resource with create, read, update, delete and list, and validation errors.
//
//   ./rest_crud --port 8080
//   curl -i -X POST http://127.0.0.1:8080/api/items -d '{"name":"lamp","price":19.5}'
//   curl -i http://127.0.0.1:8080/api/items/1
//   curl -i -X PUT http://127.0.0.1:8080/api/items/1 -d '{"name":"desk lamp","price":24}'
//   curl -i 'http://127.0.0.1:8080/api/items?limit=10&offset=0&q=lamp'
//   curl -i -X DELETE http://127.0.0.1:8080/api/items/1
//   curl -i -X POST http://127.0.0.1:8080/api/items -d '{"name":""}'      # 422, field named
//   curl -i -X POST http://127.0.0.1:8080/api/items -d '{"name":'         # 400, malformed JSON
//
// The resource itself (store, validation, routes) is in items_api.hpp, shared with crud_web.
#include <cstdio>
#include <exception>

#include "items_api.hpp"

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    items_api::item_store store;
    items_api::register_routes(app, store);

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "rest_crud: %s\n", e.what());
    return 1;
}
