#pragma once
// One WebSocket connection after the upgrade (RFC 6455 §5-§7): frames in through the codec,
// messages out to the application, frames out through a bounded queue.
//
// At ~790 lines it is over the house's ~450, on purpose: reading, control frames and the closing
// handshake, the topic sink and writing all touch the same connection state (its phase, its queue,
// its pending operations) and its lifetime rule (op_guard), and split into several classes each would
// reach into the others' privates. The codec, deflate session, output queue and subscriptions, which
// need none of that, already live in their own headers.
//
// Same I/O discipline as the HTTP connection (see http_connection.hpp): readiness-based reads
// into the thread's shared buffer, frames parsed and unmasked in place there, and only a partial
// frame header or control frame kept per connection. Data frame payload is consumed as it comes;
// a message is copied only when it is fragmented or split across reads. An idle connection owns
// no buffer, which is what keeps it under issue 17's 256 bytes (see the size test in ws_conformance_test).
//
// Writes are corked: sends made while the connection handles its own input are written once at
// the end of that batch; sends from elsewhere on the thread (a broadcast, a timer) mark the
// connection dirty and the thread writes every dirty connection once per loop turn. One exception,
// for fan-out at scale: a topic's last run of a drain, to a connection that follows only that
// topic and has nothing queued, is written at once (deliver_run says why). The queue is
// bounded by behaviour::max_buffered_bytes; past it the overflow action applies (close 1013/1008
// or drop), never unbounded growth. Control frames (pong, close) bypass the bound: they are
// small, and a connection that cannot send its Close must still end.
//
// permessage-deflate (RFC 7692), when agreed: ws::deflate_session holds the zlib side (state only while a
// message is in flight unless context takeover was agreed). A compressed message that arrives whole in one
// read is inflated into a per-thread buffer, like an uncompressed one is delivered from the read buffer;
// only a message split across frames or reads inflates into the connection's own buffer.
#include <asio.hpp>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <tether/core/json_writer.hpp>
#include <tether/core/token_bucket.hpp>
#include <tether/core/utf8.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/hub/notice.hpp>
#include <tether/metrics/thread_metrics.hpp>
#include <tether/net/connection_handle.hpp>
#include <tether/net/io_thread.hpp>
#include <tether/net/output_queue.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/net/would_block.hpp>
#include <tether/topic.hpp>
#include <tether/ws/behaviour.hpp>
#include <tether/ws/close_code.hpp>
#include <tether/ws/deflate_session.hpp>
#include <tether/ws/frame.hpp>

namespace tether::net {

template <class Server, class UserData>
class ws_connection final : public connection_base, private topic_sink {
    using transport = typename Server::transport;
    using socket_type = typename transport::socket;
    using thread_state = typename Server::thread_state;

public:
    using behaviour_type = ws::behaviour<ws_connection, UserData>;

    // ---- the application's view of a connection --------------------------------------------
    // Queues a message. Returns false when it was not queued: the connection is closing, or the
    // overflow action dropped it or closed the connection.
    bool send(std::string_view message, ws::opcode op = ws::opcode::text) {
        if (state_ != state::open) return false;
        // An empty queue always takes one message, so a route can send anything it may receive.
        if (buffered_amount() != 0 &&
            buffered_amount() + message.size() + ws::max_frame_header_size > behaviour_.max_buffered_bytes)
            return overflow();
        thread_.metrics.ws_message(sent);
        if (deflate_ && ws::is_data(op) && deflate_->wants_to_compress(message.size()) && send_compressed(message, op))
            return true;
        out_.append_with([&](std::string& o) { ws::append_frame(o, op, message); });
        schedule_flush();
        return true;
    }

    // The permessage-deflate parameters agreed with this client, if any.
    const ws::deflate_params* deflate_params() const noexcept { return deflate_ ? &deflate_->params() : nullptr; }

    // Starts the closing handshake (§7.1.2). Throws std::invalid_argument for a code that may not
    // be sent or a reason over 123 bytes.
    void close(ws::close_code code = ws::close_code::normal, std::string_view reason = {}) {
        auto payload = ws::close_payload(code, reason);
        if (state_ != state::open) return;
        start_closing(code, payload);
    }

    std::size_t buffered_amount() const noexcept { return out_.size(); }

