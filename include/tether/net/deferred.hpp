#pragma once
// A response that is not ready when its handler returns (long polling, res.defer()): the handler
// hands the connection a deferred_work, the connection stops answering later pipelined requests (they
// must stay in order), keeps watching the socket for the client leaving, and fills the
// response when the work wakes it or its timeout passes. Destroying the work is cancelling it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <tether/http/method.hpp>
#include <tether/http/request_copy.hpp>
#include <tether/http/response.hpp>

namespace tether::net {

class responder {
public:
    // The work is ready: the connection calls fill() soon, from its own loop (never re-entrantly).
    virtual void wake() = 0;

protected:
    ~responder() = default;
};

class deferred_work {
public:
    virtual ~deferred_work() = default;
    virtual void start(responder& r) = 0;
    virtual void fill(http::response& res, bool timed_out) = 0;
    virtual std::chrono::milliseconds timeout() const = 0;

    // Fields already on the response when the handler deferred it (CORS, anything the handler
    // set first): the connection adds them to the filled response, which starts out cleared.
    std::string kept_fields;
    // Made by res.defer() (net/deferred_reply.hpp) rather than by an endpoint: if the handler then
    // threw, its error answer stands and this work is dropped.
    bool from_handle = false;
    // The request's path, for the log line when the work times out.
    std::string path;
    // The request's head, kept when `after` middleware must see it at write time.
    std::unique_ptr<http::request_copy> request;
    // What the request metrics record when it is answered (metrics/thread_metrics.hpp).
    std::uint32_t route_id = 0;
    http::method method = http::method::other;
    std::chrono::steady_clock::time_point received_at{};
};

} // namespace tether::net
