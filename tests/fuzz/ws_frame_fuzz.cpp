// libFuzzer target for tether::ws::frame_parser (and message_assembler on top of it).
//
// Input layout: byte 0 picks the role and parser options, byte 1 seeds the chunk sizes, the rest is the wire.
// The same wire is parsed whole, one byte at a time and in input-derived chunks, in the way a connection
// feeds it (unconsumed bytes are offered again with more appended). Invariants, each a __builtin_trap:
//  - every feeding agrees on the frame headers, the error (and its close code) and the delivered payload
//    (when a frame fails mid-payload, a finer feeding may have delivered a longer valid prefix, no more);
//  - consumed never exceeds the input, payload views lie inside it, a frame's pieces add up to its length;
//  - whatever is left unconsumed without an error is at most a partial header or a partial control frame;
//  - every complete frame re-encodes to exactly the bytes it was parsed from (lengths are minimal by default);
//  - message_assembler fails exactly when the parser does, with the same close code.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <tether/ws/frame.hpp>
#include <tether/ws/message_assembler.hpp>

namespace {

using namespace tether::ws;

struct frame_record {
    frame_header header;
    std::string payload;
    bool complete = false;
    std::size_t wire_begin = 0;  // offset of the frame's first byte in the wire (whole-input feeding only)
    std::size_t wire_end = 0;
};

struct outcome {
    std::vector<frame_record> frames;
    std::optional<close_code> error;
    std::size_t leftover = 0;
};

void check(bool ok) {
    if (!ok) __builtin_trap();
}

template <class NextChunk>
outcome run(role endpoint, const frame_parser_options& opts, const std::string& wire, NextChunk next_chunk) {
    frame_parser p(endpoint, opts);
    outcome out;
    std::string buffer;
    std::size_t fed = 0;
    std::size_t buffer_offset = 0;  // wire offset of buffer[0]
    for (;;) {
        std::size_t pos = 0;
        for (;;) {
            std::span<char> input = std::span<char>(buffer).subspan(pos);
            const parse_result r = p.next(input);
            check(r.consumed <= input.size());
            if (r.status == parse_status::header) {
                check(r.consumed >= 2 && r.consumed <= max_frame_header_size);
                out.frames.push_back({p.header(), {}, false, buffer_offset + pos, 0});
            } else if (r.status == parse_status::payload) {
                check(!out.frames.empty() && !out.frames.back().complete);
                check(r.payload.size() == r.consumed);
                check(r.payload.empty() || (r.payload.data() == input.data()));
                frame_record& f = out.frames.back();
                f.payload.append(r.payload);
                check(f.payload.size() <= f.header.payload_length);
                if (r.frame_end) {
                    check(f.payload.size() == f.header.payload_length);
                    f.complete = true;
                    f.wire_end = buffer_offset + pos + r.consumed;
                }
                check(!r.message_end || r.frame_end);
            } else {
                check(r.consumed == 0);
            }
            pos += r.consumed;
            if (r.status == parse_status::need_more || r.status == parse_status::error) break;
        }
        buffer.erase(0, pos);
        buffer_offset += pos;
        if (p.failed()) {
            out.error = p.error_code();
            check(!p.error_reason().empty());
            break;
        }
        if (fed == wire.size()) break;
        const std::size_t n = std::min(next_chunk(), wire.size() - fed);
        buffer.append(wire, fed, n);
        fed += n;
    }
    out.leftover = buffer.size();
    if (!out.error) check(out.leftover <= max_control_payload_size);
    return out;
}

void check_same(const outcome& a, const outcome& b) {
    check(a.error == b.error);
    check(a.frames.size() == b.frames.size());
    for (std::size_t i = 0; i < a.frames.size(); ++i) {
        const frame_record& x = a.frames[i];
        const frame_record& y = b.frames[i];
        check(x.header.op == y.header.op && x.header.fin == y.header.fin && x.header.rsv == y.header.rsv);
        check(x.header.payload_length == y.header.payload_length && x.header.key == y.header.key);
        const bool last = i + 1 == a.frames.size();
        if (!a.error || !last) {
            check(x.payload == y.payload);
        } else {  // failed in this frame: both delivered a prefix of the same payload
            const std::string& shorter = x.payload.size() < y.payload.size() ? x.payload : y.payload;
            const std::string& longer = x.payload.size() < y.payload.size() ? y.payload : x.payload;
            check(longer.compare(0, shorter.size(), shorter) == 0);
        }
    }
    if (!a.error) check(a.leftover == b.leftover);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t config = data[0];
    std::uint32_t seed = data[1] | 1u;
    const std::string wire(reinterpret_cast<const char*>(data + 2), size - 2);

    const role endpoint = (config & 1) ? role::client : role::server;
    frame_parser_options opts;
    opts.allow_non_minimal_length = (config & 2) != 0;
    opts.allowed_rsv = (config & 4) ? rsv1 : 0;
    constexpr std::uint64_t limits[] = {default_max_message_size, 0, 16, 300};
    opts.max_message_size = limits[(config >> 3) & 3];

    const outcome whole = run(endpoint, opts, wire, [&] { return wire.size() + 1; });
    const outcome bytewise = run(endpoint, opts, wire, [] { return std::size_t{1}; });
    const outcome chunked = run(endpoint, opts, wire, [&] {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        return std::size_t{1} + (seed % 8 == 0 ? seed % 1024 : seed % 16);
    });
    check_same(whole, bytewise);
    check_same(whole, chunked);

    // Re-encoding a complete frame reproduces its wire bytes exactly.
    if (!opts.allow_non_minimal_length) {
        for (const frame_record& f : whole.frames) {
            if (!f.complete) continue;
            std::string again;
            const auto header = encode_frame_header({.fin = f.header.fin,
                                                     .rsv = f.header.rsv,
                                                     .op = f.header.op,
                                                     .masked = f.header.masked,
                                                     .key = f.header.key,
                                                     .payload_length = f.payload.size()});
            again.append(header.view());
            again.append(f.payload);
            if (f.header.masked) apply_mask(std::span<char>(again).subspan(header.size), f.header.key);
            check(f.wire_end - f.wire_begin == again.size());
            check(std::memcmp(again.data(), wire.data() + f.wire_begin, again.size()) == 0);
        }
    }

    // A close frame that was accepted decodes.
    for (const frame_record& f : whole.frames)
        if (f.complete && f.header.op == opcode::close) check(parse_close_payload(f.payload).has_value());

    // The assembler agrees with the parser about failure.
    message_assembler assembler(endpoint, opts);
    assembler.append(wire);
    assembled_message m;
    do {
        m = assembler.next();
    } while (m.status == assemble_status::message);
    check((m.status == assemble_status::error) == whole.error.has_value());
    if (whole.error) check(assembler.parser().error_code() == *whole.error);
    return 0;
}
