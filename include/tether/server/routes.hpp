#pragma once
// Where a request goes: CORS preflights, the middleware's `before` hooks, the route table and the
// handler, with errors turned into responses; and, when the response is about to be written, the
// middleware's `after` hooks (finish()). The HTTP connection hands every parsed request to
// dispatch(); nothing here knows about sockets or threads.
//
// Errors: a handler or hook may throw http::error (its status), json::parse_error (400) or anything
// else (500, counted and logged with the path). The response is cleared first, so a handler
// that failed half-way never leaks a partial answer.
//
// Streamed-body routes (app.upload, http/body_stream.hpp) are routes like the others, so one path
// answers 405 and OPTIONS with all its methods. Their requests go in at the head instead
// (open_upload(), when the connection's parser paused there): the `before` hooks, the route's limit
// and on_start run before any body byte is read; then upload_data() per piece and end_upload().
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <tether/core/json_reader.hpp>
#include <tether/http/cors.hpp>
#include <tether/http/error.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/http/router.hpp>
#include <tether/log.hpp>
#include <tether/server/middleware.hpp>
#include <tether/server/stats.hpp>
#include <tether/server/uploads.hpp>

namespace tether {

using route_handler = std::function<void(http::request&, http::response&)>;

// What a request with a body becomes at its head (route_table::open_upload).
enum class head_outcome : unsigned char {
    buffer,     // not a streamed-body route: read the body whole, then dispatch as usual
    stream,     // an upload started: hand it the body piece by piece
    answered,   // refused at the head (res holds the answer): answer and close, the body unread
};

template <class Logger>
class route_table {
public:
    explicit route_table(const Logger& logger) : logger_(logger) {}

    void add(http::method m, std::string_view pattern, route_handler h) { router_.add(m, pattern, {std::move(h), nullptr}); }
    // A streamed-body route. A request that reaches it whole (no body) runs on_start and on_end.
    void add_upload(http::method m, std::string_view pattern, std::shared_ptr<const detail::upload_route_base> route) {
        auto whole = [route = route.get()](http::request& req, http::response& res) {
            auto u = route->open(req, false);
            u->start();
            if (!req.body().empty()) {
                detail::whole_body_flow flow;
                u->data(req.body(), flow);
            }
            u->end(res);
        };
        router_.add(m, pattern, {std::move(whole), std::move(route)});
        has_uploads_ = true;
    }
    bool has_uploads() const noexcept { return has_uploads_; }
    void use(std::string prefix, middleware m) { middleware_.add(std::move(prefix), std::move(m)); }
    bool has_after_hooks() const noexcept { return middleware_.has_after(); }
    // Route patterns by number (http::request::route_id()), for the metrics' labels.
    std::size_t route_count() const noexcept { return router_.route_count(); }
    std::string_view pattern(std::size_t id) const noexcept { return router_.pattern(id); }

    // CORS for every route (see http/cors.hpp): preflights are answered before routing (204
    // with the Access-Control-* fields, or 403 for a disallowed origin or method), and every
    // other response gets the fields its Origin calls for.
    void cors(http::cors_options o) { cors_ = std::make_shared<const http::cors_options>(std::move(o)); }

    void dispatch(http::request& req, http::response& res, detail::thread_counters& counters) const {
        counters.requests.add();
        // Without CORS or middleware a request goes straight to its route, inside this frame: each layer
        // called apart paid its own prologue and epilogue (callgrind: 32 of 1,182 instructions of a
        // pipelined request).
        if (!cors_ && middleware_.empty()) [[likely]] return route(req, res, counters);
        with_cors_and_hooks(req, res, counters);
    }

    // At the head of a request whose body follows. Only a streamed-body route takes it here: its
    // `before` hooks, its limit (413) and on_start run now, and `out` receives the upload.
    head_outcome open_upload(http::request& req, http::response& res, detail::thread_counters& counters,
                             std::unique_ptr<detail::upload_base>& out) const {
        auto match = router_.match(req);
        if (match.result != table::outcome::found || !match.handler->upload) return head_outcome::buffer;
        counters.requests.add();
        const auto& route = *match.handler->upload;
        std::unique_ptr<detail::upload_base> opened;
        bool accepted = middleware_.empty() || guarded(req, res, counters, [&] { return middleware_.before(req, res); });
        if (accepted && req.content_length() && *req.content_length() > route.max_body_bytes()) {
            http::write_error(res, 413, "body larger than this route accepts");
            accepted = false;
        }
        accepted = accepted && guarded(req, res, counters, [&] {
            opened = route.open(req, true);
            opened->start();
            return true;
        });
        if (!accepted) {
            add_cors_fields(req, res);
            return head_outcome::answered;
        }
        counters.uploads.add();
        out = std::move(opened);
        return head_outcome::stream;
    }
    // One piece of an upload's body. False when on_data threw: `res` holds the error answer.
    bool upload_data(detail::upload_base& u, std::string_view piece, http::body_flow& flow, http::response& res,
                     detail::thread_counters& counters) const {
        if (guarded(u.request(), res, counters, [&] {
                u.data(piece, flow);
                return true;
            }))
            return true;
        add_cors_fields(u.request(), res);
        return false;
    }
    // The upload's body is whole: on_end answers.
    void end_upload(detail::upload_base& u, http::response& res, detail::thread_counters& counters) const {
        guarded(u.request(), res, counters, [&] {
            u.end(res);
            return true;
        });
        add_cors_fields(u.request(), res);
    }
    // The upload's body will not arrive whole: on_abort, whose exceptions are only logged (the answer,
    // if any, is already decided).
    void abort_upload(detail::upload_base& u, detail::thread_counters& counters) const {
        try {
            if (u.abort()) counters.aborted_uploads.add();
        } catch (const std::exception& e) {
            counters.handler_errors.add();
            logger_.log(log::level::error, "on_abort for " + std::string(u.request().path()) + " threw: " + e.what());
        } catch (...) {
            counters.handler_errors.add();
            logger_.log(log::level::error, "on_abort for " + std::string(u.request().path()) + " threw a non-exception");
        }
    }

