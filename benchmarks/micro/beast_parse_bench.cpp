// Boost.Beast's request parser on the bytes http_bench.cpp gives tether's (sample_requests.hpp): a peer's
// cost for the same work. The HTTP benchmark's strict floor (peers/floor_http_strict.cpp) parses with
// tether's parser; these numbers say whether a strict parser on this machine could be much cheaper.
//
// One parser per request, as Beast's own servers use it (a parser cannot be reset; beast::http::read makes
// one per message), with empty_body: the requests have none. The parsed message's fields are Beast's
// basic_fields, which allocate per field; that is part of what parsing costs a Beast server.
#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <string>
#include <string_view>

#include "sample_requests.hpp"

namespace {

namespace beast_http = boost::beast::http;

// Parses one request from the front of `bytes`; returns the bytes it used, 0 when it did not complete.
std::size_t parse_with_beast(std::string_view bytes) {
    beast_http::request_parser<beast_http::empty_body> parser;
    boost::beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser.is_done()) return 0;
    benchmark::DoNotOptimize(parser.get());
    return used;
}

void beast_parse_one(benchmark::State& state, std::string_view bytes) {
    for (auto _ : state) {
        if (parse_with_beast(bytes) != bytes.size()) {
            state.SkipWithError("Beast did not parse the request");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_beast_parse_chrome_request(benchmark::State& state) { beast_parse_one(state, tether_bench::chrome_request); }
void BM_beast_parse_wrk_request(benchmark::State& state) { beast_parse_one(state, tether_bench::wrk_request); }

void BM_beast_parse_wrk_pipelined16(benchmark::State& state) {
    std::string batch;
    for (int i = 0; i < tether_bench::pipeline_depth; ++i) batch.append(tether_bench::wrk_request);
    for (auto _ : state) {
        std::string_view rest = batch;
        while (!rest.empty()) {
            const std::size_t used = parse_with_beast(rest);
            if (used == 0) {
                state.SkipWithError("Beast did not parse the request");
                return;
            }
            rest.remove_prefix(used);
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * tether_bench::pipeline_depth));
}

} // namespace

BENCHMARK(BM_beast_parse_chrome_request);
BENCHMARK(BM_beast_parse_wrk_request);
BENCHMARK(BM_beast_parse_wrk_pipelined16);
