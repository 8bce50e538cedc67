#pragma once
// Incremental, zero-copy HTTP/1.1 request parser (RFC 9112), I/O-free.
//
// Contract: every call to parse() receives the bytes of the current request from its first
// byte on, possibly extended since the last call and possibly moved to another buffer. The
// parser therefore keeps offsets, never pointers, and resumes its search for the end of the
// header section where it stopped, so a request trickled in one byte per read costs O(n), not
// O(n^2). Once the header section is complete it is validated in one pass and the request's
// fields become views into the caller's bytes. A request whole at its first look (the usual case,
// and every request of a pipelined batch but the last) skips the search: its plain lines are read
// straight to the empty line (read_plain_head). Many pipelined requests in one buffer are
// parsed one after another: consumed() says where the next one starts.
//
// Strictness (RFC 9112 §2.2, §3, §5, §6): the grammar is enforced rather than guessed at,
// because the lenient readings (bare LF, whitespace before the colon, line folding, both
// Content-Length and Transfer-Encoding) are exactly where a proxy and a server can disagree
// on message boundaries, which is request smuggling. Every rejection carries the status the
// server answers with, always followed by closing the connection.
//
// Streamed bodies (uploads larger than memory). With pause_at_head(true), parse() stops when a
// header section is accepted and a body follows, and returns `head`: the caller looks at the
// request (its route, its limit) and calls begin_body() with the limit that applies and how the
// body goes on. `buffered`: as without the pause (the whole body in one view at `complete`).
// `streamed`: from then on parse() returns the body one piece at a time (`body`, with
// body_piece() a view into the caller's bytes, Content-Length and chunked alike), and each call's
// bytes start at the first byte not yet consumed: the caller drops consumed() bytes after every
// call, the header section included, so nothing of the body accumulates anywhere. This is a pull
// parser for the same reasons as ws/frame.hpp's: no callbacks into user code from inside the codec
// (a handler that throws or pauses never leaves the parser half-way), and the caller decides what to
// keep. Without the pause (the default) nothing changes, so servers without streamed routes pay
// nothing for it. (This header is past ~450 lines because the body's framing, buffered or streamed,
// is one job with the header section that decides it.)
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <tether/http/byte_scan.hpp>
#include <tether/http/char_class.hpp>
#include <tether/http/chunked.hpp>
#include <tether/http/limits.hpp>
#include <tether/http/request.hpp>
#include <tether/http/short_bytes.hpp>

namespace tether::http {

// head and body are returned only with pause_at_head(true): see the opening comment.
enum class parse_status : std::uint8_t { need_more, complete, error, head, body };

// How the body of a request that paused at its head is taken (begin_body()).
enum class body_delivery : std::uint8_t { buffered, streamed };

struct parse_error {
    int status = 0;                // 400, 408, 413, 414, 417, 431, 501 or 505
    std::string_view reason;       // a short, static explanation for logs and the error body
};

class request_parser {
public:
    explicit request_parser(const limits& l = default_limits()) noexcept
        : limits_(&l), chunked_(l.max_body_bytes, l.max_fields, l.max_chunk_metadata_bytes) {}

    // Parses the request at the front of `data` into `req`. On `complete`, `req` holds views
    // into `data` (and, for a chunked body, into this parser) and consumed() is its length.
    // In a streamed body, `data` starts where the last call's consumed() ended instead, and `req`
    // is left as it was at `head` (copy what you need of it there).
    // Always inlined into the caller's loop over a batch of requests, and read_plain_head and interpret_fields into
    // it: as three calls they cost a pipelined request ~45 instructions of frames (callgrind: 870 -> 823 Ir).
    [[gnu::always_inline]] parse_status parse(std::string_view data, request& req) {
        switch (stage_) {
        case stage::header: {
            // A request's first look (scan_from_ moves on from 0 once a look finds it incomplete).
            const plain_head plain = scan_from_ == 0 ? read_plain_head(data, req) : plain_head::unknown;
            if (plain == plain_head::refused) return parse_status::error;
            if (plain == plain_head::unknown) {
                auto found = find_header_end(data);
                if (found != parse_status::complete) return found;
                if (!parse_header_section(data, req)) return parse_status::error;
            }
            if (!note_framing(req)) return parse_status::error;
            if (stage_ == stage::done) {
                consumed_ = header_end_;
                req.body_ = {};
                return parse_status::complete;
            }
            if (pause_at_head_) {
                at_head_ = true;
                req.body_ = {};
                return parse_status::head;
            }
            return parse_body(data, req, /*header_parsed_now=*/true);
        }
        case stage::body_length:
        case stage::body_chunked:
            if (at_head_) {   // asked again before begin_body(): the same answer, views re-pointed
                parse_header_section(data, req);
                req.body_ = {};
                return parse_status::head;
            }
            if (streamed_) return parse_streamed(data);
            return parse_body(data, req, false);
        case stage::done: return parse_status::complete;
        case stage::failed: return parse_status::error;
        }
        return parse_status::error;
    }

