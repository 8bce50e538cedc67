// ws_echo: a WebSocket echo endpoint (text and binary), the shape every WebSocket benchmark and
// conformance suite drives. permessage-deflate (RFC 7692) is on: a client that offers it (every
// browser, npm ws with perMessageDeflate) gets compressed echoes of messages from 64 bytes up.
//
//   ./ws_echo --port 8080 [--deflate on|off|no-context-takeover] [--deflate-threshold BYTES]
//   node -e "const W=require('ws');const w=new W('ws://127.0.0.1:8080/ws');w.on('open',()=>w.send('hi'));w.on('message',m=>{console.log(''+m);w.close()})"
//
// In a browser console: s = new WebSocket('ws://127.0.0.1:8080/ws'); s.onmessage = e => console.log(e.data); s.send('hi')
// (DevTools' Network tab then shows "permessage-deflate" in the response's Sec-WebSocket-Extensions.)
#include <charconv>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/tether.hpp>

namespace {

// Removes "--name VALUE" from argv (so parse_command_line sees only its own options) and returns VALUE.
std::string take_option(int& argc, char** argv, std::string_view name, std::string fallback) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (argv[i] != name) continue;
        std::string value = argv[i + 1];
        for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
        argc -= 2;
        return value;
    }
    return fallback;
}

tether::ws::deflate_options deflate_from(int& argc, char** argv) {
    const std::string mode = take_option(argc, argv, "--deflate", "on");
    const std::string threshold = take_option(argc, argv, "--deflate-threshold", "64");
    tether::ws::deflate_options o;
    if (mode == "on") o.mode = tether::ws::deflate_mode::on;
    else if (mode == "no-context-takeover") o.mode = tether::ws::deflate_mode::no_context_takeover;
    else if (mode != "off") throw std::invalid_argument("--deflate: on, off or no-context-takeover");
    auto [end, ec] = std::from_chars(threshold.data(), threshold.data() + threshold.size(), o.threshold);
    if (ec != std::errc{} || end != threshold.data() + threshold.size())
        throw std::invalid_argument("--deflate-threshold: a number of bytes");
    return o;
}

}  // namespace

int main(int argc, char** argv) try {
    const auto deflate = deflate_from(argc, argv);
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};

    app.websocket("/ws", {.on_message = [](auto& ws, std::string_view message, tether::ws::opcode op) {
                              ws.send(message, op);
                          },
                          .permessage_deflate = deflate});
    app.get("/plaintext", [](auto&, auto& res) { res.text("Hello, World!"); });
    // The server's WebSocket counters, e.g. to see that a browser's messages arrive compressed.
    app.get("/stats", [&app](auto&, auto& res) {
        const auto s = app.stats();
        std::string body;
        tether::json::writer(body)
            .begin_object()
            .member("ws_deflate_connections", s.ws_deflate_connections)
            .member("ws_compressed_sends", s.ws_compressed_sends)
            .member("ws_inflated_messages", s.ws_inflated_messages)
            .end_object();
        res.json(std::move(body));
    });

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    std::fputs("  --deflate MODE  permessage-deflate: on (default), off or no-context-takeover\n"
               "  --deflate-threshold BYTES   messages shorter than this go uncompressed (default 64)\n",
               stdout);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "ws_echo: %s\n", e.what());
    return 1;
}
