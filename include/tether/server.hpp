#pragma once
// basic_server<Config>: composes the layers into a server a user configures with policies.
//
//   tether::server app{{.port = 8080, .threads = 2}};
//   app.get("/hello/:name", [](auto& req, auto& res) { res.text(req.param("name")); });
//   app.run();
//
// Threads: N I/O threads, each with its own io_context. One acceptor hands new sockets to
// the threads round-robin and each connection then lives on its thread for good, so the
// per-connection path takes no lock. The calling thread of run() is I/O thread 0.
//
// Stopping: stop() (any thread) or SIGINT/SIGTERM with handle_signals: the acceptor closes,
// idle keep-alive connections close at once, connections with a request in flight finish it
// (answered with Connection: close), and whatever is left after drain_timeout is closed.
#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include <tether/config.hpp>
#include <tether/topic.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/http/cors.hpp>
#include <tether/http/date.hpp>
#include <tether/http/error.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/http/router.hpp>
#include <tether/net/accept.hpp>
#include <tether/net/http_connection.hpp>
#include <tether/net/io_thread.hpp>
#include <tether/net/long_poll_waiter.hpp>
#include <tether/poll/batch.hpp>
#include <tether/http/etag.hpp>
#include <tether/net/sse_connection.hpp>
#include <tether/net/ws_connection.hpp>
#include <tether/sse/behaviour.hpp>
#include <tether/ws/behaviour.hpp>
#include <tether/ws/handshake.hpp>

namespace tether {

// Counters, summed over I/O threads when read.
struct server_stats {
    std::uint64_t requests = 0;
    std::uint64_t rejected = 0;        // answered 4xx by the server itself (parse errors, limits, 408)
    std::uint64_t timeouts = 0;        // of which 408
    std::uint64_t handler_errors = 0;  // handler threw something other than http::error / json::parse_error
    std::uint64_t connections = 0;     // accepted, all time
};

template <class Config = default_config>
class basic_server {
    static_assert(transport_policy<typename Config::transport>,
                  "Config::transport must model tether::transport_policy (see tether/config.hpp), "
                  "e.g. tether::transport::tcp");
    static_assert(logger_policy<typename Config::logger>,
                  "Config::logger must model tether::logger_policy: default-constructible with "
                  "log(tether::log::level, std::string_view) const");

public:
    using config = Config;
    // After a failed static_assert the class goes on with the default policy, so the assert is
    // the only error the user reads instead of the first of a cascade.
    using transport = std::conditional_t<transport_policy<typename Config::transport>, typename Config::transport,
                                         default_config::transport>;
    using logger_type =
        std::conditional_t<logger_policy<typename Config::logger>, typename Config::logger, default_config::logger>;
    using handler = std::function<void(http::request&, http::response&)>;

    // A protocol switch accepted by a handler, carried out by the HTTP connection once the 101
    // response has been written (it owns the socket until then).
    struct thread_state;
    struct pending_upgrade {
        virtual ~pending_upgrade() = default;
        virtual void start(thread_state& thread, typename transport::socket&& socket, std::string early_bytes) = 0;
    };

    template <class UserData = ws::no_user_data>
    using websocket_connection = net::ws_connection<basic_server, UserData>;
    template <class UserData = ws::no_user_data>
    using websocket_behaviour = ws::behaviour<websocket_connection<UserData>, UserData>;

    template <class UserData = sse::no_user_data>
    using sse_stream = net::sse_connection<basic_server, UserData>;
    template <class UserData = sse::no_user_data>
    using sse_behaviour = sse::behaviour<sse_stream<UserData>, UserData>;

    // Per I/O thread: the io_context and wheel (io_thread), plus the scratch request and
    // response every connection on the thread reuses, since a thread runs one handler at a time.
    struct thread_state : net::io_thread {
        using net::io_thread::io_thread;
        http::request request;
        http::response response;
        http::date_cache dates;
        std::unique_ptr<pending_upgrade> upgrade;
        std::unique_ptr<net::deferred_work> deferred;   // set by a handler that holds its response
        net::connection_base* current = nullptr;        // the connection whose request is dispatched
        net::topic_groups groups;   // this thread's reader group per topic

