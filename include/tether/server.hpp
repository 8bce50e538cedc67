#pragma once
// basic_server<Config>: composes the layers into a server a user configures with policies.
//
//   tether::server app{{.port = 8080, .threads = 2}};
//   app.get("/hello/:name", [](auto& req, auto& res) { res.text(req.param("name")); });
//   app.run();
//
// This class owns threads and lifetime; each other job has its own header (which is why the
// class, at ~640 lines, is over the house's ~450: it is the API users read, each public member its
// own documentation plus the few lines handing the call to the header that does the work; moving
// those would scatter the API without moving any work):
//   server/routes.hpp          where a request goes: route table, CORS, handler errors
//   server/uploads.hpp         streamed request bodies (app.upload, http/body_stream.hpp)
//   server/topic_registry.hpp  topics by name, with their backpressure policy
//   server/upgrades.hpp        WebSocket handshake and SSE stream heads
//   server/pubsub.hpp          the JSON control protocol over WebSocket
//   server/backplane.hpp       what a backplane (Redis) is handed when a topic opens with it
//   server/realtime.hpp        every route tether.js expects, for a set of topics, in one call
//   server/metrics.hpp, server/health.hpp   /metrics (Prometheus), liveness and readiness
//   poll/long_poll.hpp, poll/short_poll.hpp   polling endpoints over a topic
//   net/acceptor.hpp           the listening socket and its accept loop
//   net/admission.hpp, net/descriptor_limit.hpp   connection and stream budgets
//   server/signals.hpp         SIGINT/SIGTERM stop, SIGHUP reloads the certificates
//   net/http_connection.hpp, ws_connection.hpp, sse_connection.hpp   one connection each
//
// Threads: N I/O threads, each with its own loop (net/io_thread.hpp: on Linux an epoll loop of
// its own, else asio's io_context). The acceptor, on one service thread running asio with the
// signal watch, hands new sockets to the I/O threads round-robin and each connection then lives
// on its thread for good, so the per-connection path takes no lock. The calling thread of run()
// is I/O thread 0.
//
// Stopping: stop() (any thread) or SIGINT/SIGTERM with handle_signals: the acceptor closes,
// idle keep-alive connections close at once, connections with a request in flight finish it
// (answered with Connection: close), and whatever is left after drain_timeout is closed.
//
// TLS: with certificates in options.tls the listener speaks TLS (net/tls.hpp, net/tls/); the
// certificates are checked when the server is constructed (a clear error names the file), and
// reload_certificates() (any thread; SIGHUP with handle_signals) swaps them for new
// connections. server/secure_channel.hpp says what happens to requests by channel.
#include <asio.hpp>
#include <atomic>
#include <memory>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <tether/config.hpp>
#include <tether/http/body_stream.hpp>
#include <tether/http/date.hpp>
#include <tether/http/deferred_response.hpp>
#include <tether/http/error.hpp>
#include <tether/http/forwarded.hpp>
#include <tether/http/head_memo.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/net/acceptor.hpp>
#include <tether/net/descriptor_limit.hpp>
#include <tether/net/http_connection.hpp>
#include <tether/net/io_thread.hpp>
#include <tether/net/sse_connection.hpp>
#include <tether/net/ws_connection.hpp>
#include <tether/poll/long_poll.hpp>
#include <tether/poll/short_poll.hpp>
#include <tether/metrics/text_format.hpp>
#include <tether/metrics/thread_metrics.hpp>
#include <tether/server/health.hpp>
#include <tether/server/metrics.hpp>
#include <tether/server/pubsub.hpp>
#include <tether/server/realtime.hpp>
#include <tether/server/routes.hpp>
#include <tether/server/secure_channel.hpp>
#include <tether/server/signals.hpp>
#include <tether/server/stats.hpp>
#include <tether/server/topic_registry.hpp>
#include <tether/server/upgrades.hpp>
#include <tether/sse/behaviour.hpp>
#include <tether/topic.hpp>
#include <tether/ws/behaviour.hpp>
#include <tether/ws/deflate_codec.hpp>
#if TETHER_HAS_TLS
#include <tether/net/tls/context.hpp>
#endif