    // Ready for the next request on the same connection. The body's state is reset only after a request that
    // had one: a bodiless request never left the header stage for a body stage, which is where all of it is
    // written (note_framing, begin_body, the body parsers), and resetting it anyway was ~13 of a pipelined GET's
    // instructions.
    void reset() noexcept {
        stage_ = stage::header;
        request_line_seen_ = false;
        scan_from_ = start_ = header_end_ = consumed_ = 0;
        expect_continue_ = false;
        if (body_framed_) [[unlikely]]
            reset_body();
    }

    // ---- streamed bodies (see the opening comment) -------------------------------------------
    // Whether parse() stops at `head` when a body follows. Set it between requests.
    void pause_at_head(bool on) noexcept { pause_at_head_ = on; }
    // True between a `head` and the begin_body() that answers it.
    bool at_head() const noexcept { return at_head_; }

    // How the body of the request at its head goes on: at most `max_body_bytes` decoded bytes
    // (this replaces limits::max_body_bytes for this request), buffered or streamed. False when a
    // Content-Length is already over the limit: error() is then 413 and parse() says error. After a
    // streamed begin_body(), consumed() is the header section's length: drop it before the next call.
    bool begin_body(std::uint64_t max_body_bytes, body_delivery how) noexcept {
        if (!at_head_) return stage_ != stage::failed;
        at_head_ = false;
        if (stage_ == stage::body_length && content_length_ > max_body_bytes)
            return fail(413, "body larger than the limit"), false;
        chunked_.set_max_body_bytes(max_body_bytes);
        streamed_ = how == body_delivery::streamed;
        consumed_ = streamed_ ? header_end_ : 0;
        return true;
    }
    // The piece of a streamed body the last `body` returned: a view into that call's bytes.
    std::string_view body_piece() const noexcept { return piece_; }
    // True from a streamed begin_body() until the request completes or fails.
    bool streaming_body() const noexcept {
        return streamed_ && (stage_ == stage::body_length || stage_ == stage::body_chunked);
    }

    // Frees the chunked-body buffer of an idle connection.
    void release_memory() { std::string{}.swap(chunked_body_); }

    // A chunked body is decoded as it arrives, into the parser; its raw bytes (sizes, extensions,
    // data already copied, trailer lines) are then dead weight in the caller's buffer. The caller
    // may erase data[raw_body_start(), raw_body_start() + raw_body_decoded()) and then call
    // raw_body_erased(), so a body in many small chunks holds its decoded bytes plus one partial
    // line, however much its framing weighed. Content-Length bodies are never copied: nothing to
    // erase there (raw_body_decoded() is 0).
    std::size_t raw_body_start() const noexcept { return header_end_; }
    std::size_t raw_body_decoded() const noexcept { return stage_ == stage::body_chunked && !streamed_ ? chunk_pos_ : 0; }
    void raw_body_erased() noexcept {
        if (stage_ == stage::body_chunked) chunk_pos_ = 0;
    }
    bool in_chunked_body() const noexcept { return stage_ == stage::body_chunked; }
    // The bytes the whole request takes (header section + Content-Length body) once its header
    // section is parsed and its body is still arriving to be buffered; 0 when that is not known,
    // at a head not yet answered by begin_body() (its Content-Length is not yet checked against
    // any limit), and for a streamed body (its pieces are handed on, never held whole).
    std::size_t expected_request_size() const noexcept {
        return stage_ == stage::body_length && !at_head_ && !streamed_ ? header_end_ + content_length_ : 0;
    }
    // Bytes of decoded chunked body held by the parser (for the server-wide body budget).
    std::size_t decoded_body_size() const noexcept { return chunked_body_.size(); }
    // What the decoded body holds in memory (a string grows by doubling: up to twice its size).
    std::size_t decoded_body_capacity() const noexcept { return chunked_body_.empty() ? 0 : chunked_body_.capacity(); }