    // ---- topics (see tether/topic.hpp) -------------------------------------------------------
    // Subscribes to `t` from `cursor` (the "id" of the last message the client has; empty: live
    // only). Enveloped (the default), the client first gets {"type":"subscribed","topic":..,
    // "recovered":..,"id":..}: with recovered=false the history no longer covers the cursor and no
    // replay is attempted, so nothing is ever silently skipped. Messages then arrive as
    // {"topic":..,"id":..,"data":..} text frames, or for binary messages as binary frames of that
    // header, a line feed and the bytes. framing::raw sends the bodies alone (text or binary frames,
    // as uWebSockets does) and nothing else: no notice, no ids, no "missed".
    template <class Policy>
    bool subscribe(const tether::topic<Policy>& t, std::string_view cursor = {}, framing f = framing::envelope) {
        return subscribe_to(t.handle(), &Server::thread_state::template group_for<Policy>, cursor, f,
                            f == framing::envelope);
    }
    // By name, for topics the server knows: the control protocol's form (server/pubsub.hpp), which
    // always starts with the subscribed notice ("raw":true on a raw one). False if there is no such topic.
    bool subscribe(std::string_view topic_name, std::string_view cursor = {}, framing f = framing::envelope) {
        auto* entry = thread_.server->find_topic(topic_name);
        if (!entry) return false;
        return subscribe_to(entry->handle, entry->group_for, cursor, f, true);
    }
    // Leaves the topic; its messages already queued are still sent. No-op when not subscribed.
    void unsubscribe(std::string_view topic_name) {
        if (!extras_ || extras_->subscriptions.empty()) return;
        auto* entry = thread_.server->find_topic(topic_name);
        if (!entry) return;
        auto it = extras_->subscriptions.find(entry->handle.get());
        if (it == extras_->subscriptions.end()) return;
        auto sub = std::move(it->second);
        extras_->subscriptions.erase(it);
        sole_subscription_ = extras_->subscriptions.size() == 1;
        if (sub->group) sub->group->unsubscribe(*sub);
        // Queued segments still name it (their written bytes come back to it): keep it until
        // they are gone, off the subscription table so the table holds only live topics.
        if (std::size_t queued = sub->pending_bytes()) {
            sub->unsent_after_leaving = queued;
            auto* key = sub.get();
            extras_->leaving.emplace(key, std::move(sub));
        }
    }
    std::size_t subscription_count() const noexcept { return extras_ ? extras_->subscriptions.size() : 0; }
    UserData& user_data() noexcept { return user_data_; }
    const UserData& user_data() const noexcept { return user_data_; }
    std::string_view subprotocol() const noexcept { return extras_ ? std::string_view(extras_->subprotocol) : std::string_view{}; }
    bool is_open() const noexcept { return state_ == state::open; }

    // A handle for other threads: send() and close() from anywhere, safe after the connection
    // is gone (they then do nothing and return false).
    // send() and close() from any thread; they do nothing once the connection is gone.
    class handle : public connection_handle_base<ws_connection> {
    public:
        handle() = default;
        bool send(std::string message, ws::opcode op = ws::opcode::text) const {
            return this->post([m = std::move(message), op](ws_connection& c) { c.send(m, op); });
        }
        void close(ws::close_code code = ws::close_code::normal, std::string reason = {}) const {
            this->post([code, r = std::move(reason)](ws_connection& c) { c.close(code, r); });
        }

    private:
        friend class ws_connection;
        using connection_handle_base<ws_connection>::connection_handle_base;
    };

    handle get_handle() {
        auto& anchor = extras().anchor;
        if (!anchor) anchor = std::make_shared<connection_anchor<ws_connection>>(this, &thread_);
        return handle(anchor);
    }

    // ---- set up by the server -------------------------------------------------------------
    ws_connection(thread_state& thread, socket_type socket, admission held, const behaviour_type& behaviour,
                  UserData user_data, std::string subprotocol, std::optional<ws::deflate_params> deflate = {})
        : thread_(thread), socket_(std::move(socket)), behaviour_(behaviour),
          user_data_(std::move(user_data)) {
        ticket = std::move(held);
        if (!subprotocol.empty()) extras().subprotocol = std::move(subprotocol);
        if (deflate) {
            deflate_ = std::make_unique<ws::deflate_session>(ws::role::server, *deflate, behaviour.permessage_deflate);
            thread_.stats.ws_deflate_connections.add();
        }
        thread_.add(*this);
        thread_.stats.websockets_open.add();
    }

    // `early` holds bytes the client sent right behind its handshake.
    void start(std::string early) {
        arm_keepalive();
        in_callbacks_ = true;
        if (behaviour_.on_open) behaviour_.on_open(*this);
        if (!early.empty() && live()) consume(std::span<char>(early.data(), early.size()));
        in_callbacks_ = false;
        if (!live()) return destroy_if_done();
        flush();
        if (live()) wait_readable();
    }

    void begin_drain() override {
        if (state_ == state::open) start_closing(ws::close_code::going_away, ws::close_payload(ws::close_code::going_away, "server stopping"));
    }
    void force_close() override { abort(ws::close_code::abnormal_closure, "closed by the server"); }

private:
    static constexpr auto received = metrics::direction::received;
    static constexpr auto sent = metrics::direction::sent;

