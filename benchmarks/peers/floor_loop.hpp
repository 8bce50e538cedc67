#pragma once
// The event loop shared by the "kernel floor" reference servers (floor_http.cpp, floor_ws.cpp).
//
// What a floor is for: the targets ask tether for 2x Boost.Beast on one-request-in-flight loopback
// traffic, and our claim is that the kernel's TCP cost per round trip dominates both servers. A server that does
// the least user-space work possible settles that with a measurement: if even it cannot reach 2x Beast, no
// server can on this rig. So everything here is chosen to do less than any real server would:
//   - raw epoll, one loop per thread, no library (no Asio), nothing shared between threads;
//   - edge-triggered registration done once per connection (EPOLLIN | EPOLLET; EPOLLOUT is added only while a
//     send was short, the rare path), so the steady state is epoll_wait, recv until drained, one send;
//   - one receive buffer per loop, allocated at start-up; connection state in a table indexed by fd; no
//     allocation per request or message (only per connection, and on the rare short-send path);
//   - no timers, no timeouts, no limits beyond what correctness for the benchmark's clients needs.
// It is not a product: it trusts its clients (wrk, curl, benchmarks/loadgen/ws_load) and drops a connection on
// anything unexpected.
//
// A protocol plugs in as a Session type:
//   struct Session {
//       struct context;                      // per-loop scratch (response blocks, output buffer), built once
//       static constexpr std::size_t read_size;  // bytes per recv
//       struct reply { std::string_view out; bool close; };
//       reply on_data(context&, char* data, std::size_t n);  // bytes just read; `out` may point into context
//   };
// The loop sends `out` with one send(MSG_NOSIGNAL) per recv and closes the connection after it when `close`.
//
// Usage of the servers: NAME [--host 127.0.0.1] [--port 8080] [--threads 1] [--idle-threads 0]; prints
// "listening on http://HOST:PORT" once every listening socket accepts; SIGINT/SIGTERM stop it cleanly.
//
// --idle-threads N starts N more threads that only wait for the stop. They do no work, yet they change what
// the kernel does for the loop: the threads of a process share one descriptor table, and while it is shared
// every system call on a descriptor (recv, send, epoll_wait) takes and drops a reference on its file (fdget
// and fput, two atomic operations) that a process's lone thread skips. A server whose other threads idle
// under load (tether's service thread, which accepts and watches signals; an application's worker) pays
// that on every call; the floor with as many threads shows what it costs apart from the server's own code.

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <semaphore>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tether_floor {

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    unsigned threads = 1;
    unsigned idle_threads = 0;
};

[[noreturn]] inline void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--host ADDR] [--port N] [--threads N] [--idle-threads N]\n", argv0);
    std::exit(2);
}

[[noreturn]] inline void die(const char* name, const char* what) {
    std::fprintf(stderr, "%s: %s: %s\n", name, what, std::strerror(errno));
    std::exit(1);
}

inline options parse_options(int argc, char** argv) {
    options opt;
    const auto number = [&](std::string_view text, auto& value) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size()) usage(argv[0]);
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        const std::string_view value = argv[++i];
        if (arg == "--host") opt.host = std::string(value);
        else if (arg == "--port") number(value, opt.port);
        else if (arg == "--threads") number(value, opt.threads);
        else if (arg == "--idle-threads") number(value, opt.idle_threads);
        else usage(argv[0]);
    }
    if (opt.threads == 0) opt.threads = 1;
    return opt;
}

// A non-blocking listening socket. SO_REUSEPORT only with several threads (one listening socket per loop, the
// kernel spreads connections across them), as peers/beast_http.cpp does: a lone server must not silently share
// its port with another process that picks it too.
inline int listen_on(const char* name, const std::string& host, unsigned short port, bool reuse_port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die(name, "socket");
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) die(name, "SO_REUSEPORT");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
        std::fprintf(stderr, "%s: --host must be an IPv4 address\n", name);
        std::exit(2);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) die(name, "bind");
    if (listen(fd, SOMAXCONN) != 0) die(name, "listen");
    return fd;
}

inline unsigned short local_port(int fd) {
    sockaddr_in address{};
    socklen_t len = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    return ntohs(address.sin_port);
}

