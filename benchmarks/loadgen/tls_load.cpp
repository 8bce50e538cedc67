// tls_load: a TLS load generator for benchmarks/tls/run.sh. It speaks TLS (OpenSSL) and HTTP/1.1 or the
// WebSocket upgrade over plain sockets and knows nothing of the server it drives, so the same tool measures
// tether, nginx and Beast side by side.
//
//   tls_load handshake --port P --duration 5 [--concurrency 16] [--resume]     new connections per second
//   tls_load idle --port P --connections 10000 --hold 3 [--websocket]          memory per idle connection
//   common: [--host 127.0.0.1] [--server-pid PID] [--warmup 1]
//
// handshake: keeps --concurrency connections in flight; each connects, completes a TLS handshake (a full one,
//   or with --resume one resumed from a session ticket taken from an earlier connection), sends
//   GET /plaintext, reads the whole answer (so the server certainly finished its side, and a TLS 1.3 ticket
//   has arrived), and closes. Reports connections/s and, with --server-pid, server CPU µs per connection,
//   sampled at the edges of the measured window. No certificate verification: the client's share of the
//   work stays the key exchange and one signature check, so the server is what is measured.
// idle: opens N connections (at most 64 handshakes in flight), each with one GET /plaintext (or, with
//   --websocket, a WebSocket upgrade to /ws), waits a second for the server to settle, samples its VmRSS and
//   Private_Dirty, holds them until --hold seconds have passed, then closes.
// The last stdout line is "result key=value ...". Exit status 1 when anything failed.
//
// Why its own tool: `openssl s_time` keeps one connection at a time (the server idles while the client
// works), and wrk's handshakes happen only at connection start.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "proc_sample.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::string mode;
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    double duration = 5, warmup = 1, hold = 3;
    unsigned concurrency = 16, connections = 1000;
    bool resume = false, websocket = false;
    int server_pid = 0;
};

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: tls_load handshake|idle --port P [--duration S] [--warmup S] [--concurrency N] [--resume]\n"
                         "       [--connections N] [--hold S] [--websocket] [--host H] [--server-pid PID]\n");
    std::exit(2);
}

options parse(int argc, char** argv) {
    if (argc < 2) usage();
    options o;
    o.mode = argv[1];
    if (o.mode != "handshake" && o.mode != "idle") usage();
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&] {
            if (i + 1 >= argc) usage();
            return std::string(argv[++i]);
        };
        if (a == "--resume") o.resume = true;
        else if (a == "--websocket") o.websocket = true;
        else if (a == "--host") o.host = value();
        else if (a == "--port") o.port = static_cast<unsigned short>(std::stoul(value()));
        else if (a == "--duration") o.duration = std::stod(value());
        else if (a == "--warmup") o.warmup = std::stod(value());
        else if (a == "--hold") o.hold = std::stod(value());
        else if (a == "--concurrency") o.concurrency = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--connections") o.connections = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--server-pid") o.server_pid = std::stoi(value());
        else usage();
    }
    if (o.port == 0) usage();
    return o;
}