        template <class Policy>
        static net::group_base& group_for(thread_state& t, const hub::topic_handle& topic) {
            return t.groups.template for_topic<Policy>(topic, t.io());
        }
        struct counters {
            std::atomic<std::uint64_t> requests{0}, rejected{0}, timeouts{0}, handler_errors{0}, connections{0};
        } stats;
    };

    explicit basic_server(server_options options = {}) : options_(std::move(options)) {
        if (options_.threads == 0) throw std::invalid_argument("tether: server needs at least one I/O thread");
        for (unsigned i = 0; i < options_.threads; ++i) threads_.push_back(std::make_unique<thread_state>(i));
        accept_retry_.emplace(threads_[0]->io());
    }
    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    // ---- routes ------------------------------------------------------------------------
    basic_server& route(http::method m, std::string_view pattern, handler h) {
        router_.add(m, pattern, std::move(h));
        return *this;
    }
    basic_server& get(std::string_view p, handler h) { return route(http::method::get, p, std::move(h)); }
    basic_server& post(std::string_view p, handler h) { return route(http::method::post, p, std::move(h)); }
    basic_server& put(std::string_view p, handler h) { return route(http::method::put, p, std::move(h)); }
    basic_server& patch(std::string_view p, handler h) { return route(http::method::patch, p, std::move(h)); }
    basic_server& del(std::string_view p, handler h) { return route(http::method::delete_, p, std::move(h)); }
    basic_server& options(std::string_view p, handler h) { return route(http::method::options, p, std::move(h)); }

    // CORS for every route (see http/cors.hpp): preflights are answered before routing (204
    // with the Access-Control-* fields, or 403 for a disallowed origin or method), and every
    // other response gets the fields its Origin calls for. Call before run().
    basic_server& cors(http::cors_options o) {
        cors_ = std::make_shared<const http::cors_options>(std::move(o));
        return *this;
    }

    // A WebSocket endpoint (RFC 6455) at `pattern`; see ws/behaviour.hpp for the callbacks.
    template <class UserData = ws::no_user_data>
    basic_server& websocket(std::string_view pattern, websocket_behaviour<UserData> behaviour) {
        auto owned = std::make_shared<websocket_behaviour<UserData>>(std::move(behaviour));
        const auto* b = owned.get();
        kept_alive_.push_back(std::move(owned));
        return get(pattern, [this, b](http::request& req, http::response& res) { accept_websocket(*b, req, res); });
    }

    // A Server-Sent Events endpoint driven by the application (see sse/behaviour.hpp): events
    // are sent through the stream, or its handle from any thread.
    template <class UserData = sse::no_user_data>
    basic_server& sse(std::string_view pattern, sse_behaviour<UserData> behaviour) {
        auto owned = std::make_shared<sse_behaviour<UserData>>(std::move(behaviour));
        const auto* b = owned.get();
        kept_alive_.push_back(std::move(owned));
        return get(pattern, [this, b](http::request& req, http::response& res) { accept_sse(*b, req, res); });
    }

    // ---- topics --------------------------------------------------------------------------
    // Opens (or returns) the topic `name`. The policy decides what happens to a subscriber that
    // falls a whole history behind or over its byte budget: backpressure::disconnect,
    // drop_oldest (it is told exactly what it missed) or conflate (latest value per key).
    // Opening the same name with another policy throws std::logic_error.
    template <class Policy = backpressure::drop_oldest>
    tether::topic<Policy> topic(std::string_view name, topic_options options = {}) {
        std::lock_guard lock(topics_mutex_);
        if (auto it = topics_.find(name); it != topics_.end()) {
            if (it->second.group_for != &thread_state::template group_for<Policy>)
                throw std::logic_error("tether: topic '" + std::string(name) + "' is already open with another policy");
            return tether::topic<Policy>(it->second.handle);
        }
        auto handle = std::make_shared<hub::topic>(std::string(name), detail::server_formats(std::string(name)),
                                                   hub::topic_options{.capacity = options.history});
        topics_.emplace(std::string(name), topic_entry{handle, &thread_state::template group_for<Policy>});
        return tether::topic<Policy>(std::move(handle));
    }