    // After `complete`: the request's length (from its first byte, or in a streamed body from the
    // first byte of that call). In a streamed body, after every call: the bytes it used, to drop.
    // Otherwise 0.
    std::size_t consumed() const noexcept { return consumed_; }
    const parse_error& error() const noexcept { return error_; }
    // True once the header section was accepted; the body may still be arriving.
    bool header_complete() const noexcept { return stage_ != stage::header && stage_ != stage::failed; }
    // True while a client that sent "Expect: 100-continue" waits for permission to send the body
    // (RFC 9110 §10.1.1).
    bool awaiting_body_after_continue() const noexcept {
        return expect_continue_ && (stage_ == stage::body_length || stage_ == stage::body_chunked);
    }
    // True when nothing of a request has been seen yet (an idle keep-alive connection).
    bool idle(std::string_view data) const noexcept { return stage_ == stage::header && data.empty(); }

    static const limits& default_limits() noexcept {
        static const limits defaults{};
        return defaults;
    }

private:
    enum class stage : std::uint8_t { header, body_length, body_chunked, done, failed };

    parse_status fail(int status, std::string_view reason) noexcept {
        stage_ = stage::failed;
        error_ = {status, reason};
        return parse_status::error;
    }

    // Locates the empty line ending the header section. Bare-LF line endings are recognised
    // here only so that the strict pass below can reject them with 400 instead of waiting for
    // the size limit.
    parse_status find_header_end(std::string_view data) {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
        while (start_ + 1 < data.size() && data[start_] == '\r' && data[start_ + 1] == '\n' && start_ < 8) {
            start_ += 2;
            if (scan_from_ < start_) scan_from_ = start_;
        }
        std::size_t pos = scan_from_ > start_ ? scan_from_ : start_;
        while (pos < data.size()) {
            const void* hit = std::memchr(data.data() + pos, '\n', data.size() - pos);
            if (!hit) {
                pos = data.size();
                break;
            }
            std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - data.data());
            if (!request_line_seen_ && !request_line_within_limits(lf - start_)) return parse_status::error;
            if (lf > start_ + 1) request_line_seen_ = true;
            if (lf + 1 < data.size() && data[lf + 1] == '\n') {
                header_end_ = lf + 2;
                break;
            }
            if (lf + 2 < data.size() && data[lf + 1] == '\r' && data[lf + 2] == '\n') {
                header_end_ = lf + 3;
                break;
            }
            if (lf + 2 >= data.size()) {   // the terminator may still be arriving: rescan from here
                pos = lf;
                break;
            }
            pos = lf + 1;
        }
        if (header_end_ == 0) {
            scan_from_ = pos;
            std::size_t seen = data.size() - start_;
            if (!request_line_seen_ && !request_line_within_limits(seen)) return parse_status::error;
            if (seen > limits_->max_header_bytes) return fail(431, "header section too large");
            return parse_status::need_more;
        }
        if (header_end_ - start_ > limits_->max_header_bytes) return fail(431, "header section too large");
        return parse_status::complete;
    }

    // Bounds a request-line of `length` bytes so far (complete or still arriving): past the target
    // limit it is a 414, past the header limit a 431. Whichever limit a line trickled in byte by byte
    // would cross first decides, so the status never depends on how the bytes were split into reads.
    bool request_line_within_limits(std::size_t length) noexcept {
        switch (request_line_refusal(length)) {
        case 414: return fail(414, "request-target too long"), false;
        case 431: return fail(431, "header section too large"), false;
        default: return true;
        }
    }
    // The status that bound gives (0: within it), for read_plain_head to test without failing.
    int request_line_refusal(std::size_t length) const noexcept {
        const std::size_t target_bound = limits_->max_target_bytes + max_request_line_overhead;
        if (length > target_bound && target_bound <= limits_->max_header_bytes) return 414;
        if (length > limits_->max_header_bytes) return 431;
        return 0;
    }

    // The usual request, read in one pass: a header section at the front of `data` whose every line is
    // in the plain form fast_request_line and fast_field_line accept, within the size limits, read line
    // by line until its empty line, with no search for where it ends first (find_header_end's memchr per
    // line and its bookkeeping were a fifth of a pipelined request's parse). The answer is the one the
    // two passes give: every line before the empty one ends in CRLF and starts with a token byte, so the
    // first LF that an LF or CRLF follows is the empty line's (find_header_end's end), and the request-line
    // and header section are within the bounds find_header_end applies. `unknown` for anything else
    // (incomplete, unusual, leading empty lines, over a limit): the two passes then start from scratch.
    // `refused`: interpret_fields failed, as it would in parse_header_section.
    enum class plain_head : std::uint8_t { unknown, read, refused };
    [[gnu::always_inline]] plain_head read_plain_head(std::string_view data, request& req) {
        const char* const block = data.data();
        const char* const end = block + (data.size() < limits_->max_header_bytes ? data.size() : limits_->max_header_bytes);
        const char* p = fast_request_line(block, end, req);
        if (!p) {
            if (stage_ == stage::failed) stage_ = stage::header, error_ = {};   // the two passes name the error
            return plain_head::unknown;
        }
        // find_header_end's bound on the request-line (its length without the LF).
        if (request_line_refusal(static_cast<std::size_t>(p - 1 - block)) != 0) return plain_head::unknown;
        req.route_ = {};
        req.field_count_ = 0;
        while (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            p = fast_field_line(p, end, req);
            if (!p) return plain_head::unknown;
        }
        header_end_ = static_cast<std::size_t>(p + 2 - block);
        request_line_seen_ = true;
        // The readable end is the data's, not the header section's: a pipelined request's Host line is
        // then checked in place, where the section's end is too near for a 16-byte load.
        return interpret_fields(req, block + data.size()) ? plain_head::read : plain_head::refused;
    }

