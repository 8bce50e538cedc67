#pragma once
// The message body both fan-out servers publish (benchmarks/fanout/fanout_server.cpp, tether, and
// benchmarks/peers/naive_broadcast.cpp, Boost.Beast), so the load generator (benchmarks/loadgen/fanout_load.cpp)
// reads the same bytes from both:
//
//   "<sequence> <steady_clock ns at publish> xxxx...x"      exactly `size` bytes, printable ASCII, no quote
//                                                           or backslash, so JSON carries it unescaped
//
// or, with ?body=ticker, a JSON market-data tick of exactly `size` bytes (make_ticker), the kind of feed
// permessage-deflate is for:
//
//   {"seq":<sequence>,"ts":<ns>,"sym":"MSFT","bid":412.17,"ask":412.19,...,"id":"<hex>"}
//
// Either way the sequence and the time are the first two integers in the body, which is all the load
// generator reads (a JSON body arrives with its quotes escaped inside the WebSocket envelope).
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

inline constexpr std::size_t min_ticker_size = 160;   // every field of make_ticker, before the id pads it

// A JSON tick for `sequence`, exactly `size` (>= min_ticker_size) bytes: prices and sizes that move a little
// from message to message, as a real feed's do, and an order id of pseudo-random hex that pads the rest.
inline void make_ticker(std::string& out, std::uint64_t sequence, std::size_t size) {
    static constexpr const char* symbols[] = {"AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "TSLA", "ACME"};
    std::uint64_t r = sequence * 6364136223846793005ull + 1442695040888963407ull;
    const auto next = [&r] {
        r ^= r >> 33;
        r *= 0xff51afd7ed558ccdull;
        r ^= r >> 33;
        return r;
    };
    const unsigned cents = 40000 + static_cast<unsigned>(next() % 2000);
    const auto price = [](unsigned c) { return std::to_string(c / 100) + "." + (c % 100 < 10 ? "0" : "") + std::to_string(c % 100); };
    out = "{\"seq\":" + std::to_string(sequence) + ",\"ts\":" + std::to_string(steady_now_ns()) + ",\"sym\":\"" +
          symbols[sequence % 8] + "\",\"bid\":" + price(cents) + ",\"ask\":" + price(cents + 2) +
          ",\"bidSize\":" + std::to_string(100 * (1 + next() % 9)) + ",\"askSize\":" + std::to_string(100 * (1 + next() % 9)) +
          ",\"last\":" + price(cents + 1) + ",\"volume\":" + std::to_string(1000000 + next() % 9000000) +
          ",\"venue\":\"XNAS\",\"id\":\"";
    static constexpr char hex[] = "0123456789abcdef";
    while (out.size() + 2 < size) out.push_back(hex[next() & 15]);
    out += "\"}";
    out.resize(size, ' ');
}

// Parses "?n=K&size=B[&body=ticker]" the same way in both servers: n in [1, max_publish_batch], size in
// [min_message_size, max_message_size] (a ticker at least min_ticker_size). Returns false if either is
// missing or out of range.
struct publish_request {
    std::size_t count = 0;
    std::size_t size = 0;
    bool ticker = false;
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
        if (key == "body") r.ticker = value == "ticker";
    }
    return r.count >= 1 && r.count <= max_publish_batch && r.size >= (r.ticker ? min_ticker_size : min_message_size) &&
           r.size <= max_message_size;
}

// Writes message `sequence` as the request asks.
inline void make_body(std::string& out, std::uint64_t sequence, const publish_request& r) {
    if (r.ticker) make_ticker(out, sequence, r.size);
    else make_message(out, sequence, r.size);
}

}  // namespace tether_bench
