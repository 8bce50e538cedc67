#pragma once
// Logging policies. The server reports through Config::logger, so an application routes
// tether's messages into its own logging (spdlog, syslog, a test's capture) by naming a type,
// and the default costs one branch when a level is filtered out.
#include <cstdio>
#include <mutex>
#include <string_view>

namespace tether::log {

enum class level { debug, info, warning, error };

inline constexpr std::string_view to_string(level l) noexcept {
    switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warning: return "warning";
    case level::error: return "error";
    }
    return "?";
}

// Warnings and errors to stderr, one whole line per message even with many I/O threads.
struct stderr_logger {
    level threshold = level::warning;
    void log(level l, std::string_view message) const {
        if (l < threshold) return;
        static std::mutex serialize_lines;
        std::lock_guard lock(serialize_lines);
        std::fprintf(stderr, "tether %.*s: %.*s\n", static_cast<int>(to_string(l).size()), to_string(l).data(),
                     static_cast<int>(message.size()), message.data());
    }
};

struct null_logger {
    void log(level, std::string_view) const noexcept {}
};

} // namespace tether::log