namespace tether {

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
    using handler = route_handler;
    using long_poll_options = tether::long_poll_options;
    using short_poll_options = tether::short_poll_options;
    using running_upload = detail::upload_base;   // held by the HTTP connection while a body streams
    using head_outcome = tether::head_outcome;

    // A protocol switch accepted by a handler, carried out by the HTTP connection once the 101
    // response has been written (it owns the socket until then).
    struct thread_state;
    struct pending_upgrade {
        virtual ~pending_upgrade() = default;
        virtual void start(thread_state& thread, typename transport::socket&& socket, std::string early_bytes,
                           net::admission ticket) = 0;
    };

    template <class UserData = ws::no_user_data>
    using websocket_connection = net::ws_connection<basic_server, UserData>;
    template <class UserData = ws::no_user_data>
    using websocket_behaviour = ws::behaviour<websocket_connection<UserData>, UserData>;

    template <class UserData = sse::no_user_data>
    using sse_stream = net::sse_connection<basic_server, UserData>;
    template <class UserData = sse::no_user_data>
    using sse_behaviour = sse::behaviour<sse_stream<UserData>, UserData>;

    // Per I/O thread: the loop and wheel (io_thread), plus the scratch request and
    // response every connection on the thread reuses, since a thread runs one handler at a time.
    struct thread_state : net::io_thread {
        using net::io_thread::io_thread;
        http::request request;
        http::response response;
        http::date_cache dates;
        http::head_memo heads;   // of this second's plain responses: their heads are copied, not built
        http::byte_buffer output;   // lent to the connection answering a read turn (http_connection::output_loan)
        std::unique_ptr<pending_upgrade> upgrade;
        std::unique_ptr<net::deferred_work> deferred;   // set by a handler that holds its response
        net::connection_base* current = nullptr;        // the connection whose request is dispatched
        net::topic_groups groups;                       // this thread's reader group per topic
        detail::thread_counters stats;                  // server_stats (server/stats.hpp)
        metrics::thread_metrics metrics;                // the rest of /metrics (metrics/thread_metrics.hpp)
        // Last, so that adding it moved none of the members a request touches.
        basic_server* server = nullptr;                 // the server that made it (a connection's way back)

        template <class Policy>
        static net::group_base& group_for(thread_state& t, const hub::topic_handle& topic) {
            return t.groups.template for_topic<Policy>(topic, t);
        }
    };
    using topic_entry = typename topic_registry<thread_state>::entry;

    // Throws std::invalid_argument for impossible options, and net::tls::configuration_error
    // (a std::runtime_error naming the file) for certificates that cannot be used.
    explicit basic_server(server_options options = {})
        : options_(std::move(options)), trusted_proxies_(options_.trusted_proxies) {
        if (options_.threads == 0) throw std::invalid_argument("tether: server needs at least one I/O thread");
        if (!options_.tls.certificates.empty()) {
#if TETHER_HAS_TLS
            if constexpr (!transport_supports_tls)
                throw std::invalid_argument("tether: TLS certificates given, but Config::transport has no TLS (use transport::tls<...>)");
            tls_ = std::make_unique<net::tls::server_context>(options_.tls);
#else
            throw std::invalid_argument("tether: TLS certificates given, but tether was built without TLS (TETHER_WITH_TLS, OpenSSL 3)");
#endif
        } else if (options_.tls.redirect_port) {
            throw std::invalid_argument("tether: tls.redirect_port needs TLS certificates");
        }
        for (unsigned i = 0; i < options_.threads; ++i) {
            threads_.push_back(std::make_unique<thread_state>(i, net::uses_own_loop<transport>()));
            threads_.back()->server = this;
        }
        acceptor_.emplace(service_io_, logger_);
        if (options_.tls.redirect_port) redirect_acceptor_.emplace(service_io_, logger_);
    }
    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    // ---- routes (server/routes.hpp) ----------------------------------------------------
    basic_server& route(http::method m, std::string_view pattern, handler h) {
        routes_.add(m, pattern, std::move(h));
        return *this;
    }
    basic_server& get(std::string_view p, handler h) { return route(http::method::get, p, std::move(h)); }
    basic_server& post(std::string_view p, handler h) { return route(http::method::post, p, std::move(h)); }
    basic_server& put(std::string_view p, handler h) { return route(http::method::put, p, std::move(h)); }
    basic_server& patch(std::string_view p, handler h) { return route(http::method::patch, p, std::move(h)); }
    basic_server& del(std::string_view p, handler h) { return route(http::method::delete_, p, std::move(h)); }
    basic_server& options(std::string_view p, handler h) { return route(http::method::options, p, std::move(h)); }

