#pragma once
// The request heads the parsing microbenchmarks share (http_bench.cpp for tether, beast_parse_bench.cpp for
// Boost.Beast), so that both parsers are timed on the same bytes.
#include <string_view>

namespace tether_bench {

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

// How many wrk requests one pipelined read carries in the benchmarks (pipeline.lua's default depth).
constexpr int pipeline_depth = 16;

} // namespace tether_bench
