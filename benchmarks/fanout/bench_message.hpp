#pragma once
// The message body both fan-out servers publish (benchmarks/fanout/fanout_server.cpp, tether, and
// benchmarks/peers/naive_broadcast.cpp, Boost.Beast), so the load generator (benchmarks/loadgen/fanout_load.cpp)
// reads the same bytes from both:
//
//   "<sequence> <steady_clock ns at publish> xxxx...x"      exactly `size` bytes, printable ASCII, no quote
//                                                           or backslash, so JSON carries it unescaped
//
// The sequence counts the messages the server published since it started (0, 1, 2, ...): a subscriber that
// sees a jump has lost messages. The time is std::chrono::steady_clock (CLOCK_MONOTONIC), which the load
// generator on the same machine reads too: latency = receive time - this.
#include <chrono>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tether_bench {

inline constexpr std::size_t min_message_size = 42;     // two 20-digit numbers and two spaces always fit
inline constexpr std::size_t max_message_size = 65536;
inline constexpr std::size_t max_publish_batch = 4096;  // messages per POST /publish

inline std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Writes the body of message `sequence` into `out` (replacing its contents), `size` bytes long.
inline void make_message(std::string& out, std::uint64_t sequence, std::size_t size) {
    out.assign(size, 'x');
    char* p = out.data();
    p = std::to_chars(p, p + 20, sequence).ptr;
    *p++ = ' ';
    p = std::to_chars(p, p + 20, steady_now_ns()).ptr;
    *p = ' ';
}

// Parses "?n=K&size=B" the same way in both servers: n in [1, max_publish_batch], size in
// [min_message_size, max_message_size]. Returns false if either is missing or out of range.
struct publish_request {
    std::size_t count = 0;
    std::size_t size = 0;
};
inline bool parse_number(std::string_view text, std::size_t& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size();
}
inline bool parse_publish_query(std::string_view query, publish_request& r) {
    r = {};
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
        if (key == "n" && !parse_number(value, r.count)) return false;
        if (key == "size" && !parse_number(value, r.size)) return false;
    }
    return r.count >= 1 && r.count <= max_publish_batch && r.size >= min_message_size && r.size <= max_message_size;
}

}  // namespace tether_bench