    // A route that takes its body piece by piece as it arrives (http/body_stream.hpp): uploads
    // larger than memory. `State` is per request. Call before run().
    template <class State>
    basic_server& upload(http::method m, std::string_view pattern, http::body_stream<State> behaviour) {
        routes_.add_upload(m, pattern, std::make_shared<detail::upload_route<State>>(std::move(behaviour)));
        return *this;
    }

    // CORS for every route (see http/cors.hpp). Call before run().
    basic_server& cors(http::cors_options o) {
        routes_.cors(std::move(o));
        return *this;
    }

    // Middleware for every route, or for `prefix` and the paths under it (server/middleware.hpp).
    // Call before run().
    basic_server& use(middleware m) { return use("", std::move(m)); }
    basic_server& use(std::string prefix, middleware m) {
        routes_.use(std::move(prefix), std::move(m));
        return *this;
    }

    // A WebSocket endpoint (RFC 6455) at `pattern`; see ws/behaviour.hpp for the callbacks.
    template <class UserData = ws::no_user_data>
    basic_server& websocket(std::string_view pattern, websocket_behaviour<UserData> behaviour) {
        if (behaviour.permessage_deflate.mode != ws::deflate_mode::off && !ws::deflate_available)
            logger_.log(log::level::warning, "WebSocket route " + std::string(pattern) +
                                                 " asks for permessage-deflate, but tether was built without zlib"
                                                 " (TETHER_WITH_DEFLATE): offers will be declined");
        const auto& b = keep(std::move(behaviour));
        return get(pattern, [this, &b](http::request& req, http::response& res) {
            detail::accept_websocket<basic_server, UserData>(*this, b, req, res);
        });
    }

    // A Server-Sent Events endpoint driven by the application (see sse/behaviour.hpp): events
    // are sent through the stream, or its handle from any thread.
    template <class UserData = sse::no_user_data>
    basic_server& sse(std::string_view pattern, sse_behaviour<UserData> behaviour) {
        const auto& b = keep(std::move(behaviour));
        return get(pattern, [this, &b](http::request& req, http::response& res) {
            detail::accept_sse<basic_server, UserData>(*this, b, req, res);
        });
    }

    // ---- metrics and health (server/metrics.hpp, server/health.hpp) --------------------------
    // Serves the Prometheus text format at `path` and starts counting requests by route, method
    // and status class with their handling time (two clock reads per request; without this call
    // only the counters of stats() are kept). Call before run(); protect the path with app.use()
    // if it should not be public.
    basic_server& metrics(std::string_view path = "/metrics") {
        count_requests_ = true;
        return get(path, [this](http::request&, http::response& res) {
            std::string text;
            write_metrics(text);
            res.content_type(metrics::content_type).body(std::move(text));
        });
    }
    // The text /metrics answers. From a handler, or any thread once ready() was seen true.
    void write_metrics(std::string& out) const {
        detail::server_status status;
        status.ready = ready();
        if (serving()) status.uptime = std::chrono::steady_clock::now() - serving_since_;
        detail::write_metrics(out, threads_, routes_, topics_, status);
    }

