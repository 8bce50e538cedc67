#pragma once
// tether::middleware::access_log(): one line per response, in a format log tools already read.
//
//   app.use(tether::middleware::access_log());                                  // combined, to stdout
//   app.use(tether::middleware::access_log({.format = tether::access_log_format::json,
//                                           .sink = tether::log::line_sink(app.logger())}));
//
// Formats (access_log_format):
//   common          127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif HTTP/1.1" 200 2326
//   combined        common + "referer" "user agent"                (Apache's and nginx's default)
//   combined_timed  combined + duration in µs + request id          (what ops usually add to it)
//   json            {"time":"2000-10-10T13:55:36.123Z","client":"127.0.0.1","method":"GET",...}
// common and combined are exactly Apache's, so GoAccess, AWStats and friends parse them; the
// duration and the request id need combined_timed or json. The client is req.client_address():
// the forwarded client behind a trusted proxy, else the peer. Times are UTC (no time-zone
// lookup, which takes a lock in glibc) and are the time the response was written, like nginx's.
// The duration runs from the complete request head to the response being written (deferred
// replies included). Bytes are the body bytes sent after any content coding (0 for HEAD, 204,
// 304, and for stream heads, whose body follows later); common and combined write 0 as "-".
//
// Order: register access_log before compress, so that its `after` hook, which runs later (the
// chain unwinds), logs the bytes actually sent; register request_id before it, so the id is set.
//
// Cost: the line is formatted into a per-thread buffer (no allocation once it has grown), the
// time text is made once per second per thread, and text from the client (target, referer, user
// agent) is escaped so it cannot forge lines: '"' and '\' by a backslash, bytes outside printable
// ASCII as \xHH (as Apache does); JSON strings per RFC 8259, invalid UTF-8 as U+FFFD. The sink
// runs on the I/O thread that answered, several at once, and takes no lock of ours; the default
// writes each line to standard output with one write(2), whole, also lock-free. A sink that
// blocks (a full pipe) blocks that I/O thread: point it at a file, journald or a pipe that is read.
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tether/core/json_writer.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/http/status.hpp>
#include <tether/log.hpp>
#include <tether/server/middleware.hpp>

namespace tether {

enum class access_log_format { common, combined, combined_timed, json };

struct middleware::access_log_options {
    access_log_format format = access_log_format::combined;
    // Receives each line, without its newline; called on I/O threads, several at once.
    // Empty: standard output, one write(2) per line.
    std::function<void(std::string_view line)> sink{};
    std::string request_id_attribute = "request_id";   // see request_id.hpp
};

namespace log {

// A sink writing each line through a logger policy (the server's: app.logger()) at `l`. The logger
// must outlive the server's middleware. stderr_logger shows warnings and up by default, so its
// lines need a logger whose threshold lets `l` through, or `l = level::warning`.
template <class Logger>
std::function<void(std::string_view)> line_sink(const Logger& logger, level l = level::info) {
    return [&logger, l](std::string_view line) { logger.log(l, line); };
}

} // namespace log

namespace http {

// What one access log line says; views into the request and response it describes.
struct access_log_entry {
    std::chrono::system_clock::time_point time{};
    std::string_view client, method, target;
    int version_minor = 1;
    int status = 200;
    std::size_t bytes = 0;
    std::optional<std::chrono::microseconds> duration;   // unknown: "-" (or left out of JSON)
    std::optional<std::string_view> referer, user_agent;
    std::string_view request_id, route;                  // "": none
};

namespace detail {

// Appends `s` for a quoted CLF field: '"' and '\' escaped by a backslash, every byte outside
// printable ASCII as \xHH, so a client cannot end the field, start a line or send terminal codes.
inline void append_log_escaped(std::string& out, std::string_view s) {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (c >= 0x20 && c < 0x7f) {
            out.push_back(ch);
        } else {
            out.append("\\x").push_back("0123456789abcdef"[c >> 4]);
            out.push_back("0123456789abcdef"[c & 15]);
        }
    }
}

inline void append_number(std::string& out, std::uint64_t v) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
    (void)ec;
    out.append(digits, end);
}

// The time texts of one second, made once per second per thread: "10/Oct/2000:13:55:36 +0000"
// (CLF) and "2000-10-10T13:55:36" (RFC 3339, the milliseconds added per line).
struct log_clock_text {
    std::time_t second = -1;
    std::array<char, 32> clf{}, iso{};
    std::size_t clf_size = 0, iso_size = 0;