    // A WebSocket endpoint speaking tether's JSON control protocol, for browser clients:
    //   client: {"type":"subscribe","topic":"t","since":"<id>"}   since optional (resume)
    //           {"type":"unsubscribe","topic":"t"}
    //           {"type":"publish","topic":"t","data":"text"}     only where can_publish allows
    //   server: {"type":"subscribed","topic":"t","recovered":true|false,"id":"<id>"}
    //           {"topic":"t","id":"<id>","data":"text"}          each message
    //           {"type":"missed","topic":"t","first":"<id>","last":"<id>"}
    //           {"type":"error","message":"..."}
    struct pubsub_options {
        std::function<bool(std::string_view topic)> can_subscribe{};   // default: every open topic
        std::function<bool(std::string_view topic)> can_publish{};     // default: none
        std::vector<std::string> allowed_origins{};
        std::size_t max_message_size = 64 * 1024;
    };
    basic_server& pubsub(std::string_view pattern, pubsub_options options = {}) {
        auto opts = std::make_shared<pubsub_options>(std::move(options));
        kept_alive_.push_back(opts);
        websocket_behaviour<> b;
        b.allowed_origins = opts->allowed_origins;
        b.max_message_size = opts->max_message_size;
        b.on_message = [this, o = opts.get()](websocket_connection<>& ws, std::string_view text, ws::opcode) {
            handle_control_message(*o, ws, text);
        };
        return websocket(pattern, std::move(b));
    }

    struct topic_entry {
        hub::topic_handle handle;
        net::group_base& (*group_for)(thread_state&, const hub::topic_handle&);
    };
    // The topic named `name`, or nullptr. Any thread.
    const topic_entry* find_topic(std::string_view name) const {
        std::lock_guard lock(topics_mutex_);
        auto it = topics_.find(name);
        return it == topics_.end() ? nullptr : &it->second;
    }

    // SSE over topics: `app.sse("/events", prices)` streams every message of `prices`, resumed
    // from Last-Event-ID (or ?lastEventId= on a first connect).
    template <class... Policies>
    basic_server& sse(std::string_view pattern, const tether::topic<Policies>&... topics) {
        sse_behaviour<> b;
        (b.topics.push_back(std::string(topics.name())), ...);
        return sse(pattern, std::move(b));
    }

    // Long polling: GET ?since=<id> answers at once when newer messages exist (or the cursor is
    // unknown: recovered=false), else holds the request until news or the timeout (empty batch).
    // The answer is poll/batch.hpp's JSON. Without since, it answers at once with the current
    // position as "next". Requests held per client address are capped (429 past it).
    struct long_poll_options {
        std::chrono::milliseconds timeout{25'000};
        std::size_t max_batch = 100;
        std::size_t max_held_per_client = 6;
    };
    template <class Policy>
    basic_server& long_poll(std::string_view pattern, const tether::topic<Policy>& t, long_poll_options o = {}) {
        auto handle = t.handle();
        return get(pattern, [this, handle, o](http::request& req, http::response& res) {
            const hub::topic& topic = *handle;
            auto since = http::find_query_param(req.query_string(), "since");
            std::string body;
            if (!since) {   // first request: learn the cursor
                poll::append_batch(body, topic, topic.next_sequence(), true, 0, 0);
                res.header("Cache-Control", "no-store").json(std::move(body));
                return;
            }
            auto resume = topic.resume(*since);
            if (!resume.recovered || resume.from < topic.next_sequence()) {
                poll::append_batch(body, topic, resume.recovered ? resume.from : topic.next_sequence(),
                                   resume.recovered, o.max_batch, 0);
                res.header("Cache-Control", "no-store").json(std::move(body));
                return;
            }
            thread_state& thread = current_thread();
            std::string peer = thread.current ? thread.current->peer_address() : std::string{};
            if (!hold_for(peer, o.max_held_per_client)) {
                write_error(res, 429, "too many long polls held for this client");
                res.header("Retry-After", "1");
                return;
            }
            thread.deferred = std::make_unique<net::long_poll_waiter>(
                handle, thread_state::template group_for<Policy>(thread, handle), resume.from, o.timeout, o.max_batch,
                [this, peer] { release_hold(peer); });
        });
    }