    // Liveness and readiness routes (an empty path skips one); see server/health.hpp.
    basic_server& health(std::string_view liveness = "/healthz", std::string_view readiness = "/readyz",
                         health_options o = {}) {
        detail::register_health(*this, liveness, readiness, std::move(o));
        return *this;
    }
    // Serving (run() accepts connections) and not stopping: what readiness answers.
    bool ready() const noexcept { return serving() && !stopping(); }
    bool serving() const noexcept { return serving_.load(std::memory_order_acquire); }
    // The I/O thread that is latest now, and by how much (net/io_thread.hpp); nothing before run().
    struct thread_lag {
        unsigned thread;
        std::chrono::nanoseconds lag;
    };
    std::optional<thread_lag> loop_lag() const noexcept {
        std::optional<thread_lag> worst;
        auto now = std::chrono::steady_clock::now();
        for (const auto& t : threads_)
            if (auto lag = t->current_lag(now); lag && (!worst || *lag > worst->lag)) worst = thread_lag{t->index(), *lag};
        return worst;
    }

    // ---- topics --------------------------------------------------------------------------
    // Opens (or returns) the topic `name`. The policy decides what happens to a subscriber that
    // falls a whole history behind or over its byte budget: backpressure::disconnect,
    // drop_oldest (it is told exactly what it missed) or conflate (latest value per key).
    // Opening the same name with another policy throws std::logic_error.
    template <class Policy = backpressure::drop_oldest>
    tether::topic<Policy> topic(std::string_view name, topic_options options = {}) {
        return topics_.template open<Policy>(name, options);
    }
    // The topic named `name`, or nullptr. Any thread.
    const topic_entry* find_topic(std::string_view name) const { return topics_.find(name); }

    // Topics opened from now on without a backplane of their own are ordered by `b` (for example a
    // tether::redis::backplane): every server sharing it serves them as one. `b` must outlive the
    // server. Call before opening the topics.
    basic_server& use_backplane(tether::backplane& b) {
        topics_.use_backplane(&b);
        return *this;
    }

    // A WebSocket endpoint speaking tether's JSON control protocol (server/pubsub.hpp).
    // `UserData` is what `authorize` fills per connection and the topic rules then see.
    template <class UserData = ws::no_user_data>
    basic_server& pubsub(std::string_view pattern, pubsub_options<UserData> options = {}) {
        using session = pubsub_session<UserData>;
        const auto& o = keep(std::move(options));
        websocket_behaviour<session> b;
        b.origins = o.origins;
        b.max_message_size = o.max_message_size;
        b.max_message_rate = o.max_message_rate;
        b.permessage_deflate = o.permessage_deflate;
        if (o.authorize) b.on_upgrade = [&o](const http::request& req, session& s) { o.authorize(req, s.user); };
        b.on_message = [this, &o](websocket_connection<session>& ws, std::string_view text, ws::opcode) {
            detail::handle_control_message(*this, o, ws, text);
        };
        return websocket<session>(pattern, std::move(b));
    }

    // SSE over topics: `app.sse("/events", prices)` streams every message of `prices`, resumed
    // from Last-Event-ID (or ?lastEventId= on a first connect).
    template <class... Policies>
    basic_server& sse(std::string_view pattern, const tether::topic<Policies>&... topics) {
        sse_behaviour<> b;
        (b.topics.push_back(std::string(topics.name())), ...);
        return sse(pattern, std::move(b));
    }

    // Long and short polling over a topic (poll/long_poll.hpp, poll/short_poll.hpp).
    template <class Policy>
    basic_server& long_poll(std::string_view pattern, const tether::topic<Policy>& t, long_poll_options o = {}) {
        return get(pattern, poll::long_poll_handler<basic_server, Policy>(*this, t.handle(), o));
    }
    template <class Policy>
    basic_server& short_poll(std::string_view pattern, const tether::topic<Policy>& t, short_poll_options o = {}) {
        return get(pattern, poll::short_poll_handler<Policy>(*this, t.handle(), o));
    }

