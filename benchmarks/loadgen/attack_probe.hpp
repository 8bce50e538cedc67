#pragma once
// What attack_load measures while an attack runs, each on its own thread so that an attacker busy writing as
// fast as the kernel takes its bytes cannot delay a measurement (a sleeping thread that wakes preempts a busy
// one on the same core within a scheduler tick; the attacker never starves them).
//
//   sampler        the server's VmRSS every 50 ms (and VmHWM at the edges, which catches a spike between two
//                  samples), the peak per phase, and, when asked, how many of the server's sockets sit in
//                  CLOSE-WAIT (/proc/net/tcp). It raises over_limit() when RSS passes the limit, so the attack
//                  stops before the machine runs out of memory, and server_gone() when the process is gone.
//   normal_client  the victim: one keep-alive connection (or a fresh one per request) issuing a small GET at a
//                  fixed rate. Request k is due at start + k/rate whatever happened to request k-1, and its
//                  latency is measured from that due time, so a server that stalls is charged for every request
//                  that waited behind the stall (no coordinated omission). A request has a deadline, also from
//                  its due time: a timeout, a refused or reset connection or a non-2xx status is a request not
//                  served. A request that finds its reused keep-alive connection closed before any answer is
//                  retried once on a new connection, as browsers do for idempotent requests. It connects from
//                  its own loopback address (127.0.0.2; Linux routes all of 127/8 to lo), so a server's
//                  per-address caps can tell it from the attacker (127.0.0.1), as they would two real clients.
//                  It can run on a core of its own (normal_options::cpu, run.sh: the server's), because on
//                  loopback the kernel processes a socket's outgoing packets on the sender's core: sharing the
//                  attacker's core, the victim's requests would queue behind gigabytes of attack traffic in
//                  that core's network backlog, and the tool would measure itself rather than the server.
// Both attribute what they see to the phase current at the time (quiet before the attack, the attack, after).

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attack_wire.hpp"
#include "histogram.hpp"
#include "proc_sample.hpp"

namespace attack {

using clock_type = std::chrono::steady_clock;
enum phase : int { quiet = 0, under_attack = 1, after = 2, phases = 3 };

// Every TCP socket of the machine (/proc/net/tcp and tcp6, proc(5)): local port, remote port and state, as
// f(local_port, remote_port, state). States are the kernel's numbers: 1 ESTABLISHED, 4 FIN-WAIT-1, 8 CLOSE-WAIT.
template <class F>
void for_each_tcp_socket(F&& f) {
    auto port_of = [](std::string_view address) {   // "0100007F:1F90": the port after the colon, in hex
        const auto colon = address.rfind(':');
        return colon == std::string_view::npos ? -1 : static_cast<int>(std::strtol(address.data() + colon + 1, nullptr, 16));
    };
    for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(file);
        std::string line;
        std::getline(in, line);   // the column names
        while (std::getline(in, line)) {
            // "  sl  local_address rem_address   st ..."
            char local[64], remote[64];
            unsigned state = 0;
            if (std::sscanf(line.c_str(), " %*[0-9]: %63s %63s %x", local, remote, &state) != 3) continue;
            f(port_of(local), port_of(remote), static_cast<int>(state));
        }
    }
}

// Server sockets on `port` in CLOSE-WAIT: the peer sent FIN and the server has not closed.
inline int count_close_wait(int port) {
    int n = 0;
    for_each_tcp_socket([&](int local, int, int state) { n += local == port && state == 8; });
    return n;
}

class sampler {
public:
    sampler(int pid, int port, long rss_limit_kib, bool close_wait)
        : pid_(pid), port_(port), limit_kib_(rss_limit_kib), close_wait_(close_wait) {}
    ~sampler() { stop(); }