    // lingering: the WebSocket is over (the application was told) but the socket is kept
    // half-closed for a moment, reading and discarding, so our Close is not lost to a reset.
    enum class state : unsigned char { open, closing, lingering, closed };
    bool live() const noexcept { return state_ == state::open || state_ == state::closing; }

    // ---- reading -----------------------------------------------------------------------
    void wait_readable() {
        if (reading_ || state_ == state::closed) return;
        reading_ = true;
        ++pending_ops_;
        transport::async_wait_readable(socket_, [this](std::error_code ec) { on_readable(ec); });
    }

    void on_readable(std::error_code ec) {
        op_guard guard(*this);
        reading_ = false;
        if (state_ == state::closed) return;
        if (ec) return abort(ws::close_code::abnormal_closure, "read failed");
        if (state_ == state::lingering) return discard_input();
        char* buffer = thread_.read_buffer();
        in_callbacks_ = true;
        for (int round = 0; round < max_reads_per_turn; ++round) {
            std::size_t n = transport::read_some(socket_, buffer, io_thread::read_buffer_size, ec);
            if (net::would_block(ec)) break;
            if (ec) {   // EOF without a closing handshake, or a reset
                in_callbacks_ = false;
                return abort(ws::close_code::abnormal_closure, "connection lost");
            }
            thread_.metrics.ws_traffic(received, n);
            if (!extras_ || extras_->partial.empty()) {
                std::size_t used = consume(std::span<char>(buffer, n));
                if (live() && !close_after_flush_ && used < n) extras().partial.assign(buffer + used, n - used);
            } else {
                std::string& partial = extras_->partial;
                partial.append(buffer, n);
                std::size_t used = consume(std::span<char>(partial.data(), partial.size()));
                partial.erase(0, used);
            }
            if (!live() || close_after_flush_ || buffered_amount() > behaviour_.max_buffered_bytes) break;
            if (n < io_thread::read_buffer_size) break;
        }
        in_callbacks_ = false;
        if (!live()) return;
        flush();
        if (live() && buffered_amount() <= behaviour_.max_buffered_bytes) wait_readable();
    }

    // Feeds bytes to the frame parser; returns how many it consumed. The parser lives on this
    // stack frame unless the last read ended inside a frame or a fragmented message: between
    // messages (where an idle connection always is) a fresh one reads on exactly as the old one
    // would, so the connection keeps its 72 bytes only while something is pending (in extras).
    // The parser in use is passed down as an argument, not kept in a member: a pointer that means
    // something only inside this call cost every idle connection 8 bytes, and those 8 put the
    // object over a malloc size class (208 bytes take a 224-byte chunk from glibc, 200 a 208-byte one).
    std::size_t consume(std::span<char> data) {
        if (extras_ && extras_->parser) {
            ws::frame_parser& kept = *extras_->parser;
            const std::size_t used = parse(kept, data);
            // parse() may have run callbacks, but extras_ is never freed before the connection is.
            if (kept.between_messages()) extras_->parser.reset();
            return used;
        }
        ws::frame_parser fresh(ws::role::server, ws::frame_parser_options{.max_message_size = behaviour_.max_message_size,
                                                                          .allowed_rsv = deflate_ ? ws::rsv1 : std::uint8_t{0}});
        const std::size_t used = parse(fresh, data);
        if (!fresh.between_messages() && live()) extras().parser = fresh;
        return used;
    }

    std::size_t parse(ws::frame_parser& parser, std::span<char> data) {
        std::size_t pos = 0;
        // Once our last Close is queued (an echo, or failing the connection) nothing more is parsed:
        // §5.5.1, no data after a Close, and what follows a protocol error is garbage by definition.
        while (live() && !close_after_flush_) {
            ws::parse_result r = parser.next(data.subspan(pos));
            pos += r.consumed;
            switch (r.status) {
            case ws::parse_status::need_more: return pos;
            case ws::parse_status::error: {
                if (parser.error_code() == ws::close_code::message_too_big) thread_.metrics.hit(metrics::budget::message_size);
                fail(parser.error_code(), parser.error_reason());
                return pos;
            }
            case ws::parse_status::header:
                if (!ws::is_control(parser.header().op) && parser.header().op != ws::opcode::continuation) {
                    if (extras_) extras_->message.clear();
                    if (parser.message_compressed()) begin_compressed_message(parser);
                }
                continue;
            case ws::parse_status::payload: on_payload(parser, r); continue;
            }
        }
        return pos;
    }

    void on_payload(const ws::frame_parser& parser, const ws::parse_result& r) {
        const ws::frame_header& h = parser.header();
        if (ws::is_control(h.op)) return on_control(h.op, r.payload);
        if (parser.message_compressed()) return on_compressed_payload(parser, r);
        if (h.op != ws::opcode::continuation && r.message_end && r.payload.size() == h.payload_length &&
            (!extras_ || extras_->message.empty()))
            return deliver(r.payload, parser.message_opcode());   // whole message in one piece: no copy
        std::string& message = extras().message;
        message.append(r.payload);
        if (r.message_end) {
            deliver(message, parser.message_opcode());
            extras_->message.clear();
            if (extras_->message.capacity() > keep_capacity) std::string{}.swap(extras_->message);
        }
    }

