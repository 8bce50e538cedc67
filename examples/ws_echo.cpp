// ws_echo: a WebSocket echo endpoint (text and binary), the shape every WebSocket benchmark and
// conformance suite drives.
//
//   ./ws_echo --port 8080
//   node -e "const W=require('ws');const w=new W('ws://127.0.0.1:8080/ws');w.on('open',()=>w.send('hi'));w.on('message',m=>{console.log(''+m);w.close()})"
//
// In a browser console: s = new WebSocket('ws://127.0.0.1:8080/ws'); s.onmessage = e => console.log(e.data); s.send('hi')
#include <cstdio>
#include <exception>

#include <tether/tether.hpp>

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};

    app.websocket("/ws", {.on_message = [](auto& ws, std::string_view message, tether::ws::opcode op) {
                              ws.send(message, op);
                          }});
    app.get("/plaintext", [](auto&, auto& res) { res.text("Hello, World!"); });

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "ws_echo: %s\n", e.what());
    return 1;
}
