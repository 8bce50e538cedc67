#pragma once
// One Server-Sent Events stream (WHATWG HTML §9.2): the response head has been written by the
// HTTP connection, which handed over the socket; from here on the connection only writes
// event blocks, as HTTP/1.1 chunks (or raw bytes to an HTTP/1.0 client, whose body ends when
// the connection closes).
//
// It still reads, to notice the browser going away (EOF) without waiting for a write to fail;
// anything the client sends is discarded. Heartbeats use the thread's timer wheel, writes are
// corked like WebSocket's (one write per loop turn), and the unsent bytes are bounded: a client
// too slow for its stream is cut off and resumes later from its Last-Event-ID instead of
// growing a queue without limit.
#include <asio.hpp>
#include <charconv>
#include <vector>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <tether/core/json_writer.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/composite_cursor.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/net/output_queue.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/net/connection_handle.hpp>
#include <tether/net/io_thread.hpp>
#include <tether/net/would_block.hpp>
#include <tether/sse/behaviour.hpp>
#include <tether/sse/event.hpp>

namespace tether::net {

// The topics a client named in ?topics= (sse::behaviour::admit_topic), as accept_sse admitted them.
struct sse_client_topics {
    std::vector<std::string> names;   // admitted, in the client's order
    std::string refusals;             // "event: tether:refused" blocks for the others, sent first
};

template <class Server, class UserData>
class sse_connection final : public connection_base, private topic_sink {
    using transport = typename Server::transport;
    using socket_type = typename transport::socket;
    using thread_state = typename Server::thread_state;

public:
    using behaviour_type = sse::behaviour<sse_connection, UserData>;

    // ---- the application's view ----------------------------------------------------------
    // Queues one event. False when the stream is closed or the event did not fit the bound
    // (the stream is then ended). Throws std::invalid_argument for CR/LF in id or type.
    bool send(const sse::event& e) {
        if (closed_) return false;
        scratch_.clear();
        sse::append_event(scratch_, e);
        return send_block(scratch_);
    }

    // Queues pre-encoded event bytes (a block from sse::append_event, shared by many streams).
    bool send_block(std::string_view block) {
        if (closed_) return false;
        if (out_.size() + block.size() + 32 > behaviour_.max_buffered_bytes) {
            end();
            return false;
        }
        append_body(block);
        return true;
    }

    // Ends the stream: the terminating chunk, then the connection closes.
    void end() {
        if (closed_ || ending_) return;
        ending_ = true;
        if (chunked_) out_.append("0\r\n\r\n");
        schedule_flush();
    }

    std::size_t buffered_amount() const noexcept { return out_.size(); }
    UserData& user_data() noexcept { return user_data_; }
    // The id the browser last saw (Last-Event-ID header, or the lastEventId query parameter
    // on a first connect), empty when none.
    std::string_view last_event_id() const noexcept { return last_event_id_; }
    bool is_open() const noexcept { return !closed_ && !ending_; }

    // send() and end() from any thread; they do nothing once the stream is gone.
    class handle : public connection_handle_base<sse_connection> {
    public:
        handle() = default;
        bool send(std::string data, std::string type = {}, std::string id = {}) const {
            return this->post([d = std::move(data), t = std::move(type), i = std::move(id)](sse_connection& c) {
                c.send({.data = d, .type = t, .id = i});
            });
        }
        void end() const {
            this->post([](sse_connection& c) { c.end(); });
        }

    private:
        friend class sse_connection;
        using connection_handle_base<sse_connection>::connection_handle_base;
    };

    handle get_handle() {
        if (!anchor_) anchor_ = std::make_shared<connection_anchor<sse_connection>>(this, &thread_);
        return handle(anchor_);
    }

    // ---- set up by the server --------------------------------------------------------------
    sse_connection(thread_state& thread, socket_type socket, admission held, const behaviour_type& behaviour,
                   UserData user_data, std::string last_event_id, bool chunked)
        : thread_(thread), socket_(std::move(socket)), behaviour_(behaviour),
          user_data_(std::move(user_data)), last_event_id_(std::move(last_event_id)), chunked_(chunked) {
        ticket = std::move(held);
        thread_.add(*this);
        thread_.stats.sse_open.add();
    }