template <class Session>
class event_loop {
public:
    // `stop_fd` is the process's signalfd: level-triggered and never read, so a SIGTERM wakes every loop.
    event_loop(const char* name, int listen_fd, int stop_fd)
        : name_(name), listen_fd_(listen_fd), stop_fd_(stop_fd), in_(new char[Session::read_size]) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) die(name_, "epoll_create1");
        add(listen_fd_, EPOLLIN | EPOLLET);
        add(stop_fd_, EPOLLIN);
    }
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    ~event_loop() {
        for (std::size_t fd = 0; fd < conns_.size(); ++fd)
            if (conns_[fd].live) close(static_cast<int>(fd));
        close(epoll_);
    }

    void run() {
        epoll_event events[256];
        for (;;) {
            const int n = epoll_wait(epoll_, events, 256, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                die(name_, "epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == stop_fd_) return;
                if (fd == listen_fd_) {
                    accept_all();
                    continue;
                }
                // A connection closed earlier in this batch has no live entry: its later events are stale.
                if (static_cast<std::size_t>(fd) >= conns_.size() || !conns_[fd].live) continue;
                if ((events[i].events & EPOLLOUT) && !on_writable(fd)) continue;
                // EPOLLHUP/EPOLLERR without EPOLLIN: recv reports the error or EOF and the connection is closed.
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(fd);
            }
        }
    }

private:
    struct connection {
        Session session;
        std::string pending;            // the unsent tail of a short send (rare: the kernel's buffer was full)
        std::size_t pending_sent = 0;
        bool live = false;
        bool close_after_flush = false;
    };

    void add(int fd, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die(name_, "epoll_ctl(ADD)");
    }
    void modify(int fd, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev) != 0) die(name_, "epoll_ctl(MOD)");
    }

    // Edge-triggered: accept until EAGAIN, or the next connection would not raise a new edge.
    void accept_all() {
        for (;;) {
            const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno != EAGAIN) std::fprintf(stderr, "%s: accept4: %s\n", name_, std::strerror(errno));
                return;
            }
            // As every TechEmpower entry and the other peers do: answers are one small write each, and Nagle
            // would hold one back behind the client's delayed ACK.
            const int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) * 2 + 64);
            conns_[fd] = connection{};
            conns_[fd].live = true;
            add(fd, EPOLLIN | EPOLLET);
        }
    }

    void drop(int fd) {
        close(fd);  // also removes it from the epoll set (no other descriptor refers to the socket)
        conns_[fd] = connection{};
    }

    // Reads until the socket is drained (EAGAIN, or a short read: the queue was empty when recv returned, and any
    // byte arriving later raises a new edge), answering each read with one send.
    void on_readable(int fd) {
        for (;;) {
            connection& c = conns_[fd];
            if (!c.pending.empty()) return;  // back-pressure: reading resumes once the pending bytes are sent
            const ssize_t n = recv(fd, in_.get(), Session::read_size, 0);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno == EAGAIN) return;
                return drop(fd);  // EOF or error
            }
            const auto r = c.session.on_data(context_, in_.get(), static_cast<std::size_t>(n));
            if (!r.out.empty() && !send_or_keep(fd, c, r.out)) return;
            if (r.close) {
                if (c.pending.empty()) return drop(fd);
                c.close_after_flush = true;
                return;
            }
            if (static_cast<std::size_t>(n) < Session::read_size) return;
        }
    }

    // One send; a short one keeps the rest and waits for EPOLLOUT. False when the connection was dropped.
    bool send_or_keep(int fd, connection& c, std::string_view out) {
        ssize_t sent;
        do sent = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent < 0 && errno != EAGAIN) {
            drop(fd);
            return false;
        }
        const std::size_t done = sent < 0 ? 0 : static_cast<std::size_t>(sent);
        if (done < out.size()) {
            c.pending.assign(out.substr(done));
            c.pending_sent = 0;
            modify(fd, EPOLLIN | EPOLLOUT | EPOLLET);
        }
        return true;
    }

    // Flushes what a short send left; then resumes reading (edge-triggered: bytes that arrived meanwhile raised
    // no new edge). False when the connection was dropped.
    bool on_writable(int fd) {
        connection& c = conns_[fd];
        while (c.pending_sent < c.pending.size()) {
            const ssize_t n =
                send(fd, c.pending.data() + c.pending_sent, c.pending.size() - c.pending_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return false;
                drop(fd);
                return false;
            }
            c.pending_sent += static_cast<std::size_t>(n);
        }
        if (c.pending.empty()) return true;  // a stale EPOLLOUT (only reported while pending was set)
        std::string().swap(c.pending);
        c.pending_sent = 0;
        if (c.close_after_flush) {
            drop(fd);
            return false;
        }
        modify(fd, EPOLLIN | EPOLLET);
        on_readable(fd);
        return false;  // reading is done
    }

    const char* name_;
    int listen_fd_;
    int stop_fd_;
    int epoll_ = -1;
    std::unique_ptr<char[]> in_;  // not value-initialized: untouched pages stay out of RSS
    typename Session::context context_;
    std::vector<connection> conns_;  // indexed by fd
};

// Listens (one socket per thread), prints the "listening on" line, runs one loop per thread until SIGINT or
// SIGTERM. The signals are blocked in every thread and read through a signalfd that each loop watches.
template <class Session>
int serve(const char* name, int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread exists: they inherit the mask
    const int stop_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (stop_fd < 0) die(name, "signalfd");

    std::vector<int> listeners;
    unsigned short port = opt.port;
    for (unsigned i = 0; i < opt.threads; ++i) {
        listeners.push_back(listen_on(name, opt.host, port, opt.threads > 1));
        port = local_port(listeners.back());  // --port 0: the others join the port the first one got
    }
    std::vector<std::unique_ptr<event_loop<Session>>> loops;
    for (int fd : listeners) loops.push_back(std::make_unique<event_loop<Session>>(name, fd, stop_fd));

    std::printf("listening on http://%s:%u\n", opt.host.c_str(), unsigned{port});
    std::fflush(stdout);

    std::vector<std::thread> workers;
    for (std::size_t i = 1; i < loops.size(); ++i) workers.emplace_back([&loop = *loops[i]] { loop.run(); });
    std::binary_semaphore stopped{0};
    std::vector<std::thread> idlers;
    for (unsigned i = 0; i < opt.idle_threads; ++i) idlers.emplace_back([&stopped] { stopped.acquire(); stopped.release(); });
    loops.front()->run();
    for (auto& w : workers) w.join();
    stopped.release();
    for (auto& t : idlers) t.join();
    loops.clear();
    for (int fd : listeners) close(fd);
    close(stop_fd);
    return 0;
}

}  // namespace tether_floor