    // Every route tether.js expects for these topics: /ws, /sse/{topic}, /poll/{topic},
    // /status/{topic} and /tether.js (server/realtime.hpp). Call once per server.
    // With realtime_options<UserData>, authorize fills UserData for can_subscribe/can_publish.
    template <class... Policies>
    basic_server& realtime(const tether::topic<Policies>&... topics) {
        return realtime(realtime_options<>{}, topics...);
    }
    template <class... Policies>
    basic_server& realtime(realtime_options<> o, const tether::topic<Policies>&... topics) {
        detail::register_realtime(*this, std::move(o), topics...);
        return *this;
    }
    template <class UserData, class... Policies>
    basic_server& realtime(realtime_options<UserData> o, const tether::topic<Policies>&... topics) {
        detail::register_realtime(*this, std::move(o), topics...);
        return *this;
    }

    // ---- lifecycle ---------------------------------------------------------------------
    // Binds and listens. Throws std::system_error naming the address when that fails.
    void listen() {
        if (acceptor_->listening()) return;
        admission_.configure({options_.max_connections, options_.max_connections_per_address,
                              options_.max_streams_per_address, options_.stream_reserve,
                              options_.exempt_loopback_from_address_caps},
                             net::raise_descriptor_limit([this](const std::string& note) { logger_.log(log::level::info, note); }));
        port_ = acceptor_->listen(options_.host, options_.port);
        if (redirect_acceptor_) redirect_port_ = redirect_acceptor_->listen(options_.host, *options_.tls.redirect_port);
    }

    std::uint16_t port() const noexcept { return port_; }
    // The plaintext listener that redirects to https (tls.redirect_port), or 0.
    std::uint16_t redirect_port() const noexcept { return redirect_port_; }
    bool tls_enabled() const noexcept { return !options_.tls.certificates.empty(); }
    std::string url() const { return (tls_enabled() ? "https://" : "http://") + options_.host + ":" + std::to_string(port_); }

    // Reads the TLS certificate and key files again, from any thread: connections that are open
    // keep the certificate they have, new ones get the new one, and session tickets issued
    // before stay valid. Throws (keeping the old certificates) when the new files are unusable,
    // std::logic_error when the server has no TLS.
    void reload_certificates() {
#if TETHER_HAS_TLS
        if (tls_) return tls_->reload();
#endif
        throw std::logic_error("tether: reload_certificates() on a server without TLS");
    }
    const server_options& options() const noexcept { return options_; }
    const logger_type& logger() const noexcept { return logger_; }

    // Serves until stop(); the calling thread becomes I/O thread 0. Call once.
    void run() {
        listen();
        if (options_.handle_signals) watch_signals();
        // Routes are all registered by now: each thread's request table gets a row per pattern,
        // before any other thread can read it (readers wait for serving()).
        if (count_requests_)
            for (auto& t : threads_) t->metrics.requests.size_for(routes_.route_count());
        for (auto& t : threads_) t->start_ticking();
        acceptor_->start([this](net::owned_fd fd, const sockaddr_storage& peer) { admit(std::move(fd), peer, tls_enabled()); });
        if (redirect_acceptor_)
            redirect_acceptor_->start([this](net::owned_fd fd, const sockaddr_storage& peer) { admit(std::move(fd), peer, false); });
        serving_since_ = std::chrono::steady_clock::now();
        serving_.store(true, std::memory_order_release);
        std::thread service([this] { run_service(); });
        std::vector<std::thread> others;
        for (std::size_t i = 1; i < threads_.size(); ++i)
            others.emplace_back([this, i] { run_thread(*threads_[i]); });
        run_thread(*threads_[0]);
        for (auto& t : others) t.join();
        service.join();
    }