    // Short polling: GET answers at once with what is newer than ?since= (or, without it, the
    // latest message as the current state), with a strong ETag, 304 for If-None-Match, and a
    // poll interval hint (X-Poll-Interval-Ms).
    struct short_poll_options {
        std::chrono::milliseconds interval{2'000};
        std::size_t max_batch = 100;
    };
    template <class Policy>
    basic_server& short_poll(std::string_view pattern, const tether::topic<Policy>& t, short_poll_options o = {}) {
        auto handle = t.handle();
        return get(pattern, [handle, o](http::request& req, http::response& res) {
            const hub::topic& topic = *handle;
            auto since = http::find_query_param(req.query_string(), "since");
            hub::resumption resume{false, topic.next_sequence()};
            if (since) resume = topic.resume(*since);
            std::uint64_t from = resume.recovered ? resume.from : topic.next_sequence();
            if (!resume.recovered && topic.next_sequence() > topic.oldest_retained())   // the latest state
                from = topic.next_sequence() - 1;
            bool recovered = resume.recovered || !since;
            // The answer depends only on (from, the topic's position, recovered): that is the tag.
            std::string etag = "\"" + hub::to_string(topic.position()) + "." + std::to_string(from) + (recovered ? "" : ".r") + "\"";
            res.header("ETag", etag)
                .header("Cache-Control", "no-cache")
                .header("X-Poll-Interval-Ms", std::to_string(o.interval.count()));
            if (auto inm = req.header("if-none-match"); inm && http::etag_list_matches(*inm, etag)) {
                res.status(304);
                return;
            }
            std::string body;
            poll::append_batch(body, topic, from, recovered, o.max_batch, 0);
            res.json(std::move(body));
        });
    }

    // ---- lifecycle ---------------------------------------------------------------------
    // Binds and listens. Throws std::system_error naming the address when that fails.
    void listen() {
        if (acceptor_) return;
        auto& io = threads_[0]->io();
        std::error_code ec;
        asio::ip::address address = asio::ip::make_address(options_.host, ec);
        if (ec) {   // a name such as "localhost": take the first address it resolves to
            typename transport::protocol::resolver resolver(io);
            auto results = resolver.resolve(options_.host, "", ec);
            if (ec || results.empty()) throw_listen_error(ec ? ec : asio::error::host_not_found);
            address = results.begin()->endpoint().address();
        }
        typename transport::protocol::endpoint endpoint(address, options_.port);
        auto acceptor = std::make_unique<typename transport::protocol::acceptor>(io);
        acceptor->open(endpoint.protocol(), ec);
        if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor->bind(endpoint, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (!ec) acceptor->non_blocking(true, ec);   // accept_queued() drains it until would_block
        if (ec) throw_listen_error(ec);
        port_ = acceptor->local_endpoint().port();
        acceptor_ = std::move(acceptor);
    }

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const { return "http://" + options_.host + ":" + std::to_string(port_); }
    const server_options& options() const noexcept { return options_; }
    const logger_type& logger() const noexcept { return logger_; }

    // Serves until stop(); the calling thread becomes I/O thread 0. Call once.
    void run() {
        listen();
        if (options_.handle_signals) watch_signals();
        for (auto& t : threads_) t->start_ticking();
        accept_next();
        std::vector<std::thread> others;
        for (std::size_t i = 1; i < threads_.size(); ++i)
            others.emplace_back([this, i] { run_thread(*threads_[i]); });
        run_thread(*threads_[0]);
        for (auto& t : others) t.join();
    }

    // Graceful stop; callable from any thread, any number of times.
    void stop() {
        if (stopping_.exchange(true)) return;
        asio::post(threads_[0]->io(), [this] {
            if (acceptor_) {
                std::error_code ignored;
                acceptor_->close(ignored);
            }
            if (signals_) signals_->cancel();
            accept_retry_->cancel();
        });
        for (auto& t : threads_)
            asio::post(t->io(), [this, state = t.get()] { state->drain(options_.drain_timeout); });
    }

    bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }

