#pragma once
// What makes an example one node of a cluster: `--redis URL` (redis://[:password@]host:port/db or
// unix:///path), and then a Redis backplane that orders its topics, so that every node started with
// the same URL serves them as one: a message published on any node reaches clients of every node, in
// one order, and a client may resume on any node with the id it last saw. See README, "Scaling out".
//
// Built with the backplane when tether::redis is available (TETHER_WITH_REDIS and hiredis found, the
// default for a top-level build); otherwise --redis is refused with a message.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "web/web_example.hpp"

#ifdef TETHER_EXAMPLE_WITH_REDIS
#include <tether/redis.hpp>
#endif

namespace cluster {

// For --help, after the server's options and --web-root (web_example::print_help).
inline constexpr std::string_view usage =
    "  --redis URL     be one node of a cluster on this Redis (redis://[:password@]host:port/db, unix:///path)\n";

// Removes `--redis URL` from argv (so tether::parse_command_line sees only its own options).
inline std::optional<std::string> take_redis_url(int& argc, char** argv) {
    return web_example::take_option(argc, argv, "--redis");
}

#ifdef TETHER_EXAMPLE_WITH_REDIS
using backplane = tether::redis::backplane;

// The backplane for `url`, or null without one. Declare it before the server: it must outlive it.
inline std::unique_ptr<backplane> join(const std::optional<std::string>& url) {
    if (!url) return nullptr;
    return std::make_unique<backplane>(*url);
}

// Before listening: wait (a bounded time) until the topics have caught up with Redis, so that the
// first clients resume from the cluster's history rather than from an empty ring. Without Redis the
// node starts anyway: publishes fail (503) until it connects, and it catches up then.
inline void wait_until_ready(backplane* b) {
    if (b == nullptr) return;
    if (!b->wait_until_ready(std::chrono::seconds(5)))
        std::fprintf(stderr, "redis: not ready after 5 s; serving anyway, catching up once connected\n");
}
#else
struct backplane {};
inline std::unique_ptr<backplane> join(const std::optional<std::string>& url) {
    if (url) throw std::invalid_argument("--redis: this build has no Redis backplane (install libhiredis-dev and reconfigure)");
    return nullptr;
}
inline void wait_until_ready(backplane*) {}
#endif

} // namespace cluster