    // The `after` hooks, just before `res` is written (a handler's answer, an error, a deferred
    // reply with the copy of its request).
    void finish(const http::request& req, http::response& res, detail::thread_counters& counters) const {
        if (!middleware_.has_after()) return;
        guarded(req, res, counters, [&] {
            middleware_.after(req, res);
            return true;
        });
    }

private:
    struct route_entry {
        route_handler handler;
        std::shared_ptr<const detail::upload_route_base> upload;   // a streamed-body route's
    };
    using table = http::router<route_entry>;

    void add_cors_fields(const http::request& req, http::response& res) const {
        if (!cors_) return;
        for (const auto& f : http::cors_response_fields(*cors_, req.header("origin"))) res.header(f.name, f.value);
    }

    // CORS, `before` hooks, or both: the path dispatch() keeps out of its own frame.
    [[gnu::noinline]] void with_cors_and_hooks(http::request& req, http::response& res,
                                               detail::thread_counters& counters) const {
        if (!cors_) return before_and_route(req, res, counters);
        // A preflight never reaches the routes; other responses get the fields appended after
        // the handler, so handler errors (res.clear()) keep them too, and a held response gets
        // them when its connection fills it (deferred_work::kept_fields).
        auto origin = req.header("origin");
        if (origin && http::is_cors_preflight(req.method_name(), true, req.has_header("access-control-request-method"))) {
            auto answer = http::cors_preflight(*cors_, *origin, *req.header("access-control-request-method"),
                                               req.header("access-control-request-headers"));
            if (answer.allowed) res.status(204);
            else http::write_error(res, 403, "CORS preflight refused");
            for (const auto& f : answer.fields) res.header(f.name, f.value);
            return;
        }
        before_and_route(req, res, counters);
        add_cors_fields(req, res);
    }

    // Without middleware (a server with CORS only) straight to the route. Kept this small so it inlines: the
    // hooks' guarded call is out of line, in admitted_then_route.
    void before_and_route(http::request& req, http::response& res, detail::thread_counters& counters) const {
        if (middleware_.empty()) return route(req, res, counters);
        admitted_then_route(req, res, counters);
    }
    void admitted_then_route(http::request& req, http::response& res, detail::thread_counters& counters) const {
        if (guarded(req, res, counters, [&] { return middleware_.before(req, res); })) route(req, res, counters);
    }

    void route(http::request& req, http::response& res, detail::thread_counters& counters) const {
        auto match = router_.match(req);
        if (match.result == table::outcome::found) [[likely]] return call(match.handler->handler, req, res, counters);
        unmatched(match, res);
    }

    // No handler for the request: the answer says why (RFC 9110 §15.5.5, §15.5.6 with Allow, §9.3.7).
    [[gnu::noinline]] static void unmatched(const typename table::match_result& match, http::response& res) {
        switch (match.result) {
        case table::outcome::found: return;
        case table::outcome::not_found: return http::write_error(res, 404, "no route for this path");
        case table::outcome::method_not_allowed:
            http::write_error(res, 405, "method not allowed for this path");
            res.header("Allow", match.allow());
            return;
        case table::outcome::options: res.status(204).header("Allow", match.allow()); return;
        case table::outcome::bad_request: return http::write_error(res, 400, "malformed percent-encoding in path");
        }
    }

    void call(const route_handler& h, http::request& req, http::response& res, detail::thread_counters& counters) const {
        guarded(req, res, counters, [&] {
            h(req, res);
            return true;
        });
    }

    // Runs `f` (a handler or hook); an exception becomes the matching error response. Returns what
    // `f` returned, or false when it threw.
    template <class F>
    bool guarded(const http::request& req, http::response& res, detail::thread_counters& counters, F&& f) const {
        try {
            return f();
        } catch (const http::error& e) {
            res.clear();
            http::write_error(res, e.status(), e.what());
        } catch (const json::parse_error& e) {
            res.clear();
            http::write_error(res, 400, e.what());
        } catch (const std::exception& e) {
            failed(req, res, counters, e.what());
        } catch (...) {
            failed(req, res, counters, "a non-exception");
        }
        return false;
    }

    void failed(const http::request& req, http::response& res, detail::thread_counters& counters, std::string_view what) const {
        counters.handler_errors.add();
        logger_.log(log::level::error, "handler for " + std::string(req.path()) + " threw: " + std::string(what));
        res.clear();
        http::write_error(res, 500, "internal server error");
    }

    const Logger& logger_;
    table router_;
    middleware_chain middleware_;
    std::shared_ptr<const http::cors_options> cors_;   // null: no CORS handling
    bool has_uploads_ = false;
};

} // namespace tether
