#pragma once
// The connection's half of a deferred response (http/deferred_response.hpp): a channel other threads
// post the finished reply through, and the deferred work the connection holds until it arrives.
//
// Lifetimes, which is what this file is about: the handle may outlive the connection (the client
// left), and the connection may give up on the handle (its deadline passed). So the two meet only in
// a shared channel, and the channel's pointer to the connection's work is read and written on the
// connection's I/O thread alone: the worker thread writes the reply, then posts; the post is what
// orders the reply before the I/O thread reads it. A reply that arrives after the work is gone is
// counted and dropped; one sent after the whole server is gone is dropped by the thread's post_gate
// (so a handle may safely outlive the server).
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <tether/http/deferred_response.hpp>
#include <tether/http/error.hpp>
#include <tether/metrics/per_thread.hpp>
#include <tether/net/deferred.hpp>
#include <tether/net/io_thread.hpp>

namespace tether::net {

// Counted per I/O thread (see server/stats.hpp).
struct reply_counters {
    metrics::counter* late = nullptr;        // sent after the client left or the deadline
    metrics::counter* timed_out = nullptr;   // answered 504
    metrics::counter* abandoned = nullptr;   // handle dropped unsent: answered 500
};

class reply_work;

class reply_channel final : public http::deferred_channel, public std::enable_shared_from_this<reply_channel> {
public:
    reply_channel(std::shared_ptr<post_gate> gate, reply_counters counters) : gate_(std::move(gate)), counters_(counters) {}

    // Any thread.
    void deliver(http::response&& finished) override {
        result_ = std::move(finished);
        gate_->post([self = shared_from_this()] { self->arrived(false); });
    }
    void abandon() override {
        gate_->post([self = shared_from_this()] { self->arrived(true); });
    }

private:
    friend class reply_work;
    inline void arrived(bool abandoned);

    std::shared_ptr<post_gate> gate_;
    reply_counters counters_;
    http::response result_;        // written by deliver() before its post; read on the I/O thread after
    reply_work* work_ = nullptr;   // I/O thread only
};

class reply_work final : public deferred_work {
public:
    reply_work(std::shared_ptr<reply_channel> channel, std::chrono::milliseconds timeout)
        : channel_(std::move(channel)), timeout_(timeout) {
        channel_->work_ = this;
        from_handle = true;
    }
    ~reply_work() override { channel_->work_ = nullptr; }

    void start(responder& r) override {
        responder_ = &r;
        if (state_ != state::waiting) r.wake();   // sent before the handler even returned
    }

    void fill(http::response& res, bool timed_out) override {
        switch (state_) {
        case state::sent: res = std::move(channel_->result_); return;
        case state::abandoned:
            if (channel_->counters_.abandoned) channel_->counters_.abandoned->add();
            return http::write_error(res, 500, "the handler dropped its reply without sending it");
        case state::waiting: break;
        }
        (void)timed_out;
        if (channel_->counters_.timed_out) channel_->counters_.timed_out->add();
        http::write_error(res, 504, "the handler did not answer in time");
    }

    std::chrono::milliseconds timeout() const override { return timeout_; }

private:
    friend class reply_channel;
    enum class state : unsigned char { waiting, sent, abandoned };

    void arrived(bool abandoned) {
        if (state_ != state::waiting) return;
        state_ = abandoned ? state::abandoned : state::sent;
        if (responder_) responder_->wake();
    }

    std::shared_ptr<reply_channel> channel_;
    std::chrono::milliseconds timeout_;
    responder* responder_ = nullptr;
    state state_ = state::waiting;
};

inline void reply_channel::arrived(bool abandoned) {
    if (work_) return work_->arrived(abandoned);
    // The connection answered already (deadline) or is gone (client left): nothing to do but count.
    if (!abandoned && counters_.late) counters_.late->add();
}

} // namespace tether::net