    // ---- permessage-deflate (RFC 7692 §7.2.2) ---------------------------------------------------
    void begin_compressed_message(const ws::frame_parser& parser) {
        deflate_->begin_message();
        if (parser.message_opcode() == ws::opcode::text) extras().inflated_text.reset();
    }

    // max_message_size bounds what the application receives, so it is measured after inflation.
    std::size_t inflate_limit() const noexcept {
        return static_cast<std::size_t>(std::min<std::uint64_t>(behaviour_.max_message_size, SIZE_MAX - 1));
    }

    void on_compressed_payload(const ws::frame_parser& parser, const ws::parse_result& r) {
        const ws::frame_header& h = parser.header();
        const bool text = parser.message_opcode() == ws::opcode::text;
        if (h.op != ws::opcode::continuation && r.message_end && r.payload.size() == h.payload_length) {
            // The whole message in one piece: inflate into the thread's buffer, as an uncompressed one is
            // delivered from the read buffer, and the connection keeps nothing.
            std::string out;
            out.swap(inflate_buffer());
            out.clear();
            ws::inflate_status s = deflate_->inflate(r.payload, out, inflate_limit());
            if (s == ws::inflate_status::ok) s = deflate_->end_message(out, inflate_limit());
            if (s != ws::inflate_status::ok) fail_inflate(s);
            else if (text && !core::is_valid_utf8(out)) fail(ws::close_code::invalid_payload, "text message is not valid UTF-8");
            else {
                thread_.stats.ws_inflated_messages.add();
                deliver(out, parser.message_opcode());
            }
            if (out.capacity() <= keep_capacity * 4) inflate_buffer().swap(out);
            return;
        }
        std::string& message = extras().message;
        const std::size_t before = message.size();
        ws::inflate_status s = deflate_->inflate(r.payload, message, inflate_limit());
        if (s == ws::inflate_status::ok && r.message_end) s = deflate_->end_message(message, inflate_limit());
        if (s != ws::inflate_status::ok) return fail_inflate(s);
        // §8.1 as for uncompressed text: fail at the fragment where it stops being UTF-8.
        if (text && !extras_->inflated_text.feed(std::string_view(message).substr(before)))
            return fail(ws::close_code::invalid_payload, "text message is not valid UTF-8");
        if (!r.message_end) return;
        if (text && !extras_->inflated_text.is_complete())
            return fail(ws::close_code::invalid_payload, "text message ends inside a UTF-8 sequence");
        thread_.stats.ws_inflated_messages.add();
        deliver(message, parser.message_opcode());
        extras_->message.clear();
        if (extras_->message.capacity() > keep_capacity) std::string{}.swap(extras_->message);
    }

    void fail_inflate(ws::inflate_status s) {
        if (s == ws::inflate_status::too_big)
            return fail(ws::close_code::message_too_big, "message exceeds the maximum size once inflated");
        fail(ws::close_code::invalid_payload, "compressed message is not valid DEFLATE data");
    }

    // Compresses into a per-thread buffer, then frames it with RSV1 (RFC 7692 §6). False: send it plain.
    bool send_compressed(std::string_view message, ws::opcode op) {
        std::string& z = deflate_buffer();
        z.clear();
        if (!deflate_->compress(message, z)) return false;
        out_.append_with([&](std::string& o) { ws::append_frame(o, op, z, true, std::nullopt, ws::rsv1); });
        if (z.capacity() > keep_capacity * 4) std::string{}.swap(z);
        thread_.stats.ws_compressed_sends.add();
        schedule_flush();
        return true;
    }

    static std::string& inflate_buffer() {
        thread_local std::string buffer;
        return buffer;
    }
    static std::string& deflate_buffer() {
        thread_local std::string buffer;
        return buffer;
    }

    void deliver(std::string_view message, ws::opcode op) {
        if (state_ != state::open) return;   // §7.1.4: after sending Close, incoming data is discarded
        thread_.metrics.ws_message(received);
        last_message_ = std::chrono::steady_clock::now();
        if (behaviour_.max_message_rate.limited() && !extras().inbound.take(behaviour_.max_message_rate, last_message_)) {
            thread_.metrics.hit(metrics::budget::message_rate);
            return fail(ws::close_code::policy_violation, "message rate exceeded");
        }
        if (behaviour_.on_message) behaviour_.on_message(*this, message, op);
    }

