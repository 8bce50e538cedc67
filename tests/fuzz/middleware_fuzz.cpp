// libFuzzer target for what the built-in middleware reads from a peer or writes from one:
// X-Request-Id acceptance (middleware/request_id.hpp), the access log's escaping of client text
// (middleware/access_log.hpp), the coding chosen from Accept-Encoding (http/accept_encoding.hpp)
// and the content codings' round trip (http/content_encoding.hpp). Invariants, beyond not crashing:
// - an id is accepted exactly when it is 1..128 characters of the allowed set, and the id the
//   middleware echoes is either that one or 32 lowercase hex digits;
// - an escaped CLF field is printable ASCII with no bare '"', and unescapes to the input; a JSON
//   log line holds no raw control byte and is one object;
// - the chosen coding is offered and acceptable (q > 0), or identity;
// - gzip and br encodings of the input, when they fit, decode to the input (zlib's inflate,
//   libbrotlidec), and never exceed their limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <tether/http/parser.hpp>
#include <tether/middleware/access_log.hpp>
#include <tether/middleware/compress.hpp>
#include <tether/middleware/request_id.hpp>

#include "../support/content_decoding.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool allowed_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_.:+/=").find(c) != std::string_view::npos;
}

void check_request_id(std::string_view input) {
    bool expected = !input.empty() && input.size() <= 128;
    for (char c : input) expected = expected && allowed_id_char(c);
    check(tether::http::is_sane_request_id(input, 128) == expected);

    // Through the middleware, when the input can be a field value at all.
    std::string wire = "GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + std::string(input) + "\r\n\r\n";
    tether::http::request req;
    tether::http::request_parser parser;
    if (parser.parse(wire, req) != tether::http::parse_status::complete) return;
    static const auto m = tether::middleware::request_id();
    tether::http::response res;
    m.before(req, res);
    m.after(req, res);
    std::string_view echoed = res.field("x-request-id").value_or("");
    std::string_view received = req.header("x-request-id").value_or("");
    if (tether::http::is_sane_request_id(received, 128)) {
        check(echoed == received);
    } else {
        check(echoed.size() == 32);
        for (char c : echoed) check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
    check(req.attribute("request_id") == echoed);
}

void check_log_escaping(std::string_view input) {
    std::string escaped;
    tether::http::detail::append_log_escaped(escaped, input);
    std::string back;
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        auto c = static_cast<unsigned char>(escaped[i]);
        check(c >= 0x20 && c < 0x7f);
        check(c != '"');   // every quote is escaped, and so consumed below
        if (c != '\\') {
            back.push_back(static_cast<char>(c));
            continue;
        }
        check(i + 1 < escaped.size());
        char next = escaped[++i];
        if (next == '"' || next == '\\') {
            back.push_back(next);
            continue;
        }
        check(next == 'x' && i + 2 < escaped.size());
        auto hex = [](char h) { return h >= 'a' ? h - 'a' + 10 : h - '0'; };
        back.push_back(static_cast<char>(hex(escaped[i + 1]) * 16 + hex(escaped[i + 2])));
        i += 2;
    }
    check(back == input);

    tether::http::access_log_entry e;
    e.method = "GET";
    e.target = input;
    e.user_agent = input;
    e.request_id = input;
    std::string json;
    tether::http::format_access_log(json, tether::access_log_format::json, e);
    check(json.front() == '{' && json.back() == '}');
    for (char c : json) check(static_cast<unsigned char>(c) >= 0x20);
}

void check_coding_choice(std::string_view input, std::uint8_t offered) {
    using tether::http::content_coding;
    const bool gzip = offered & 1, br = offered & 2;
    auto accepted = tether::http::parse_accept_encoding(input);
    switch (tether::http::choose_coding(accepted, gzip, br)) {
    case content_coding::gzip: check(gzip && accepted.gzip > 0 && accepted.gzip >= accepted.identity); break;
    case content_coding::br: check(br && accepted.br > 0 && accepted.br >= accepted.identity && accepted.br >= (gzip ? accepted.gzip : 0)); break;
    case content_coding::identity: check(!(gzip && accepted.gzip > accepted.identity) && !(br && accepted.br > accepted.identity)); break;
    }
}

void check_round_trip(std::string_view input, std::uint8_t level) {
    if (input.size() < 2) return;
    const std::size_t limit = input.size() - 1;
    std::string out;
    if (tether::http::gzip_encode(input, out, 1 + level % 9, limit)) {
        check(out.size() <= limit);
        check(tether::test::gunzip(out) == input);
    }
    if (tether::http::brotli_encode(input, out, level % 12 > 6 ? 1 : level % 12, limit)) {   // fast qualities: it is a fuzzer
        check(out.size() <= limit);
        if (tether::test::can_decode_br) check(tether::test::unbrotli(out) == input);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t knob = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    check_request_id(input);
    check_log_escaping(input);
    check_coding_choice(input, knob);
    // The encoders allocate their window per call, which under ASan costs more than all the
    // parsing above: a quarter of the inputs is enough to fuzz the limit handling around them.
    if ((knob & 0xc0) == 0xc0) check_round_trip(input, knob);
    return 0;
}
