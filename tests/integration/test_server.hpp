#pragma once
// Test support for the HTTP integration tests: a tether::server on 127.0.0.1 with an OS-chosen
// port serving on a background thread for the lifetime of one object, and a raw socket client
// that writes exactly the bytes a test gives it (whole, or trickled) and reads responses back.
//
// Why a raw client rather than tether's own: these tests send what conforming clients never
// would (smuggling attempts, slowloris trickles, oversized headers) and check the bytes the
// server writes, so the client must add nothing and hide nothing.
//
// Every wait is bounded: reads poll with a deadline (and SO_RCVTIMEO/SO_SNDTIMEO as a second
// guard), and the server's destructor gives run() a deadline to return, aborting the test
// binary with a message past it rather than hanging the suite.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <tether/server.hpp>

namespace tether::itest {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A server serving on its own thread from construction to destruction. Server is
// tether::server unless a test compares configurations (transport_test.cpp).
template <class Server = tether::server>
class basic_test_server {
public:
    explicit basic_test_server(const std::function<void(Server&)>& setup, server_options options = defaults())
        : app_(std::move(options)) {
        setup(app_);
        // Bound and listening before the thread starts: port() is known and a connect never
        // races the bind (the kernel queues connections until run() accepts them).
        app_.listen();
        thread_ = std::thread([this] {
            try {
                app_.run();
            } catch (...) {
                std::lock_guard lock(mutex_);
                run_error_ = std::current_exception();
            }
            {
                std::lock_guard lock(mutex_);
                returned_ = true;
            }
            returned_cv_.notify_all();
        });
    }
    basic_test_server(const basic_test_server&) = delete;
    basic_test_server& operator=(const basic_test_server&) = delete;

    ~basic_test_server() {
        // The drain timeout bounds a graceful stop; a server that overruns it by seconds is a
        // bug, and aborting with a message beats a test binary that never ends.
        if (!stop_and_wait(app_.options().drain_timeout + 5s)) {
            std::fprintf(stderr, "test_server: run() did not return within drain_timeout + 5 s of stop(); aborting\n");
            std::fflush(stderr);
            std::abort();
        }
        thread_.join();
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return app_.port(); }
    Server& app() noexcept { return app_; }

    // Calls stop() and waits up to `within` for run() to return; says whether it did.
    bool stop_and_wait(std::chrono::milliseconds within) {
        app_.stop();
        return wait_returned(within);
    }
    bool wait_returned(std::chrono::milliseconds within) {
        std::unique_lock lock(mutex_);
        return returned_cv_.wait_for(lock, within, [this] { return returned_; });
    }
    bool returned() {
        std::lock_guard lock(mutex_);
        return returned_;
    }
    std::exception_ptr run_error() {
        std::lock_guard lock(mutex_);
        return run_error_;
    }

    // Loopback, any free port, two I/O threads, and deadlines short enough that a test's
    // left-over connection never slows teardown.
    static server_options defaults() {
        server_options o;
        o.host = "127.0.0.1";
        o.port = 0;
        o.threads = 2;
        o.header_timeout = 5s;
        o.drain_timeout = 1s;
        return o;
    }

private:
    Server app_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable returned_cv_;
    bool returned_ = false;
    std::exception_ptr run_error_;
};

using test_server = basic_test_server<>;

// ---- responses ------------------------------------------------------------------------------

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

struct response {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;
    bool chunked = false;   // the body arrived with chunked coding (and is decoded here)