    void on_control(ws::opcode op, std::string_view payload) {
        switch (op) {
        case ws::opcode::ping:   // §5.5.2: answer with the same payload, as soon as possible
            if (state_ == state::open) {
                out_.append_with([&](std::string& o) { ws::append_frame(o, ws::opcode::pong, payload); });
                schedule_flush();
            }
            return;
        case ws::opcode::pong:
            if (awaiting_pong_) {
                awaiting_pong_ = false;
                arm_keepalive();
            }
            return;
        case ws::opcode::close: {
            auto info = ws::parse_close_payload(payload);   // the parser already rejected malformed ones
            ws::close_code code = info ? info->code : ws::close_code::protocol_error;
            std::string_view reason = info ? info->reason : std::string_view{};
            // An empty Close carries no code: §7.1.5 calls that 1005.
            auto wire_code = payload.empty() ? std::uint16_t{1005} : ws::to_underlying(code);
            close_received_ = true;
            thread_.metrics.close_frame(received, wire_code);
            if (state_ == state::closing) return finish_close(closing_code_, closing_reason());
            // §5.5.1: echo the status code; an empty Close is answered with an empty Close.
            std::string echo = payload.empty() ? std::string{} : ws::close_payload(code);
            out_.append_with([&](std::string& o) { ws::append_frame(o, ws::opcode::close, echo); });
            thread_.metrics.close_frame(sent, wire_code);
            state_ = state::closing;
            closing_code_ = code;
            extras().closing_reason.assign(reason);
            close_after_flush_ = true;
            schedule_flush();
            return;
        }
        default: return;
        }
    }

    // ---- closing -----------------------------------------------------------------------
    // A protocol violation by the peer: send the Close the RFC asks for and stop reading (§7.1.7).
    void fail(ws::close_code code, std::string_view reason) {
        if (state_ != state::open) return abort(code, reason);
        std::string_view shown = reason.substr(0, ws::max_close_reason_size);
        start_closing(code, ws::close_payload(code, shown));
        close_after_flush_ = true;
    }

    void start_closing(ws::close_code code, const std::string& payload) {
        out_.append_with([&](std::string& o) { ws::append_frame(o, ws::opcode::close, payload); });
        thread_.metrics.close_frame(sent, payload.empty() ? std::uint16_t{1005} : ws::to_underlying(code));
        state_ = state::closing;
        closing_code_ = code;
        extras().closing_reason.assign(payload.size() > 2 ? std::string_view(payload).substr(2) : std::string_view{});
        thread_.wheel().arm(*this, behaviour_.close_timeout);
        schedule_flush();
    }

    // The handshake is complete: the server closes the TCP connection first (§7.1.1).
    void finish_close(ws::close_code code, std::string_view reason) { abort(code, reason); }

    // Ends the connection now and tells the application once.
    void abort(ws::close_code code, std::string_view reason) {
        if (state_ == state::lingering) return close_socket();
        if (state_ == state::closed) return;
        ++pending_ops_;   // stay alive through end_session
        close_socket();
        end_session(code, reason);
        --pending_ops_;
        if (!in_callbacks_) destroy_if_done();
    }

    // Our last frame (a Close) is written and the handshake is over for us: shut down our
    // sending side, then read and discard what the peer still sends, for a bounded time and
    // size, before closing. Closing with unread bytes in the receive queue makes the kernel send
    // a reset, and a reset can destroy our Close in the peer's receive buffer before it is read
    // (the peer would see 1006 instead of, say, 1009). RFC 9112 §9.6 asks the same of HTTP.
    void linger(ws::close_code code, std::string_view reason) {
        state_ = state::lingering;
        transport::shutdown_send(socket_);
        thread_.wheel().arm(*this, linger_time);
        wait_readable();
        end_session(code, reason);
    }

    void discard_input() {
        std::size_t& lingered = extras().lingered;
        for (;;) {
            std::error_code ec;
            std::size_t n = transport::read_some(socket_, thread_.read_buffer(), io_thread::read_buffer_size, ec);
            if (net::would_block(ec)) return wait_readable();
            if (ec || (lingered += n) > max_linger_bytes) return close_socket();   // EOF: the peer is done too
        }
    }

    void close_socket() {
        if (state_ == state::closed) return;
        state_ = state::closed;
        thread_.wheel().cancel(*this);
        transport::close(socket_);
        thread_.remove(*this);
        thread_.stats.websockets_open.sub();
        if (!in_callbacks_) destroy_if_done();
    }

    // The WebSocket is over: leave every topic, drop what was queued, tell the application once.
    void end_session(ws::close_code code, std::string_view reason) {
        // Ended without the peer's Close: §7.1.5 calls the connection's close code 1006.
        if (!close_received_) thread_.metrics.close_frame(received, 1006);
        if (extras_) {
            for (auto& [topic, sub] : extras_->subscriptions)
                if (sub->group) sub->group->unsubscribe(*sub);
        }
        out_.clear([this](void* tag, std::size_t n) { give_back(tag, n); });
        if (extras_ && extras_->anchor) extras_->anchor->release();
        ++pending_ops_;   // on_close may do anything; stay alive until it returns
        if (behaviour_.on_close) {
            std::string kept(reason);   // the reason may live in a buffer that goes away
            behaviour_.on_close(*this, code, kept);
        }
        --pending_ops_;
        if (!in_callbacks_) destroy_if_done();
    }