    // Validates the request-line and field lines of data[start_, header_end_) and fills `req`.
    //
    // Each line is first read by one pass of table lookups that accepts only the plain, valid form
    // (fast_request_line, fast_field_line); a line it does not accept (anything unusual, valid or not)
    // is read again by the exact per-line code below it, which decides and names the error. So the
    // fast pass never widens or narrows what is accepted: it only spares a valid request the separate
    // searches (CR, LF, SP, ':') and checks that the exact code makes of every line.
    bool parse_header_section(std::string_view data, request& req) {
        const char* const block = data.data() + start_;
        const char* const end = data.data() + header_end_;   // the block ends with LF: every scan stops
        const char* p = fast_request_line(block, end, req);
        if (!p) {
            if (stage_ == stage::failed) return false;   // plain, but its target was refused
            std::size_t line_end = std::string_view(block, static_cast<std::size_t>(end - block)).find('\n');
            if (line_end == 0 || block[line_end - 1] != '\r') return fail(400, "request-line must end with CRLF"), false;
            if (!parse_request_line(std::string_view(block, line_end - 1), req)) return false;
            p = block + line_end + 1;
        }
        req.route_ = {};   // the router names it, if a route matches

        req.field_count_ = 0;
        for (;;) {
            if (p[0] == '\r' && p[1] == '\n') break;   // the empty line: p + 2 == end
            if (const char* next = fast_field_line(p, end, req)) {
                p = next;
                continue;
            }
            // find_header_end guarantees the block ends with an empty line, so an LF follows.
            const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            if (lf == p || lf[-1] != '\r') return fail(400, "bare LF in field section"), false;
            if (!parse_field_line(std::string_view(p, static_cast<std::size_t>(lf - 1 - p)), req)) return false;
            p = lf + 1;
        }
        return interpret_fields(req, data.data() + data.size());
    }

    // The request-line in its plain form, "token SP target SP HTTP/1.x CRLF" with the target within
    // its limit: fills `req` and returns where the field lines start; nullptr for anything else. An
    // origin-form target without '?' or '#' is its own path, found by the same scan. Reads nothing at
    // or past `end`, which need not end a line (see read_plain_head).
    [[gnu::always_inline]] const char* fast_request_line(const char* p, const char* end, request& req) {
        // GET, most requests' method, is told by one 4-byte compare; any other by a table lookup a byte
        // and a match against the names the router knows.
        const char* method_end = p + 3;
        method known = method::get;
        if (end - p < 4 || detail::load_u32(p) != detail::load_u32("GET ")) {
            method_end = p;
            while (method_end != end && detail::is_tchar(*method_end)) ++method_end;
            if (end - method_end < 2 || *method_end != ' ' || method_end == p) return nullptr;
            known = method_from_string(std::string_view(p, static_cast<std::size_t>(method_end - p)));
        }
        const char* target_end = detail::skip_target(method_end + 1, end, /*path_only=*/true);
        if (target_end == end) return nullptr;
        const bool path_only = *target_end == ' ' && method_end[1] == '/';
        if (*target_end != ' ') {   // a query or fragment: the rest of the target
            target_end = detail::skip_target(target_end, end, false);
            if (target_end == end || *target_end != ' ') return nullptr;
        }
        std::size_t target_size = static_cast<std::size_t>(target_end - method_end - 1);
        if (target_size == 0 || target_size > limits_->max_target_bytes) return nullptr;
        // " HTTP/1.1" or " HTTP/1.0", then CRLF: one 8-byte compare for the version, one 2-byte for CRLF.
        if (end - target_end < 11) return nullptr;
        const std::uint64_t version = detail::load_u64(target_end + 1);
        if ((version != detail::load_u64("HTTP/1.1") && version != detail::load_u64("HTTP/1.0")) ||
            detail::load_u16(target_end + 9) != detail::load_u16("\r\n"))
            return nullptr;
        const std::string_view target(method_end + 1, target_size);
        req.method_name_ = std::string_view(p, static_cast<std::size_t>(method_end - p));
        req.method_ = known;
        req.target_ = target;
        req.version_minor_ = target_end[8] == '0' ? 0 : 1;
        if (path_only) {
            req.host_ = {};
            absolute_form_ = false;
            // From `target`, not req.target_: reading that back just after storing it is a 16-byte load of two
            // 8-byte stores, which the CPU cannot forward (perf put a quarter of this function's time there).
            req.path_ = target;
            req.query_ = {};
            return target_end + 11;
        }
        return split_target(target, req) ? target_end + 11 : nullptr;
    }

