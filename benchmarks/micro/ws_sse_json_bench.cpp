// WebSocket frame codec, SSE event encoding and JSON writing microbenchmarks.
//
// Bytes/s is over the payload (frames), the encoded block (SSE) or the document (JSON); items/s counts
// frames, events or documents. Buffers are reused across iterations, as a connection reuses its own.
#include <benchmark/benchmark.h>

#include <span>
#include <string>
#include <string_view>

#include <tether/core/json_writer.hpp>
#include <tether/sse/event.hpp>
#include <tether/ws/frame.hpp>

namespace ws = tether::ws;

namespace {

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
}

// What a server sends: an unmasked binary frame (header + payload copy) appended to an output buffer.
void BM_ws_encode_server_frame(benchmark::State& state) {
    const std::string payload = pattern(static_cast<std::size_t>(state.range(0)));
    std::string out;
    for (auto _ : state) {
        out.clear();
        ws::append_frame(out, ws::opcode::binary, payload);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// What a client sends: the same, masked (the XOR pass over the payload).
void BM_ws_encode_client_frame(benchmark::State& state) {
    const std::string payload = pattern(static_cast<std::size_t>(state.range(0)));
    const ws::mask_key key{0x12, 0x34, 0x56, 0x78};
    std::string out;
    for (auto _ : state) {
        out.clear();
        ws::append_frame(out, ws::opcode::binary, payload, true, key);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// What a server receives: a masked client frame, parsed (header checks) and unmasked in place. Unmasking
// in place flips the buffer between masked and clear on alternate iterations; the work is the same.
void BM_ws_decode_unmask(benchmark::State& state) {
    const std::string payload = pattern(static_cast<std::size_t>(state.range(0)));
    std::string frame = ws::make_client_frame(ws::opcode::binary, payload, {0x12, 0x34, 0x56, 0x78});
    ws::frame_parser parser(ws::role::server);
    for (auto _ : state) {
        std::size_t seen = 0;
        std::size_t used = parser.parse(std::span<char>(frame), [&](const ws::parse_result& r) {
            if (r.status == ws::parse_status::payload) {
                benchmark::DoNotOptimize(r.payload.data());
                seen += r.payload.size();
            }
        });
        if (used != frame.size() || seen != payload.size() || parser.failed()) {
            state.SkipWithError("frame did not parse whole");
            break;
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// An SSE event with an id, a type and a three-line payload (split into three data: lines).
void BM_sse_encode_multiline(benchmark::State& state) {
    const tether::sse::event e{.data = "{\"symbol\":\"EURUSD\",\n\"bid\":1.08412,\n\"ask\":1.08415}",
                               .type = "tick",
                               .id = "5f1c2a3b-000000000001e240"};
    std::string out;
    for (auto _ : state) {
        out.clear();
        tether::sse::append_event(out, e);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// A single-line 1 KiB SSE data payload: the scan for line ends over a long line.
void BM_sse_encode_1k(benchmark::State& state) {
    const std::string data = pattern(1024);
    const tether::sse::event e{.data = data, .id = "42"};
    std::string out;
    for (auto _ : state) {
        out.clear();
        tether::sse::append_event(out, e);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// A small REST document: strings (one needing escapes), integers, doubles, a bool, a nested array.
void BM_json_write_product(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        tether::json::writer w(out);
        w.begin_object()
            .member("id", 12345)
            .member("name", "Espresso machine \"Barista\" 2000")
            .member("price", 249.99)
            .member("in_stock", true)
            .key("tags")
            .begin_array()
            .value("kitchen")
            .value("coffee")
            .value("appliance")
            .end_array()
            .member("rating", 4.7)
            .member("reviews", 1832)
            .end_object();
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Escaping: a 1 KiB string of plain ASCII (the 8-bytes-at-a-time fast path).
void BM_json_escape_1k(benchmark::State& state) {
    const std::string text = pattern(1024);
    std::string out;
    for (auto _ : state) {
        out.clear();
        tether::json::writer(out).value(std::string_view(text));
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

} // namespace

BENCHMARK(BM_ws_encode_server_frame)->Arg(64)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_ws_encode_client_frame)->Arg(64)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_ws_decode_unmask)->Arg(64)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_sse_encode_multiline);
BENCHMARK(BM_sse_encode_1k);
BENCHMARK(BM_json_write_product);
BENCHMARK(BM_json_escape_1k);