    bool overflow() {
        thread_.metrics.hit(metrics::budget::buffered_bytes);
        switch (behaviour_.on_overflow) {
        case ws::overflow_action::drop_message: return false;
        case ws::overflow_action::close_policy_violation:
            start_closing(ws::close_code::policy_violation, ws::close_payload(ws::close_code::policy_violation, "send queue full"));
            return false;
        case ws::overflow_action::close_try_again_later:
            start_closing(ws::close_code::try_again_later, ws::close_payload(ws::close_code::try_again_later, "send queue full"));
            return false;
        }
        return false;
    }

    // ---- topics -------------------------------------------------------------------------
    template <class GroupFor>
    bool subscribe_to(const hub::topic_handle& topic, GroupFor group_for, std::string_view cursor, framing f,
                      bool announce) {
        if (state_ != state::open) return false;
        if (extras().subscriptions.contains(topic.get())) return true;   // already subscribed
        auto const epoch = topic->epoch();   // read first: if it changes meanwhile, the next message says so
        auto resume = cursor.empty() ? hub::resumption{false, topic->next_sequence()} : topic->resume(cursor);
        if (announce) send_subscribed(topic->name(), cursor.empty() || resume.recovered, {epoch, resume.from - 1}, f == framing::raw);
        // Raw: the bare frame, never compressed (topic_groups.hpp). Enveloped, with permessage-deflate: the
        // shared frame compressed for our window, built once per message for every subscriber with that
        // window, whatever its connection or thread.
        const auto format = f == framing::raw ? topic_format::ws_raw
                            : deflate_    ? ws_deflate_format(deflate_->our_window_bits())
                                          : topic_format::ws_frame;
        auto& sub = *extras().subscriptions
                         .emplace(topic.get(), std::make_unique<topic_subscription>(static_cast<topic_sink&>(*this),
                                                                                    format, behaviour_.max_buffered_bytes))
                         .first->second;
        sub.epoch = epoch;
        // A run of messages may come as one joined block unless each compressed frame must enter our
        // compressor's window one by one (deliver).
        sub.take_joined_runs(f == framing::raw || !deflate_);
        sole_subscription_ = extras_->subscriptions.size() == 1;
        group_for(thread_, topic).subscribe(sub, resume.from);
        schedule_flush();
        return true;
    }

    void send_subscribed(std::string_view topic, bool recovered, hub::cursor position, bool raw = false) {
        std::string notice;
        hub::notice::subscribed(notice, topic, recovered, position, raw);
        out_.append_with([&](std::string& o) { ws::append_frame(o, ws::opcode::text, notice); });
        thread_.metrics.ws_message(sent);
    }

    // The topic's epoch changed under this subscriber (a backplane lost its history): the same notice a
    // resume from a lost cursor gets, before the first message of the new epoch. (Not on a raw
    // subscription: it asked for bodies only, and a notice would be taken for one.)
    // True when it queued that notice.
    bool note_epoch(topic_subscription& sub, hub::payload const& message) {
        if (message.epoch() == sub.epoch) return false;
        sub.epoch = message.epoch();
        if (sub.format() == static_cast<std::size_t>(topic_format::ws_raw)) return false;
        send_subscribed(sub.group->source().name(), false, {sub.epoch, message.sequence() - 1});
        return true;
    }