// One connection's life: connect, handshake, request, answer.
struct connection {
    enum class stage { connecting, handshaking, writing, reading, idle, done, failed } at = stage::connecting;
    int fd = -1;
    SSL* ssl = nullptr;
    std::string request;
    std::size_t sent = 0;
    std::string received;
    ~connection() {
        if (ssl) {
            // Quietly "shut down" (no alert sent): SSL_free of a connection that was not shut down
            // marks its session not resumable, and the session saved for --resume is that one.
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
            SSL_free(ssl);
        }
        if (fd >= 0) {
            // Reset rather than FIN: the answer has been read in full, and tens of thousands of
            // short connections in TIME_WAIT would exhaust the ephemeral ports.
            linger reset{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            ::close(fd);
        }
    }
};

class driver {
public:
    explicit driver(const options& o) : o_(o), epoll_(::epoll_create1(0)) {
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
        // No client cache: a resumed connection that gets a new ticket would remove the shared
        // session from it, which marks that session not resumable for every later connection.
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx_, alpn, sizeof alpn - 1);
        addr_.sin_family = AF_INET;
        addr_.sin_port = htons(o.port);
        ::inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr);
    }
    ~driver() {
        if (session_) SSL_SESSION_free(session_);
        SSL_CTX_free(ctx_);
        ::close(epoll_);
    }

    // Starts one connection; false when the socket cannot even be made.
    bool start() {
        auto c = std::make_unique<connection>();
        c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0) return false;
        int one = 1;
        ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(c->fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) != 0 && errno != EINPROGRESS) return false;
        c->ssl = SSL_new(ctx_);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        if (o_.resume && session_) SSL_set_session(c->ssl, session_);
        c->request = o_.websocket ? "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                                  : "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.ptr = c.get();
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
        live_.push_back(std::move(c));
        ++in_flight_;
        return true;
    }

    // Runs every in-flight connection as far as it can go now. Calls on_end(c) for finished ones.
    template <class OnEnd>
    void poll(int timeout_ms, OnEnd&& on_end) {
        epoll_event events[256];
        int n = ::epoll_wait(epoll_, events, 256, timeout_ms);
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<connection*>(events[i].data.ptr);
            if (ended(*c)) continue;   // held open (idle mode): nothing more to do
            advance(*c);
            if (ended(*c)) on_end(*c);
        }
    }

    static bool ended(const connection& c) {
        return c.at == connection::stage::done || c.at == connection::stage::failed || c.at == connection::stage::idle;
    }

    void drop(connection& c) {
        for (auto it = live_.begin(); it != live_.end(); ++it)
            if (it->get() == &c) {
                ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
                std::swap(*it, live_.back());
                live_.pop_back();
                return;
            }
    }
    void drop_all() { live_.clear(); }

    void keep_session(connection& c) {
        if (session_ || !o_.resume) return;
        session_ = SSL_get1_session(c.ssl);
    }

    unsigned in_flight_ = 0;
    std::size_t resumed_ = 0;

private:
    void advance(connection& c) {
        for (;;) {
            switch (c.at) {
            case connection::stage::connecting:
            case connection::stage::handshaking: {
                c.at = connection::stage::handshaking;
                int r = SSL_connect(c.ssl);
                if (r == 1) {
                    if (SSL_session_reused(c.ssl)) ++resumed_;
                    c.at = connection::stage::writing;
                    continue;
                }
                return wait_or_fail(c, r);
            }
            case connection::stage::writing: {
                std::size_t n = 0;
                int r = SSL_write_ex(c.ssl, c.request.data() + c.sent, c.request.size() - c.sent, &n);
                if (r != 1) return wait_or_fail(c, r);
                c.sent += n;
                if (c.sent == c.request.size()) c.at = connection::stage::reading;
                continue;
            }
            case connection::stage::reading: {
                char buffer[4096];
                std::size_t n = 0;
                int r = SSL_read_ex(c.ssl, buffer, sizeof buffer, &n);
                if (r != 1) return wait_or_fail(c, r);
                c.received.append(buffer, n);
                if (complete(c.received)) {
                    c.at = o_.mode == "idle" ? connection::stage::idle : connection::stage::done;
                    return;
                }
                continue;
            }
            default: return;
            }
        }
    }

    // A whole answer: a 101 head, or a head and its Content-Length body.
    static bool complete(const std::string& r) {
        auto end = r.find("\r\n\r\n");
        if (end == std::string::npos) return false;
        if (r.starts_with("HTTP/1.1 101")) return true;
        auto cl = r.find("Content-Length: ");
        if (cl == std::string::npos) cl = r.find("content-length: ");
        if (cl == std::string::npos) return true;
        return r.size() >= end + 4 + std::strtoul(r.c_str() + cl + 16, nullptr, 10);
    }

    void wait_or_fail(connection& c, int r) {
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        ERR_clear_error();
        c.at = connection::stage::failed;
    }

    const options& o_;
    int epoll_;
    SSL_CTX* ctx_;
    SSL_SESSION* session_ = nullptr;
    sockaddr_in addr_{};
    std::vector<std::unique_ptr<connection>> live_;
};

