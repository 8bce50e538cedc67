#pragma once
// Where a request goes: CORS preflights, the middleware's `before` hooks, the route table and the
// handler, with errors turned into responses; and, when the response is about to be written, the
// middleware's `after` hooks (finish()). The HTTP connection hands every parsed request to
// dispatch(); nothing here knows about sockets or threads.
//
// Errors: a handler or hook may throw http::error (its status), json::parse_error (400) or anything
// else (500, counted and logged with the path). The response is cleared first, so a handler
// that failed half-way never leaks a partial answer.
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

namespace tether {

using route_handler = std::function<void(http::request&, http::response&)>;

template <class Logger>
class route_table {
public:
    explicit route_table(const Logger& logger) : logger_(logger) {}

    void add(http::method m, std::string_view pattern, route_handler h) { router_.add(m, pattern, std::move(h)); }
    void use(std::string prefix, middleware m) { middleware_.add(std::move(prefix), std::move(m)); }
    bool has_after_hooks() const noexcept { return middleware_.has_after(); }

    // CORS for every route (see http/cors.hpp): preflights are answered before routing (204
    // with the Access-Control-* fields, or 403 for a disallowed origin or method), and every
    // other response gets the fields its Origin calls for.
    void cors(http::cors_options o) { cors_ = std::make_shared<const http::cors_options>(std::move(o)); }

    void dispatch(http::request& req, http::response& res, detail::thread_counters& counters) const {
        counters.requests.fetch_add(1, std::memory_order_relaxed);
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
        for (const auto& f : http::cors_response_fields(*cors_, origin)) res.header(f.name, f.value);
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
    using table = http::router<route_handler>;

    void before_and_route(http::request& req, http::response& res, detail::thread_counters& counters) const {
        if (middleware_.empty() || guarded(req, res, counters, [&] { return middleware_.before(req, res); }))
            route(req, res, counters);
    }

    void route(http::request& req, http::response& res, detail::thread_counters& counters) const {
        auto match = router_.match(req);
        switch (match.result) {
        case table::outcome::found: return call(*match.handler, req, res, counters);
        case table::outcome::not_found: return http::write_error(res, 404, "no route for this path");
        case table::outcome::method_not_allowed:
            http::write_error(res, 405, "method not allowed for this path");
            res.header("Allow", match.allow);
            return;
        case table::outcome::options: res.status(204).header("Allow", match.allow); return;
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
        counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
        logger_.log(log::level::error, "handler for " + std::string(req.path()) + " threw: " + std::string(what));
        res.clear();
        http::write_error(res, 500, "internal server error");
    }

    const Logger& logger_;
    table router_;
    middleware_chain middleware_;
    std::shared_ptr<const http::cors_options> cors_;   // null: no CORS handling
};

} // namespace tether
