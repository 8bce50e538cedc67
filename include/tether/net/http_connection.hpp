#pragma once
// One HTTP/1.1 connection: moves bytes between the socket and the parser, hands complete
// requests to the server's dispatcher, and writes responses back in request order.
//
// Reading: wait for readability, then read without blocking into the thread's shared buffer
// and parse straight from it; only the bytes of an unfinished request are copied into the
// connection (`pending_input_`), so an idle keep-alive connection holds no buffer at all.
// A short read tells the socket its receive queue is empty, so the next wait waits at once
// instead of spending a read on EAGAIN: with the epoll transport two system calls per request
// (read, write) plus a share of one epoll_wait per loop turn (asio's async_wait would add an
// EPOLL_CTL_MOD per wait: see net/epoll_reactor.hpp).
//
// Writing: responses to every request parsed from one read are appended to one buffer and
// sent with one write (pipelining costs one syscall per batch, not per request); a write is
// attempted at once and only waits for writability when the socket is full.
//
// Closing after an error response uses a lingering close (RFC 9112 §9.6): shut down our
// sending side, then discard input for a moment, so the client reads the 4xx instead of a
// reset caused by unread pipelined bytes.
//
// Streamed bodies (app.upload, http/body_stream.hpp): when the server has such routes the parser
// pauses at each head that has a body behind it, and the route decides there (server/routes.hpp
// open_upload). A streamed body's pieces go to the upload as views into the bytes just read, and
// nothing of them is kept; the next read waits until on_data returns, or until a paused upload is
// resumed (net/upload_slot.hpp), which is the backpressure. Its deadline is `idle_timeout` without
// a byte rather than one for the whole body.
//
// (Over ~450 lines: reading, parsing, answering in order, held replies and streamed bodies all turn
// on the same few fields, the input buffer and the parser's state, and split apart they would
// have to share them through an interface as wide as the class.)
#include <asio.hpp>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <tether/http/byte_buffer.hpp>
#include <tether/http/forwarded.hpp>
#include <tether/http/parser.hpp>
#include <tether/http/response.hpp>
#include <tether/http/serializer.hpp>
#include <tether/metrics/thread_metrics.hpp>
#include <tether/net/deferred.hpp>
#include <tether/net/deferred_reply.hpp>
#include <tether/net/io_thread.hpp>
#include <tether/net/upload_slot.hpp>
#include <tether/net/would_block.hpp>

