// tether's WebSocket client against an npm `ws` server with permessage-deflate (ws_deflate_server.mjs): the
// client offers deflate, checks what was agreed, and sends compressible and random messages from 16 B to
// 128 KiB, whole and fragmented, on one connection per path, checking every echo and that the compressible
// ones came back compressed. Run by run_client_deflate_interop.sh.
//
//   ws_client_deflate PORT PATH EXPECTED_EXTENSIONS
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/client/ws_client.hpp>

namespace {

std::string payload(bool compressible, std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out;
    while (out.size() < size) {
        if (compressible) out += "{\"sym\":\"S" + std::to_string(rng() % 40) + "\",\"px\":" + std::to_string(rng() % 100000) + "},";
        else out.push_back(static_cast<char>(rng()));
    }
    out.resize(size);
    return out;
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc != 4) {
        std::fprintf(stderr, "usage: ws_client_deflate PORT PATH EXPECTED_EXTENSIONS\n");
        return 2;
    }
    const auto port = static_cast<std::uint16_t>(std::stoi(argv[1]));
    const std::string path = argv[2], expected = argv[3];
    tether::client::ws_client c;
    c.connect("127.0.0.1", port, path,
              {.timeout = std::chrono::seconds(10), .max_message_size = 4u << 20,
               .permessage_deflate = tether::client::deflate_settings{}});
    // Compared as parameters: their order in the header is the server's choice.
    const auto agreed = c.handshake_response().header("sec-websocket-extensions");
    std::vector<tether::ws::extension_element> want;
    if (!tether::ws::parse_extension_list(expected, want) || want.size() != 1) return 2;
    const auto w = tether::ws::parse_deflate_params(want[0].params);
    const auto* got = c.deflate_params();
    if (!w || !got || got->server_no_context_takeover != w->server_no_context_takeover ||
        got->client_no_context_takeover != w->client_no_context_takeover ||
        got->server_max_window_bits != w->server_max_window_bits.value_or(15) ||
        got->client_max_window_bits != w->client_max_window_bits_value.value_or(15)) {
        std::fprintf(stderr, "FAILED: %s: expected '%s', the server agreed '%s'\n", path.c_str(), expected.c_str(),
                     agreed ? std::string(*agreed).c_str() : "(nothing)");
        return 1;
    }
    std::printf("ok - %s: agreed '%s'\n", path.c_str(), std::string(*agreed).c_str());
    const std::vector<std::pair<std::size_t, std::size_t>> sizes = {
        {16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {65536, 0}, {131072, 0},
        {8192, 256}, {65536, 1024}, {131072, 4096}, {131072, 32768}};
    int sent = 0;
    for (int round = 0; round < 2; ++round) {   // twice: the second round leans on context takeover
        for (bool compressible : {true, false}) {
            for (auto [size, fragment] : sizes) {
                const std::string m = payload(compressible, size, static_cast<unsigned>(size + round));
                const auto op = compressible ? tether::ws::opcode::text : tether::ws::opcode::binary;
                if (!c.send_message(op, m, fragment) && compressible && size >= 256) {   // smaller may not pay
                    std::fprintf(stderr, "FAILED: %s: the client did not compress %zu bytes\n", path.c_str(), size);
                    return 1;
                }
                auto echo = c.receive_message();
                if (!echo || echo->payload != m || echo->op != op) {
                    std::fprintf(stderr, "FAILED: %s: the echo of %zu bytes (fragments of %zu) differs\n", path.c_str(),
                                 size, fragment);
                    return 1;
                }
                // ws compresses every message with threshold 0; compressible ones must arrive with RSV1.
                if (compressible && !echo->compressed) {
                    std::fprintf(stderr, "FAILED: %s: the echo of %zu bytes came back uncompressed\n", path.c_str(), size);
                    return 1;
                }
                ++sent;
            }
        }
    }
    std::printf("ok - %s: %d messages echoed intact, compressed both ways\n", path.c_str(), sent);
    const auto code = c.close();
    if (code != tether::ws::close_code::normal) {
        std::fprintf(stderr, "FAILED: %s: the close handshake did not end with 1000\n", path.c_str());
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "FAILED: %s\n", e.what());
    return 1;
}
