// libFuzzer target for permessage-deflate (RFC 7692): everything a peer's bytes reach. Byte 0 picks the part:
//   0  the inflater on arbitrary compressed bytes, with a limit and a feeding split taken from bytes 1-2;
//   1  compressed messages as a client receives them: frames through message_assembler (RSV1 allowed), then
//      ws::deflate_session, with and without context takeover;
//   2  a round trip: the rest compressed (window, level, memLevel from bytes 1-3) and inflated again, twice on
//      one context with an idle release in between;
//   3  negotiation: the rest as Sec-WebSocket-Extensions offers under a policy from byte 1.
// Invariants, each a __builtin_trap:
//  - an inflater's output never exceeds its limit by more than one byte, whatever the input;
//  - feeding whole and feeding in pieces give the same status and, when it succeeds, the same bytes (with
//    one exception zlib imposes for windows under 15 bits, see fuzz_inflate);
//  - what is compressed inflates back to itself, for every window size, across an idle release;
//  - whatever the server agrees to, the answer it writes is one the offering client accepts, with the same
//    parameters (the two ends of §7.1 cannot disagree).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tether/ws/deflate_codec.hpp>
#include <tether/ws/deflate_session.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/message_assembler.hpp>
#include <tether/ws/permessage_deflate.hpp>

namespace {

using namespace tether::ws;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

inflate_status inflate_all(inflater& z, std::string_view in, std::size_t piece, std::string& out, std::size_t limit) {
    inflate_status s = inflate_status::ok;
    for (std::size_t at = 0; at < in.size() && s == inflate_status::ok; at += piece) {
        s = z.inflate(in.substr(at, piece), out, limit);
        check(out.size() <= limit + 1);
    }
    if (s == inflate_status::ok) s = z.finish(out, limit);
    check(out.size() <= limit + 1);
    return s;
}

void fuzz_inflate(std::string_view data) {
    if (data.size() < 3) return;
    const std::size_t limit = static_cast<std::size_t>(static_cast<std::uint8_t>(data[0])) * 257;   // 0..65535
    const std::size_t piece = 1 + static_cast<std::uint8_t>(data[1]) % 64;
    const auto window = static_cast<std::uint8_t>(8 + static_cast<std::uint8_t>(data[2]) % 8);
    data.remove_prefix(3);
    inflater whole(window), pieces(window);
    std::string a, b;
    const inflate_status sa = inflate_all(whole, data, data.size() + 1, a, limit);
    const inflate_status sb = inflate_all(pieces, data, piece, b, limit);
    // zlib checks a distance against the window only across its calls: within one call it may reach back
    // into that call's own output. So with a window under 15 bits, a stream that breaks its window may be
    // refused under one split and accepted under another. Otherwise (a 32 KiB window covers every DEFLATE
    // distance, and a stream that keeps to its window) the split changes nothing.
    if (window == 15 || (sa != inflate_status::invalid && sb != inflate_status::invalid)) check(sa == sb);
    if (sa == inflate_status::ok && sb == inflate_status::ok) check(a == b);
}

void fuzz_frames(std::string_view data) {
    if (data.size() < 2) return;
    const bool takeover = (data[0] & 1) != 0;
    const std::uint64_t limit = 1 + static_cast<std::uint8_t>(data[1]) * 64u;
    data.remove_prefix(2);
    message_assembler a(role::client, {.max_message_size = limit, .allowed_rsv = rsv1});
    deflate_session session(role::client, {.server_no_context_takeover = !takeover}, {});
    a.append(data);
    for (int messages = 0; messages < 64; ++messages) {
        const assembled_message m = a.next();
        if (m.status != assemble_status::message) return;
        if (!m.compressed) continue;
        check(m.op == opcode::text || m.op == opcode::binary);   // RSV1 only ever on data messages
        std::string out;
        session.begin_message();
        inflate_status s = session.inflate(m.payload, out, static_cast<std::size_t>(limit));
        check(out.size() <= limit + 1);
        if (s == inflate_status::ok) s = session.end_message(out, static_cast<std::size_t>(limit));
        check(out.size() <= limit + 1);
        if (s != inflate_status::ok) return;   // a real endpoint closes here (1009 / 1007)
        if (messages % 8 == 7) {
            session.release_if_idle();
            session.release_if_idle();
        }
    }
}

void fuzz_round_trip(std::string_view data) {
    if (data.size() < 4) return;
    const auto window = static_cast<std::uint8_t>(8 + static_cast<std::uint8_t>(data[0]) % 8);
    const int level = static_cast<std::uint8_t>(data[1]) % 10;
    const auto mem_level = static_cast<std::uint8_t>(1 + static_cast<std::uint8_t>(data[2]) % 9);
    const std::size_t threshold = static_cast<std::uint8_t>(data[3]) % 4;
    data.remove_prefix(4);
    deflate_session sender(role::server, {.server_max_window_bits = window},
                           {.threshold = threshold, .level = level, .mem_level = mem_level});
    inflater receiver(window);   // the peer keeps its window: context takeover
    for (int round = 0; round < 2; ++round) {
        std::string payload, out;
        const bool compressed = sender.compress(data, payload);
        if (compressed) {
            check(payload.size() < data.size());
            check(receiver.inflate(payload, out, data.size()) == inflate_status::ok);
            check(receiver.finish(out, data.size()) == inflate_status::ok);
            check(out == data);
        }
        sender.release_if_idle();
        sender.release_if_idle();
    }
}

void fuzz_negotiation(std::string_view data) {
    if (data.empty()) return;
    const auto b = static_cast<std::uint8_t>(data[0]);
    data.remove_prefix(1);
    const deflate_options policy{.mode = (b & 1) ? deflate_mode::no_context_takeover : deflate_mode::on,
                                 .server_max_window_bits = static_cast<std::uint8_t>(8 + (b >> 1) % 8),
                                 .client_max_window_bits = static_cast<std::uint8_t>(8 + (b >> 4) % 8)};
    const std::string_view values[] = {data};
    const auto agreed = negotiate_deflate(values, policy);
    std::vector<extension_element> elements;
    const bool parsed = parse_extension_list(data, elements);
    if (!agreed) return;
    check(parsed);
    // The offer the server accepted: the first valid permessage-deflate element.
    std::optional<deflate_offer> accepted;
    for (const auto& e : elements) {
        if (e.name != permessage_deflate_token) continue;
        if ((accepted = parse_deflate_params(e.params))) break;
    }
    check(accepted.has_value());
    const deflate_request as_sent{.server_no_context_takeover = accepted->server_no_context_takeover,
                                  .client_no_context_takeover = accepted->client_no_context_takeover,
                                  .server_max_window_bits = accepted->server_max_window_bits,
                                  .client_max_window_bits = accepted->client_max_window_bits,
                                  .client_max_window_bits_value = accepted->client_max_window_bits_value};
    const deflate_request offers[] = {as_sent};
    std::optional<deflate_params> client_view;
    check(check_deflate_response(agreed->response, offers, client_view).empty());
    check(client_view.has_value() && *client_view == agreed->params);
    check(agreed->params.server_max_window_bits <= policy.server_max_window_bits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
    switch (bytes[0] % 4) {
        case 0: fuzz_inflate(data); break;
        case 1: fuzz_frames(data); break;
        case 2: fuzz_round_trip(data); break;
        default: fuzz_negotiation(data); break;
    }
    return 0;
}
