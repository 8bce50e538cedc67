#pragma once
// Long polling over a topic (app.long_poll): GET ?since=<id> answers at once when newer
// messages exist (or the cursor is unknown: recovered=false), else holds the request until
// news or the timeout (an empty batch). The answer is poll/batch.hpp's JSON. Without since, it
// answers at once with the current position as "next". Requests held per client address are
// capped (429 past it), so one client cannot pin an unbounded number of connections. A cursor
// the history no longer covers gets recovered=false at once, with nothing (the client re-reads
// its state) or, on a conflating topic, the state itself: every key's latest value.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include <tether/http/error.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/backpressure.hpp>
#include <tether/hub/topic.hpp>
#include <tether/metrics/thread_metrics.hpp>
#include <tether/net/long_poll_waiter.hpp>
#include <tether/poll/batch.hpp>

namespace tether {

struct long_poll_options {
    // Runs first on every poll: throw http::error(401/403, ...) to refuse (see auth/jwt.hpp).
    std::function<void(const http::request&)> authorize{};
    std::chrono::milliseconds timeout{25'000};
    std::size_t max_batch = 100;                 // messages per answer
    std::size_t max_batch_bytes = 1024 * 1024;   // message bytes per answer (at least one message)
    std::size_t max_held_per_client = 6;
};

namespace poll {

// Long polls held per client address, shared by every long-poll route of a server. Any thread.
class held_polls {
public:
    bool hold(const std::string& peer, std::size_t cap) {
        std::lock_guard lock(mutex_);
        auto& n = held_[peer];
        if (n >= cap) return false;
        ++n;
        return true;
    }
    void release(const std::string& peer) {
        std::lock_guard lock(mutex_);
        auto it = held_.find(peer);
        if (it != held_.end() && --it->second == 0) held_.erase(it);
    }

private:
    std::mutex mutex_;
    std::map<std::string, std::size_t> held_;
};

// Holds a long poll: counted against its client's cap of held polls (429 past it) and admitted
// like a stream (a held poll holds a descriptor like one), then make_waiter(on_done) makes the
// work the connection waits on. on_done gives both back when that work goes (answered, timed out,
// or its client left), which happens on this thread: the gauge's up and down stay on one counter.
template <class Server, class MakeWaiter>
void hold_long_poll(Server& server, http::request& req, http::response& res, std::size_t max_held,
                    MakeWaiter&& make_waiter) {
    auto& thread = server.current_thread();
    std::string peer = req.client_address();
    auto& held = server.held_long_polls();
    if (!held.hold(peer, max_held)) {
        thread.metrics.hit(metrics::budget::held_polls_per_client);
        http::write_error(res, 429, "too many long polls held for this client");
        res.header("Retry-After", "1");
        return;
    }
    if (!server.admit_stream(req, res)) {
        held.release(peer);
        return;
    }
    auto& gauge = thread.stats.long_polls_held;
    std::unique_ptr<net::deferred_work> waiter;
    try {
        waiter = make_waiter(std::function<void()>([&held, peer, &gauge] {
            held.release(peer);
            gauge.sub();
        }));
    } catch (...) {
        held.release(peer);
        throw;
    }
    gauge.add();
    thread.deferred = std::move(waiter);
}

template <class Server, class Policy>
auto long_poll_handler(Server& server, hub::topic_handle handle, long_poll_options o) {
    return [&server, handle = std::move(handle), o](http::request& req, http::response& res) {
        if (o.authorize) o.authorize(req);
        const hub::topic& topic = *handle;
        auto since = http::find_query_param(req.query_string(), "since");
        std::string body;
        if (!since) {   // first request: learn the cursor
            append_batch(body, topic, topic.next_sequence(), true, {0, 0}, 0);
            res.header("Cache-Control", "no-store").json(std::move(body));
            return;
        }
        auto cursor = hub::parse_cursor(*since);
        auto resume = cursor ? topic.resume(*cursor) : hub::resumption{false, topic.next_sequence()};
        if (!resume.recovered && std::is_same_v<Policy, hub::backpressure::conflate>) {
            // A conflating topic's state is every key's latest value: give that, not nothing.
            append_latest_per_key(body, topic, false, {o.max_batch, o.max_batch_bytes}, 0);
            res.header("Cache-Control", "no-store").json(std::move(body));
            return;
        }
        if (!resume.recovered || resume.from < topic.next_sequence()) {
            if (resume.recovered)
                append_batch(body, topic, resume.from, true, {o.max_batch, o.max_batch_bytes}, 0, cursor->epoch);
            else
                append_batch(body, topic, topic.next_sequence(), false, {o.max_batch, o.max_batch_bytes}, 0);
            res.header("Cache-Control", "no-store").json(std::move(body));
            return;
        }
        auto& thread = server.current_thread();
        hold_long_poll(server, req, res, o.max_held_per_client, [&](std::function<void()> on_done) {
            return std::make_unique<net::long_poll_waiter>(
                handle, Server::thread_state::template group_for<Policy>(thread, handle),
                hub::cursor{cursor->epoch, resume.from - 1}, o.timeout, poll::batch_limits{o.max_batch, o.max_batch_bytes},
                std::move(on_done));
        });
    };
}

} // namespace poll
} // namespace tether