namespace tether::net {

template <class Server>
class http_connection final : public connection_base,
                              private responder,
                              private http::client_source,
                              private http::response_deferral,
                              private pacing_target {
    using transport = typename Server::transport;
    using socket_type = typename transport::socket;
    using thread_state = typename Server::thread_state;
    using head_outcome = typename Server::head_outcome;

public:
    http_connection(Server& server, thread_state& thread, socket_type socket, admission held)
        : server_(server), thread_(thread), socket_(std::move(socket)), parser_(server.options().limits),
          upload_(thread, *this) {
        ticket = std::move(held);
        thread_.add(*this);
        thread_.stats.http_open.add();
        parser_.pause_at_head(server.has_uploads());
    }

    void start() {
        std::error_code ec;
        transport::prepare(socket_, ec);
        if (ec) return close();
        arm_deadline(server_.options().header_timeout);
        wait_readable();
    }

    void begin_drain() override {
        draining_ = true;
        if (deferred_) return complete_deferred(true);   // answer the held request now, then close
        if (!has_partial_request() && !output_pending()) close();
    }

    std::string peer_address() const override { return peer_key().to_string(); }

    address_key client_key(const http::request& req) const override {
        return http::client_address(req, peer_key(), server_.trusted_proxies());
    }
    void force_close() override { close(); }
    net::channel security() const noexcept override { return net::channel_of<transport>(socket_); }

private:
    enum class phase : unsigned char { idle, header, body, streaming, paused, held, sending, lingering, closed };

    // The peer's address: kept by the admission ticket, or (a trusted proxy's connection, which
    // the per-address caps skip) asked of the socket.
    address_key peer_key() const {
        if (auto known = ticket.peer()) return *known;
        std::error_code ec;
        auto endpoint = socket_.remote_endpoint(ec);
        if (ec) return {};
        sockaddr_storage storage{};
        std::memcpy(&storage, endpoint.data(), endpoint.size());
        return address_key::from(storage);
    }
    std::string client_address(const http::request& req) const override { return client_key(req).to_string(); }

    // res.defer(): the handler finishes this response later, from any thread (net/deferred_reply.hpp).
    http::deferred_response defer(http::response&, std::chrono::milliseconds timeout) override {
        auto& counters = thread_.stats;
        counters.deferred_replies.add();
        auto channel = std::make_shared<reply_channel>(
            thread_.gate(), reply_counters{&counters.late_replies, &counters.reply_timeouts, &counters.abandoned_replies});
        auto work = std::make_unique<reply_work>(channel, timeout.count() > 0 ? timeout : server_.options().reply_timeout);
        if (answering_) work->path.assign(answering_->path());
        thread_.deferred = std::move(work);
        return http::deferred_response(std::move(channel));
    }

    // ---- reading -------------------------------------------------------------------------
    void wait_readable() {
        if (reading_ || phase_ == phase::closed || upload_.paused()) return;   // paused: the upload's backpressure
        reading_ = true;
        ++pending_ops_;
        transport::async_wait_readable(socket_, [this](std::error_code ec) { on_readable(ec); });
    }

    void on_readable(std::error_code ec) {
        op_guard guard(*this);
        reading_ = false;
        if (phase_ == phase::closed) return;
        if (ec) return close();

        output_loan loan(out_, thread_.output);   // after the guard: given back before the connection may go
        char* buffer = thread_.read_buffer();
        for (int round = 0; round < max_reads_per_turn; ++round) {
            std::size_t n = transport::read_some(socket_, buffer, io_thread::read_buffer_size, ec);
            if (net::would_block(ec)) break;
            if (ec) {   // EOF or reset: answer what was complete, then go
                peer_closed_ = true;
                if (phase_ == phase::lingering || !output_pending()) return close();
                close_after_write_ = true;
                break;
            }
            if (phase_ == phase::lingering) {
                if ((lingered_bytes_ += n) > max_linger_bytes) return close();
                continue;
            }
            consume(std::string_view{buffer, n});
            if (phase_ == phase::closed) return;
            if (close_after_write_ || output_backlogged() || upgrade_ || upload_.paused()) break;
            if (n < io_thread::read_buffer_size) break;   // short read: the socket is very likely drained
        }
        flush();
        if (phase_ == phase::closed) return;
        bool held_input_full = deferred_ && pending_input_.size() > max_held_input;
        // Not while a 101 waits to be written: the socket then moves to the upgraded connection,
        // and a read wait armed here would travel with it and be overwritten there.
        if (!close_after_write_ && !peer_closed_ && !output_backlogged() && !held_input_full && !upgrade_) wait_readable();
        if (phase_ == phase::lingering && !peer_closed_) wait_readable();
    }

    // Parses and answers every complete request in `fresh` (plus any earlier partial bytes).
    void consume(std::string_view fresh) {
        if (deferred_ || held_back_ || upload_.paused()) {   // later bytes wait their turn behind the held one
            pending_input_.append(fresh);
        } else if (pending_input_.empty()) {
            std::size_t used = process(fresh);
            if (used < fresh.size() && !close_after_write_) {
                pending_input_.assign(fresh.substr(used));
                drop_decoded_body_bytes();
            }
        } else {
            pending_input_.append(fresh);
            parse_pending();
        }
        if (pending_input_.empty() && pending_input_.capacity() > keep_capacity) std::string{}.swap(pending_input_);
        reserve_known_body();
        account_buffered_input();
    }

    // A body of known length (Content-Length, at most limits.max_body_bytes; RFC 9112 §6.2: the
    // field gives the body's exact size before any of it arrives) gets its whole buffer at once
    // instead of growing by doubling: no reallocation copies, and none of the
    // freed intermediate blocks an allocator keeps resident (the attack bench saw 500 stalled
    // uploads leave 30 MiB behind that way). The reserve is charged in full (by capacity, in
    // account_buffered_input): a reused block may be resident before any byte reaches it.
    void reserve_known_body() {
        std::size_t total = parser_.expected_request_size();
        if (total != 0 && !deferred_ && !held_back_ && pending_input_.size() < total && pending_input_.capacity() < total)
            pending_input_.reserve(total);
    }

    // Parses what waited in pending_input_ (a partial request now extended, or requests held
    // back behind a deferred response or an output backlog).
    void parse_pending() {
        held_back_ = false;
        std::size_t used = process(pending_input_);
        pending_input_.erase(0, used);
        drop_decoded_body_bytes();
    }

    // A chunked body is decoded as it arrives; its raw framing (sizes, extensions, data already
    // copied) leaves the buffer at once, so what a connection holds is bounded by the header
    // section, the decoded body and one partial line, not by how the body was chunked.
    void drop_decoded_body_bytes() {
        if (std::size_t n = parser_.raw_body_decoded()) {
            pending_input_.erase(parser_.raw_body_start(), n);
            parser_.raw_body_erased();
        }
    }

    // Every byte of an unfinished request this connection holds is charged to the server-wide
    // budget (server_options::max_buffered_request_bytes): many stalled uploads or slow header
    // sections together cannot pin unbounded memory. Past it the request is refused with 503.
    // Charged by capacity, not size: a string that grew by doubling holds up to twice what it
    // stores, and the budget is about memory (the attack bench saw RSS reach twice the budget
    // when sizes were charged).
    void account_buffered_input() {
        std::size_t held = phase_ == phase::closed || pending_input_.empty() ? 0 : pending_input_.capacity();
        if (phase_ != phase::closed) held += parser_.decoded_body_capacity();
        if (held == charged_input_) return;
        if (held < charged_input_) {
            server_.release_buffered_input(charged_input_ - held);
        } else if (!server_.charge_buffered_input(held - charged_input_)) {
            server_.count_rejection(503);
            thread_.metrics.hit(metrics::budget::buffered_request_bytes);
            if (deferred_) return close();   // an answer now would overtake the held one
            respond_error(503, "server busy: too many unfinished requests");
            return;   // respond_error dropped the input; nothing more is charged
        }
        charged_input_ = held;
    }

    std::size_t process(std::string_view data) {
        std::size_t offset = 0;
        auto& req = thread_.request;
        // The clock is read once per batch of requests, like nginx's time per loop turn: its page is rewritten by
        // every timer tick, so reading it is often a cache miss (perf put ~4 % of a pipelined request's user time
        // after that call). A batch's answers carry the Date of its start, the best available approximation
        // (RFC 9110 §6.6.1) unless its handlers run for a second or more.
        thread_.dates.now();
        // A streamed body may end without another byte (its last piece ended `data`): ask once more.
        while (!close_after_write_ && (offset < data.size() || parser_.streaming_body())) {
            // Output over its budget (a client pipelining requests without reading answers):
            // parse nothing more until it drains; flush() comes back for the rest.
            if (output_backlogged()) {
                held_back_ = true;
                break;
            }
            // offset ≤ data.size() here (the loop's condition, or a streamed body's final call at the end):
            // no substr, whose range check gcc kept as an out-of-line call per request.
            auto status = parser_.parse(std::string_view{data.data() + offset, data.size() - offset}, req);
            if (status == http::parse_status::body) {
                offset += parser_.consumed();
                if (!take_piece()) break;   // on_data threw, or paused
                continue;
            }
            if (status == http::parse_status::need_more) {
                offset += parser_.consumed();   // a streamed body's framing; otherwise 0
                if (parser_.awaiting_body_after_continue() && !sent_continue_) {
                    out_.append(http::continue_response);
                    sent_continue_ = true;
                }
                break;
            }
            if (status == http::parse_status::head) {
                if (!on_head(req)) break;
                offset += parser_.consumed();   // streamed: the header section, which the upload copied
                continue;
            }
            if (status == http::parse_status::error) {
                server_.count_rejection(parser_.error().status);
                respond_error(parser_.error().status, parser_.error().reason);
                break;
            }
            if (upload_) end_upload();
            else respond(req);
            offset += parser_.consumed();
            parser_.reset();
            sent_continue_ = false;
            if (upgrade_) break;     // what follows belongs to the upgraded protocol
            if (deferred_) break;    // answer in order: nothing more until the held one is done
        }
        return offset;
    }

    // A freshly parsed request, before anything looks at it. Returns whether `after` hooks exist.
    bool admit_request(http::request& req) {
        req.set_client_source(this);
        req.clear_attributes();
        const bool after_hooks = server_.has_after_hooks();
        // Handling time for the metrics (when app.metrics() asked for them), from here to the
        // response's serialization: two clock reads per request.
        if (after_hooks || thread_.metrics.requests.enabled()) req.set_received_at(std::chrono::steady_clock::now());
        return after_hooks;
    }

    // The thread's response, ready to answer `req` (a parsed request, or an upload's head).
    http::response& begin_answer(const http::request& req) {
        auto& res = thread_.response;
        res.clear();
        res.set_deferral(this);
        thread_.current = this;
        answering_ = &req;
        return res;
    }

    void respond(http::request& req) {
        const bool after_hooks = admit_request(req);
        auto& res = begin_answer(req);
        thread_.metrics.in_flight.add();   // until settle() answers it, or its held reply is done
        server_.dispatch(thread_, req, res);
        settle(req, res, after_hooks);
    }

    // The handler returned: hold its deferred reply, or start its protocol switch, or run the
    // `after` hooks and serialize its answer. Inline in its callers for the usual answer, which has none of
    // the three: the frame of a call was ~2 % of a pipelined request's instructions.
    [[gnu::always_inline]] void settle(const http::request& req, http::response& res, bool after_hooks) {
        thread_.current = nullptr;
        answering_ = nullptr;
        if (thread_.deferred || thread_.upgrade || after_hooks) [[unlikely]]
            return settle_held_switched_or_hooked(req, res, after_hooks);
        write_answer(req, res);
    }
    void settle_held_switched_or_hooked(const http::request& req, http::response& res, bool after_hooks) {
        // The handler deferred its reply, then threw: the error answer it got stands.
        if (thread_.deferred && thread_.deferred->from_handle && !res.deferred()) thread_.deferred.reset();
        if (thread_.deferred) {   // a held response (long polling, res.defer()): filled when its work wakes us
            deferred_ = std::move(thread_.deferred);
            deferred_->kept_fields.assign(res.fields());
            if (after_hooks) deferred_->request = std::make_unique<http::request_copy>(req);
            deferred_->route_id = req.route_id();
            deferred_->method = req.method();
            deferred_->received_at = req.received_at();
            deferred_version_minor_ = static_cast<unsigned char>(req.version_minor());
            deferred_keep_alive_ = req.keep_alive();
            deferred_->start(*this);
            return;   // in flight until answered (complete_deferred) or its connection goes (close)
        }
        if (thread_.upgrade) {   // the handler accepted a protocol switch (WebSocket)
            if (res.status() == 101 || (res.streaming() && res.status() == 200)) upgrade_ = std::move(thread_.upgrade);
            thread_.upgrade.reset();
        }
        if (after_hooks) server_.finish(req, res);
        write_answer(req, res);
    }
    // Serializes the answer to `req` into the output and counts it.
    [[gnu::always_inline]] void write_answer(const http::request& req, http::response& res) {
        // stopping() as well as draining_: stop() reaches this thread by a post, which may run
        // only after a slow handler; the response it produces must already say close.
        http::serialize_context ctx{req.version_minor(), req.method() == http::method::head,
                                    req.keep_alive() && !draining_ && !server_.stopping(), thread_.dates.recent(),
                                    &thread_.heads, thread_.dates.second()};
        if (!http::serialize(res, out_, ctx)) close_after_write_ = true;
        thread_.metrics.in_flight.sub();
        answered(req.route_id(), req.method(), res.status(), req.received_at());
    }

    // A request's response is serialized: counted by route, method and status class with its
    // handling time. (In flight is kept by respond(), end_upload() and settle(): a streamed upload
    // counts from its body's end, when its handler answers.)
    void answered(std::uint32_t route, http::method m, int status, std::chrono::steady_clock::time_point received) {
        if (!thread_.metrics.requests.enabled()) return;
        auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - received).count();
        thread_.metrics.requests.observe(route, m, status, static_cast<std::uint64_t>(took < 0 ? 0 : took));
    }

