#pragma once
// A REST answer that comes later, from any thread: the handler returns at once (its I/O thread goes on
// serving others), and whoever has the answer (a backplane's publish completion, a worker pool) sends it.
//
//   app.post("/api/publish", [&](auto& req, auto& res) {
//       auto reply = app.defer(std::chrono::seconds(5));          // 504 if nobody answers in time
//       news.async_publish(req.body(), [reply](std::error_code ec, tether::hub::cursor id) {
//           reply.send([=](tether::http::response& res) {         // runs on the connection's thread
//               if (ec) return tether::http::write_error(res, 503, ec.message());
//               res.status(201).json(...);
//           });
//       });
//   });
//
// It rides on the mechanism long polls use (net/deferred.hpp): the connection holds the request, keeps
// later pipelined requests waiting behind it, and fills the response when woken. What is added here is the
// bridge from another thread: the handle posts to the connection's io_context, and only there looks at
// whether the request is still held (the client may have left, which destroys the work). So the handle is
// safe to copy, keep and call from anywhere, any number of times; the first send wins.
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include <tether/http/error.hpp>
#include <tether/http/response.hpp>
#include <tether/net/deferred.hpp>

namespace tether {

class deferred_reply {
public:
    using fill_function = std::function<void(http::response&)>;

    deferred_reply() = default;

    /// Any thread. The first call's `fill` writes the response on the connection's thread; later calls,
    /// and calls after the client left or the deadline passed, do nothing. False if it was not the first.
    inline bool send(fill_function fill) const;

    /// The held request's side: what the connection owns.
    class work;

private:
    template <class Server>
    friend deferred_reply defer_reply(Server&, std::chrono::milliseconds);

    struct shared_state {
        asio::io_context* io = nullptr;
        work* held = nullptr;   // only touched on the connection's thread
        std::atomic<bool> sent{false};
    };
    explicit deferred_reply(std::shared_ptr<shared_state> s) : state_(std::move(s)) {}
    std::shared_ptr<shared_state> state_;
};

class deferred_reply::work final : public net::deferred_work {
public:
    work(std::shared_ptr<shared_state> state, std::chrono::milliseconds timeout)
        : state_(std::move(state)), timeout_(timeout) {
        state_->held = this;
    }
    ~work() override { state_->held = nullptr; }

    void start(net::responder& r) override { responder = &r; }
    void fill(http::response& res, bool timed_out) override {
        if (timed_out || !fill_with) return http::write_error(res, 504, "no answer in time");
        fill_with(res);
    }
    std::chrono::milliseconds timeout() const override { return timeout_; }

    net::responder* responder = nullptr;
    fill_function fill_with;

private:
    std::shared_ptr<shared_state> state_;
    std::chrono::milliseconds timeout_;
};

inline bool deferred_reply::send(fill_function fill) const {
    if (!state_ || state_->sent.exchange(true)) return false;
    asio::post(*state_->io, [s = state_, f = std::move(fill)]() mutable {
        if (s->held == nullptr) return;   // the client left, or the deadline answered for us
        s->held->fill_with = std::move(f);
        s->held->responder->wake();
    });
    return true;
}

/// Inside a route handler of `server`: the response will be sent later through the returned handle (or,
/// after `timeout`, answered 504). Whatever the handler writes to its response meanwhile is discarded,
/// except header fields (CORS), which are kept.
template <class Server>
deferred_reply defer_reply(Server& server, std::chrono::milliseconds timeout) {
    auto& thread = server.current_thread();
    auto state = std::make_shared<deferred_reply::shared_state>();
    state->io = &thread.io();
    thread.deferred = std::make_unique<deferred_reply::work>(state, timeout);
    return deferred_reply(std::move(state));
}

} // namespace tether