    void start() {
        sample();
        thread_ = std::thread([this] {
            auto next = clock_type::now();
            unsigned n = 0;
            while (!stopping_.load()) {
                next += std::chrono::milliseconds(50);
                std::this_thread::sleep_until(next);
                sample();
                if (close_wait_ && ++n % 5 == 0) sample_close_wait();   // /proc/net/tcp is big: every 250 ms
            }
        });
    }
    void stop() {
        stopping_ = true;
        if (thread_.joinable()) thread_.join();
    }
    // Moves to `p`, with a sample at the edge so each phase's peak includes its first and last moments.
    void enter(phase p) {
        sample();
        if (close_wait_) sample_close_wait();
        phase_ = p;
        sample();
    }
    long sample() {
        const long rss = tether_bench::field_kib(status_path(), "VmRSS:");
        if (rss < 0) {
            gone_ = true;
            return -1;
        }
        last_ = rss;
        auto& peak = peak_[phase_.load()];
        long seen = peak.load();
        while (rss > seen && !peak.compare_exchange_weak(seen, rss)) {}
        if (limit_kib_ > 0 && rss > limit_kib_) over_ = true;
        return rss;
    }
    int sample_close_wait() {
        const int n = count_close_wait(port_);
        auto& peak = close_wait_peak_[phase_.load()];
        int seen = peak.load();
        while (n > seen && !peak.compare_exchange_weak(seen, n)) {}
        return n;
    }
    [[nodiscard]] long hwm() const { return tether_bench::field_kib(status_path(), "VmHWM:"); }
    [[nodiscard]] long last() const { return last_.load(); }
    [[nodiscard]] long peak(phase p) const { return peak_[p].load(); }
    [[nodiscard]] int close_wait_peak(phase p) const { return close_wait_peak_[p].load(); }
    [[nodiscard]] bool over_limit() const { return over_.load(); }
    [[nodiscard]] bool server_gone() const { return gone_.load(); }

private:
    [[nodiscard]] std::string status_path() const { return "/proc/" + std::to_string(pid_) + "/status"; }

    int pid_;
    int port_;
    long limit_kib_;
    bool close_wait_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> phase_{quiet};
    std::atomic<long> last_{-1};
    std::array<std::atomic<long>, phases> peak_{};
    std::array<std::atomic<int>, phases> close_wait_peak_{};
    std::atomic<bool> over_{false};
    std::atomic<bool> gone_{false};
};

struct normal_stats {
    tether_bench::histogram latency;   // served requests, ns from their due time
    std::uint64_t attempted = 0;
    std::uint64_t served = 0;
    std::map<std::string, std::uint64_t> failures;   // why the others were not
};

struct normal_options {
    std::string host = "127.0.0.1";   // the server's IPv4 address
    std::uint16_t port = 0;
    std::string path = "/plaintext";
    double rate = 50;                                  // requests per second
    std::chrono::milliseconds deadline{1000};          // from the due time
    bool fresh = false;                                // a new connection per request
    std::string source = "127.0.0.2";                  // local address to connect from ("" : the kernel's choice)
    int cpu = -1;                                      // the core its thread runs on (-1: the process's)
};

class normal_client {
public:
    explicit normal_client(normal_options o) : o_(std::move(o)) {
        request_ = "GET " + o_.path + " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) + "\r\n" +
                   (o_.fresh ? "Connection: close\r\n" : "") + "\r\n";
    }
    ~normal_client() { stop(); }