    void respond_error(int status, std::string_view reason) {
        abort_upload();   // a streamed body that broke off or timed out: its handler cleans up first
        auto& res = thread_.response;
        res.clear();
        Server::write_error(res, status, reason);
        answer_and_close(res, 1, false);
    }

    // Writes `res` as the last answer on this connection: whatever else the client sent is not read.
    void answer_and_close(http::response& res, int version_minor, bool head) {
        res.close();
        http::serialize(res, out_, {version_minor, head, false, thread_.dates.now()});
        close_after_write_ = true;
        std::string{}.swap(pending_input_);
        parser_.release_memory();
        if (charged_input_) server_.release_buffered_input(std::exchange(charged_input_, 0));
    }

    // ---- streamed bodies ---------------------------------------------------------------
    // A header section with a body behind it (only on servers with streamed-body routes): the route
    // streams it, refuses it before it is read, or leaves it to be buffered as usual.
    bool on_head(http::request& req) {
        const bool after_hooks = admit_request(req);
        auto& res = begin_answer(req);
        res.set_deferral(nullptr);   // nothing is held at a head: res.defer() there throws
        auto outcome = server_.open_upload(req, res, upload_.holder());
        thread_.current = nullptr;
        answering_ = nullptr;
        if (outcome == head_outcome::answered) {
            if (after_hooks) server_.finish(req, res);
            answer_and_close(res, req.version_minor(), req.method() == http::method::head);
            answered(req.route_id(), req.method(), res.status(), req.received_at());
            return false;
        }
        const bool streamed = outcome == head_outcome::stream;
        const auto limit = streamed ? upload_->max_body_bytes : server_.options().limits.max_body_bytes;
        if (!parser_.begin_body(limit, streamed ? http::body_delivery::streamed : http::body_delivery::buffered)) {
            server_.count_rejection(413);
            respond_error(413, parser_.error().reason);
            return false;
        }
        if (streamed && req.expects_continue()) {   // on_start accepted: now the client may send (RFC 9110 §10.1.1)
            out_.append(http::continue_response);
            sent_continue_ = true;
        }
        return true;
    }

