#pragma once
// The clients of the cluster tests, one per transport, reading what the server writes over raw sockets
// (HTTP, SSE) or tether's own WebSocket client (pubsub), with a deadline on every read.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/hub/cursor.hpp>

namespace cluster_test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// A message as a client saw it: its id and data.
struct message {
    std::string id;
    std::string data;
    friend bool operator==(message const&, message const&) = default;
};

/// A TCP connection to 127.0.0.1 read with poll() deadlines.
class socket_connection {
public:
    explicit socket_connection(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr const*>(&addr), sizeof addr) != 0) {
            int const e = errno;
            ::close(fd_);
            throw std::system_error(e, std::generic_category(), "connect");
        }
    }
    socket_connection(socket_connection const&) = delete;
    socket_connection& operator=(socket_connection const&) = delete;
    ~socket_connection() { ::close(fd_); }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            auto const n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    /// Appends what arrives before `deadline`; false on timeout, true on data or EOF (see eof()).
    bool read(steady::time_point deadline, std::string& into) {
        for (;;) {
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            pollfd p{fd_, POLLIN, 0};
            int const ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return false;
            char chunk[64 * 1024];
            auto const n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof_ = true;
                return true;
            }
            into.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
    }
    bool eof() const noexcept { return eof_; }

private:
    int fd_ = -1;
    bool eof_ = false;
};

struct http_response {
    int status = 0;
    std::string head;
    std::string body;
};

/// One request on a fresh connection (Connection: close), read to EOF; nullopt on timeout or no answer.
inline std::optional<http_response> http(std::uint16_t port, std::string_view method, std::string_view target,
                                         std::string_view body = {}, std::chrono::milliseconds timeout = 10s) {
    try {
        socket_connection c{port};
        std::string request = std::string(method) + " " + std::string(target) +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
        if (!c.send(request)) return std::nullopt;
        std::string raw;
        auto const deadline = steady::now() + timeout;
        while (!c.eof()) {
            if (!c.read(deadline, raw)) return std::nullopt;
        }
        auto const end = raw.find("\r\n\r\n");
        if (end == std::string::npos || raw.size() < 12) return std::nullopt;
        http_response r;
        r.status = std::stoi(raw.substr(9, 3));
        r.head = raw.substr(0, end);
        r.body = raw.substr(end + 4);
        if (r.head.find("chunked") != std::string::npos) {   // de-chunk (short answers are not chunked, but be sure)
            std::string plain;
            for (std::size_t pos = 0;;) {
                auto const eol = r.body.find("\r\n", pos);
                if (eol == std::string::npos) break;
                auto const size = std::stoul(r.body.substr(pos, eol - pos), nullptr, 16);
                if (size == 0) break;
                plain += r.body.substr(eol + 2, size);
                pos = eol + 2 + size + 2;
            }
            r.body = plain;
        }
        return r;
    } catch (std::system_error const&) {
        return std::nullopt;   // nobody listening (a node that is down)
    }
}

/// A polling answer: {"messages":[{topic,id,data}...],"next":..,"recovered":..}
struct batch {
    std::vector<message> messages;
    std::string next;
    bool recovered = false;
};

inline batch parse_batch(std::string_view text) {
    return tether::json::parse(text, [](simdjson::ondemand::document& doc) {
        batch b;
        for (auto item : tether::json::field<simdjson::ondemand::array>(doc, "messages")) {
            auto obj = tether::json::as<simdjson::ondemand::object>(item, "batch entry");
            message m;
            (void)tether::json::field<std::string>(obj, "topic");
            m.id = tether::json::field<std::string>(obj, "id");
            m.data = tether::json::field<std::string>(obj, "data");
            b.messages.push_back(std::move(m));
        }
        b.next = tether::json::field<std::string>(doc, "next");
        b.recovered = tether::json::field<bool>(doc, "recovered");
        return b;
    });
}

/// A pubsub frame: a message, or a notice (subscribed, missed, error).
struct envelope {
    std::string type, id, data, message;
    std::optional<bool> recovered;
};

inline envelope parse_envelope(std::string_view text) {
    return tether::json::parse(text, [](simdjson::ondemand::document& doc) {
        auto obj = tether::json::as<simdjson::ondemand::object>(doc, "message");
        envelope e;
        e.type = tether::json::optional_field<std::string>(obj, "type").value_or("");
        e.id = tether::json::optional_field<std::string>(obj, "id").value_or("");
        e.data = tether::json::optional_field<std::string>(obj, "data").value_or("");
        e.message = tether::json::optional_field<std::string>(obj, "message").value_or("");
        e.recovered = tether::json::optional_field<bool>(obj, "recovered");
        return e;
    });
}

