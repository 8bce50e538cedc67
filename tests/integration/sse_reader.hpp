#pragma once
// Server-Sent Events read over a raw socket, for integration tests: the response head, then the
// chunked body parsed into event blocks as bytes arrive (WHATWG HTML §9.2.6), every read with a
// deadline. Shared by the hub's transport tests and the many-topic stream tests.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "test_server.hpp"

namespace tether::itest {

using namespace std::chrono_literals;

struct sse_event {
    std::optional<std::string> id;   // the id field, when the block had one
    std::string type;                // "message" when the block named none
    std::string data;
    std::string encoding;            // the encoding field ("base64" for a binary message), when there was one
};

// Reads one text/event-stream response incrementally: the head, then the chunked body, parsed into
// event blocks as bytes arrive (WHATWG HTML §9.2.6). Comment-only and retry-only blocks are skipped.
class sse_reader {
public:
    sse_reader(std::uint16_t port, std::string_view target, std::string_view extra_fields = {}) : socket_(port) {
        REQUIRE(socket_.send(get_request(target, extra_fields)));
        auto deadline = steady::now() + 5s;
        std::size_t head_end;
        while ((head_end = raw_.find("\r\n\r\n")) == std::string::npos) {
            INFO("no SSE response head; received: " << raw_);
            REQUIRE(fill(deadline));
        }
        head_ = raw_.substr(0, head_end + 4);
        raw_.erase(0, head_end + 4);
        INFO("head: " << head_);
        REQUIRE(head_.rfind("HTTP/1.1 200", 0) == 0);
        REQUIRE(contains_ci(head_, "content-type: text/event-stream"));
        REQUIRE(contains_ci(head_, "transfer-encoding: chunked"));
    }

    // The next event within `timeout`, or nullopt (timeout or end of stream; see ended()).
    std::optional<sse_event> next(std::chrono::milliseconds timeout = 5s) {
        auto deadline = steady::now() + timeout;
        for (;;) {
            decode_chunks();   // bytes may have come with the head, or with the last event
            if (auto e = take_event()) return e;
            if (ended_ || !fill(deadline)) return std::nullopt;
        }
    }

    std::vector<sse_event> next_n(std::size_t n, std::chrono::milliseconds timeout = 10s) {
        auto deadline = steady::now() + timeout;
        std::vector<sse_event> out;
        while (out.size() < n) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            auto e = next(std::max(left, 0ms));
            INFO("received " << out.size() << " of " << n << " events; ended: " << ended_);
            REQUIRE(e);
            out.push_back(std::move(*e));
        }
        return out;
    }

    // True when no event arrives for `quiet` (heartbeat comments would not count).
    bool quiet_for(std::chrono::milliseconds quiet) {
        auto e = next(quiet);
        if (e) UNSCOPED_INFO("unexpected event " << e->type << ": " << e->data);
        return !e;
    }

    bool ended() const noexcept { return ended_; }

private:
    static bool contains_ci(std::string_view hay, std::string_view needle) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        std::string h(hay), n(needle);
        std::transform(h.begin(), h.end(), h.begin(), lower);
        std::transform(n.begin(), n.end(), n.begin(), lower);
        return h.find(n) != std::string::npos;
    }

    bool fill(steady::time_point deadline) {
        if (socket_.eof) {
            ended_ = true;
            return false;
        }
        return socket_.read_until(deadline, raw_);
    }

    void decode_chunks() {
        for (;;) {
            auto eol = raw_.find("\r\n");
            if (eol == std::string::npos) return;
            std::size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
            if (size == 0) {   // the terminating chunk: the stream is over
                ended_ = true;
                raw_.clear();
                return;
            }
            if (raw_.size() < eol + 2 + size + 2) return;
            REQUIRE(raw_.substr(eol + 2 + size, 2) == "\r\n");
            text_.append(raw_, eol + 2, size);
            raw_.erase(0, eol + 2 + size + 2);
        }
    }

    std::optional<sse_event> take_event() {
        for (;;) {
            auto end = text_.find("\n\n");
            if (end == std::string::npos) return std::nullopt;
            std::string block = text_.substr(0, end + 1);
            text_.erase(0, end + 2);
            sse_event e;
            bool has_data = false, has_type = false;
            for (std::size_t pos = 0; pos < block.size();) {
                auto nl = block.find('\n', pos);
                std::string_view line(block.data() + pos, nl - pos);
                pos = nl + 1;
                if (line.empty() || line.front() == ':') continue;
                auto colon = line.find(':');
                std::string_view field = line.substr(0, colon);
                std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
                if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
                if (field == "id") e.id = std::string(value);
                else if (field == "event") e.type = std::string(value), has_type = true;
                else if (field == "encoding") e.encoding = std::string(value);
                else if (field == "data") {
                    if (has_data) e.data.push_back('\n');
                    e.data.append(value);
                    has_data = true;
                }
            }
            if (!has_data && !has_type) continue;   // retry: or a comment (heartbeat)
            if (e.type.empty()) e.type = "message";
            return e;
        }
    }

    // A blocking TCP connection read with poll() deadlines.
    struct connection {
        explicit connection(std::uint16_t port) {
            fd = ::socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
                int e = errno;
                ::close(fd);
                throw std::system_error(e, std::generic_category(), "connect");
            }
        }
        connection(const connection&) = delete;
        connection& operator=(const connection&) = delete;
        ~connection() { ::close(fd); }
        bool send(std::string_view bytes) {
            while (!bytes.empty()) {
                ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return false;
                bytes.remove_prefix(static_cast<std::size_t>(n));
            }
            return true;
        }
        bool read_until(steady::time_point deadline, std::string& into) {
            for (;;) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
                pollfd p{fd, POLLIN, 0};
                int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
                if (ready < 0 && errno == EINTR) continue;
                if (ready <= 0) return false;
                char chunk[64 * 1024];
                ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) {
                    eof = true;
                    return true;
                }
                into.append(chunk, static_cast<std::size_t>(n));
                return true;
            }
        }
        int fd = -1;
        bool eof = false;
    };

    connection socket_;
    std::string head_, raw_, text_;
    bool ended_ = false;
};

} // namespace tether::itest