    // A field line in its plain form, "token ':' OWS value OWS CRLF" with every value byte allowed,
    // under the field limit: stores the field and returns where the next line starts; nullptr for
    // anything else. Reads nothing at or past `end`, which need not end a line.
    [[gnu::always_inline]] const char* fast_field_line(const char* p, const char* end, request& req) {
        const char* name_end = p;
        // "Host", the one field every HTTP/1.1 request carries (RFC 9112 §3.2), in the case clients send it: its name is
        // known by one 4-byte compare instead of a table lookup a byte (22 of the ~205 instructions of reading a
        // one-field request plainly).
        if (end - p > 4 && detail::load_u32(p) == detail::load_u32("Host") && p[4] == ':') name_end = p + 4;
        else
            while (name_end != end && detail::is_tchar(*name_end)) ++name_end;
        if (name_end == end || *name_end != ':' || name_end == p || req.field_count_ == limits_->max_fields) return nullptr;
        const char* value = name_end + 1;
        // OWS around the value is SP or HTAB (RFC 9112 §5, RFC 9110 §5.6.3); the usual one space is taken first, so
        // the loop ends at its first test.
        if (value != end && *value == ' ') ++value;
        while (value != end && (*value == ' ' || *value == '\t')) ++value;
        const char* line_end = detail::skip_field_value(value, end);
        if (end - line_end < 2 || line_end[0] != '\r' || line_end[1] != '\n') return nullptr;
        // Trailing OWS: within the value skip_field_value accepted (RFC 9110 §5.5), a byte up to SP is SP or HTAB
        // (it refused the other controls), so one compare tells both.
        const char* value_end = line_end;
        while (value_end > value && static_cast<unsigned char>(value_end[-1]) <= ' ') --value_end;
        if (req.field_count_ == req.fields_.size()) req.fields_.emplace_back();
        req.fields_[req.field_count_++] = field{std::string_view(p, static_cast<std::size_t>(name_end - p)),
                                                std::string_view(value, static_cast<std::size_t>(value_end - value))};
        return line_end + 2;
    }

    bool parse_request_line(std::string_view line, request& req) {
        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces.
        std::size_t sp1 = line.find(' ');
        if (sp1 == std::string_view::npos) return fail(400, "malformed request-line"), false;
        std::size_t sp2 = line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) return fail(400, "malformed request-line"), false;
        std::string_view method_name = line.substr(0, sp1);
        std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string_view version = line.substr(sp2 + 1);

        if (!detail::is_token(method_name)) return fail(400, "invalid method"), false;
        if (target.size() > limits_->max_target_bytes) return fail(414, "request-target too long"), false;
        if (target.empty()) return fail(400, "empty request-target"), false;
        for (char c : target)
            if (!detail::is_target_char(c)) return fail(400, "invalid character in request-target"), false;

        // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
        if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
            version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
            return fail(400, "malformed HTTP-version"), false;
        if (version[5] != '1') return fail(505, "only HTTP/1.x is supported"), false;