    // `chosen`: the client's own topics when the route lets it name them; else the behaviour's.
    void start(std::optional<sse_client_topics> chosen = std::nullopt) {
        if (behaviour_.retry.count() > 0) {
            auto retry = behaviour_.retry;
            if (behaviour_.retry_jitter.count() > 0) {
                thread_local std::minstd_rand jitter{std::random_device{}()};
                retry += std::chrono::milliseconds(jitter() % (behaviour_.retry_jitter.count() + 1));
            }
            std::string block = "retry: " + std::to_string(retry.count()) + "\n\n";
            append_body(block);
        }
        arm_heartbeat();
        in_callbacks_ = true;
        if (chosen) {
            named_ = true;
            if (!chosen->refusals.empty()) append_body(chosen->refusals);
            subscribe_topics(chosen->names);
        } else {
            subscribe_topics(behaviour_.topics);
        }
        if (behaviour_.on_open) behaviour_.on_open(*this);
        in_callbacks_ = false;
        if (closed_) return destroy_if_done();
        flush();
        if (!closed_) wait_readable();
    }

    void begin_drain() override { end(); }
    void force_close() override { close(); }

private:
    void append_body(std::string_view block) {
        if (chunked_) {
            out_.append_with([&](std::string& o) { http::response::append_chunk(o, block); });
        } else {
            out_.append(block);
        }
        wrote_since_heartbeat_ = true;
        schedule_flush();
    }

    // ---- topics -------------------------------------------------------------------------
    struct stream_topic {
        std::unique_ptr<topic_subscription> subscription;
        hub::cursor position;   // of the last message this client has
        std::string_view name;  // the registry's topic outlives the stream
    };