    void start() {
        thread_ = std::thread([this] { run(); });
    }
    // Requests due from now on are not made; the one in flight finishes (within its deadline).
    void stop() {
        stopping_ = true;
        if (thread_.joinable()) thread_.join();
        drop();
    }
    void enter(phase p) { phase_ = p; }
    // Valid once stopped.
    [[nodiscard]] const normal_stats& stats(phase p) const { return stats_[p]; }
    [[nodiscard]] const std::string& source() const { return o_.source; }   // "" when it fell back

private:
    void run() {
        if (o_.cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(o_.cpu, &set);
            if (sched_setaffinity(0, sizeof set, &set) != 0)   // 0: this thread
                std::fprintf(stderr, "attack_load: normal client cannot run on cpu %d: %s\n", o_.cpu, std::strerror(errno));
        }
        const auto interval = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(1.0 / o_.rate));
        const auto start = clock_type::now();
        for (std::uint64_t k = 0; !stopping_.load(); ++k) {
            const auto due = start + interval * static_cast<std::int64_t>(k);
            std::this_thread::sleep_until(due);
            if (stopping_.load()) break;
            normal_stats& s = stats_[phase_.load()];
            ++s.attempted;
            const auto deadline = due + o_.deadline;
            if (clock_type::now() >= deadline) {   // still busy with earlier requests past this one's deadline
                ++s.failures["timeout"];
                continue;
            }
            std::string failure = exchange(deadline);
            if (!failure.empty() && failure != "timeout" && retry_) failure = exchange(deadline);
            if (failure.empty()) {
                ++s.served;
                s.latency.record(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - due).count()));
            } else {
                ++s.failures[failure];
            }
        }
    }

    void drop() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    static int remaining_ms(clock_type::time_point deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
        return left > 0 ? static_cast<int>(left) + 1 : 0;
    }

    // One request and its response; "" when served, else why not. Sets retry_ when the failure was a reused
    // connection found closed before any answer.
    std::string exchange(clock_type::time_point deadline) {
        retry_ = false;
        const bool reused = fd_ >= 0;
        if (!reused) {
            if (std::string e = connect_fd(deadline); !e.empty()) return e;
        }
        if (::send(fd_, request_.data(), request_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request_.size())) {
            const int e = errno;
            drop();
            retry_ = reused;
            return e == EPIPE || e == ECONNRESET ? "reset" : std::string("send: ") + std::strerror(e);
        }
        response_reader reader;
        int status = 0;
        bool done = false;
        bool close_after = false;
        bool any = false;
        std::array<char, 16384> buffer{};
        while (!done) {
            pollfd p{fd_, POLLIN, 0};
            const int r = ::poll(&p, 1, remaining_ms(deadline));
            if (r == 0 || clock_type::now() >= deadline) {
                drop();
                return "timeout";
            }
            if (r < 0) {
                if (errno == EINTR) continue;
                drop();
                return std::string("poll: ") + std::strerror(errno);
            }
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                const bool reset = n < 0 && errno == ECONNRESET;
                reader.finish([&](int st, std::string_view, bool) { status = st; done = true; });
                drop();
                if (done) break;
                retry_ = reused && !any;
                return reset ? "reset" : (n == 0 ? "closed" : std::string("recv: ") + std::strerror(errno));
            }
            any = true;
            const auto used = reader.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)),
                                          [&](int st, std::string_view, bool close) {
                                              status = st;
                                              close_after = close;
                                              done = true;
                                          });
            if (used == response_reader::npos) {
                drop();
                return "bad response";
            }
        }
        if (close_after || o_.fresh) drop();
        if (status < 200 || status > 299) return "status " + std::to_string(status);
        return "";
    }

    std::string connect_fd(clock_type::time_point deadline) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!o_.source.empty()) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            if (::inet_pton(AF_INET, o_.source.c_str(), &local.sin_addr) != 1 ||
                ::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
                // A host without 127/8 on lo (some containers): share the attacker's address, and say so.
                std::fprintf(stderr, "attack_load: normal client cannot bind %s (%s); connecting from the default\n",
                             o_.source.c_str(), std::strerror(errno));
                o_.source.clear();
                drop();
                return connect_fd(deadline);
            }
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(o_.port);
        ::inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr);   // checked when the options were parsed
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
            const int e = errno;
            drop();
            return e == ECONNREFUSED ? "refused" : std::string("connect: ") + std::strerror(e);
        }
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
            drop();
            return "timeout";
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            drop();
            return err == ECONNREFUSED ? "refused" : std::string("connect: ") + std::strerror(err);
        }
        return "";
    }

    normal_options o_;
    std::string request_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> phase_{quiet};
    std::array<normal_stats, phases> stats_{};
    int fd_ = -1;
    bool retry_ = false;
};

} // namespace attack
