#pragma once
// A response its handler finishes later, from any thread: the handler calls res.defer(), hands the
// handle to whatever does the slow work (a thread pool, a database client's callback), and returns
// at once, so the I/O thread goes on serving every other connection.
//
//   app.get("/report", [&pool](auto& req, auto& res) {
//       auto reply = res.defer();                                  // copy what you need of req first
//       pool.post([reply = std::move(reply), id = std::string(req.param("id"))]() mutable {
//           reply.json(build_report(id));                          // any thread
//           reply.send();
//       });
//   });
//
// What the connection guarantees meanwhile: later pipelined requests wait their turn (answers stay in
// request order); a client that goes away turns the late send() into a counted no-op (the handle never
// touches a freed connection); a reply not sent within its deadline is answered 504 and logged; a
// handle destroyed without send() is answered 500. The request's views die with the handler: copy
// what the work needs.
//
// The handle holds its own response under construction, so building it takes no lock; send() moves
// it to the connection's I/O thread in one post. This header is the HTTP layer's half; the channel is
// implemented by the connection (net/deferred_reply.hpp).
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tether/http/response.hpp>

namespace tether::http {

// The connection's side: where a finished (or abandoned) reply goes. Any thread.
class deferred_channel {
public:
    virtual ~deferred_channel() = default;
    virtual void deliver(response&& finished) = 0;
    virtual void abandon() = 0;   // the handle died without send(): the client gets 500
};

class deferred_response {
public:
    deferred_response() = default;
    explicit deferred_response(std::shared_ptr<deferred_channel> channel) : channel_(std::move(channel)) {}
    deferred_response(deferred_response&&) noexcept = default;
    deferred_response& operator=(deferred_response&& other) noexcept {
        if (this != &other) {
            if (channel_) channel_->abandon();
            channel_ = std::move(other.channel_);
            response_ = std::move(other.response_);
        }
        return *this;
    }
    deferred_response(const deferred_response&) = delete;
    deferred_response& operator=(const deferred_response&) = delete;
    ~deferred_response() {
        if (channel_) channel_->abandon();
    }

    // The response being built; the shortcuts below forward to it.
    http::response& response() noexcept { return response_; }
    deferred_response& status(int code) { return response_.status(code), *this; }
    deferred_response& header(std::string_view name, std::string_view value) { return response_.header(name, value), *this; }
    deferred_response& text(std::string_view body) { return response_.text(body), *this; }
    deferred_response& json(std::string_view body) { return response_.json(body), *this; }
    deferred_response& json(std::string&& body) { return response_.json(std::move(body)), *this; }
    deferred_response& body(std::string_view bytes) { return response_.body(bytes), *this; }

    // Hands the response to the connection. Once; any thread. A client that is gone makes it a no-op.
    void send() {
        if (!channel_) throw std::logic_error("tether: deferred_response::send() on an empty or already sent reply");
        auto channel = std::move(channel_);
        channel->deliver(std::move(response_));
    }
    // Sends `status` with the server's JSON error body ({"error":{"status":..,"message":..}}).
    void fail(int status, std::string_view message);

    explicit operator bool() const noexcept { return static_cast<bool>(channel_); }

private:
    std::shared_ptr<deferred_channel> channel_;
    http::response response_;
};

} // namespace tether::http

#include <tether/http/error.hpp>

inline void tether::http::deferred_response::fail(int status, std::string_view message) {
    response_.clear();
    write_error(response_, status, message);
    send();
}

inline tether::http::deferred_response tether::http::response::defer(std::chrono::milliseconds timeout) {
    if (!deferral_) throw std::logic_error("tether: res.defer() outside a server's handler");
    if (deferred_) throw std::logic_error("tether: res.defer() called twice for one request");
    deferred_ = true;
    return deferral_->defer(*this, timeout);
}
