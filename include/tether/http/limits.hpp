#pragma once
// Limits on what one HTTP request may cost the server. They live in one aggregate so a user
// changes one (`{.max_body_bytes = 8 << 20}`) without restating the rest; the defaults are
// those of README.md's configuration reference. Every limit has its own status code so a
// client can tell which one it hit: 413 body, 414 target, 431 header section, 408 deadline.
#include <chrono>
#include <cstddef>

namespace tether::http {

struct limits {
    std::size_t max_header_bytes = 16 * 1024;   // request line + field section (431 past it)
    std::size_t max_fields = 100;               // field lines in the header section (431)
    std::size_t max_target_bytes = 8 * 1024;    // request-target (414)
    std::size_t max_body_bytes = 1024 * 1024;   // decoded body, Content-Length or chunked (413)
    std::size_t max_chunk_metadata_bytes = 16 * 1024;   // chunk extensions + trailers of one body (400)
    // RFC 9112 §3.2: a 1.1 request without exactly one Host is a 400. Only tests replaying
    // historical corpora turn this off.
    bool require_host = true;
};

} // namespace tether::http