    // Hands the piece the parser just returned to the upload. False when the loop must stop: on_data
    // threw (answered) or paused.
    bool take_piece() {
        auto& res = thread_.response;
        res.clear();
        thread_.current = this;
        const bool ok = upload_.deliver([&](http::body_flow& flow) {
            return server_.upload_data(*upload_, parser_.body_piece(), flow, res);
        });
        thread_.current = nullptr;
        if (ok) return !upload_.paused();
        auto upload = upload_.release();
        server_.abort_upload(*upload);
        if (server_.has_after_hooks()) server_.finish(upload->request(), res);
        answer_and_close(res, upload->request().version_minor(), false);
        const auto& req = upload->request();
        answered(req.route_id(), req.method(), res.status(), req.received_at());
        return false;
    }

    // The body is whole: on_end answers like any handler.
    void end_upload() {
        auto upload = upload_.release();   // its State lives until on_end returns
        auto& req = upload->request();
        auto& res = begin_answer(req);
        thread_.metrics.in_flight.add();
        server_.end_upload(*upload, res);
        settle(req, res, server_.has_after_hooks());
    }

    void abort_upload() {
        if (auto upload = upload_.release()) server_.abort_upload(*upload);
    }

    // pacing_target: the paused upload's handle spoke (on this thread, by a post).
    void paced(verdict v, int status, std::string message) override {
        ++pending_ops_;
        op_guard guard(*this);
        upload_.resumed();
        if (phase_ == phase::closed || !upload_) return;
        if (v == verdict::resume) {
            parse_pending();   // what arrived behind the paused piece, and perhaps the body's end
            account_buffered_input();
        } else {
            respond_error(status >= 400 && status <= 599 ? status : 500, message);
        }
        flush();
        if (phase_ != phase::closed && !close_after_write_ && !peer_closed_) wait_readable();
    }

