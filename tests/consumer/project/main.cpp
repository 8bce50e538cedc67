// Proves a consuming project compiles, links and runs tether: serve one route on a free port,
// request it over a real socket, check the answer, stop. When tether was built with zlib
// (TETHER_CONSUMER_EXPECT_DEFLATE), also that permessage-deflate came along through the package:
// a compressed WebSocket echo with tether's own client.
#include <asio.hpp>
#include <cstdio>
#include <string>
#include <thread>

#include <tether/client/ws_client.hpp>
#include <tether/tether.hpp>

#if TETHER_CONSUMER_EXPECT_DEFLATE
static_assert(tether::ws::deflate_available, "tether was built with zlib, but the package did not carry it");
#endif

int main() {
    tether::server app{{.port = 0}};
    app.get("/ping", [](auto&, auto& res) { res.text("pong"); });
    app.websocket("/echo", {.on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); },
                            .permessage_deflate = {.mode = tether::ws::deflate_mode::on}});
    app.listen();
    std::thread server([&] { app.run(); });

    std::string reply;
    try {
        asio::io_context io;
        asio::ip::tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), app.port()});
        asio::write(socket, asio::buffer(std::string("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
        std::error_code ec;
        char buffer[1024];
        for (std::size_t n; (n = socket.read_some(asio::buffer(buffer), ec)) > 0 || !ec;) reply.append(buffer, n);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
    }
    bool deflate_ok = !tether::ws::deflate_available;
    if (tether::ws::deflate_available) {
        try {
            tether::client::ws_client ws;
            ws.connect("127.0.0.1", app.port(), "/echo", {.permessage_deflate = tether::client::deflate_settings{}});
            const std::string message(4096, 'z');
            ws.send_text(message);
            auto echo = ws.receive_message();
            deflate_ok = echo && echo->compressed && echo->payload == message;
            ws.close();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "consumer: deflate: %s\n", e.what());
        }
    }
    app.stop();
    server.join();

    bool ok = reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 && reply.ends_with("\r\n\r\npong") && deflate_ok;
    std::printf("consumer: %s\n", ok ? "ok" : reply.c_str());
    return ok ? 0 : 1;
}
