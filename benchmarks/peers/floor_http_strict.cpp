// The "strict floor" for benchmarks/http/run.sh: the kernel floor (floor_http.cpp, floor_loop.hpp) plus the two
// things no conforming HTTP/1.1 server can skip, done with tether's own code: every request is parsed by
// http::request_parser (RFC 9112 §2–§6 in full: request line, field syntax, Host, framing) and every answer is
// written by http::serialize (status line, a Date of this second, the fields, Content-Length), with the thread's
// memo of plain heads (head_memo.hpp) as tether's connections give it. Nothing else: no
// router, no handler, no middleware, no per-connection bookkeeping, no timers, and one prebuilt response.
//
// Why it exists: floor_http counts "\r\n\r\n" and copies a fixed answer, about 0.04 µs of user time per request.
// Pipelined ×16 the kernel's share per request is so small that a 1.1× target against that floor leaves a
// strict server ~0.05 µs for parsing, answering and everything else: this server alone measured 1.09–1.20× the
// floor there, at or past the edge of the target. tether / strict-floor is the part of tether's cost that routing, handlers and the connection add on top
// of what strictness costs; strict-floor / floor is the price of strictness itself.
//
// A request the parser refuses closes the connection (the floor trusts its clients, see floor_loop.hpp).
// Usage: floor_http_strict [--host 127.0.0.1] [--port 8080] [--threads 1]

#include "floor_loop.hpp"

#include <string>
#include <string_view>

#include <tether/http/date.hpp>
#include <tether/http/head_memo.hpp>
#include <tether/http/parser.hpp>
#include <tether/http/response.hpp>
#include <tether/http/serializer.hpp>

namespace {

struct strict_http_session {
    static constexpr std::size_t read_size = 16 * 1024;

    struct context {
        // hello's GET /plaintext answer, built once: what it costs to build one per request is the handler's.
        tether::http::response answer = [] {
            tether::http::response r;
            r.text("Hello, World!");
            return r;
        }();
        tether::http::date_cache dates;
        tether::http::head_memo heads;
        tether::http::request request;   // reused, as tether's connections reuse theirs per thread
        std::string out;
    };

    struct reply {
        std::string_view out;
        bool close;
    };

    reply on_data(context& ctx, char* data, std::size_t n) {
        // A request split across reads waits in pending_ until its head is complete.
        std::string_view in(data, n);
        if (!pending_.empty()) {
            pending_.append(data, n);
            in = pending_;
        }
        ctx.out.clear();
        const std::string_view date = ctx.dates.now();
        std::size_t from = 0;
        bool close = false;
        while (from < in.size()) {
            const auto status = parser_.parse(in.substr(from), ctx.request);
            if (status == tether::http::parse_status::need_more) break;
            if (status != tether::http::parse_status::complete) {   // refused, or a body this floor never reads
                close = true;
                break;
            }
            const bool keep_alive = ctx.request.keep_alive();
            tether::http::serialize(ctx.answer, ctx.out,
                                    {ctx.request.version_minor(), false, keep_alive, date, &ctx.heads, ctx.dates.second()});
            from += parser_.consumed();
            parser_.reset();
            if (!keep_alive) {
                close = true;
                break;
            }
        }
        if (close) pending_.clear();
        else if (in.data() == pending_.data()) pending_.erase(0, from);
        else pending_.assign(in.substr(from));
        return {ctx.out, close};
    }

private:
    tether::http::request_parser parser_;
    std::string pending_;
};

}  // namespace

int main(int argc, char** argv) { return tether_floor::serve<strict_http_session>("floor_http_strict", argc, argv); }