    // The first field with this name, compared case-insensitively.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [n, v] : fields)
            if (iequals(n, name)) return v;
        return std::nullopt;
    }
    // Whether a comma-separated field (Connection) lists `token`.
    bool header_has_token(std::string_view name, std::string_view token) const {
        for (const auto& [n, v] : fields) {
            if (!iequals(n, name)) continue;
            std::string_view rest = v;
            while (!rest.empty()) {
                auto comma = rest.find(',');
                std::string_view t = rest.substr(0, comma);
                while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
                while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
                if (iequals(t, token)) return true;
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        }
        return false;
    }
};

enum class parse_result { complete, need_more, malformed };

namespace detail {

inline std::optional<std::size_t> parse_size(std::string_view text, int base) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return n;
}

// Decodes a chunked body from the front of `in`; `used` is its framed length.
inline parse_result parse_chunked(std::string_view in, std::string& body, std::size_t& used) {
    std::size_t pos = 0;
    for (;;) {
        auto eol = in.find("\r\n", pos);
        if (eol == std::string_view::npos) return parse_result::need_more;
        std::string_view size_text = in.substr(pos, eol - pos);
        size_text = size_text.substr(0, size_text.find(';'));
        auto size = parse_size(size_text, 16);
        if (!size) return parse_result::malformed;
        pos = eol + 2;
        if (*size == 0) {   // trailer section, ended by an empty line
            for (;;) {
                auto end = in.find("\r\n", pos);
                if (end == std::string_view::npos) return parse_result::need_more;
                bool empty = end == pos;
                pos = end + 2;
                if (empty) {
                    used = pos;
                    return parse_result::complete;
                }
            }
        }
        if (in.size() < pos + *size + 2) return parse_result::need_more;
        if (in.substr(pos + *size, 2) != "\r\n") return parse_result::malformed;
        body.append(in.substr(pos, *size));
        pos += *size + 2;
    }
}

} // namespace detail

// Parses one response from the front of `in`. `at_eof`: no more bytes will come, so a body
// without Content-Length or chunked coding ends here. `head_request`: the response has no body.
inline parse_result parse_response(std::string_view in, bool at_eof, bool head_request, response& out, std::size_t& used) {
    auto head_end = in.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return parse_result::need_more;
    std::string_view head = in.substr(0, head_end + 2);
    out = response{};

    auto line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
        return parse_result::malformed;
    auto status = detail::parse_size(status_line.substr(9, 3), 10);
    if (!status) return parse_result::malformed;
    out.status = static_cast<int>(*status);
    out.reason = std::string(status_line.size() > 13 ? status_line.substr(13) : std::string_view{});

    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
        auto eol = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return parse_result::malformed;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
        out.fields.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }

    std::size_t body_start = head_end + 4;
    std::string_view rest = in.substr(body_start);
    bool no_body = head_request || out.status / 100 == 1 || out.status == 204 || out.status == 304;
    if (no_body) {
        used = body_start;
        return parse_result::complete;
    }
    if (auto te = out.header("transfer-encoding"); te && out.header_has_token("transfer-encoding", "chunked")) {
        out.chunked = true;
        std::size_t body_used = 0;
        auto r = detail::parse_chunked(rest, out.body, body_used);
        if (r != parse_result::complete) return r == parse_result::need_more && at_eof ? parse_result::malformed : r;
        used = body_start + body_used;
        return parse_result::complete;
    }
    if (auto cl = out.header("content-length")) {
        auto length = detail::parse_size(*cl, 10);
        if (!length) return parse_result::malformed;
        if (rest.size() < *length) return at_eof ? parse_result::malformed : parse_result::need_more;
        out.body.assign(rest.substr(0, *length));
        used = body_start + *length;
        return parse_result::complete;
    }
    if (!at_eof) return parse_result::need_more;   // close-delimited
    out.body.assign(rest);
    used = in.size();
    return parse_result::complete;
}

// ---- the raw client -------------------------------------------------------------------------

