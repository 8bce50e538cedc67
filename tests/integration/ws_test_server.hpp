#pragma once
// Test support for the WebSocket integration tests, on top of test_server.hpp's in-process server: a place
// where server callbacks record what happened so the test thread can wait for it with a deadline, a raw
// HTTP exchange for handshake tests that must send requests a conforming client never would, and the raw
// frames and close checks the conformance and permessage-deflate tests share.
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

#include <catch2/catch.hpp>

#include <tether/client/handshake.hpp>
#include <tether/client/ws_client.hpp>
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

// A client frame with any first byte (FIN, RSV bits, opcode) and any payload, masked unless asked not to:
// what a conforming encoder refuses to write.
inline std::string raw_frame(std::uint8_t first_byte, std::string_view payload, bool masked = true) {
    std::string out(1, static_cast<char>(first_byte));
    const auto mask_bit = static_cast<std::uint8_t>(masked ? 0x80 : 0);
    if (payload.size() < 126) {
        out.push_back(static_cast<char>(mask_bit | payload.size()));
    } else if (payload.size() <= 0xffff) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(payload.size() >> 8));
        out.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((payload.size() >> shift) & 0xff));
    }
    if (!masked) return out.append(payload);
    const tether::ws::mask_key key{0x37, 0xfa, 0x21, 0x3d};
    for (auto b : key) out.push_back(static_cast<char>(b));
    return out.append(client::ws_client::mask_payload(payload, key));
}

// The server failed the connection: it sent a Close and then closed TCP (RFC 6455 §7.1.7). Returns the
// Close's code; an answer that breaks the protocol before it fails the test.
inline ws::close_code server_close_code(client::ws_client& c) {
    try {
        const auto code = c.wait_for_close();
        REQUIRE(code.has_value());   // a Close frame came, not just a dropped connection
        CHECK(c.connection_ended());
        return *code;
    } catch (const client::protocol_error& e) {
        FAIL("the server's answer broke the protocol: " << e.what());
    }
    return ws::close_code::normal;
}

}  // namespace tether::test