    bool has_partial_request() const noexcept { return deferred_ || upload_ || !pending_input_.empty() || !parser_.idle({}); }

    // ---- held responses ------------------------------------------------------------------
    void wake() override {
        if (wake_posted_) return;
        wake_posted_ = true;
        ++pending_ops_;
        thread_.post([this] {
            op_guard guard(*this);
            wake_posted_ = false;
            if (phase_ != phase::closed) complete_deferred(false);
        });
    }

    void complete_deferred(bool timed_out) {
        if (!deferred_) return;
        auto& res = thread_.response;
        res.clear();
        deferred_->fill(res, timed_out);
        res.append_fields(deferred_->kept_fields);
        if (deferred_->request) server_.finish(deferred_->request->get(), res);
        const auto route = deferred_->route_id;
        const auto method = deferred_->method;
        const auto received = deferred_->received_at;
        deferred_.reset();
        server_.release_stream(ticket);
        http::serialize_context ctx{deferred_version_minor_, false,
                                    deferred_keep_alive_ && !draining_ && !server_.stopping(), thread_.dates.now(),
                                    &thread_.heads, thread_.dates.second()};
        if (!http::serialize(res, out_, ctx)) close_after_write_ = true;
        thread_.metrics.in_flight.sub();
        answered(route, method, res.status(), received);
        if (!close_after_write_ && !pending_input_.empty()) parse_pending();   // requests that queued up behind it
        account_buffered_input();
        flush();
        if (phase_ != phase::closed && !reading_ && !peer_closed_ && !close_after_write_) wait_readable();
    }

