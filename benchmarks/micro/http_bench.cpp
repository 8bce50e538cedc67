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

namespace http = tether::http;

namespace {

// What Chrome 120 sends for a same-origin fetch: 15 fields, about 500 bytes.
constexpr std::string_view chrome_request =
    "GET /api/products/12345?view=full&lang=en HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\", \"Google Chrome\";v=\"120\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Referer: https://shop.example.com/products\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n"
    "Cookie: session=7f3c9a1e2b4d6f80; theme=dark\r\n"
    "\r\n";

// What wrk sends: the request line and Host only.
constexpr std::string_view wrk_request = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

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
    for (int i = 0; i < 16; ++i) batch.append(wrk_request);
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
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 16));
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
