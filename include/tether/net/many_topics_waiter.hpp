#pragma once
// A held long poll over several topics (poll/many.hpp): subscribed to each topic's group on the
// connection's I/O thread from the client's position, it wakes the connection at the first
// message on any of them (or at the timeout), and the answer is then read from the histories, so
// everything published meanwhile, on every topic, arrives in one body. Destroying it (the client
// left, the server stops) unsubscribes it from all of them.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <tether/http/response.hpp>
#include <tether/net/deferred.hpp>
#include <tether/net/topic_groups.hpp>

namespace tether::net {

class many_topics_waiter final : public deferred_work, private topic_sink {
public:
    struct watch {
        group_base* group;
        std::uint64_t from;   // the first sequence the client has not seen
    };

    many_topics_waiter(std::vector<watch> watches, std::chrono::milliseconds timeout,
                       std::function<void(http::response&)> answer, std::function<void()> on_done)
        : watches_(std::move(watches)), timeout_(timeout), answer_(std::move(answer)), on_done_(std::move(on_done)) {
        subscriptions_.reserve(watches_.size());
        for (std::size_t i = 0; i < watches_.size(); ++i)
            subscriptions_.push_back(std::make_unique<topic_subscription>(static_cast<topic_sink&>(*this),
                                                                          topic_format::poll_json, std::size_t{1} << 30));
    }

    ~many_topics_waiter() override {
        unsubscribe_all();
        if (on_done_) on_done_();
    }

    void start(responder& r) override {
        responder_ = &r;
        for (std::size_t i = 0; i < watches_.size(); ++i) watches_[i].group->subscribe(*subscriptions_[i], watches_[i].from);
    }

    void fill(http::response& res, bool) override {
        unsubscribe_all();
        answer_(res);
    }

    std::chrono::milliseconds timeout() const override { return timeout_; }

private:
    // Any news on any topic is enough: the answer itself is read from the histories in fill().
    void deliver(topic_subscription&, const hub::payload_ptr&, std::string_view) override { ready(); }
    void deliver_run(topic_subscription&, const hub::payload_ptr&, const hub::payload_ptr&, std::string_view,
                     std::size_t, bool) override {
        ready();
    }
    void missed(topic_subscription&, std::uint64_t, std::uint64_t) override { ready(); }
    void cut_off(topic_subscription&, hub::disconnect_reason) override { ready(); }
    void ready() {
        if (woken_) return;
        woken_ = true;
        unsubscribe_all();
        responder_->wake();
    }
    void unsubscribe_all() {
        for (std::size_t i = 0; i < subscriptions_.size(); ++i)
            if (subscriptions_[i]->group) watches_[i].group->unsubscribe(*subscriptions_[i]);
    }

    std::vector<watch> watches_;
    std::vector<std::unique_ptr<topic_subscription>> subscriptions_;
    std::chrono::milliseconds timeout_;
    std::function<void(http::response&)> answer_;
    std::function<void()> on_done_;
    responder* responder_ = nullptr;
    bool woken_ = false;
};

} // namespace tether::net