    void deliver(topic_subscription& sub, const hub::payload_ptr& message, std::string_view frame) override {
        note_epoch(sub, *message);
        if (deflate_ && !frame.empty() && (static_cast<unsigned char>(frame[0]) & 0x40) != 0) {
            // A compressed frame that did not come from our compressor enters the client's window.
            deflate_->shared_frame_sent();
            thread_.stats.ws_compressed_deliveries.add();
        }
        out_.append_shared(message, frame, &sub);
        thread_.metrics.ws_message(sent);
        schedule_flush();
    }
    // Uncompressed frames only (see subscribe): their bytes go out as they are, one piece for the run.
    //
    // Written at once when the drain found nothing behind the run, this connection follows no other topic
    // (whose run could share the write) and nothing waits to go before it; otherwise queued, and written
    // with the rest at the end of the loop turn. Corked, the write happens in a second walk over every
    // subscriber's connection and queue, after the drain's own walk: past a few thousand subscribers their
    // objects no longer stay in L2 between the two, and loading them twice was most of the per-subscriber
    // cost (callgrind/fanout.sh CACHE_SIM=1 at 10,000 subscribers: reads past L2 per subscriber and run
    // 3.9 corked, 1.4 written at once; instructions per frame 9.6 -> 5.9). The floor server writes so too.
    void deliver_run(topic_subscription& sub, const hub::payload_ptr& first, const hub::payload_ptr& joined,
                     std::string_view frames, std::size_t count, bool more_follow) override {
        bool const noticed = note_epoch(sub, *first);
        thread_.metrics.ws_message(sent, count);
        if (!more_follow && !noticed && sole_subscription_ && !corked_ && !writing_ && !in_callbacks_ &&
            state_ == state::open) {
            // Nothing is queued: whatever queues also corks, waits for writability or is inside a callback.
            assert(out_.empty());
            std::error_code ec;
            frames.remove_prefix(write_now(sub, frames, ec));
            if (frames.empty()) return;
            out_.append_shared(joined, frames, &sub);
            // Full: wait as flush() would. A short write (TLS sends one record a call) or a failure: the
            // rest from the loop turn, where flush() also ends a failed connection, outside the drain's walk.
            return net::would_block(ec) ? wait_writable() : schedule_flush();
        }
        out_.append_shared(joined, frames, &sub);
        schedule_flush();
    }
    // Writes `bytes` of `sub` straight to the socket; returns how many went, and gives their budget back.
    std::size_t write_now(topic_subscription& sub, std::string_view bytes, std::error_code& ec) {
        asio::const_buffer const buffer(bytes.data(), bytes.size());
        std::size_t const n = transport::write_some(socket_, std::span<const asio::const_buffer>(&buffer, 1), ec);
        if (n == 0) return 0;
        thread_.metrics.ws_traffic(sent, n);
        give_back(&sub, n);
        return n;
    }
    // drop_oldest and conflate: say exactly which messages will never come (a raw subscription asked
    // for bodies only, and a notice would be taken for one).
    void missed(topic_subscription& sub, std::uint64_t first, std::uint64_t last) override {
        if (sub.format() == static_cast<std::size_t>(topic_format::ws_raw)) return;
        auto& topic = sub.group->source();
        if (auto epoch = topic.epoch(); epoch != sub.epoch) {   // skipped to a new epoch: that is a reset
            sub.epoch = epoch;
            send_subscribed(topic.name(), false, {epoch, last});
            return schedule_flush();
        }
        std::string notice;
        hub::notice::missed(notice, topic.name(), {sub.epoch, first}, {sub.epoch, last});
        out_.append_with([&](std::string& o) { ws::append_frame(o, ws::opcode::text, notice); });
        thread_.metrics.ws_message(sent);
        schedule_flush();
    }
    void cut_off(topic_subscription&, hub::disconnect_reason why) override {
        if (state_ != state::open) return;
        auto code = why == hub::disconnect_reason::budget_exceeded   ? ws::close_code::try_again_later
                    : why == hub::disconnect_reason::lapped          ? ws::close_code::policy_violation
                                                                     : ws::close_code::message_too_big;
        start_closing(code, ws::close_payload(code, "subscriber fell behind"));
    }
    void give_back(void* tag, std::size_t bytes) {
        auto* sub = static_cast<topic_subscription*>(tag);
        if (sub->group) return sub->group->written(*sub, bytes);
        if ((sub->unsent_after_leaving -= std::min(bytes, sub->unsent_after_leaving)) == 0) extras_->leaving.erase(sub);
    }

    // ---- keep-alive -------------------------------------------------------------------
    void arm_keepalive() {
        auto interval = behaviour_.ping_interval.count() > 0 ? behaviour_.ping_interval : behaviour_.idle_timeout;
        if (interval.count() > 0) thread_.wheel().arm(*this, interval);
    }

    void on_timer() override {
        if (state_ == state::lingering) return close_socket();
        if (state_ == state::closing) return abort(closing_code_, "closing handshake timed out");
        if (state_ != state::open) return;
        if (deflate_) deflate_->release_if_idle();   // context takeover state shrinks to its window when idle
        out_.release_memory();   // what the last burst kept for the next, if the queue is empty
        if (awaiting_pong_) return abort(ws::close_code::abnormal_closure, "no pong before the deadline");
        if (behaviour_.idle_timeout.count() > 0 &&
            std::chrono::steady_clock::now() - last_message_ >= behaviour_.idle_timeout)
            return start_closing(ws::close_code::going_away, ws::close_payload(ws::close_code::going_away, "idle"));
        if (behaviour_.ping_interval.count() == 0) return arm_keepalive();
        out_.append_with([](std::string& o) { ws::append_frame(o, ws::opcode::ping, {}); });
        awaiting_pong_ = true;
        thread_.wheel().arm(*this, behaviour_.pong_timeout);
        schedule_flush();
    }