/// A WebSocket on /ws subscribed to one topic.
class ws_subscriber {
public:
    /// Connects and subscribes; the "subscribed" notice is in notice().
    ws_subscriber(std::uint16_t port, std::string_view topic, std::string_view since = {}) {
        client_.connect("127.0.0.1", port, "/ws", {.timeout = 10s});
        std::string command;
        tether::json::writer w(command);
        w.begin_object().member("type", "subscribe").member("topic", topic);
        if (!since.empty()) w.member("since", since);
        w.end_object();
        client_.send_text(command);
        auto e = next_envelope();
        if (!e || e->type != "subscribed") throw std::runtime_error("no subscribed notice");
        notice_ = *e;
    }
    envelope const& notice() const noexcept { return notice_; }

    /// The next frame within the client's timeout, or nullopt (timeout, or the connection ended).
    std::optional<envelope> next_envelope() {
        try {
            auto m = client_.receive_message();
            if (!m) return std::nullopt;
            return parse_envelope(m->payload);
        } catch (tether::client::timeout_error const&) {
            return std::nullopt;
        }
    }
    void set_timeout(std::chrono::milliseconds t) { client_.set_timeout(t); }

private:
    tether::client::ws_client client_;
    envelope notice_;
};

/// An SSE stream (GET target, optionally with Last-Event-ID), decoded into events as bytes arrive.
struct sse_event {
    std::string id, type, data;
};

class sse_stream {
public:
    sse_stream(std::uint16_t port, std::string_view target, std::string_view last_event_id = {}) : socket_{port} {
        std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
        if (!last_event_id.empty()) request += "Last-Event-ID: " + std::string(last_event_id) + "\r\n";
        request += "\r\n";
        if (!socket_.send(request)) throw std::runtime_error("cannot send the SSE request");
        auto const deadline = steady::now() + 10s;
        std::size_t end;
        while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
            if (!socket_.read(deadline, raw_) || socket_.eof()) throw std::runtime_error("no SSE response head: " + raw_);
        }
        head_ = raw_.substr(0, end);
        raw_.erase(0, end + 4);
        if (head_.rfind("HTTP/1.1 200", 0) != 0) throw std::runtime_error("SSE refused: " + head_);
    }

    /// The next event (heartbeat comments and retry: skipped) within `timeout`, or nullopt.
    std::optional<sse_event> next(std::chrono::milliseconds timeout = 10s) {
        auto const deadline = steady::now() + timeout;
        for (;;) {
            dechunk();
            if (auto e = take()) return e;
            if (ended_) return std::nullopt;
            if (!socket_.read(deadline, raw_)) return std::nullopt;
            if (socket_.eof()) ended_ = true;
        }
    }
    bool ended() const noexcept { return ended_; }

private:
    void dechunk() {
        for (;;) {
            auto const eol = raw_.find("\r\n");
            if (eol == std::string::npos) return;
            auto const size = std::stoul(raw_.substr(0, eol), nullptr, 16);
            if (size == 0) {
                ended_ = true;
                raw_.clear();
                return;
            }
            if (raw_.size() < eol + 2 + size + 2) return;
            text_.append(raw_, eol + 2, size);
            raw_.erase(0, eol + 2 + size + 2);
        }
    }
    std::optional<sse_event> take() {
        for (;;) {
            auto const end = text_.find("\n\n");
            if (end == std::string::npos) return std::nullopt;
            std::string block = text_.substr(0, end + 1);
            text_.erase(0, end + 2);
            sse_event e;
            bool seen = false;
            for (std::size_t pos = 0; pos < block.size();) {
                auto const nl = block.find('\n', pos);
                std::string_view line(block.data() + pos, nl - pos);
                pos = nl + 1;
                if (line.empty() || line.front() == ':') continue;
                auto const colon = line.find(':');
                auto field = line.substr(0, colon);
                auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
                if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
                if (field == "id") e.id = value;
                else if (field == "event") e.type = value, seen = true;
                else if (field == "data") e.data += std::string(e.data.empty() ? "" : "\n") + std::string(value), seen = true;
            }
            if (seen) return e;
        }
    }

    socket_connection socket_;
    std::string head_, raw_, text_;
    bool ended_ = false;
};

} // namespace cluster_test