    // ---- deadlines ---------------------------------------------------------------------
    // One deadline at a time, chosen by what the connection is waiting for. Header and body
    // deadlines are armed when that wait begins and not extended by trickling bytes, which is
    // what defeats slowloris; the send deadline restarts whenever the peer makes progress.
    void update_deadline() {
        if (phase_ == phase::closed || phase_ == phase::lingering) return;
        phase next = output_pending()          ? phase::sending
                     : deferred_               ? phase::held
                     : upload_.paused()        ? phase::paused
                     : upload_                 ? phase::streaming
                     : !has_partial_request() && !net::handshaking<transport>(socket_) ? phase::idle
                     : parser_.header_complete() ? phase::body
                                                 : phase::header;
        if (next == phase_ && (next == phase::header || next == phase::body || next == phase::held || next == phase::paused))
            return;
        // A streamed body's deadline restarts with every byte that arrives, and only then.
        if (next == phase::streaming && phase_ == phase::streaming && !upload_.take_progress()) return;
        phase_ = next;
        const auto& o = server_.options();
        auto or_default = [](std::chrono::milliseconds d, std::chrono::milliseconds fallback) { return d.count() > 0 ? d : fallback; };
        switch (next) {
        case phase::idle: return arm_deadline(o.idle_timeout);
        case phase::header: return arm_deadline(o.header_timeout);
        case phase::body: return arm_deadline(o.body_timeout);
        case phase::streaming: return arm_deadline(or_default(upload_->idle_timeout, o.body_timeout));
        case phase::paused: return arm_deadline(or_default(upload_->pause_timeout, o.reply_timeout));
        case phase::held: return arm_deadline(deferred_->timeout());
        default: return arm_deadline(o.send_timeout);
        }
    }

