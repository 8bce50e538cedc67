#pragma once
// What the *_web examples share: their extra command-line options, serving a page directory
// (examples/web/<name>/) and tether.js, and the per-topic SSE and polling routes tether.js
// looks for by default (/sse/<topic>, /poll/<topic>, /status/<topic>; WebSocket is /ws).
//
// The page directory is found through TETHER_WEB_ROOT, the source path compiled in by
// examples/CMakeLists.txt, so a build runs from anywhere; `--web-root DIR` overrides it for an
// installed copy or while editing pages elsewhere.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/browser/tether_js.hpp>
#include <tether/http/static_files.hpp>
#include <tether/tether.hpp>

namespace web_example {

// Removes `--name VALUE` from argv (so tether::parse_command_line sees only its own options)
// and returns VALUE.
inline std::optional<std::string> take_option(int& argc, char** argv, std::string_view name) {
    for (int i = 1; i < argc; ++i) {
        if (argv[i] != name) continue;
        if (i + 1 >= argc) throw std::invalid_argument(std::string(name) + ": missing value");
        std::string value = argv[i + 1];
        for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
        argc -= 2;
        return value;
    }
    return std::nullopt;
}

inline std::filesystem::path web_root(int& argc, char** argv) {
#ifdef TETHER_WEB_ROOT
    std::filesystem::path root = take_option(argc, argv, "--web-root").value_or(TETHER_WEB_ROOT);
#else
    std::filesystem::path root = take_option(argc, argv, "--web-root").value_or("web");
#endif
    if (!std::filesystem::is_regular_file(root / "index.html"))
        throw std::invalid_argument("no index.html in " + root.string() + " (use --web-root DIR)");
    return root;
}

// The page at "/" (index.html), its assets next to it, and the client at /tether.js.
template <class Server>
void serve_page(Server& app, const std::filesystem::path& root) {
    tether::browser::serve_client(app);
    tether::http::serve_directory(app, "/", root);   // ETag, 304, Cache-Control: no-cache
}

// SSE, long polling and short polling for one topic, at the paths tether.js uses by default.
template <class Server, class Topic>
void serve_topic(Server& app, const Topic& topic) {
    std::string name(topic.name());
    app.sse("/sse/" + name, topic);
    app.long_poll("/poll/" + name, topic);
    app.short_poll("/status/" + name, topic);
}

inline void print_listening(const std::string& url) {
    std::printf("listening on %s\n", url.c_str());
    std::fflush(stdout);
}

} // namespace web_example