    // A token that is asked to stop when the server begins to stop (stop(), or SIGINT/SIGTERM with
    // handle_signals): give it to your own threads so they end with the server, e.g.
    //   std::jthread feed([&, stop = app.stop_token()] { while (!stop.stop_requested()) publish(); });
    // (a std::thread still running when main returns would terminate the program).
    std::stop_token stop_token() const noexcept { return stop_source_.get_token(); }

    // Graceful stop; callable from any thread, any number of times.
    void stop() {
        if (stopping_.exchange(true)) return;
        stop_source_.request_stop();
        acceptor_->stop();
        if (redirect_acceptor_) redirect_acceptor_->stop();
        asio::post(service_io_, [this] {
            if (signals_) signals_->cancel();
        });
        for (auto& t : threads_) t->post([this, state = t.get()] { state->drain(options_.drain_timeout); });
    }

    bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }

    server_stats stats() const noexcept {
        server_stats s;
        for (auto& t : threads_) t->stats.add_to(s);
        s.ws_broadcast_compressions = topics_.ws_compressions();
        return s;
    }

    // ---- used by connections and endpoints (on their own thread) ----------------------------
    void dispatch(http::request& req, http::response& res) { dispatch(current_thread(), req, res); }
    // The same, from a connection that knows its thread (`t` is the calling thread's own state).
    // Inline in the connection that asks: on a cleartext server a request goes from there to its route's frame
    // (route_table::dispatch), and a frame of its own here was ~2 % of a pipelined request's instructions.
    [[gnu::always_inline]] void dispatch(thread_state& t, http::request& req, http::response& res) {
        if (tls_enabled()) [[unlikely]]
            return dispatch_secure(t, req, res);
        routes_.dispatch(req, res, t.stats);
    }
    // Streamed bodies (server/uploads.hpp), driven by the HTTP connection. Its parser pauses at
    // heads only when some route takes its body streamed.
    bool has_uploads() const noexcept { return routes_.has_uploads(); }
    head_outcome open_upload(http::request& req, http::response& res, std::unique_ptr<running_upload>& out) {
        thread_state& t = current_thread();
        if (tls_enabled() && channel(t) != net::channel::tls) {   // redirected or refused: the body is not wanted
            dispatch(req, res);
            return head_outcome::answered;
        }
        auto outcome = routes_.open_upload(req, res, t.stats, out);
        if (outcome == head_outcome::answered) add_hsts(t, res);
        return outcome;
    }
    bool upload_data(running_upload& u, std::string_view piece, http::body_flow& flow, http::response& res) {
        thread_state& t = current_thread();
        if (routes_.upload_data(u, piece, flow, res, t.stats)) return true;
        add_hsts(t, res);
        return false;
    }
    void end_upload(running_upload& u, http::response& res) {
        thread_state& t = current_thread();
        routes_.end_upload(u, res, t.stats);
        add_hsts(t, res);
    }
    void abort_upload(running_upload& u) { routes_.abort_upload(u, current_thread().stats); }

    // Just before a response is written: the middleware's `after` hooks.
    void finish(const http::request& req, http::response& res) { routes_.finish(req, res, current_thread().stats); }
    bool has_after_hooks() const noexcept { return routes_.has_after_hooks(); }

    void count_rejection(int status) noexcept {
        auto& thread = current_thread();
        thread.stats.rejected.add();
        if (status == 408) thread.stats.timeouts.add();
        thread.metrics.rejection(status);
    }

    // The one error body shape (http/error.hpp).
    static void write_error(http::response& res, int status, std::string_view message) {
        http::write_error(res, status, message);
    }

    // The server-wide budget for bytes of unfinished requests (max_buffered_request_bytes).
    bool charge_buffered_input(std::size_t bytes) noexcept {
        auto total = buffered_input_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
        if (total <= options_.max_buffered_request_bytes) return true;
        buffered_input_.fetch_sub(bytes, std::memory_order_relaxed);
        return false;
    }
    void release_buffered_input(std::size_t bytes) noexcept { buffered_input_.fetch_sub(bytes, std::memory_order_relaxed); }
    std::size_t buffered_input() const noexcept { return buffered_input_.load(std::memory_order_relaxed); }

    thread_state& current_thread() noexcept { return *current_thread_state(); }
    poll::held_polls& held_long_polls() noexcept { return held_polls_; }
    const http::trusted_proxies& trusted_proxies() const noexcept { return trusted_proxies_; }
    const net::admission_control& admission() const noexcept { return admission_; }

    // Makes the request being dispatched a stream (WebSocket, SSE, a held long poll) if the
    // stream caps allow; else answers 503 (server-wide) or 429 (this client) and returns false.
    bool admit_stream(http::request& req, http::response& res) {
        auto& thread = current_thread();
        if (!thread.current) return true;
        auto refused = admission_.admit_stream(thread.current->ticket, thread.current->client_key(req));
        if (refused == net::refusal::none) return true;
        thread.stats.refused_streams.add();
        thread.metrics.refused_streams[refused == net::refusal::streams_full ? 0 : 1].add();
        res.clear();
        if (refused == net::refusal::streams_full) {
            http::write_error(res, 503, "server busy: too many streams open");
            res.header("Retry-After", "5");
        } else {
            http::write_error(res, 429, "too many streams open from this client");
            res.header("Retry-After", "5");
        }
        return false;
    }
    // A held long poll was answered: the connection is plain HTTP again.
    void release_stream(net::admission& ticket) noexcept { admission_.release_stream(ticket); }

