#pragma once
// The server's half of a streamed-body route (http/body_stream.hpp, app.upload): the route as the
// route table stores it, and one upload in progress as its HTTP connection holds it.
//
// The upload keeps its own copy of the request's head (http/request_copy.hpp: fields, path
// parameters, middleware attributes): the connection's read buffer, where the parsed request's views
// point, moves on while the body streams, and another connection on the thread reuses the thread's
// scratch request. One allocation per upload, against bodies of megabytes.
//
// Everything here runs on the connection's I/O thread and may throw from user code; the route table
// (server/routes.hpp) turns exceptions into answers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <tether/http/body_stream.hpp>
#include <tether/http/request.hpp>
#include <tether/http/request_copy.hpp>
#include <tether/http/response.hpp>

namespace tether::detail {

class upload_base {
public:
    virtual ~upload_base() = default;

    virtual void start() = 0;                                            // on_start
    virtual void data(std::string_view piece, http::body_flow& flow) = 0;   // on_data
    virtual void end(http::response& res) = 0;                           // on_end
    // The body will not arrive whole: on_abort, at most once, and only after on_start returned and
    // before on_end. Returns whether it ran.
    virtual bool abort() = 0;

    http::request& request() noexcept { return *request_; }
    std::uint64_t max_body_bytes = 0;
    std::chrono::milliseconds idle_timeout{0}, pause_timeout{0};   // 0: the server's

protected:
    // `keep_copy`: the upload outlives the request's buffer (a streamed body), so it copies the head.
    upload_base(http::request& req, bool keep_copy)
        : copy_(keep_copy ? std::make_unique<http::request_copy>(req) : nullptr), request_(copy_ ? &copy_->get() : &req) {}

private:
    std::unique_ptr<http::request_copy> copy_;
    http::request* request_;
};

template <class State>
class upload final : public upload_base {
public:
    upload(const http::body_stream<State>& b, http::request& req, bool keep_copy) : upload_base(req, keep_copy), b_(b) {
        max_body_bytes = b.max_body_bytes;
        idle_timeout = b.idle_timeout;
        pause_timeout = b.pause_timeout;
    }

    void start() override {
        if (b_.on_start) b_.on_start(request(), state_);
        stage_ = stage::started;
    }
    void data(std::string_view piece, http::body_flow& flow) override {
        if (b_.on_data) b_.on_data(state_, piece, flow);
    }
    void end(http::response& res) override {
        stage_ = stage::finished;
        if (b_.on_end) b_.on_end(request(), res, state_);
    }
    bool abort() override {
        if (stage_ != stage::started) return false;
        stage_ = stage::finished;
        if (b_.on_abort) b_.on_abort(state_);
        return true;
    }

private:
    enum class stage : unsigned char { opened, started, finished };
    const http::body_stream<State>& b_;   // kept by the route table for the server's lifetime
    State state_{};
    stage stage_ = stage::opened;
};

// A streamed-body route in the route table.
class upload_route_base {
public:
    virtual ~upload_route_base() = default;
    virtual std::unique_ptr<upload_base> open(http::request& req, bool keep_copy) const = 0;
    virtual std::uint64_t max_body_bytes() const noexcept = 0;
};

template <class State>
class upload_route final : public upload_route_base {
public:
    explicit upload_route(http::body_stream<State> b) : b_(std::move(b)) {}
    std::unique_ptr<upload_base> open(http::request& req, bool keep_copy) const override {
        return std::make_unique<upload<State>>(b_, req, keep_copy);
    }
    std::uint64_t max_body_bytes() const noexcept override { return b_.max_body_bytes; }

private:
    http::body_stream<State> b_;
};

// The flow of a body that arrived whole (a route reached without the parser's pause): there is
// nothing left to read, so nothing to pause.
class whole_body_flow final : public http::body_flow {
public:
    http::body_resume pause() override {
        throw std::logic_error("tether: body_flow::pause() on a body that was not streamed");
    }
};

} // namespace tether::detail