    // ---- writing -----------------------------------------------------------------------
    // Inside our own callbacks the batch ends with a flush anyway; otherwise cork per thread.
    void schedule_flush() {
        if (in_callbacks_ || corked_) return;
        corked_ = true;
        ++pending_ops_;
        thread_.cork(*this);
    }

    void on_uncork() override {
        op_guard guard(*this);
        corked_ = false;
        if (live()) flush();
    }

    void flush() {
        if (writing_ || !live()) return;
        const std::size_t before = out_.size();
        std::error_code ec = out_.template write<transport>(socket_, [this](void* tag, std::size_t n) { give_back(tag, n); });
        thread_.metrics.ws_traffic(sent, before - out_.size());
        if (net::would_block(ec)) return wait_writable();
        if (ec) return abort(ws::close_code::abnormal_closure, "write failed");
        if (close_after_flush_ && state_ == state::closing) {
            // We echoed the peer's Close (or failed the connection): the handshake is over for us.
            return linger(closing_code_, closing_reason());
        }
        if (waited_for_writable_) {
            waited_for_writable_ = false;
            if (behaviour_.on_drain && state_ == state::open) {
                in_callbacks_ = true;
                behaviour_.on_drain(*this);
                in_callbacks_ = false;
                if (!live()) return;
                if (!out_.empty()) return flush();
            }
            if (!reading_) wait_readable();   // reading paused while the queue was over its bound
        }
    }

    void wait_writable() {
        writing_ = true;
        waited_for_writable_ = true;
        ++pending_ops_;
        transport::async_wait_writable(socket_, [this](std::error_code ec) {
            op_guard guard(*this);
            writing_ = false;
            if (!live()) return;
            if (ec) return abort(ws::close_code::abnormal_closure, "write failed");
            flush();
        });
    }

    friend class op_guard<ws_connection>;
    void destroy_if_done() {
        if (pending_ops_ == 0 && state_ == state::closed) delete this;
    }

    static constexpr int max_reads_per_turn = 4;
    static constexpr std::size_t keep_capacity = 16 * 1024;   // a larger message buffer is freed after use
    static constexpr std::size_t max_linger_bytes = 4 * 1024 * 1024;   // discarded after our last Close
    static constexpr std::chrono::milliseconds linger_time{2000};

    thread_state& thread_;   // and through it the server (thread_.server): one reference for both
    socket_type socket_;
    const behaviour_type& behaviour_;
    output_queue out_;      // frames not yet written, own and shared
    [[no_unique_address]] UserData user_data_;   // no bytes at all when empty (ws::no_user_data)
    // What most connections never need, allocated the first time one does: an idle connection
    // then pays one pointer for it (an idle connection stays well under 1 KiB).
    struct rarely_used {
        std::string partial;   // an incomplete frame header or control frame, until the rest arrives
        std::optional<ws::frame_parser> parser;   // a read ended inside a frame or fragmented message
        std::string message;   // fragments of a message in progress (inflated, when compressed)
        core::utf8_validator inflated_text;   // a compressed text message, checked as it inflates
        std::string subprotocol;
        std::string closing_reason;
        std::size_t lingered = 0;   // bytes discarded after our last Close
        std::shared_ptr<connection_anchor<ws_connection>> anchor;
        // By topic: subscribe and unsubscribe are O(1) however many topics a client churns through.
        std::unordered_map<const hub::topic*, std::unique_ptr<topic_subscription>> subscriptions;
        // Unsubscribed, with messages still queued that will report their bytes written.
        std::unordered_map<topic_subscription*, std::unique_ptr<topic_subscription>> leaving;
        token_bucket inbound;   // behaviour::max_message_rate
    };
    std::unique_ptr<rarely_used> extras_;
    std::unique_ptr<ws::deflate_session> deflate_;   // permessage-deflate, when agreed
    rarely_used& extras() {
        if (!extras_) extras_ = std::make_unique<rarely_used>();
        return *extras_;
    }
    std::string_view closing_reason() const noexcept {
        return extras_ ? std::string_view(extras_->closing_reason) : std::string_view{};
    }
    std::chrono::steady_clock::time_point last_message_ = std::chrono::steady_clock::now();
    ws::close_code closing_code_ = ws::close_code::normal;
    state state_ = state::open;
    unsigned char pending_ops_ = 0;
    bool reading_ = false, writing_ = false, corked_ = false, in_callbacks_ = false;
    bool awaiting_pong_ = false, close_after_flush_ = false, waited_for_writable_ = false;
    bool close_received_ = false;   // the peer's Close frame arrived (else the close code is 1006)
    // Subscribed to exactly one topic (deliver_run may write at once). Derivable from extras_->subscriptions,
    // but kept here: deliver_run reads it per subscriber and run, and extras_ is another cache line to load.
    bool sole_subscription_ = false;
};

} // namespace tether::net
