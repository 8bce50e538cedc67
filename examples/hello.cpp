// hello: the smallest tether server, with a text route, a JSON route and a path parameter.
//
//   ./hello --port 8080
//   curl http://127.0.0.1:8080/plaintext
//   curl http://127.0.0.1:8080/json
//   curl http://127.0.0.1:8080/hello/world
//
// /plaintext and /json are the TechEmpower-style endpoints the benchmarks drive.
#include <cstdio>
#include <exception>

#include <tether/tether.hpp>

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};

    app.get("/plaintext", [](auto&, auto& res) { res.text("Hello, World!"); });
    app.get("/json", [](auto&, auto& res) {
        std::string body;
        tether::json::writer(body).begin_object().member("message", "Hello, World!").end_object();
        res.json(std::move(body));
    });
    app.get("/hello/:name", [](auto& req, auto& res) {
        std::string greeting = "Hello, ";
        greeting.append(req.param("name")).append("!\n");
        res.text(greeting);
    });

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "hello: %s\n", e.what());
    return 1;
}