    server_stats stats() const noexcept {
        server_stats s;
        for (auto& t : threads_) {
            s.requests += t->stats.requests.load(std::memory_order_relaxed);
            s.rejected += t->stats.rejected.load(std::memory_order_relaxed);
            s.timeouts += t->stats.timeouts.load(std::memory_order_relaxed);
            s.handler_errors += t->stats.handler_errors.load(std::memory_order_relaxed);
            s.connections += t->stats.connections.load(std::memory_order_relaxed);
        }
        return s;
    }

    // ---- used by connections (on their own thread) ------------------------------------
    void dispatch(http::request& req, http::response& res) {
        auto& counters = current_thread().stats;
        counters.requests.fetch_add(1, std::memory_order_relaxed);
        if (!cors_) return route_request(req, res, counters);
        // CORS: a preflight never reaches the routes; other responses get the fields appended
        // after the handler, so handler errors (res.clear()) keep them too, and a held long-poll
        // response gets them when its connection fills it (deferred_work::kept_fields).
        auto origin = req.header("origin");
        if (origin && http::is_cors_preflight(req.method_name(), true, req.has_header("access-control-request-method"))) {
            auto answer = http::cors_preflight(*cors_, *origin, *req.header("access-control-request-method"),
                                               req.header("access-control-request-headers"));
            if (answer.allowed) res.status(204);
            else write_error(res, 403, "CORS preflight refused");
            for (const auto& f : answer.fields) res.header(f.name, f.value);
            return;
        }
        route_request(req, res, counters);
        for (const auto& f : http::cors_response_fields(*cors_, origin)) res.header(f.name, f.value);
    }

    void count_rejection(int status) noexcept {
        auto& counters = current_thread().stats;
        counters.rejected.fetch_add(1, std::memory_order_relaxed);
        if (status == 408) counters.timeouts.fetch_add(1, std::memory_order_relaxed);
    }

    // The one error body shape: {"error":{"status":404,"message":"..."}}.
    static void write_error(http::response& res, int status, std::string_view message) {
        std::string body;
        body.reserve(48 + message.size());
        json::writer w(body);
        w.begin_object().key("error").begin_object().member("status", status).member("message", message).end_object().end_object();
        res.status(status).json(std::move(body));
    }

private:
    // Routing and the handler call: dispatch() without CORS.
    void route_request(http::request& req, http::response& res, typename thread_state::counters& counters) {
        auto match = router_.match(req);
        switch (match.result) {
        case http::router<handler>::outcome::found: return call_handler(*match.handler, req, res, counters);
        case http::router<handler>::outcome::not_found: return write_error(res, 404, "no route for this path");
        case http::router<handler>::outcome::method_not_allowed:
            write_error(res, 405, "method not allowed for this path");
            res.header("Allow", match.allow);
            return;
        case http::router<handler>::outcome::options: res.status(204).header("Allow", match.allow); return;
        case http::router<handler>::outcome::bad_request:
            return write_error(res, 400, "malformed percent-encoding in path");
        }
    }

    template <class UserData>
    struct websocket_upgrade final : pending_upgrade {
        websocket_upgrade(basic_server& s, const websocket_behaviour<UserData>& b, UserData&& d, std::string p)
            : server(s), behaviour(b), data(std::move(d)), protocol(std::move(p)) {}
        void start(thread_state& thread, typename transport::socket&& socket, std::string early) override {
            auto* c = new websocket_connection<UserData>(server, thread, std::move(socket), behaviour, std::move(data),
                                                         std::move(protocol));
            c->start(std::move(early));
        }
        basic_server& server;
        const websocket_behaviour<UserData>& behaviour;
        UserData data;
        std::string protocol;
    };

