// examples/hello's /plaintext on tether::transport::tcp (no TLS layer at all), for benchmarks/tls/run.sh:
// measured against `hello`, whose default transport is tls<tcp>, on the same plaintext load, it shows what a
// plaintext connection pays for a transport that can also speak TLS.
#include <cstdio>
#include <exception>

#include <tether/tether.hpp>

struct tcp_only : tether::default_config {
    using transport = tether::transport::tcp;
};

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::basic_server<tcp_only> app{options};
    app.get("/plaintext", [](auto&, auto& res) { res.text("Hello, World!"); });
    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const std::exception& e) {
    std::fprintf(stderr, "hello_tcp_transport: %s\n", e.what());
    return 1;
}
