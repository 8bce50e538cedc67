// cpp-httplib peer for the HTTP plaintext benchmark (benchmarks/http/run.sh).
//
// Serves GET /plaintext -> 200 text/plain "Hello, World!" with Server and Date headers, like tether's `hello`
// example and the Beast peer.
//
// What --threads means here, and why it matters for the one-core comparison: cpp-httplib is a blocking,
// thread-per-connection server. One thread (the caller of listen()) accepts; each accepted connection is
// queued to a task queue and one pool thread then serves that connection alone, for as long as it stays
// kept alive. --threads N sets that pool to N threads (`new_task_queue`), so at most N connections are being
// served at any moment and the rest wait in the queue. With --threads 1 and 64 wrk connections, httplib serves
// the connections one after another; that is its design, not a misconfiguration, and it is why run.sh lets
// HTTPLIB_THREADS be set apart from THREADS (e.g. 64, still pinned to the same single core, which measures
// its CPU cost per request with every connection live).
//
// Keep-alive: httplib closes a connection after CPPHTTPLIB_KEEPALIVE_MAX_COUNT (5) requests by default. The
// other servers keep a connection for as long as the client does, so this peer raises the count (and keeps
// httplib's 5 s idle timeout): otherwise the benchmark would measure TCP connection set-up, not HTTP.
//
// TCP_NODELAY: httplib writes a response's header block and body in separate send() calls. Without
// set_tcp_nodelay(true) Nagle holds the body back until the client ACKs the headers, and the client delays
// that ACK by ~40 ms: 25 requests/s per connection. The Beast peer sets TCP_NODELAY too.
//
// Usage: httplib_server [--host 127.0.0.1] [--port 8080] [--threads 1]
// Prints "listening on http://HOST:PORT" once the socket is bound and listening. SIGINT/SIGTERM stop it.

#include <httplib.h>

#include <array>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>

namespace {

constexpr const char* plaintext_body = "Hello, World!";

struct options {
    std::string host = "127.0.0.1";
    int port = 8080;
    unsigned threads = 1;
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--host ADDR] [--port N] [--threads N]\n", argv0);
    std::exit(2);
}

template <class T>
T parse_number(std::string_view text, const char* argv0) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) usage(argv0);
    return value;
}

options parse_options(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        std::string_view value = argv[++i];
        if (arg == "--host") opt.host = std::string(value);
        else if (arg == "--port") opt.port = parse_number<int>(value, argv[0]);
        else if (arg == "--threads") opt.threads = parse_number<unsigned>(value, argv[0]);
        else usage(argv[0]);
    }
    if (opt.threads == 0) opt.threads = 1;
    return opt;
}

// RFC 9110 §5.6.7 IMF-fixdate, formatted at most once per second per thread.
std::string http_date() {
    thread_local std::time_t last = 0;
    thread_local std::string cached;
    std::time_t t = std::time(nullptr);
    if (t != last) {
        last = t;
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::array<char, 64> buf{};
        cached.assign(buf.data(), std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm));
    }
    return cached;
}

httplib::Server* running_server = nullptr;

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);

    httplib::Server server;
    const unsigned pool = opt.threads;
    server.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
    server.set_keep_alive_max_count(1'000'000'000);
    server.set_tcp_nodelay(true);

    server.Get("/plaintext", [](const httplib::Request&, httplib::Response& res) {
        res.set_header("Server", "httplib");
        res.set_header("Date", http_date());
        res.set_content(plaintext_body, "text/plain");
    });

    int port = opt.port;
    if (port == 0) port = server.bind_to_any_port(opt.host);
    else if (!server.bind_to_port(opt.host, port)) port = -1;
    if (port <= 0) {
        std::fprintf(stderr, "httplib_server: cannot listen on %s:%d\n", opt.host.c_str(), opt.port);
        return 1;
    }
    // bind_to_port also calls listen(2): connections are queued by the kernel from here on, so it is safe to
    // announce the port before listen_after_bind() starts accepting.
    std::printf("listening on http://%s:%d\n", opt.host.c_str(), port);
    std::fflush(stdout);

    // httplib's stop() is safe to call from another thread but not from a signal handler: a small thread
    // waits for the signal synchronously and calls it.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by every thread started below
    running_server = &server;
    std::thread stopper([&signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        running_server->stop();
    });
    stopper.detach();

    return server.listen_after_bind() ? 0 : 1;
}
