#pragma once
// A held long-poll request: subscribed to its topic on the connection's I/O thread, it wakes the
// connection at the first message after the client's cursor (or at the timeout) and the answer
// is then read from the topic's history, so everything published meanwhile arrives in one batch.
// Destroying it (the client left, the server stops) unsubscribes it; nothing else is kept per
// poller between requests.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <tether/hub/topic.hpp>
#include <tether/net/deferred.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/poll/batch.hpp>

namespace tether::net {

class long_poll_waiter final : public deferred_work, private topic_sink {
public:
    // `since`: the client's cursor, which the topic's resume() accepted.
    long_poll_waiter(hub::topic_handle topic, group_base& group, hub::cursor since, std::chrono::milliseconds timeout,
                     poll::batch_limits limits, std::function<void()> on_done)
        : topic_(std::move(topic)), group_(group), since_(since), from_(since.sequence + 1), timeout_(timeout), limits_(limits),
          on_done_(std::move(on_done)),
          subscription_(static_cast<topic_sink&>(*this), topic_format::poll_json, std::size_t{1} << 30) {}

    ~long_poll_waiter() override {
        if (subscription_.group) group_.unsubscribe(subscription_);
        if (on_done_) on_done_();
    }

    void start(responder& r) override {
        responder_ = &r;
        group_.subscribe(subscription_, from_);
    }

    void fill(http::response& res, bool) override {
        if (subscription_.group) group_.unsubscribe(subscription_);
        std::string body;
        auto const format = static_cast<std::size_t>(topic_format::poll_json);
        // Asked again: while held, the history may have moved past the cursor (a gap a backplane skipped,
        // or its epoch changed), and then the answer is recovered=false, not an empty batch.
        if (topic_->resume(since_).recovered) {
            poll::append_batch(body, *topic_, from_, true, limits_, format, since_.epoch);
        } else {
            poll::append_batch(body, *topic_, topic_->next_sequence(), false, limits_, format);
        }
        res.header("Cache-Control", "no-store").json(std::move(body));
    }

    std::chrono::milliseconds timeout() const override { return timeout_; }

private:
    // Any news is enough: the batch itself is read from the history in fill().
    void deliver(topic_subscription&, const hub::payload_ptr&, std::string_view) override { ready(); }
    void deliver_run(topic_subscription&, const hub::payload_ptr&, const hub::payload_ptr&, std::string_view,
                     std::size_t, bool) override {
        ready();
    }
    void missed(topic_subscription&, std::uint64_t, std::uint64_t) override { ready(); }
    void cut_off(topic_subscription&, hub::disconnect_reason) override { ready(); }
    void ready() {
        group_.unsubscribe(subscription_);
        responder_->wake();
    }

    hub::topic_handle topic_;
    group_base& group_;
    hub::cursor since_;
    std::uint64_t from_;
    std::chrono::milliseconds timeout_;
    poll::batch_limits limits_;
    std::function<void()> on_done_;
    topic_subscription subscription_;
    responder* responder_ = nullptr;
};

} // namespace tether::net