    // Subscribes to `names`, resuming each from its part of Last-Event-ID: by position in a route's
    // fixed list, by name in a client's own (named_). A topic whose history no longer covers its
    // cursor gets an explicit reset event and continues live.
    void subscribe_topics(const std::vector<std::string>& names) {
        if (names.empty()) return;
        std::vector<std::string_view> cursors;
        if (!named_) {
            for (std::string_view rest = last_event_id_; !rest.empty();) {
                auto comma = rest.find(',');
                cursors.push_back(rest.substr(0, comma));
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
            if (!cursors.empty() && cursors.size() != names.size()) cursors.assign(names.size(), "");
        }
        // A chunked stream of one topic, positional, takes the whole chunk encoded at publish (id
        // included); the subscription's format is what the group charges against the byte budget,
        // so it must name the bytes deliver() really queues.
        auto format = chunked_ && names.size() == 1 && !named_ ? topic_format::sse_chunk : topic_format::sse_block;
        topics_.reserve(names.size());
        for (std::size_t i = 0; i < names.size(); ++i) {
            auto* entry = thread_.server->find_topic(names[i]);
            if (!entry) continue;
            const hub::topic& t = *entry->handle;
            auto const epoch = t.epoch();   // read first: if it changes meanwhile, the next message says so
            hub::resumption resume{true, t.next_sequence()};   // no cursor: live from now
            if (named_) {
                if (auto c = hub::find_named_cursor(last_event_id_, t.name(), behaviour_.max_topics * 2))
                    resume = c->valid ? t.resume(c->position) : hub::resumption{false, t.next_sequence()};
            } else if (!cursors.empty()) {
                resume = t.resume(cursors[i]);
            }
            if (!resume.recovered) append_reset(t.name());
            auto& st = topics_.emplace_back(stream_topic{
                std::make_unique<topic_subscription>(static_cast<topic_sink&>(*this), format,
                                                     behaviour_.max_buffered_bytes),
                hub::cursor{epoch, resume.from - 1}, t.name()});
            // One topic's chunks carry their own id lines: a run of them can come as one joined block.
            st.subscription->take_joined_runs(format == topic_format::sse_chunk);
            entry->group_for(thread_, entry->handle).subscribe(*st.subscription, resume.from);
        }
    }

    // "This topic's history is gone: re-read its state." No id line: the browser keeps the id it
    // has, so a reconnect before the next message is told the same again rather than nothing.
    void append_reset(std::string_view topic) {
        std::string data;
        json::writer(data).begin_object().member("topic", topic).member("recovered", false).end_object();
        std::string block;
        sse::append_event(block, {.data = data, .type = named_ ? "tether:reset" : "reset"});
        append_body(block);
    }

    stream_topic* find(topic_subscription& sub) {
        for (auto& t : topics_)
            if (t.subscription.get() == &sub) return &t;
        return nullptr;
    }

    // Appends "id: c1,c2,...\n" (named_: "id: a:c1,b:c2,...\n"): every topic's position, so one
    // Last-Event-ID resumes all of them.
    void append_composite_id_line(std::string& out) const {
        out.append("id: ");
        char text[hub::cursor_max_chars];
        for (std::size_t i = 0; i < topics_.size(); ++i) {
            if (named_) {
                hub::append_named_cursor(out, topics_[i].name, topics_[i].position, i == 0);
                continue;
            }
            if (i) out.push_back(',');
            out.append(text, hub::format_cursor(topics_[i].position, text));
        }
        out.push_back('\n');
    }

    void deliver(topic_subscription& sub, const hub::payload_ptr& message, std::string_view bytes) override {
        stream_topic* t = find(sub);
        if (message->epoch() != t->position.epoch) {   // a backplane changed the topic's epoch
            t->position.epoch = message->epoch();
            append_reset(sub.group->source().name());
        }
        if (sub.format() == static_cast<std::size_t>(topic_format::sse_chunk)) {   // one topic: its chunk as is
            t->position.sequence = message->sequence();
            out_.append_shared(message, bytes, &sub);
            wrote_since_heartbeat_ = true;
            return schedule_flush();
        }
        t->position.sequence = message->sequence();
        std::string_view block = bytes;   // the subscription's format is sse_block here
        // Per subscriber and message: the chunk header and our id line go out as one owned piece
        // built in the reused scratch buffer (no allocation), then the shared event bytes.
        scratch_.clear();
        append_composite_id_line(scratch_);
        if (chunked_) {   // RFC 9112 §7.1: chunk-size in hex, CRLF, then the id line and the block
            char size[24];
            auto [end, ec] = std::to_chars(size, size + 20, scratch_.size() + block.size(), 16);
            (void)ec;
            *end++ = '\r';
            *end++ = '\n';
            scratch_.insert(0, size, static_cast<std::size_t>(end - size));
        }
        out_.append(scratch_);
        out_.append_shared(message, block, &sub);
        if (chunked_) out_.append("\r\n");
        wrote_since_heartbeat_ = true;
        schedule_flush();
    }
    // A run of one topic's chunks (sse_chunk only, see subscribe), queued as they are.
    void deliver_run(topic_subscription& sub, const hub::payload_ptr& first, const hub::payload_ptr& joined,
                     std::string_view chunks, std::size_t count, bool) override {
        stream_topic* t = find(sub);
        if (first->epoch() != t->position.epoch) {
            t->position.epoch = first->epoch();
            append_reset(sub.group->source().name());
        }
        t->position.sequence = first->sequence() + count - 1;
        out_.append_shared(joined, chunks, &sub);
        wrote_since_heartbeat_ = true;
        schedule_flush();
    }
    void missed(topic_subscription& sub, std::uint64_t first, std::uint64_t last) override {
        stream_topic* t = find(sub);
        t->position.sequence = last;
        if (auto epoch = sub.group->source().epoch(); epoch != t->position.epoch) {   // skipped to a new epoch
            t->position.epoch = epoch;
            return append_reset(sub.group->source().name());
        }
        std::string data;
        json::writer(data).begin_object().member("topic", sub.group->source().name())
            .member("first", hub::to_string({t->position.epoch, first}))
            .member("last", hub::to_string({t->position.epoch, last})).end_object();
        std::string block;
        append_composite_id_line(block);
        sse::append_event(block, {.data = data, .type = named_ ? "tether:missed" : "missed"});
        append_body(block);
    }
    void cut_off(topic_subscription&, hub::disconnect_reason) override { end(); }
    void give_back(void* tag, std::size_t bytes) {
        auto* sub = static_cast<topic_subscription*>(tag);
        if (sub->group) sub->group->written(*sub, bytes);
    }

    // ---- reading: only to notice the client leaving ------------------------------------------
    void wait_readable() {
        if (reading_ || closed_) return;
        reading_ = true;
        ++pending_ops_;
        transport::async_wait_readable(socket_, [this](std::error_code ec) {
            op_guard guard(*this);
            reading_ = false;
            if (closed_) return;
            if (ec) return close();
            char* buffer = thread_.read_buffer();
            for (;;) {
                std::size_t n = transport::read_some(socket_, buffer, io_thread::read_buffer_size, ec);
                if (net::would_block(ec)) break;
                if (ec || n == 0) return close();   // EOF: the browser closed the stream
            }
            wait_readable();
        });
    }

    // ---- heartbeats ---------------------------------------------------------------------
    void arm_heartbeat() {
        if (behaviour_.heartbeat.count() > 0) thread_.wheel().arm(*this, behaviour_.heartbeat);
        else thread_.wheel().cancel(*this);
    }

    void on_timer() override {
        if (closed_) return;
        if (ending_) return close();   // a client that does not read the last chunk
        // A client that stopped reading: the socket stayed full for send_timeout (the deadline
        // restarts whenever a write makes progress). It resumes later from its Last-Event-ID;
        // meanwhile it holds no descriptor, budget or kernel buffer.
        if (writing_) return close();
        out_.release_memory();   // what the last burst kept for the next, if the queue is empty
        if (!wrote_since_heartbeat_) {
            std::string beat;
            sse::append_comment(beat);
            append_body(beat);
        }
        wrote_since_heartbeat_ = false;
        arm_heartbeat();
    }

    // ---- writing ------------------------------------------------------------------------
    void schedule_flush() {
        if (in_callbacks_ || corked_ || closed_) return;
        corked_ = true;
        ++pending_ops_;
        thread_.cork(*this);
    }

    void on_uncork() override {
        op_guard guard(*this);
        corked_ = false;
        if (!closed_) flush();
    }

    void flush() {
        if (writing_ || closed_) return;
        std::size_t before = out_.size();
        std::error_code ec = out_.template write<transport>(socket_, [this](void* tag, std::size_t n) { give_back(tag, n); });
        if (net::would_block(ec)) {
            // The stalled-writer deadline replaces the heartbeat while the socket is full, and
            // restarts whenever the peer took some bytes.
            if (out_.size() < before || !stalled_) thread_.wheel().arm(*this, thread_.server->options().send_timeout);
            stalled_ = true;
            return wait_writable();
        }
        if (ec) return close();
        if (stalled_ && !ending_) {
            stalled_ = false;
            arm_heartbeat();
        }
        if (ending_) {
            transport::shutdown_send(socket_);
            thread_.wheel().arm(*this, std::chrono::seconds(2));   // then close, read or not
        }
    }

    void wait_writable() {
        writing_ = true;
        ++pending_ops_;
        transport::async_wait_writable(socket_, [this](std::error_code ec) {
            op_guard guard(*this);
            writing_ = false;
            if (closed_) return;
            if (ec) return close();
            flush();
        });
    }

    // ---- lifetime -----------------------------------------------------------------------
    void close() {
        if (closed_) return;
        closed_ = true;
        thread_.wheel().cancel(*this);
        transport::close(socket_);
        thread_.remove(*this);
        thread_.stats.sse_open.sub();
        for (auto& t : topics_)
            if (t.subscription->group) t.subscription->group->unsubscribe(*t.subscription);
        out_.clear([this](void* tag, std::size_t n) { give_back(tag, n); });
        if (anchor_) anchor_->release();
        ++pending_ops_;
        if (behaviour_.on_close) behaviour_.on_close(*this);
        --pending_ops_;
        if (!in_callbacks_) destroy_if_done();
    }

    friend class op_guard<sse_connection>;
    void destroy_if_done() {
        if (pending_ops_ == 0 && closed_) delete this;
    }

    thread_state& thread_;   // and through it the server (thread_.server), as for a WebSocket
    socket_type socket_;
    const behaviour_type& behaviour_;
    UserData user_data_;
    std::string last_event_id_;
    output_queue out_;
    std::string scratch_;
    std::vector<stream_topic> topics_;
    std::shared_ptr<connection_anchor<sse_connection>> anchor_;
    unsigned char pending_ops_ = 0;
    bool chunked_;
    bool closed_ = false, ending_ = false, reading_ = false, writing_ = false, corked_ = false;
    bool in_callbacks_ = false, wrote_since_heartbeat_ = false;
    bool stalled_ = false;   // the last write left bytes the socket would not take
    bool named_ = false;     // the client chose the topics: ids and events name them
};

} // namespace tether::net