    void arm_deadline(std::chrono::milliseconds d) { thread_.wheel().arm(*this, d); }

    void on_timer() override {
        if (phase_ == phase::held && deferred_) {
            if (deferred_->from_handle)
                server_.logger().log(log::level::warning, "the deferred reply for " + deferred_->path + " was not sent within " +
                                                              std::to_string(deferred_->timeout().count()) + " ms: answered 504");
            return complete_deferred(true);
        }
        if (phase_ == phase::paused && upload_.paused()) {
            server_.logger().log(log::level::warning, "the upload to " + std::string(upload_->request().path()) +
                                                          " was not resumed in time: answered 504");
            respond_error(504, "the upload's handler did not resume in time");
            flush();
            if (phase_ != phase::closed) update_deadline();
            return;
        }
        if ((phase_ == phase::header || phase_ == phase::body || phase_ == phase::streaming) && has_partial_request()) {
            server_.count_rejection(408);
            respond_error(408, phase_ == phase::header ? "header section not received in time"
                                                       : "body not received in time");
            flush();
            if (phase_ != phase::closed) update_deadline();
            return;
        }
        close();   // idle keep-alive, a connection that never sent a byte, a stalled reader, linger over
    }

    // ---- writing -----------------------------------------------------------------------
    // While a read turn answers what it read, the connection writes into its thread's output buffer instead of
    // its own: one buffer that every connection of the thread reuses stays in cache, where each connection's own,
    // written once a turn and sent at once, was cold again by its next turn, for user space writing the answers
    // and for the kernel copying them out (the floor servers answer from one block per loop). The exchange is a
    // swap: a connection with nothing pending gives the thread its own empty buffer for the thread's, and swaps
    // back at the end of the turn when everything was sent. Output still unsent then (a slow reader, a close
    // after write) stays where it is and the thread keeps the empty buffer it got: no byte is ever copied, every
    // buffer has one owner, and the thread's is empty between turns, whatever nests.
    class output_loan {
    public:
        output_loan(http::byte_buffer& own, http::byte_buffer& thread) noexcept : own_(own), thread_(thread), lent_(own.empty()) {
            if (lent_ && own_.empty()) own_.swap(thread_);
        }
        output_loan(const output_loan&) = delete;
        output_loan& operator=(const output_loan&) = delete;
        ~output_loan() {
            if (lent_ && own_.empty()) own_.swap(thread_);
        }

    private:
        http::byte_buffer& own_;
        http::byte_buffer& thread_;
        bool lent_;
    };

    bool output_pending() const noexcept { return out_sent_ < out_.size(); }
    bool output_backlogged() const noexcept { return out_.size() - out_sent_ > max_unsent_output; }

    void flush() {
        if (writing_ || phase_ == phase::closed || phase_ == phase::lingering) return;
        for (;;) {
            while (output_pending()) {
                std::error_code ec;
                std::size_t n = transport::write_some(
                    socket_, asio::const_buffer(out_.data() + out_sent_, out_.size() - out_sent_), ec);
                if (net::would_block(ec)) return wait_writable();
                if (ec) return close();
                out_sent_ += n;
            }
            out_.clear();
            out_sent_ = 0;
            if (out_.capacity() > keep_capacity) out_.release();
            if (upgrade_) return hand_off();
            if (close_after_write_ || (draining_ && !has_partial_request())) return finish();
            if (!held_back_ || deferred_) break;
            parse_pending();   // requests that waited for the output backlog to drain
            account_buffered_input();
            if (phase_ == phase::closed) return;
        }
        update_deadline();
        // Reading paused while the peer was not reading our responses: resume.
        if (!reading_ && !peer_closed_) wait_readable();
    }

