#pragma once
// Test support for the WebSocket integration tests, on top of test_server.hpp's in-process server: a place
// where server callbacks record what happened so the test thread can wait for it with a deadline, and a raw
// HTTP exchange for handshake tests that must send requests a conforming client never would.
//
// Why in-process: a test can then reach into the server's callbacks (on_close codes, on_drain, handles),
// and nothing outlives the test. Why a fresh server per test: each TEST_CASE is independent, and starting
// one costs a bind and a thread, well under a millisecond.

#include <asio.hpp>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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

#include <tether/client/handshake.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

namespace tether::test {

// The server itself is itest::test_server (test_server.hpp): bound before its thread starts, stopped and
// joined at the end of the test, with short drain deadlines.
using running_server = itest::test_server;

// What server callbacks saw, shared with the test thread. Every wait has a deadline, so a missing event
// fails the test instead of hanging it.
class observations {
public:
    struct closed {
        ws::close_code code;
        std::string reason;
    };

    void record_close(ws::close_code code, std::string_view reason) {
        update([&] { closes_.push_back({code, std::string(reason)}); });
    }
    void record(std::string event) {
        update([&] { events_.push_back(std::move(event)); });
    }
    template <class F>
    void update(F&& f) {
        {
            std::lock_guard lock(mutex_);
            f();
        }
        changed_.notify_all();
    }

    // Waits up to `timeout` for the n-th on_close (1-based) and returns it.
    std::optional<closed> wait_for_close(std::size_t n = 1, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, timeout, [&] { return closes_.size() >= n; })) return std::nullopt;
        return closes_[n - 1];
    }
    bool wait_for_event(std::string_view event, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            for (const auto& e : events_)
                if (e == event) return true;
            return false;
        });
    }
    std::vector<std::string> events() {
        std::lock_guard lock(mutex_);
        return events_;
    }
    template <class F>
    auto with_lock(F&& f) {
        std::lock_guard lock(mutex_);
        return f();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<closed> closes_;
    std::vector<std::string> events_;
};

// Sends `request` as is and returns the response head and whatever body arrived with it, for handshake
// tests that need a request the client refuses to write (wrong version, no key). Bounded by `timeout`.
struct raw_response {
    client::response_head head;
    std::string body;
};

inline raw_response http_exchange(std::uint16_t port, std::string_view request,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    std::string received;
    std::error_code result;
    std::array<char, 4096> buffer{};
    std::function<void()> read_more = [&] {
        socket.async_read_some(asio::buffer(buffer), [&](std::error_code ec, std::size_t n) {
            received.append(buffer.data(), n);
            if (ec) return;  // EOF: the server closed after answering
            const std::size_t head_end = client::find_head_end(received);
            if (head_end != 0) {
                auto head = client::parse_response_head(std::string_view(received).substr(0, head_end));
                std::size_t length = 0;
                if (head)
                    if (auto cl = head->header("content-length")) length = std::stoul(std::string(*cl));
                if (received.size() >= head_end + length) return;
            }
            read_more();
        });
    };
    socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, [&](std::error_code ec) {
        if (ec) {
            result = ec;
            return;
        }
        asio::async_write(socket, asio::buffer(request.data(), request.size()), [&](std::error_code e, std::size_t) {
            if (e) result = e;
            else read_more();
        });
    });
    io.run_for(timeout);
    if (result) throw std::system_error(result, "http_exchange");
    const std::size_t head_end = client::find_head_end(received);
    if (head_end == 0) throw std::runtime_error("http_exchange: no complete response within the timeout: " + received);
    auto head = client::parse_response_head(std::string_view(received).substr(0, head_end));
    if (!head) throw std::runtime_error("http_exchange: not an HTTP response: " + received);
    return {std::move(*head), received.substr(head_end)};
}

}  // namespace tether::test