int handshakes(const options& o) {
    driver d(o);
    if (o.resume) {   // one full handshake first, for the ticket every later connection resumes
        d.start();
        bool got = false;
        auto until = clock_type::now() + std::chrono::seconds(5);
        while (!got && clock_type::now() < until)
            d.poll(100, [&](connection& c) {
                d.keep_session(c);
                got = true;
                d.drop(c);
            });
        if (!got) {
            std::fprintf(stderr, "tls_load: the first handshake did not complete\n");
            return 1;
        }
        d.resumed_ = 0;
    }
    std::size_t completed = 0, failed = 0, counted = 0, counted_resumed = 0;
    auto start = clock_type::now();
    auto measure_from = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.warmup));
    auto stop_at = measure_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration));
    bool measuring = false;
    tether_bench::proc_sample before{}, after{};
    clock_type::time_point t0{}, t1{};
    std::size_t resumed_at_start = 0;
    while (d.in_flight_ < o.concurrency) d.start();
    for (;;) {
        auto now = clock_type::now();
        if (!measuring && now >= measure_from) {
            measuring = true;
            before = tether_bench::sample_process(o.server_pid);
            t0 = now;
            counted = 0;
            resumed_at_start = d.resumed_;
        }
        if (now >= stop_at) {
            after = tether_bench::sample_process(o.server_pid);
            t1 = now;
            counted_resumed = d.resumed_ - resumed_at_start;
            break;
        }
        d.poll(10, [&](connection& c) {
            if (c.at == connection::stage::failed) ++failed;
            else {
                ++completed;
                if (measuring) ++counted;
            }
            --d.in_flight_;
            d.drop(c);
        });
        while (d.in_flight_ < o.concurrency) d.start();
    }
    double seconds = std::chrono::duration<double>(t1 - t0).count();
    double rate = static_cast<double>(counted) / seconds;
    double cpu = after.cpu_seconds - before.cpu_seconds;
    double us = counted ? cpu * 1e6 / static_cast<double>(counted) : 0;
    std::printf("result connections_per_s=%.0f server_cpu_us_per_connection=%.1f connections=%zu resumed=%zu failed=%zu seconds=%.2f server_cpu_s=%.2f\n",
                rate, o.server_pid ? us : 0.0, counted, counted_resumed, failed, seconds, cpu);
    if (o.resume && counted_resumed * 10 < counted * 9) {
        std::fprintf(stderr, "tls_load: only %zu of %zu connections resumed\n", counted_resumed, counted);
        return 1;
    }
    return failed ? 1 : 0;
}

int idle(const options& o) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    driver d(o);
    auto before = tether_bench::sample_process(o.server_pid);
    std::size_t open = 0, failed = 0, started = 0;
    auto deadline = clock_type::now() + std::chrono::seconds(120);
    while (open + failed < o.connections && clock_type::now() < deadline) {
        while (started < o.connections && d.in_flight_ < 64) {
            if (!d.start()) {
                ++failed;
                ++started;
                continue;
            }
            ++started;
        }
        d.poll(10, [&](connection& c) {
            --d.in_flight_;
            if (c.at == connection::stage::failed) {
                ++failed;
                d.drop(c);
            } else {
                ++open;   // held open from here on
            }
        });
    }
    std::printf("open %zu\n", open);
    std::fflush(stdout);
    auto opened = clock_type::now();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto after = tether_bench::sample_process(o.server_pid);
    auto hold_until = opened + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.hold));
    std::this_thread::sleep_until(hold_until);
    d.drop_all();
    long rss = after.rss_kib - before.rss_kib, dirty = after.private_dirty_kib - before.private_dirty_kib;
    std::printf("result connections=%zu failed=%zu rss_before_kib=%ld rss_after_kib=%ld rss_bytes_per_conn=%.0f "
                "private_dirty_bytes_per_conn=%.0f\n",
                open, failed, before.rss_kib, after.rss_kib, open ? rss * 1024.0 / static_cast<double>(open) : 0.0,
                open ? dirty * 1024.0 / static_cast<double>(open) : 0.0);
    return failed || open != o.connections ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    return o.mode == "handshake" ? handshakes(o) : idle(o);
}