    // The server's side of the opening handshake (RFC 6455 §4.2).
    template <class UserData>
    void accept_websocket(const websocket_behaviour<UserData>& b, http::request& req, http::response& res) {
        auto field = [&](std::string_view name) { return req.header(name).value_or(std::string_view{}); };
        ws::upgrade_request upgrade{req.method_name(), field("upgrade"), field("connection"),
                                    field("sec-websocket-version"), field("sec-websocket-key")};
        switch (ws::check_upgrade_request(upgrade)) {
        case ws::handshake_error::none: break;
        case ws::handshake_error::unsupported_version:   // §4.4: say which version we speak
            write_error(res, 426, ws::to_string(ws::handshake_error::unsupported_version));
            res.header("Sec-WebSocket-Version", ws::websocket_version);
            return;
        case ws::handshake_error::missing_upgrade:   // a plain GET on a WebSocket route
            write_error(res, 426, "this resource speaks WebSocket only");
            res.header("Upgrade", "websocket");
            return;
        case ws::handshake_error::method_not_get:
        case ws::handshake_error::missing_connection:
        case ws::handshake_error::invalid_key:
            return write_error(res, 400, ws::to_string(ws::check_upgrade_request(upgrade)));
        }
        if (req.version_minor() < 1) return write_error(res, 400, "WebSocket needs HTTP/1.1");
        if (!b.allowed_origins.empty()) {
            auto origin = req.header("origin");
            bool allowed = false;
            for (const auto& o : b.allowed_origins) allowed = allowed || (origin && *origin == o);
            if (!allowed) return write_error(res, 403, "origin not allowed");
        }
        if (stopping_.load(std::memory_order_relaxed)) return write_error(res, 503, "server stopping");

        UserData data{};
        if (b.on_upgrade) b.on_upgrade(req, data);   // may throw http::error(401/403)
        std::string protocol;
        if (auto offered = req.header("sec-websocket-protocol"); offered && b.select_subprotocol) {
            auto list = ws::split_tokens(*offered);
            protocol = b.select_subprotocol(list);
            bool was_offered = protocol.empty();
            for (auto p : list) was_offered = was_offered || p == protocol;
            if (!was_offered) throw std::logic_error("select_subprotocol chose a protocol the client did not offer");
        }
        res.status(101)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Accept", ws::accept_key(upgrade.sec_websocket_key));
        if (!protocol.empty()) res.header("Sec-WebSocket-Protocol", protocol);
        current_thread().upgrade =
            std::make_unique<websocket_upgrade<UserData>>(*this, b, std::move(data), std::move(protocol));
    }

    template <class UserData>
    struct sse_upgrade final : pending_upgrade {
        sse_upgrade(basic_server& s, const sse_behaviour<UserData>& b, UserData&& d, std::string id, bool c)
            : server(s), behaviour(b), data(std::move(d)), last_event_id(std::move(id)), chunked(c) {}
        void start(thread_state& thread, typename transport::socket&& socket, std::string) override {
            auto* c = new sse_stream<UserData>(server, thread, std::move(socket), behaviour, std::move(data),
                                               std::move(last_event_id), chunked);
            c->start();
        }
        basic_server& server;
        const sse_behaviour<UserData>& behaviour;
        UserData data;
        std::string last_event_id;
        bool chunked;
    };

