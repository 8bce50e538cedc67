// libFuzzer target for the framing of benchmarks/loadgen/attack_load (attack_wire.hpp): its HTTP/1.1 response
// reader and its WebSocket frame reader, which parse whatever the attacked server sends back.
//
// Input layout: byte 0 picks the reader and seeds the chunk sizes, the rest is the wire. The same wire is fed
// whole, one byte at a time and in input-derived chunks. Invariants, each a __builtin_trap:
//  - every feeding gives the same responses (status, body, close) or frames (opcode, payload), the same error,
//    and after a 101 the same bytes left over for the new protocol;
//  - a reader never consumes more than it was given, and a body handed over never exceeds the reader's cap.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../benchmarks/loadgen/attack_wire.hpp"

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

struct outcome {
    std::vector<std::string> events;   // one string per response or frame
    bool error = false;
    std::string rest;   // after a 101
    friend bool operator==(const outcome&, const outcome&) = default;
};

template <class NextChunk>
outcome read_responses(std::string_view wire, NextChunk next_chunk) {
    constexpr std::size_t cap = 4096;
    attack::response_reader reader(cap);
    outcome out;
    auto on_response = [&](int status, std::string_view body, bool close) {
        check(body.size() <= cap);
        out.events.push_back(std::to_string(status) + (close ? "c:" : ":") + std::string(body));
    };
    std::size_t at = 0;
    while (at < wire.size()) {
        const std::string_view piece = wire.substr(at, next_chunk());
        const std::size_t used = reader.feed(piece, on_response);
        if (used == attack::response_reader::npos) {
            out.error = true;
            return out;
        }
        check(used <= piece.size());
        if (reader.upgraded()) {
            out.rest = std::string(wire.substr(at + used));
            return out;
        }
        check(used == piece.size());
        at += piece.size();
    }
    reader.finish(on_response);
    return out;
}

template <class NextChunk>
outcome read_frames(std::string_view wire, NextChunk next_chunk) {
    attack::frame_reader reader;
    outcome out;
    std::size_t at = 0;
    while (at < wire.size() && !out.error) {
        const std::string_view piece = wire.substr(at, next_chunk());
        out.error = !reader.feed(piece, [&](bool fin, std::uint8_t op, std::string_view payload) {
            check(payload.size() <= attack::frame_reader::max_frame);
            out.events.push_back(std::to_string(op) + (fin ? "f:" : ":") + std::string(payload));
        });
        at += piece.size();
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t control = data[0];
    const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    const bool frames = (control & 1) != 0;
    auto run = [&](auto next_chunk) { return frames ? read_frames(wire, next_chunk) : read_responses(wire, next_chunk); };

    const outcome whole = run([&] { return wire.size() + 1; });
    check(run([] { return std::size_t{1}; }) == whole);
    std::uint32_t seed = control | 1u;
    check(run([&] {   // xorshift32: chunk sizes 1..64 drawn from the input's first byte
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        return std::size_t{1} + seed % 64;
    }) == whole);
    return 0;
}
