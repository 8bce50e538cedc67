// HTTP/1.1 codec microbenchmarks: request parsing, chunked decoding, response serialization.
//
// Bytes/s (SetBytesProcessed) is over the input bytes for parsing and over the output bytes for
// serialization; items/s counts requests, bodies or responses. Every benchmark reuses its parser, request
// and output string across iterations, as a connection does, so the numbers are the steady state (no
// allocation after the first iteration).
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include <tether/http/chunked.hpp>
#include <tether/http/parser.hpp>
#include <tether/http/response.hpp>
#include <tether/http/serializer.hpp>

#include "sample_requests.hpp"

namespace http = tether::http;

namespace {

using tether_bench::chrome_request;
using tether_bench::wrk_request;

void parse_one(benchmark::State& state, std::string_view bytes) {
    http::request_parser parser;
    http::request req;
    for (auto _ : state) {
        parser.reset();
        auto status = parser.parse(bytes, req);
        benchmark::DoNotOptimize(status);
        benchmark::DoNotOptimize(req);
        if (status != http::parse_status::complete) {
            state.SkipWithError("request did not parse");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_http_parse_chrome_request(benchmark::State& state) { parse_one(state, chrome_request); }
void BM_http_parse_wrk_request(benchmark::State& state) { parse_one(state, wrk_request); }

// 16 wrk requests in one buffer (what a pipelined read delivers), parsed one after another.
void BM_http_parse_wrk_pipelined16(benchmark::State& state) {
    std::string batch;
    for (int i = 0; i < tether_bench::pipeline_depth; ++i) batch.append(wrk_request);
    http::request_parser parser;
    http::request req;
    for (auto _ : state) {
        std::string_view rest = batch;
        while (!rest.empty()) {
            parser.reset();
            auto status = parser.parse(rest, req);
            benchmark::DoNotOptimize(req);
            if (status != http::parse_status::complete) {
                state.SkipWithError("request did not parse");
                return;
            }
            rest.remove_prefix(parser.consumed());
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * tether_bench::pipeline_depth));
}

// A chunked body of state.range(0) bytes in 1 KiB chunks (the last one shorter), with one extension-free
// size line per chunk: decoding cost per body byte.
void BM_http_chunked_decode(benchmark::State& state) {
    const auto body_size = static_cast<std::size_t>(state.range(0));
    std::string encoded;
    for (std::size_t done = 0; done < body_size;) {
        std::size_t n = std::min<std::size_t>(1024, body_size - done);
        char size_line[24];
        int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        encoded.append(size_line, static_cast<std::size_t>(len));
        encoded.append(n, 'x');
        encoded.append("\r\n");
        done += n;
    }
    encoded.append("0\r\n\r\n");
    http::chunked_decoder decoder(1u << 20, 100);
    std::string body;
    for (auto _ : state) {
        decoder.reset();
        body.clear();
        auto r = decoder.decode(encoded, body);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(body.data());
        if (r.state != http::chunked_decoder::status::done || body.size() != body_size) {
            state.SkipWithError("chunked body did not decode");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * encoded.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// The /plaintext response of the benchmarks: status line, Date, Server, Content-Type, Content-Length, body.
void BM_http_serialize_plaintext(benchmark::State& state) {
    http::response res;
    const std::string_view date = "Mon, 23 Nov 2026 10:49:40 GMT";
    std::string out;
    for (auto _ : state) {
        res.clear();
        res.header("Server", "tether");
        res.text("Hello, World!");
        out.clear();
        bool keep = http::serialize(res, out, {.date = date});
        benchmark::DoNotOptimize(keep);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// A 4 KiB JSON body: mostly the body copy.
void BM_http_serialize_json_4k(benchmark::State& state) {
    const std::string body(4096, 'x');
    http::response res;
    const std::string_view date = "Mon, 23 Nov 2026 10:49:40 GMT";
    std::string out;
    for (auto _ : state) {
        res.clear();
        res.json(std::string_view(body));
        out.clear();
        bool keep = http::serialize(res, out, {.date = date});
        benchmark::DoNotOptimize(keep);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

} // namespace

BENCHMARK(BM_http_parse_chrome_request);
BENCHMARK(BM_http_parse_wrk_request);
BENCHMARK(BM_http_parse_wrk_pipelined16);
BENCHMARK(BM_http_chunked_decode)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_http_serialize_plaintext);
BENCHMARK(BM_http_serialize_json_4k);