    template <class UserData>
    void accept_sse(const sse_behaviour<UserData>& b, http::request& req, http::response& res) {
        if (stopping_.load(std::memory_order_relaxed)) return write_error(res, 503, "server stopping");
        UserData data{};
        if (b.on_request) b.on_request(req, data);   // may throw http::error(401/403)
        // The browser resends the last id it saw as Last-Event-ID; a page can also pass one on
        // its first connect as ?lastEventId= (EventSource cannot set headers).
        std::string last_event_id(req.header("last-event-id").value_or(std::string_view{}));
        if (last_event_id.empty())
            last_event_id = http::find_query_param(req.query_string(), "lastEventId").value_or(std::string{});
        if (last_event_id.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            return write_error(res, 400, "lastEventId must be one line");
        res.status(200)
            .content_type("text/event-stream")
            .header("Cache-Control", "no-store")
            .header("X-Accel-Buffering", "no");   // tell nginx-style proxies not to buffer the stream
        if (req.method() == http::method::head) return;   // the head only, no stream
        res.stream();
        current_thread().upgrade = std::make_unique<sse_upgrade<UserData>>(
            *this, b, std::move(data), std::move(last_event_id), req.version_minor() >= 1);
    }

    void handle_control_message(const pubsub_options& o, websocket_connection<>& ws, std::string_view text) {
        auto reply_error = [&](std::string_view message) {
            std::string out;
            json::writer(out).begin_object().member("type", "error").member("message", message).end_object();
            ws.send(out);
        };
        struct command {
            std::string type, topic, since, data;
        } c;
        try {
            c = json::parse(text, [](simdjson::ondemand::document& doc) {
                auto obj = json::as<simdjson::ondemand::object>(doc, "message");
                command r;
                r.type = json::field<std::string>(obj, "type");
                r.topic = json::optional_field<std::string>(obj, "topic").value_or("");
                r.since = json::optional_field<std::string>(obj, "since").value_or("");
                r.data = json::optional_field<std::string>(obj, "data").value_or("");
                return r;
            });
        } catch (const json::parse_error& e) {
            return reply_error(e.what());
        }
        // An application-level ping (browsers cannot send WebSocket pings): the client's proof that
        // the connection still carries traffic both ways, through proxies that ignore control frames.
        if (c.type == "ping") {
            std::string out;
            json::writer(out).begin_object().member("type", "pong").end_object();
            ws.send(out);
            return;
        }
        if (!find_topic(c.topic)) return reply_error("no such topic: " + c.topic);
        if (c.type == "subscribe") {
            if (o.can_subscribe && !o.can_subscribe(c.topic)) return reply_error("not allowed to subscribe to " + c.topic);
            ws.subscribe(c.topic, c.since);
        } else if (c.type == "unsubscribe") {
            ws.unsubscribe(c.topic);
        } else if (c.type == "publish") {
            if (!o.can_publish || !o.can_publish(c.topic)) return reply_error("not allowed to publish to " + c.topic);
            find_topic(c.topic)->handle->publish(c.data);
        } else {
            reply_error("unknown type: " + c.type);
        }
    }

    bool hold_for(const std::string& peer, std::size_t cap) {
        std::lock_guard lock(held_mutex_);
        auto& n = held_per_client_[peer];
        if (n >= cap) return false;
        ++n;
        return true;
    }
    void release_hold(const std::string& peer) {
        std::lock_guard lock(held_mutex_);
        auto it = held_per_client_.find(peer);
        if (it != held_per_client_.end() && --it->second == 0) held_per_client_.erase(it);
    }

    void call_handler(const handler& h, http::request& req, http::response& res,
                      typename thread_state::counters& counters) {
        try {
            h(req, res);
        } catch (const http::error& e) {
            res.clear();
            write_error(res, e.status(), e.what());
        } catch (const json::parse_error& e) {
            res.clear();
            write_error(res, 400, e.what());
        } catch (const std::exception& e) {
            counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
            logger_.log(log::level::error, std::string("handler for ") + std::string(req.path()) + " threw: " + e.what());
            res.clear();
            write_error(res, 500, "internal server error");
        } catch (...) {
            counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
            logger_.log(log::level::error, "handler for " + std::string(req.path()) + " threw a non-exception");
            res.clear();
            write_error(res, 500, "internal server error");
        }
    }

    thread_state& current_thread() noexcept { return *current_thread_state(); }
    static thread_state*& current_thread_state() noexcept {
        thread_local thread_state* state = nullptr;
        return state;
    }

    void run_thread(thread_state& t) {
        current_thread_state() = &t;
        for (;;) {
            try {
                t.io().run();
                break;
            } catch (const std::exception& e) {
                logger_.log(log::level::error, std::string("I/O thread caught: ") + e.what());
            }
        }
        current_thread_state() = nullptr;
    }

    // Waits for the listening socket, then takes what is queued on it. asio reports the
    // listener edge-triggered, so each wake must drain the queue (or hand the rest to a posted
    // continuation) before waiting again.
    void accept_next() {
        acceptor_->async_wait(asio::socket_base::wait_read, [this](std::error_code ec) {
            if (ec != asio::error::operation_aborted && accepting()) accept_queued(ec);
        });
    }

    // False once stop() began; the acceptor is closed on thread 0, where these handlers run.
    bool accepting() const { return !stopping_.load() && acceptor_->is_open(); }

    void accept_queued(std::error_code ec) {
        for (int taken = 0; !ec; ++taken) {
            if (taken == max_accepts_per_turn) {   // let the acceptor's own thread serve its connections
                asio::post(threads_[0]->io(), [this] {
                    if (accepting()) accept_queued({});
                });
                return;
            }
            int fd = net::accept_native(acceptor_->native_handle(), ec);
            if (fd < 0) break;
            if (failed_accepts_ != 0) {
                logger_.log(log::level::info, "accepting again after " + std::to_string(failed_accepts_) + " failed attempts");
                failed_accepts_ = 0;
            }
            thread_state& target = *threads_[next_thread_];
            next_thread_ = (next_thread_ + 1) % threads_.size();
            asio::post(target.io(), [this, &target, owned = net::owned_fd(fd)]() mutable {
                if (target.draining()) return;
                std::error_code e;
                auto socket = transport::adopt(target, owned.release(), e);
                if (e) return logger_.log(log::level::warning, "cannot serve an accepted connection: " + e.message());
                target.stats.connections.fetch_add(1, std::memory_order_relaxed);
                (new net::http_connection<basic_server>(*this, target, std::move(socket)))->start();
            });
        }
        if (ec == asio::error::would_block || ec == asio::error::try_again) return accept_next();
        // Out of descriptors (EMFILE/ENFILE) or a transient error: back off briefly rather
        // than spin, and keep serving the connections we have. Said once per episode, not on
        // every retry.
        if (failed_accepts_++ == 0)
            logger_.log(log::level::warning, "accept failed: " + ec.message() + "; retrying every 50 ms");
        accept_retry_->expires_after(std::chrono::milliseconds(50));
        accept_retry_->async_wait([this](std::error_code e) {
            if (!e && accepting()) accept_queued({});
        });
    }

    void watch_signals() {
        signals_ = std::make_unique<asio::signal_set>(threads_[0]->io(), SIGINT, SIGTERM);
        signals_->async_wait([this](std::error_code ec, int) {
            if (!ec) stop();
        });
    }

    [[noreturn]] void throw_listen_error(std::error_code ec) const {
        throw std::system_error(ec, "tether: cannot listen on " + options_.host + ":" + std::to_string(options_.port));
    }

    server_options options_;
    logger_type logger_{};
    http::router<handler> router_;
    std::vector<std::unique_ptr<thread_state>> threads_;
    std::unique_ptr<typename transport::protocol::acceptor> acceptor_;
    std::unique_ptr<asio::signal_set> signals_;
    std::vector<std::shared_ptr<const void>> kept_alive_;
    std::shared_ptr<const http::cors_options> cors_;   // set by cors(); null: no CORS handling
    std::mutex held_mutex_;   // long polls held per client address
    std::map<std::string, std::size_t> held_per_client_;
    mutable std::mutex topics_mutex_;   // opening and looking up topics by name; never on publish
    std::map<std::string, topic_entry, std::less<>> topics_;   // WebSocket behaviours, referenced by connections
    std::optional<asio::steady_timer> accept_retry_;   // back-off after a failed accept
    static constexpr int max_accepts_per_turn = 64;
    std::size_t failed_accepts_ = 0;   // in a row; touched only on I/O thread 0, which accepts
    std::size_t next_thread_ = 0;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
};

using server = basic_server<>;

} // namespace tether