// One blocking TCP connection to 127.0.0.1:port. Reads wait at most the timeout they are given.
class raw_client {
public:
    explicit raw_client(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        timeval guard{10, 0};   // a second line of defence behind the poll deadlines
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &guard, sizeof guard);
        int one = 1;   // trickled bytes leave one per segment
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            int e = errno;
            ::close(fd_);
            throw std::system_error(e, std::generic_category(), "connect to 127.0.0.1:" + std::to_string(port));
        }
    }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;
    raw_client(raw_client&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), eof_(other.eof_), reset_(other.reset_),
          last_error_(std::move(other.last_error_)) {}
    ~raw_client() {
        if (fd_ >= 0) ::close(fd_);
    }

    // Writes all of `bytes`; false when the connection refused them (closed or reset).
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Writes `bytes` in pieces of `piece` bytes with `delay` between them. Stops early, returning
    // false, when a write fails or (with stop_on_reply) as soon as the server has answered or
    // closed; whatever it sent is kept for read_response.
    bool send_trickled(std::string_view bytes, std::size_t piece, std::chrono::milliseconds delay,
                       bool stop_on_reply = false) {
        while (!bytes.empty()) {
            std::size_t n = std::min(piece, bytes.size());
            if (!send(bytes.substr(0, n))) return false;
            bytes.remove_prefix(n);
            if (bytes.empty()) break;
            if (stop_on_reply) {
                if (fill_until(steady::now() + delay) || eof_ || !buffer_.empty()) return false;
            } else {
                std::this_thread::sleep_for(delay);
            }
        }
        return true;
    }

    // Reads one complete response within `timeout`, or nullopt (EOF, timeout, garbage: see
    // last_error()). `head_request`: the response to HEAD has fields but no body.
    std::optional<response> read_response(std::chrono::milliseconds timeout = 5s, bool head_request = false) {
        const auto deadline = steady::now() + timeout;
        for (;;) {
            response r;
            std::size_t used = 0;
            switch (parse_response(buffer_, eof_, head_request, r, used)) {
            case parse_result::complete: buffer_.erase(0, used); return r;
            case parse_result::malformed:
                last_error_ = "malformed response: " + printable(buffer_);
                return std::nullopt;
            case parse_result::need_more: break;
            }
            if (eof_) {
                last_error_ = buffer_.empty() ? "connection closed before a response"
                                              : "connection closed inside a response: " + printable(buffer_);
                return std::nullopt;
            }
            if (!fill_until(deadline)) {
                last_error_ = "no complete response within " + std::to_string(timeout.count()) +
                              " ms; received: " + printable(buffer_);
                return std::nullopt;
            }
        }
    }

    // Reads `n` responses; stops at the first that does not come (see last_error()).
    std::vector<response> read_responses(std::size_t n, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = steady::now() + timeout;
        std::vector<response> out;
        while (out.size() < n) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            auto r = read_response(left > 0ms ? left : 0ms);
            if (!r) break;
            out.push_back(std::move(*r));
        }
        return out;
    }

    // Waits up to `timeout` for the server to close (EOF or reset). Bytes that arrive meanwhile
    // are kept (see unread()).
    bool closed_within(std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        while (!eof_)
            if (!fill_until(deadline)) return false;
        return true;
    }

    // True when, for `quiet`, the server neither closed nor sent anything.
    bool open_and_quiet_for(std::chrono::milliseconds quiet) {
        std::size_t before = buffer_.size();
        bool got = fill_until(steady::now() + quiet);
        return !got && !eof_ && buffer_.size() == before;
    }

    // Closes our sending side (the server reads EOF).
    void shutdown_send() { ::shutdown(fd_, SHUT_WR); }
    // Drops the connection with a TCP reset (SO_LINGER 0), as a crashed or killed peer would.
    void reset_now() {
        linger abort_on_close{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        ::close(std::exchange(fd_, -1));
    }

    bool eof() const noexcept { return eof_; }
    bool was_reset() const noexcept { return reset_; }
    const std::string& unread() const noexcept { return buffer_; }
    const std::string& last_error() const noexcept { return last_error_; }

private:
    // One read within the deadline: true when bytes or EOF arrived, false on timeout.
    bool fill_until(steady::time_point deadline) {
        if (eof_) return true;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            pollfd p{fd_, POLLIN, 0};
            int ready = ::poll(&p, 1, static_cast<int>(left.count() > 0 ? left.count() : 0));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return false;
            char chunk[16 * 1024];
            ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            if (n <= 0) {
                eof_ = true;
                reset_ = n < 0;
                return true;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
    }

    static std::string printable(std::string_view s) {
        std::string out;
        for (char c : s.substr(0, 400)) {
            if (c == '\r') out += "\\r";
            else if (c == '\n') out += "\\n";
            else if (static_cast<unsigned char>(c) < 0x20) out += '?';
            else out += c;
        }
        if (s.size() > 400) out += "... (" + std::to_string(s.size()) + " bytes)";
        return out;
    }

    int fd_ = -1;
    std::string buffer_;
    bool eof_ = false, reset_ = false;
    std::string last_error_;
};

// A GET request with the Host field HTTP/1.1 requires, plus any extra field lines.
inline std::string get_request(std::string_view target, std::string_view extra_fields = {}) {
    std::string r = "GET ";
    r.append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n").append(extra_fields).append("\r\n");
    return r;
}

} // namespace tether::itest