    void wait_writable() {
        writing_ = true;
        ++pending_ops_;
        update_deadline();
        transport::async_wait_writable(socket_, [this](std::error_code ec) {
            op_guard guard(*this);
            writing_ = false;
            if (phase_ == phase::closed) return;
            if (ec) return close();
            flush();
        });
    }

    // All output written and the connection must end.
    void finish() {
        if (peer_closed_) return close();
        transport::shutdown_send(socket_);
        phase_ = phase::lingering;
        arm_deadline(linger_time);
        if (!reading_) wait_readable();
    }

    // The 101 response is out: give the socket, and any bytes the client sent behind its
    // handshake, to the upgraded protocol's connection, and retire this one.
    void hand_off() {
        auto upgrade = std::move(upgrade_);
        phase_ = phase::closed;
        thread_.wheel().cancel(*this);
        thread_.remove(*this);
        thread_.stats.http_open.sub();
        upgrade->start(thread_, std::move(socket_), std::move(pending_input_), std::move(ticket));
        destroy_if_done();
    }

    // ---- lifetime ----------------------------------------------------------------------
    void close() {
        if (phase_ == phase::closed) return;
        phase_ = phase::closed;
        if (charged_input_) server_.release_buffered_input(std::exchange(charged_input_, 0));
        abort_upload();   // the body will not arrive whole: its handler cleans up
        if (deferred_) {   // cancels a held request (its work unsubscribes); it is never answered
            thread_.metrics.in_flight.sub();
            deferred_.reset();
        }
        thread_.wheel().cancel(*this);
        transport::close(socket_);   // completes pending waits with operation_aborted
        thread_.remove(*this);
        thread_.stats.http_open.sub();
        destroy_if_done();
    }

    friend class op_guard<http_connection>;
    void destroy_if_done() {
        if (pending_ops_ == 0 && phase_ == phase::closed) delete this;
    }

    // Fairness between connections: one full read buffer (64 KiB) per turn, then the others.
    // A client waits for one round of every busy connection's turn, so the turn bounds its
    // latency: with 500 uploads streaming at once, four reads a turn (256 KiB) made rounds of
    // ~130 MB and a normal client's p99 ~170 ms (benchmarks/attack, stalled-body). Requests that
    // fit in one read (nearly all, pipelined ones included) never notice.
    static constexpr int max_reads_per_turn = 1;
    static constexpr std::size_t max_unsent_output = 1 << 20;    // stop reading past this
    static constexpr std::size_t keep_capacity = 16 * 1024;      // larger buffers are freed when empty
    static constexpr std::size_t max_linger_bytes = 256 * 1024;
    static constexpr std::size_t max_held_input = 64 * 1024;      // pipelined bytes behind a held request
    static constexpr std::chrono::milliseconds linger_time{2000};

    Server& server_;
    thread_state& thread_;
    socket_type socket_;
    http::request_parser parser_;
    std::unique_ptr<typename Server::pending_upgrade> upgrade_;   // set between a 101 and the handoff
    std::unique_ptr<deferred_work> deferred_;                     // a held request (long polling)
    upload_slot<typename Server::running_upload> upload_;         // a streamed body in progress
    const http::request* answering_ = nullptr;                    // while its handler runs
    std::string pending_input_;   // bytes of an unfinished request
    http::byte_buffer out_;       // serialized responses not yet written (during a read turn, the thread's: output_loan)
    std::size_t out_sent_ = 0;
    std::size_t lingered_bytes_ = 0;
    std::size_t charged_input_ = 0;   // of pending input, charged to the server-wide budget
    unsigned char pending_ops_ = 0;
    phase phase_ = phase::header;
    bool reading_ = false, writing_ = false, wake_posted_ = false;
    unsigned char deferred_version_minor_ = 1;
    bool deferred_keep_alive_ = true;
    bool close_after_write_ = false, peer_closed_ = false, draining_ = false, sent_continue_ = false;
    bool held_back_ = false;   // complete requests wait in pending_input_ for the output to drain
};

} // namespace tether::net
