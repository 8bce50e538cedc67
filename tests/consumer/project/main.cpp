// Proves a consuming project compiles, links and runs tether: serve one route on a free port,
// request it over a real socket, check the answer, stop.
#include <asio.hpp>
#include <cstdio>
#include <string>
#include <thread>

#include <tether/tether.hpp>

int main() {
    tether::server app{{.port = 0}};
    app.get("/ping", [](auto&, auto& res) { res.text("pong"); });
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
    app.stop();
    server.join();

    bool ok = reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 && reply.ends_with("\r\n\r\npong");
    std::printf("consumer: %s\n", ok ? "ok" : reply.c_str());
    return ok ? 0 : 1;
}
