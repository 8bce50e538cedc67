#pragma once
// What the examples with a page share (the *_web examples and hybrid, the demo): the extra
// command-line option --web-root, serving the page directory (examples/web/<name>/), the
// listening line, and --help. The routes tether.js looks for come from app.realtime().
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

// The page at "/" (index.html) and its assets next to it. (tether.js itself is served by
// app.realtime().)
template <class Server>
void serve_page(Server& app, const std::filesystem::path& root) {
    tether::http::serve_directory(app, "/", root);   // ETag, 304, Cache-Control: no-cache
}

// Flushed, so a script or test reading stdout through a pipe sees it at once.
inline void print_listening(const std::string& url) {
    std::printf("listening on %s\n", url.c_str());
    std::fflush(stdout);
}

inline constexpr std::string_view web_root_usage =
    "  --web-root DIR  serve the page from DIR (default: this example's examples/web/<name>)\n";

// For `catch (const tether::help_requested& h) { return web_example::print_help(h, ...); }`:
// the server options, --web-root and the example's own, on stdout; exit status 0.
inline int print_help(const tether::help_requested& help, std::string_view own_options = {}) {
    std::string text = help.what();
    text.append(web_root_usage).append(own_options);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    return 0;
}

} // namespace web_example