private:
    static net::channel channel(const thread_state& t) noexcept {
        return t.current ? t.current->security() : net::channel::cleartext;
    }
    void add_hsts(const thread_state& t, http::response& res) {
        if (tls_enabled() && !options_.tls.hsts.empty() && channel(t) == net::channel::tls)
            res.header("Strict-Transport-Security", options_.tls.hsts);
    }

    // A request on a TLS server: served if it came over TLS, else refused or redirected (server/secure_channel.hpp).
    [[gnu::noinline]] void dispatch_secure(thread_state& t, http::request& req, http::response& res) {
        switch (channel(t)) {
        case net::channel::tls:
            routes_.dispatch(req, res, t.stats);
            if (!options_.tls.hsts.empty()) res.header("Strict-Transport-Security", options_.tls.hsts);
            return;
        case net::channel::cleartext_on_tls_port:
            t.stats.rejected.add();
            t.metrics.rejection(400);
            return detail::refuse_cleartext_on_tls_port(res);
        case net::channel::cleartext: return detail::redirect_to_https(req, res, options_.host, port_);
        }
    }

    static thread_state*& current_thread_state() noexcept {
        thread_local thread_state* state = nullptr;
        return state;
    }

    // Objects routes refer to for the server's lifetime (behaviours, options).
    template <class T>
    const T& keep(T&& value) {
        auto owned = std::make_shared<T>(std::move(value));
        const T& ref = *owned;
        kept_alive_.push_back(std::move(owned));
        return ref;
    }

    static constexpr bool transport_supports_tls = requires { typename transport::session_type; };

    // On the acceptor's thread: a connection within the caps goes to the next I/O thread,
    // round-robin, and becomes a connection there (a TLS one when it came from the TLS
    // listener); one over them is told so and closed.
    void admit(net::owned_fd fd, const sockaddr_storage& peer, bool tls) {
        auto address = net::address_key::from(peer);
        net::admission ticket;
        if (auto refused = admission_.admit_connection(address, trusted_proxies_.contains(address), ticket);
            refused != net::refusal::none) {
            threads_[0]->stats.refused_connections.add();
            threads_[0]->metrics.refused_connections[refused == net::refusal::server_full ? 0 : 1].add();
            // Best effort, never blocking: a new socket's send buffer is empty, so this short answer
            // fits; a client that cannot take it gets the close alone.
            static constexpr std::string_view busy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
                "Connection: close\r\nContent-Length: 65\r\n\r\n"
                "{\"error\":{\"status\":503,\"message\":\"too many connections, retry\"}}\n";
            net::send_and_close(fd.release(), busy);
            return;
        }
        thread_state& target = *threads_[next_thread_];
        next_thread_ = (next_thread_ + 1) % threads_.size();
        target.post([this, &target, tls, owned = std::move(fd), t = std::move(ticket)]() mutable {
            if (target.draining()) return;
            std::error_code e;
            auto socket = adopt(target, owned.release(), tls, e);
            if (e) return logger_.log(log::level::warning, "cannot serve an accepted connection: " + e.message());
            target.stats.connections.add();
            (new net::http_connection<basic_server>(*this, target, std::move(socket), std::move(t)))->start();
        });
    }

    typename transport::socket adopt(thread_state& target, int fd, [[maybe_unused]] bool tls, std::error_code& e) {
#if TETHER_HAS_TLS
        if constexpr (transport_supports_tls)
            if (tls) return transport::adopt(target, fd, tls_->acquire(), e);
#endif
        return transport::adopt(target, fd, e);
    }

    void run_thread(thread_state& t) {
        current_thread_state() = &t;
        run_logging_exceptions("I/O thread", [&t] { t.run(); });
        current_thread_state() = nullptr;
    }

    // The listeners and the signal watch, on asio (the resolver, accept's edge and a signal are
    // rare next to the I/O threads' work, which runs on their own loops): done once the
    // listeners have closed and the watch is cancelled, both in stop().
    void run_service() {
        run_logging_exceptions("service thread", [this] { service_io_.run(); });
    }

    // Runs `loop` until it returns; an exception a handler let through is logged and the loop
    // goes on with what is left (both loops allow being run again after one).
    template <class Loop>
    void run_logging_exceptions(const char* thread, Loop loop) {
        for (;;) {
            try {
                loop();
                return;
            } catch (const std::exception& e) {
                logger_.log(log::level::error, std::string(thread) + " caught: " + e.what());
            }
        }
    }

    void watch_signals() {
        std::function<void()> reload;
        if (tls_enabled()) reload = [this] { reload_certificates(); };
        signals_ = std::make_unique<signal_watch>(
            service_io_, [this] { stop(); }, std::move(reload),
            [this](log::level l, std::string_view text) { logger_.log(l, text); });
    }

    server_options options_;
    logger_type logger_{};
    route_table<logger_type> routes_{logger_};
    topic_registry<thread_state> topics_{options_.max_history_bytes};
    poll::held_polls held_polls_;
    http::trusted_proxies trusted_proxies_;
    net::admission_control admission_;
    std::vector<std::unique_ptr<thread_state>> threads_;
    asio::io_context service_io_{1};   // run_service(): before what runs on it, so it outlives them
    std::optional<net::acceptor<logger_type>> acceptor_;
    std::optional<net::acceptor<logger_type>> redirect_acceptor_;   // tls.redirect_port
#if TETHER_HAS_TLS
    std::unique_ptr<net::tls::server_context> tls_;
#endif
    std::unique_ptr<signal_watch> signals_;   // handle_signals (server/signals.hpp)
    std::vector<std::shared_ptr<const void>> kept_alive_;
    std::size_t next_thread_ = 0;   // touched only on the service thread, which accepts
    std::uint16_t port_ = 0, redirect_port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> serving_{false};               // run() accepts: set once, before the other threads start
    std::chrono::steady_clock::time_point serving_since_{};
    bool count_requests_ = false;                    // app.metrics() was called
    std::stop_source stop_source_;
    std::atomic<std::size_t> buffered_input_{0};   // bytes of unfinished requests, all connections
};

using server = basic_server<>;

// The spelling app.upload's behaviour is usually written with (http/body_stream.hpp).
template <class State>
using body_stream = http::body_stream<State>;
using http::body_flow;

} // namespace tether