    void at(std::time_t t) noexcept {
        if (t == second) return;
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        gmtime_r(&t, &tm);
        clf_size = static_cast<std::size_t>(std::snprintf(clf.data(), clf.size(), "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                                                          months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec));
        iso_size = static_cast<std::size_t>(std::snprintf(iso.data(), iso.size(), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                                                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec));
        second = t;
    }
    static log_clock_text& for_this_thread() noexcept {
        thread_local log_clock_text text;
        return text;
    }
};

inline void append_clf(std::string& out, const access_log_entry& e, bool combined, bool timed) {
    using namespace std::chrono;
    auto& clock = log_clock_text::for_this_thread();
    clock.at(system_clock::to_time_t(time_point_cast<seconds>(e.time)));
    append_log_escaped(out, e.client.empty() ? std::string_view{"-"} : e.client);
    out.append(" - - [").append(clock.clf.data(), clock.clf_size).append("] \"");
    append_log_escaped(out, e.method);
    out.push_back(' ');
    append_log_escaped(out, e.target);
    out.append(e.version_minor == 0 ? " HTTP/1.0\" " : " HTTP/1.1\" ");
    append_number(out, static_cast<std::uint64_t>(e.status));
    out.push_back(' ');
    if (e.bytes == 0) out.push_back('-');
    else append_number(out, e.bytes);
    if (!combined) return;
    auto quoted = [&](const std::optional<std::string_view>& v) {
        out.append(" \"");
        if (v) append_log_escaped(out, *v);
        else out.push_back('-');
        out.push_back('"');
    };
    quoted(e.referer);
    quoted(e.user_agent);
    if (!timed) return;
    out.push_back(' ');
    if (e.duration) append_number(out, static_cast<std::uint64_t>(e.duration->count()));
    else out.push_back('-');
    out.push_back(' ');
    if (e.request_id.empty()) out.push_back('-');
    else append_log_escaped(out, e.request_id);
}

inline void append_json(std::string& out, const access_log_entry& e) {
    using namespace std::chrono;
    auto& clock = log_clock_text::for_this_thread();
    auto since_epoch = e.time.time_since_epoch();
    clock.at(static_cast<std::time_t>(duration_cast<seconds>(since_epoch).count()));
    auto ms = static_cast<unsigned>(duration_cast<milliseconds>(since_epoch).count() % 1000);
    char time[32];
    std::snprintf(time, sizeof time, "%.*s.%03uZ", static_cast<int>(clock.iso_size), clock.iso.data(), ms);
    json::writer w(out);
    w.begin_object().member("time", std::string_view{time}).member("client", e.client).member("method", e.method);
    w.member("target", e.target).member("protocol", e.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
    w.member("status", e.status).member("bytes", static_cast<std::uint64_t>(e.bytes));
    if (e.duration) w.member("duration_us", static_cast<std::int64_t>(e.duration->count()));
    if (!e.route.empty()) w.member("route", e.route);
    if (e.referer) w.member("referer", *e.referer);
    if (e.user_agent) w.member("user_agent", *e.user_agent);
    if (!e.request_id.empty()) w.member("request_id", e.request_id);
    w.end_object();
}

// Body bytes `res` puts on the wire for `req`, content coding included, chunk framing excluded.
inline std::size_t sent_body_bytes(const request& req, const response& res) noexcept {
    if (req.method() == method::head || status_forbids_body(res.status()) || res.streaming()) return 0;
    std::string_view body = res.body_bytes();
    if (!res.chunked()) return body.size();
    std::size_t total = 0;   // walk the "size CRLF data CRLF" pieces response::write() made
    while (!body.empty()) {
        std::size_t size = 0;
        auto crlf = body.find("\r\n");
        if (crlf == std::string_view::npos) break;
        std::from_chars(body.data(), body.data() + crlf, size, 16);
        if (crlf + 2 + size + 2 > body.size()) break;
        total += size;
        body.remove_prefix(crlf + 2 + size + 2);
    }
    return total;
}

} // namespace detail

// Appends one access log line (without a newline) for `e` in `format`.
inline void format_access_log(std::string& out, access_log_format format, const access_log_entry& e) {
    switch (format) {
    case access_log_format::common: return detail::append_clf(out, e, false, false);
    case access_log_format::combined: return detail::append_clf(out, e, true, false);
    case access_log_format::combined_timed: return detail::append_clf(out, e, true, true);
    case access_log_format::json: return detail::append_json(out, e);
    }
}

// Writes `line` and a newline to standard output with one write(2): lines from several threads
// never interleave (a pipe keeps writes up to PIPE_BUF whole, a file each write). A line that
// cannot be written now (EAGAIN on a non-blocking stdout) is dropped rather than block.
inline void write_line_to_stdout(std::string& line) {
    line.push_back('\n');
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    line.pop_back();
}

} // namespace http

inline middleware middleware::access_log(access_log_options options) {
    auto o = std::make_shared<const access_log_options>(std::move(options));
    return {.after = [o](const http::request& req, http::response& res) {
        using namespace std::chrono;
        http::access_log_entry e;
        e.time = system_clock::now();
        std::string client = req.client_address();
        e.client = client;
        e.method = req.method_name();
        e.target = req.target();
        e.version_minor = req.version_minor();
        e.status = res.status();
        e.bytes = http::detail::sent_body_bytes(req, res);
        if (req.received_at() != steady_clock::time_point{})
            e.duration = duration_cast<microseconds>(steady_clock::now() - req.received_at());
        e.referer = req.header("referer");
        e.user_agent = req.header("user-agent");
        e.request_id = req.attribute(o->request_id_attribute);
        if (e.request_id.empty()) e.request_id = res.field("x-request-id").value_or(std::string_view{});
        e.route = req.route();

        thread_local std::string line;
        line.clear();
        http::format_access_log(line, o->format, e);
        if (o->sink) o->sink(line);
        else http::write_line_to_stdout(line);
        if (line.capacity() > 64 * 1024) std::string{}.swap(line);   // one huge target is not kept
    }};
}

inline middleware middleware::access_log() { return access_log(access_log_options{}); }

} // namespace tether
