// libFuzzer target for include/tether/http/parser.hpp (and the chunked decoder under it): request bytes come
// straight from the network, so on any input the parser must not crash and must keep these invariants:
// - fed in one piece or in chunks (each prefix copied into a fresh allocation, so a kept pointer would read
//   freed memory), it reaches the same outcome, status and consumed() for every pipelined request;
// - consumed() never exceeds the bytes it was given and always makes progress;
// - every view it hands out lies inside the bytes given to that call (a chunked body lies in the parser);
// - the limits hold: body size, field count and target length never exceed them;
// - fed like a connection feeds it (the decoded framing of a chunked body erased from the buffer after
//   every call), it reaches the same outcomes, and the buffer never holds more than the header section
//   plus one partial chunk line: chunk extensions and small chunks cannot make the caller hold more;
// - paused at every head (pause_at_head), a body taken buffered reaches exactly the same outcomes, and a
//   body taken streamed too: its pieces, each a view inside the bytes of its call and within what that
//   call consumed, add up to the same body, and between calls the caller holds at most one partial
//   framing line of it.
//
// Input layout: byte 0 picks the chunk sizes, byte 1 the limits; the rest is the byte stream of one
// connection, parsed as pipelined requests until an error or the end.
#include <tether/http/limits.hpp>
#include <tether/http/parser.hpp>

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tether::http;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool inside(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// What one parse produced, enough to compare the feeding modes.
struct event {
    parse_status status = parse_status::need_more;
    int error_status = 0;
    std::size_t consumed = 0;
    std::size_t fields = 0;
    std::string method, target, path, query, body;
    int version_minor = 0;
    bool keep_alive = false, upgrade = false, expects_continue = false, chunked = false;
    // For the need_more that ends a stream: the bytes left over and the parser's state.
    std::size_t leftover = 0;
    bool header_complete = false, awaiting_continue = false;

    bool operator==(const event&) const = default;
};

// The request's head, checked to lie inside `data`.
void observe_head(const request& req, std::string_view data, const limits& lim, event& e) {
    check(inside(req.method_name(), data) && inside(req.target(), data) && inside(req.query_string(), data));
    check(inside(req.path(), data) || req.path() == "/");
    for (const field& f : req.fields()) check(inside(f.name, data) && inside(f.value, data) && !f.name.empty());
    check(req.fields().size() <= lim.max_fields);
    check(req.target().size() <= lim.max_target_bytes);
    e.fields = req.fields().size();
    e.method = req.method_name();
    e.target = req.target();
    e.path = req.path();
    e.query = req.query_string();
    e.version_minor = req.version_minor();
    e.keep_alive = req.keep_alive();
    e.upgrade = req.wants_upgrade();
    e.expects_continue = req.expects_continue();
    e.chunked = req.chunked();
}

event observe(const request_parser& parser, const request& req, std::string_view data, const limits& lim,
              parse_status status) {
    event e;
    e.status = status;
    if (status == parse_status::error) {
        e.error_status = parser.error().status;
        check(e.error_status >= 400 && e.error_status <= 599);
        return e;
    }
    if (status != parse_status::complete) return e;
    e.consumed = parser.consumed();
    check(e.consumed > 0 && e.consumed <= data.size());
    observe_head(req, data, lim, e);
    if (!req.chunked()) check(inside(req.body(), data.substr(0, e.consumed)));
    check(req.body().size() <= lim.max_body_bytes);
    e.body = req.body();
    return e;
}

// Parses the stream as pipelined requests. chunk_sizes empty: in one piece; otherwise the bytes arrive in
// pieces of those sizes (cycled), each prefix in a new allocation.
std::vector<event> parse_stream(std::string_view wire, const std::vector<std::size_t>& chunk_sizes, const limits& lim) {
    request_parser parser(lim);
    request req;
    std::vector<event> events;
    std::size_t begin = 0;
    std::size_t end = chunk_sizes.empty() ? wire.size() : 0;
    std::size_t next_chunk = 0;
    std::unique_ptr<std::string> buffer;
    for (;;) {
        std::string_view data = wire.substr(begin, end - begin);
        if (!chunk_sizes.empty()) {
            buffer = std::make_unique<std::string>(data);
            data = *buffer;
        }
        const parse_status status = parser.parse(data, req);
        if (status == parse_status::complete) {
            events.push_back(observe(parser, req, data, lim, status));
            begin += parser.consumed();
            parser.reset();
            continue;
        }
        if (status == parse_status::error) {
            events.push_back(observe(parser, req, data, lim, status));
            // An error is final until reset().
            check(parser.parse(data, req) == parse_status::error);
            return events;
        }
        if (end == wire.size()) {
            event last;
            last.status = status;
            last.leftover = end - begin;
            last.header_complete = parser.header_complete();
            last.awaiting_continue = parser.awaiting_body_after_continue();
            events.push_back(last);
            return events;
        }
        const std::size_t step = chunk_sizes[next_chunk++ % chunk_sizes.size()];
        end = end + step < wire.size() ? end + step : wire.size();
    }
}

// The last event of a compacting or paused parse: where the parser stopped once the wire ran out.
event stream_end(const request_parser& parser, parse_status status, std::size_t leftover) {
    event last;
    last.status = status;
    last.leftover = leftover;
    last.header_complete = parser.header_complete();
    last.awaiting_continue = parser.awaiting_body_after_continue();
    return last;
}

// Appends the next piece of `wire` (its size from the fuzzer's chunk sizes, in turn) and returns its size.
std::size_t feed_next(std::string_view wire, std::size_t fed, const std::vector<std::size_t>& chunk_sizes,
                      std::size_t& next_chunk, std::string& buffer) {
    const std::size_t step = std::min(chunk_sizes[next_chunk++ % chunk_sizes.size()], wire.size() - fed);
    buffer.append(wire.substr(fed, step));
    return step;
}

// Like parse_stream with chunk sizes, but the buffer is kept between calls and the decoded framing of a
// chunked body is erased from it, as net/http_connection.hpp does. consumed() is then relative to the
// compacted buffer, so each event records the request's length in the original stream instead.
std::vector<event> parse_compacting(std::string_view wire, const std::vector<std::size_t>& chunk_sizes, const limits& lim) {
    request_parser parser(lim);
    request req;
    std::vector<event> events;
    std::string buffer;
    std::size_t fed = 0, erased = 0, next_chunk = 0;
    for (;;) {
        const parse_status status = parser.parse(buffer, req);
        if (status == parse_status::complete) {
            event e = observe(parser, req, buffer, lim, status);
            e.consumed += erased;
            events.push_back(e);
            buffer.erase(0, parser.consumed());
            parser.reset();
            erased = 0;
            continue;
        }
        if (status == parse_status::error) {
            events.push_back(observe(parser, req, buffer, lim, status));
            return events;
        }
        if (std::size_t n = parser.raw_body_decoded()) {
            buffer.erase(parser.raw_body_start(), n);
            parser.raw_body_erased();
            erased += n;
        }
        // The bound the connection relies on: once in a chunked body, what stays is the header section
        // and one partial line (chunk data is taken as it arrives).
        if (parser.in_chunked_body()) check(buffer.size() - parser.raw_body_start() <= 4096 + 2);
        if (fed == wire.size()) {
            events.push_back(stream_end(parser, status, buffer.size() + erased));
            return events;
        }
        fed += feed_next(wire, fed, chunk_sizes, next_chunk, buffer);
    }
}

// Like parse_compacting, with the parser paused at every head and the body then taken `how`. Buffered:
// the framing is erased as in parse_compacting. Streamed: the caller drops consumed() after every call,
// so the buffer holds only what no call has used yet; the request's length is the sum of those drops.
std::vector<event> parse_paused(std::string_view wire, const std::vector<std::size_t>& chunk_sizes, const limits& lim,
                                body_delivery how) {
    request_parser parser(lim);
    parser.pause_at_head(true);
    request req;
    std::vector<event> events;
    std::string buffer;
    std::size_t fed = 0, erased = 0, next_chunk = 0;
    event streaming;             // the request whose body is streaming: its head, and the body so far
    bool in_stream = false;
    for (;;) {
        auto moved = std::make_unique<std::string>(buffer);   // each call's bytes in a new allocation
        const std::string_view data = *moved;
        const parse_status status = parser.parse(data, req);
        std::size_t drop = 0;
        if (status == parse_status::head) {
            check(!in_stream && parser.at_head() && parser.header_complete() && req.body().empty());
            if (!parser.begin_body(lim.max_body_bytes, how)) {
                check(parser.error().status == 413 && parser.parse(data, req) == parse_status::error);
                events.push_back(observe(parser, req, data, lim, parse_status::error));
                return events;
            }
            if (how == body_delivery::streamed) {
                streaming = event{};
                observe_head(req, data, lim, streaming);
                in_stream = true;
                drop = parser.consumed();
                check(drop > 0 && drop <= data.size());
            } else {
                check(parser.consumed() == 0);
            }
        } else if (status == parse_status::body) {
            check(in_stream && parser.streaming_body());
            const std::string_view piece = parser.body_piece();
            drop = parser.consumed();
            check(!piece.empty() && drop <= data.size() && inside(piece, data.substr(0, drop)));
            streaming.body.append(piece);
            check(streaming.body.size() <= lim.max_body_bytes);
        } else if (status == parse_status::complete) {
            event e;
            if (in_stream) {
                e = std::move(streaming);
                e.status = status;
                drop = parser.consumed();
                check(drop <= data.size());
                e.consumed = erased + drop;
            } else {
                e = observe(parser, req, data, lim, status);
                drop = parser.consumed();
                e.consumed += erased;
            }
            events.push_back(std::move(e));
            in_stream = false;
            erased = 0;
            buffer.erase(0, drop);
            parser.reset();
            parser.pause_at_head(true);
            continue;
        } else if (status == parse_status::error) {
            events.push_back(observe(parser, req, data, lim, status));
            return events;
        } else {   // need_more
            drop = parser.consumed();
            check(drop == 0 || parser.streaming_body());
        }
        buffer.erase(0, drop);
        erased += drop;
        if (status != parse_status::need_more) continue;
        if (how == body_delivery::buffered) {
            if (std::size_t n = parser.raw_body_decoded()) {
                buffer.erase(parser.raw_body_start(), n);
                parser.raw_body_erased();
                erased += n;
            }
        }
        // What a streamed body leaves with the caller: one partial framing line.
        if (parser.streaming_body()) check(buffer.size() <= 4096 + 2);
        if (fed == wire.size()) {
            events.push_back(stream_end(parser, status, buffer.size() + erased));
            return events;
        }
        fed += feed_next(wire, fed, chunk_sizes, next_chunk, buffer);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned shape = data[0];
    const unsigned knobs = data[1];
    const std::string_view wire(reinterpret_cast<const char*>(data) + 2, size - 2);

    limits lim;
    if (knobs & 1) {   // small limits, so 413, 414 and 431 are reachable in short inputs
        lim.max_header_bytes = 64 + (knobs >> 2) * 8;
        lim.max_fields = 1 + (knobs >> 4);
        lim.max_target_bytes = 1 + (knobs >> 3);
        lim.max_body_bytes = (knobs >> 2) & 31;
    }
    lim.require_host = (knobs & 2) != 0;

    // Chunk sizes from the first byte: one byte at a time, or a short cycle of sizes 1..8.
    std::vector<std::size_t> chunks;
    if (shape == 0) {
        chunks = {1};
    } else {
        chunks = {(shape & 7u) + 1, ((shape >> 3) & 7u) + 1, ((shape >> 6) & 3u) + 1};
    }

    const std::vector<event> whole = parse_stream(wire, {}, lim);
    const std::vector<event> pieces = parse_stream(wire, chunks, lim);
    check(whole == pieces);
    check(whole == parse_compacting(wire, chunks, lim));
    check(whole == parse_paused(wire, chunks, lim, body_delivery::buffered));
    check(whole == parse_paused(wire, chunks, lim, body_delivery::streamed));
    return 0;
}
