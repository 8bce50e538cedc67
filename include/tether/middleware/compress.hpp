#pragma once
// tether::middleware::compress(): gzip or br for text and JSON bodies, chosen by Accept-Encoding.
//
//   app.use(tether::middleware::compress());                                    // the defaults below
//   app.use(tether::middleware::compress({.min_bytes = 512, .level = {.gzip = 4, .brotli = 5}}));
//
// A response is encoded when all of these hold, and the reasons are the rules of RFC 9110 and
// what browsers and caches do with the result:
// - it has a body of its own: not a HEAD (its fields would have to announce the GET's encoded
//   length, which is not computed for a body nobody reads), not 1xx/204/304 (no body), not 206
//   (a Content-Range counts bytes of the unencoded representation, §14.4), not a stream head
//   (SSE: its body is written later, piece by piece) and not a body written in chunks with
//   res.write() (framed as it was produced);
// - it is not encoded already (Content-Encoding set, as static files do for .br/.gz siblings),
//   and its Cache-Control does not say no-transform (RFC 9111 §5.2.2.6);
// - its Content-Type is one of `types` ("text/*" matches any text type);
// - its body is between min_bytes (below, the gain is smaller than the fields that announce it)
//   and max_bytes (above, the CPU one response takes from its I/O thread grows too large:
//   precompress large static files instead, which serve_directory picks up);
// - the request accepts a coding tether has (accept_encoding.hpp: the highest qvalue wins, ties
//   prefer br, then gzip), and the encoding comes out smaller than the body.
// Every response that passes the first four tests gets Vary: Accept-Encoding, encoded or not
// (RFC 9110 §12.5.5: a cache must know the answer depended on the field). An encoded response
// gets Content-Encoding, and a strong ETag becomes weak (W/"..."): the bytes differ from the
// identity representation's, which a strong validator would promise are the same (§8.8.1), while
// If-None-Match, compared weakly (§13.1.2), still answers 304 to either.
//
// Which codings exist depends on the build (http/content_encoding.hpp): gzip with zlib, br with
// libbrotlienc. Without either the middleware changes nothing. Levels: gzip 6 (zlib's default)
// and brotli 4, where brotli is about as fast as gzip 6 and smaller; brotli's 11 is for files
// compressed once, not per response. Encoding runs on the I/O thread answering the request; the
// encoded bytes go into a per-thread buffer that is exchanged with the response's body, so a
// steady stream of responses allocates only inside zlib and brotli.
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/http/accept_encoding.hpp>
#include <tether/http/char_class.hpp>
#include <tether/http/content_encoding.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/http/status.hpp>
#include <tether/server/middleware.hpp>

namespace tether {

struct compression_levels {
    int gzip = 6;     // 1 (fastest) .. 9 (smallest)
    int brotli = 4;   // 0 (fastest) .. 11 (smallest)
};

struct middleware::compress_options {
    std::size_t min_bytes = 1024;               // smaller bodies go as they are
    std::size_t max_bytes = 4 * 1024 * 1024;    // larger ones too (CPU per response on the I/O thread)
    // Media types to encode, without parameters; "text/*" stands for every text type.
    std::vector<std::string> types = {"text/*", "application/json", "application/javascript", "image/svg+xml"};
    compression_levels level{};
    bool gzip = true, brotli = true;            // offer each coding (when the build has it)
};

namespace http {

// What compress() does with one response.
struct compression_plan {
    bool vary = false;                             // add Vary: Accept-Encoding
    content_coding coding = content_coding::identity;   // encode with this, if it comes out smaller
};

namespace detail {

// Whether `content_type` (a Content-Type value, parameters allowed) is one of `types`.
inline bool media_type_listed(std::string_view content_type, const std::vector<std::string>& types) noexcept {
    std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
    for (const std::string& t : types) {
        std::string_view pattern = t;
        if (pattern.ends_with("/*")) {
            std::string_view prefix = pattern.substr(0, pattern.size() - 1);   // "text/"
            if (type.size() > prefix.size() && iequals(type.substr(0, prefix.size()), prefix)) return true;
        } else if (iequals(type, pattern)) {
            return true;
        }
    }
    return false;
}

} // namespace detail

// The decision, without encoding anything (see the rules at the top of this header).
inline compression_plan plan_compression(const middleware::compress_options& o, const request& req, const response& res) {
    compression_plan plan;
    const bool gzip = o.gzip && gzip_available, br = o.brotli && brotli_available;
    if (!gzip && !br) return plan;
    const int status = res.status();
    if (status < 200 || status == 206 || status_forbids_body(status) || res.streaming() || res.chunked()) return plan;
    if (res.has_field("content-encoding") || res.field_lists("cache-control", "no-transform")) return plan;
    auto type = res.field("content-type");
    if (!type || !detail::media_type_listed(*type, o.types)) return plan;
    const std::size_t size = res.body_bytes().size();
    if (size < o.min_bytes || size > o.max_bytes || size == 0) return plan;
    plan.vary = true;
    if (req.method() == method::head) return plan;
    plan.coding = choose_coding(parse_accept_encoding(req.header("accept-encoding")), gzip, br);
    return plan;
}

// Carries out `plan` on `res`; `scratch` receives the encoding, and afterwards holds the old body
// (its buffer serves the next call). Returns whether the body was encoded.
inline bool apply_compression(const compression_plan& plan, const compression_levels& level, response& res, std::string& scratch) {
    if (plan.vary && !res.field_lists("vary", "accept-encoding") && !res.field_lists("vary", "*"))
        res.header("Vary", "Accept-Encoding");
    if (plan.coding == content_coding::identity) return false;
    std::string_view body = res.body_bytes();
    const bool encoded = plan.coding == content_coding::br ? brotli_encode(body, scratch, level.brotli, body.size() - 1)
                                                           : gzip_encode(body, scratch, level.gzip, body.size() - 1);
    if (!encoded) return false;
    res.swap_body(scratch);
    res.header("Content-Encoding", to_string(plan.coding));
    if (auto etag = res.field("etag"); etag && etag->starts_with('"')) {
        std::string weak = "W/" + std::string(*etag);
        res.remove_field("etag");
        res.header("ETag", weak);
    }
    return true;
}

} // namespace http

inline middleware middleware::compress(compress_options options) {
    if (options.level.gzip < 1 || options.level.gzip > 9)
        throw std::invalid_argument("tether: compress level.gzip must be 1 to 9");
    if (options.level.brotli < 0 || options.level.brotli > 11)
        throw std::invalid_argument("tether: compress level.brotli must be 0 to 11");
    auto o = std::make_shared<const compress_options>(std::move(options));
    return {.after = [o](const http::request& req, http::response& res) {
        const http::compression_plan plan = http::plan_compression(*o, req, res);
        if (!plan.vary) return;
        thread_local std::string scratch;
        http::apply_compression(plan, o->level, res, scratch);
        if (scratch.capacity() > 1024 * 1024) std::string{}.swap(scratch);   // a large body is not kept
    }};
}

inline middleware middleware::compress() { return compress(compress_options{}); }

} // namespace tether