        req.method_name_ = method_name;
        req.method_ = method_from_string(method_name);
        req.target_ = target;
        // A later 1.x minor is handled as the highest minor we implement (RFC 9110 §2.5).
        req.version_minor_ = version[7] == '0' ? 0 : 1;
        return split_target(target, req);
    }

    // RFC 9112 §3.2: origin-form, absolute-form, authority-form (CONNECT) or asterisk-form (OPTIONS).
    bool split_target(std::string_view target, request& req) {
        std::string_view path_and_query = target;
        req.host_ = {};
        absolute_form_ = false;
        if (target.front() == '/') {
            // origin-form
        } else if (target == "*") {
            if (req.method_ != method::options) return fail(400, "asterisk-form is only for OPTIONS"), false;
            req.path_ = target;
            req.query_ = {};
            return true;
        } else if (req.method_ == method::connect) {
            req.path_ = target;   // authority-form
            req.query_ = {};
            return true;
        } else {
            auto scheme_end = target.find("://");
            if (scheme_end == std::string_view::npos || scheme_end == 0) return fail(400, "invalid request-target form"), false;
            // absolute-form: the authority names the host (RFC 9112 §3.2.2). userinfo in an http(s)
            // URI is deprecated and a recipient should treat it as an error (RFC 9110 §4.2.4).
            auto authority = target.substr(scheme_end + 3);
            authority = authority.substr(0, authority.find_first_of("/?#"));
            if (authority.find('@') != std::string_view::npos) return fail(400, "userinfo in request-target"), false;
            if (authority.empty() || !detail::is_valid_host(authority)) return fail(400, "invalid authority in request-target"), false;
            req.host_ = authority;
            absolute_form_ = true;
            auto path_start = target.find('/', scheme_end + 3);
            auto query_start = target.find('?', scheme_end + 3);
            if (path_start == std::string_view::npos || (query_start != std::string_view::npos && query_start < path_start))
                path_and_query = query_start == std::string_view::npos ? std::string_view{"/"} : target.substr(query_start);
            else
                path_and_query = target.substr(path_start);
        }
        // A fragment is never sent by conforming clients; some old ones did, so drop it.
        path_and_query = path_and_query.substr(0, path_and_query.find('#'));
        auto q = path_and_query.find('?');
        if (q == std::string_view::npos) {
            req.path_ = path_and_query.empty() ? std::string_view{"/"} : path_and_query;
            req.query_ = {};
        } else {
            req.path_ = path_and_query.substr(0, q);
            if (req.path_.empty()) req.path_ = "/";
            req.query_ = path_and_query.substr(q + 1);
        }
        return true;
    }

    bool parse_field_line(std::string_view line, request& req) {
        // RFC 9112 §5.2: obs-fold is rejected with 400 outside message/http.
        if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding"), false;
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return fail(400, "field line without colon"), false;
        std::string_view name = line.substr(0, colon);
        // RFC 9112 §5.1: no whitespace between field name and colon; that and any other
        // non-token byte fails the token check.
        if (!detail::is_token(name)) return fail(400, "invalid field name"), false;
        std::string_view value = detail::trim_ows(line.substr(colon + 1));
        for (char c : value)
            if (!detail::is_field_value_char(c)) return fail(400, "invalid character in field value"), false;
        if (req.field_count_ == limits_->max_fields) return fail(431, "too many header fields"), false;
        if (req.field_count_ == req.fields_.size()) req.fields_.emplace_back();
        req.fields_[req.field_count_++] = field{name, value};
        return true;
    }

    // Reads the fields that decide framing and connection handling. Every field lies before
    // `readable_end` (the end of the data holding the header section), so a scan may read ahead up to it.
    [[gnu::always_inline]] bool interpret_fields(request& req, const char* readable_end) {
        req.content_length_.reset();
        req.chunked_ = req.upgrade_ = req.expect_continue_ = false;
        // What the fields said, one bit each: one register to clear and test, not a local apiece.
        enum : unsigned { close_token = 1, keep_alive_token = 2, upgrade_token = 4, upgrade_field = 8, transfer_encoding = 16 };
        unsigned said = 0;
        int hosts = 0;
        std::string_view transfer_coding_last;
        int transfer_codings = 0, chunked_count = 0;

        // A field that matters here is told by its length and first letter before its name is compared:
        // plain compares of one key, where a switch on the letter was a jump table whose load and indirect
        // jump perf put a fifth of this function's time on.
        constexpr auto key = [](std::size_t length, char lower_first) noexcept {
            return (length << 8) | static_cast<unsigned char>(lower_first);
        };
        for (const field& f : req.fields()) {
            const std::size_t k = key(f.name.size(), detail::ascii_lower(f.name.front()));
            if (k == key(4, 'h')) {
                // Field names are case-insensitive (RFC 9110 §5.1). One 4-byte compare for iequals(name, "host"):
                // "host" is all letters, and setting bit 0x20 of a
                // byte gives one of those letters only from that letter's two cases.
                if ((detail::load_u32(f.name.data()) | 0x20202020u) != detail::load_u32("host")) continue;
                // RFC 9112 §3.2: an invalid Host value is a 400, like a missing or repeated one.
                // The value as two words, kept in registers for the copy into host_: the field was just stored as two
                // 8-byte words, and one 16-byte load of it waits for both stores to reach the cache (a failed
                // store-to-load forward; perf put 7 % of the request loop's samples on that copy).
                const char* const value = f.value.data();
                const std::size_t value_size = f.value.size();
                if (!detail::is_plain_host(value, value_size, readable_end) && !detail::is_valid_host(f.value))
                    return fail(400, "invalid Host"), false;
                if (++hosts == 1 && !absolute_form_) req.host_ = std::string_view(value, value_size);
            } else if (k == key(14, 'c')) {
                if (!detail::iequals(f.name, "content-length")) continue;
                // Duplicates are refused even when equal: RFC 9112 §6.3 allows merging equal
                // values, but a peer that sends two is one worth not trusting.
                if (req.content_length_) return fail(400, "duplicate Content-Length"), false;
                std::uint64_t n = 0;
                auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
                if (f.value.empty() || ec != std::errc{} || end != f.value.data() + f.value.size() ||
                    f.value.front() == '+' || f.value.front() == '-')
                    return fail(400, "invalid Content-Length"), false;
                req.content_length_ = n;
            } else if (k == key(10, 'c')) {
                if (!detail::iequals(f.name, "connection")) continue;
                detail::for_each_list_element(f.value, [&](std::string_view t) {
                    if (detail::iequals(t, "close")) said |= close_token;
                    else if (detail::iequals(t, "keep-alive")) said |= keep_alive_token;
                    else if (detail::iequals(t, "upgrade")) said |= upgrade_token;
                    return true;
                });
            } else if (k == key(17, 't')) {
                if (!detail::iequals(f.name, "transfer-encoding")) continue;
                said |= transfer_encoding;
                detail::for_each_list_element(f.value, [&](std::string_view t) {
                    ++transfer_codings;
                    if (detail::iequals(t, "chunked")) ++chunked_count;
                    transfer_coding_last = t;
                    return true;
                });
            } else if (k == key(6, 'e')) {
                if (!detail::iequals(f.name, "expect")) continue;
                if (!detail::iequals(f.value, "100-continue")) return fail(417, "unsupported expectation"), false;
                // RFC 9110 §10.1.1: a 100-continue in an HTTP/1.0 request MUST be ignored.
                req.expect_continue_ = req.version_minor_ >= 1;
            } else if (k == key(7, 'u')) {
                if (detail::iequals(f.name, "upgrade")) said |= upgrade_field;
            }
        }

        // The usual request (one Host, an origin-form target, no framing field, not CONNECT) meets none of
        // the checks below: one test for all of them.
        const bool has_transfer_encoding = (said & transfer_encoding) != 0;
        if (hosts != 1 || absolute_form_ || has_transfer_encoding || req.content_length_ || req.method_ == method::connect)
            if (!check_unusual_framing(req, hosts, has_transfer_encoding, transfer_codings, chunked_count, transfer_coding_last))
                return false;

        req.upgrade_ = (said & (upgrade_field | upgrade_token)) == (upgrade_field | upgrade_token);
        req.keep_alive_ = req.version_minor_ >= 1 ? (said & close_token) == 0
                                                  : (said & (keep_alive_token | close_token)) == keep_alive_token;
        return true;
    }

    // interpret_fields' checks of a request with no Host or several, an absolute-form target, a framing
    // field or the CONNECT method.
    bool check_unusual_framing(request& req, int hosts, bool has_transfer_encoding, int transfer_codings, int chunked_count,
                               std::string_view transfer_coding_last) {
        if (hosts > 1) return fail(400, "more than one Host field"), false;
        if (hosts == 0 && req.version_minor_ >= 1 && limits_->require_host)
            return fail(400, "HTTP/1.1 request without Host"), false;
        // RFC 9112 §3.2.2: with an absolute-form target the server ignores the Host field and uses
        // the target's authority, so a handler reading either sees the host that was asked for.
        if (absolute_form_)
            for (std::size_t i = 0; i < req.field_count_; ++i)
                if (detail::iequals(req.fields_[i].name, "host")) req.fields_[i].value = req.host_;
        if (has_transfer_encoding) {
            if (req.content_length_) return fail(400, "both Content-Length and Transfer-Encoding"), false;
            // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
            if (req.version_minor_ == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request"), false;
            // RFC 9112 §6.3: chunked must be the final coding, applied once.
            if (transfer_codings == 0 || chunked_count != 1 || !detail::iequals(transfer_coding_last, "chunked"))
                return fail(400, "chunked must be the final transfer coding"), false;
            if (transfer_codings > 1) return fail(501, "unsupported transfer coding"), false;
            req.chunked_ = true;
        }
        // RFC 9110 §9.3.6: a CONNECT request has no content; the bytes after it belong to the tunnel, so
        // a framing field there would make two readers disagree on where the next message starts.
        if (req.method_ == method::connect && (req.content_length_ || has_transfer_encoding))
            return fail(400, "CONNECT request with content"), false;
        // With the pause at the head, the limit is the one begin_body() is given.
        if (!pause_at_head_ && req.content_length_ && *req.content_length_ > limits_->max_body_bytes)
            return fail(413, "body larger than the limit"), false;
        return true;
    }

    // Decides from the parsed fields how the body is framed (RFC 9112 §6.3).
    bool note_framing(const request& req) {
        expect_continue_ = req.expect_continue_;
        if (req.chunked_) {
            stage_ = stage::body_chunked;
            body_framed_ = true;
        } else if (req.content_length_ && *req.content_length_ > 0) {
            content_length_ = static_cast<std::size_t>(*req.content_length_);
            stage_ = stage::body_length;
            body_framed_ = true;
        } else {
            stage_ = stage::done;   // a request without either has no body
        }
        return true;
    }

    parse_status parse_body(std::string_view data, request& req, bool header_parsed_now) {
        if (stage_ == stage::body_length) {
            if (data.size() - header_end_ < content_length_) return parse_status::need_more;
            consumed_ = header_end_ + content_length_;
            if (!header_parsed_now) parse_header_section(data, req);   // re-point views at `data`
            req.body_ = data.substr(header_end_, content_length_);
            stage_ = stage::done;
            return parse_status::complete;
        }
        auto r = chunked_.decode(data.substr(header_end_ + chunk_pos_), chunked_body_);
        chunk_pos_ += r.consumed;
        if (r.state != chunked_decoder::status::done) return chunk_status(r.state);
        consumed_ = header_end_ + chunk_pos_;
        if (!header_parsed_now) parse_header_section(data, req);
        req.body_ = chunked_body_;
        stage_ = stage::done;
        return parse_status::complete;
    }

    // A streamed body: `data` starts at the first byte not yet consumed. Content-Length data is
    // handed on as it is; chunked data one run at a time, its framing consumed around it.
    parse_status parse_streamed(std::string_view data) {
        piece_ = {};
        consumed_ = 0;
        if (stage_ == stage::body_length) {
            if (content_length_ == 0) {
                stage_ = stage::done;
                return parse_status::complete;
            }
            if (data.empty()) return parse_status::need_more;
            consumed_ = data.size() < content_length_ ? data.size() : content_length_;
            content_length_ -= consumed_;
            piece_ = data.substr(0, consumed_);
            return parse_status::body;
        }
        auto r = chunked_.next_piece(data);
        consumed_ = r.consumed;
        if (r.state == chunked_decoder::status::done) {
            stage_ = stage::done;
            return parse_status::complete;
        }
        if (r.state != chunked_decoder::status::need_more || r.piece.empty()) return chunk_status(r.state);
        piece_ = r.piece;
        return parse_status::body;
    }

    parse_status chunk_status(chunked_decoder::status s) noexcept {
        switch (s) {
        case chunked_decoder::status::need_more: return parse_status::need_more;
        case chunked_decoder::status::bad_request: return fail(400, "malformed chunked body");
        case chunked_decoder::status::too_large: return fail(413, "body larger than the limit");
        case chunked_decoder::status::too_much_metadata: return fail(400, "chunk extensions and trailers over the limit");
        case chunked_decoder::status::done: break;
        }
        return parse_status::complete;
    }

    // Everything a body stage writes, back to what a request without a body leaves.
    void reset_body() noexcept {
        body_framed_ = false;
        content_length_ = 0;
        chunk_pos_ = 0;
        at_head_ = streamed_ = false;
        piece_ = {};
        chunked_.reset();
        chunked_.set_max_body_bytes(limits_->max_body_bytes);
        chunked_body_.clear();
    }

    // Room for method, spaces and version around the request-target when bounding a request-line.
    static constexpr std::size_t max_request_line_overhead = 64;

    const limits* limits_;
    stage stage_ = stage::header;
    bool request_line_seen_ = false;
    bool absolute_form_ = false;   // of the request being parsed
    bool expect_continue_ = false;
    bool pause_at_head_ = false;   // stop at `head` when a body follows
    bool at_head_ = false;         // stopped there; begin_body() not called yet
    bool streamed_ = false;        // this request's body is handed out in pieces
    bool body_framed_ = false;     // this request has a body: reset() has the body's state to reset too
    std::size_t start_ = 0;        // after any leading empty lines
    std::size_t scan_from_ = 0;    // where the search for the header end resumes
    std::size_t header_end_ = 0;   // one past the empty line ending the header section
    std::size_t consumed_ = 0;
    std::size_t content_length_ = 0;   // in a streamed body: what is left of it
    std::size_t chunk_pos_ = 0;    // chunked bytes consumed after header_end_
    std::string_view piece_;       // the last piece of a streamed body
    parse_error error_{};
    chunked_decoder chunked_;
    std::string chunked_body_;
};

} // namespace tether::http
