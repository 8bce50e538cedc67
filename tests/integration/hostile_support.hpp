#pragma once
// Support for the hostile-client tests: what the server process holds (resident memory, from
// /proc/self/status; the server runs in this process), a normal client that must keep being
// served during an attack, and sockets on the server's port stuck in CLOSE-WAIT.
//
// Memory is checked as a bound, never as a timing: each attack test states the budget the
// server promises for it and asserts the resident growth stays within that budget plus slack.
// Under AddressSanitizer freed memory sits in a quarantine and every byte has shadow, and under
// ThreadSanitizer every byte has several of shadow, so the slack there is larger (tests/run also
// shrinks ASan's quarantine for that tree).
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "test_server.hpp"

namespace tether::itest {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool under_sanitizer = true;
#else
inline constexpr bool under_sanitizer = false;
#endif
#else
inline constexpr bool under_sanitizer = false;
#endif

// VmRSS (now) or VmHWM (the peak so far) of this process, in bytes.
inline std::size_t proc_status_bytes(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field, 0) != 0) continue;
        std::istringstream values(line.substr(std::string(field).size() + 1));
        std::size_t kib = 0;
        values >> kib;
        return kib * 1024;
    }
    return 0;
}
inline std::size_t resident_bytes() { return proc_status_bytes("VmRSS"); }

// Samples the resident size on a thread while an attack runs, and keeps the largest value.
class rss_watch {
public:
    rss_watch() : baseline_(resident_bytes()), peak_(baseline_) {
        sampler_ = std::thread([this] {
            while (!done_.load()) {
                std::size_t now = resident_bytes();
                std::size_t seen = peak_.load();
                while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
    }
    rss_watch(const rss_watch&) = delete;
    rss_watch& operator=(const rss_watch&) = delete;
    ~rss_watch() { stop(); }

    // Growth over the baseline, at its largest while this watch ran.
    std::size_t peak_growth() {
        stop();
        return peak_.load() > baseline_ ? peak_.load() - baseline_ : 0;
    }

private:
    void stop() {
        done_.store(true);
        if (sampler_.joinable()) sampler_.join();
    }
    std::size_t baseline_;
    std::atomic<std::size_t> peak_;
    std::atomic<bool> done_{false};
    std::thread sampler_;
};

// The most a server may grow beyond `budget` for the bookkeeping around it (the test's own
// client buffers, allocator slack), per build.
inline std::size_t with_slack(std::size_t budget) {
    return under_sanitizer ? budget * 4 + (128u << 20) : budget + (24u << 20);
}

// One plain request on a fresh connection, answered 200 within a generous deadline: the
// liveness check that an attack has not taken the server from its other clients. (Never a
// latency assertion: benchmarks/attack measures latency.)
inline bool normal_request_served(std::uint16_t port, std::string_view target = "/hello") {
    try {
        raw_client c{port};
        if (!c.send(get_request(target))) return false;
        auto r = c.read_response(10s);
        return r && r->status == 200;
    } catch (const std::exception&) {
        return false;
    }
}

// Sockets on local port `port` in CLOSE-WAIT (the peer closed, the server has not).
inline int close_wait_sockets(std::uint16_t port) {
    int count = 0;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);   // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            auto colon = local.rfind(':');
            if (colon == std::string::npos) continue;
            unsigned local_port = std::stoul(local.substr(colon + 1), nullptr, 16);
            if (local_port == port && state == "08") ++count;   // TCP_CLOSE_WAIT
        }
    }
    return count;
}

// Polls `condition` every 10 ms until it holds or `within` passes.
template <class Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds within = 10s) {
    const auto deadline = steady::now() + within;
    while (!condition()) {
        if (steady::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

} // namespace tether::itest
