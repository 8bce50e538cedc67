#pragma once
// Where the hub meets the I/O threads: for every (I/O thread, topic) pair one hub::reader_group,
// created the first time a connection on that thread subscribes, woken by a post to the
// thread (io_thread::post), draining to the thread's own connections (hub/reader_group.hpp).
//
// Connections receive messages through topic_sink, the one interface every streaming transport
// (WebSocket, SSE, long-poll waiters) implements, and hold one topic_subscription per topic.
// The policy (disconnect, drop_oldest, conflate) is a property of the topic, chosen when the
// application opens it, so groups are reached through a small virtual base; the per-message
// path inside a group stays fully typed.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <tether/hub/backpressure.hpp>
#include <tether/hub/reader_group.hpp>
#include <tether/hub/topic.hpp>

namespace tether::net {

// Wire formats of every server topic, by index (tether/topic.hpp encodes them; only those with a
// subscriber at publish time, the others when first read).
// sse_block has no id (a stream carrying several topics writes its own composite id in front);
// sse_chunk is the whole HTTP/1.1 chunk for a single-topic stream, id included, so those
// streams, the common case, queue nothing but the shared bytes.
// ws_deflate and ws_deflate_small: the WebSocket frame compressed with permessage-deflate (RFC 7692)
// for subscribers whose agreed server_max_window_bits is 15 (every browser), and for all others: a
// frame compressed with zlib's smallest window reaches back at most 250 bytes, which any agreed
// window (8 to 15 bits) holds, so two formats serve every parameter set. A format per window would
// compress a little better for the rare client that limits the window, and cost every message of
// every topic two more slots. Like every format they are built only when someone reads them: a
// message is compressed once per format in use, not once per subscriber.
// ws_raw is the body alone in a frame, without the envelope (a raw subscription; never compressed:
// see tether/topic.hpp).
enum class topic_format : std::size_t {
    poll_json = 0, ws_frame = 1, sse_block = 2, sse_chunk = 3, ws_deflate = 4, ws_deflate_small = 5, ws_raw = 6
};

// The compressed frame format for a subscriber whose compressor may use `window_bits` (8..15).
[[nodiscard]] constexpr topic_format ws_deflate_format(std::uint8_t window_bits) noexcept {
    return window_bits >= 15 ? topic_format::ws_deflate : topic_format::ws_deflate_small;
}

class group_base;
struct topic_subscription;

class topic_sink {
public:
    // `bytes` is the message in the subscription's format (message->encoded(s.format())), looked up
    // once for all subscribers of the group that share that format.
    virtual void deliver(topic_subscription& s, const hub::payload_ptr& message, std::string_view bytes) = 0;
    // `count` consecutive messages, `first` the first of them, whose bytes in the subscription's format lie
    // back to back in `bytes` inside `joined` (reader_group.hpp: joined runs). Only for subscriptions that
    // said take_joined_runs(true); the sink queues them as one piece, or writes them at once when
    // `more_follow` is false (the drain found nothing behind them) and nothing else is waiting to go.
    virtual void deliver_run(topic_subscription& s, const hub::payload_ptr& first, const hub::payload_ptr& joined,
                             std::string_view bytes, std::size_t count, bool more_follow) = 0;
    // The subscriber will never get [first, last] (drop_oldest lapped it, conflation, history lost).
    virtual void missed(topic_subscription& s, std::uint64_t first, std::uint64_t last) = 0;
    // The disconnect policy cut this subscriber off.
    virtual void cut_off(topic_subscription& s, hub::disconnect_reason why) = 0;

protected:
    ~topic_sink() = default;
};

struct topic_subscription : hub::subscriber {
    topic_subscription(topic_sink& owner, topic_format f, std::size_t budget)
        : hub::subscriber(static_cast<std::size_t>(f), budget), sink(&owner) {}
    topic_sink* sink;
    group_base* group = nullptr;
    // The epoch of the ids this subscriber was last given. A topic ordered by a backplane can change
    // epoch at run time; a transport that finds a message of another epoch tells its client first
    // (recovered:false, event: reset), the way a resume from a lost cursor does.
    std::uint64_t epoch = 0;
    std::size_t unsent_after_leaving = 0;   // queued bytes still to be written after unsubscribing
};

struct sink_delivery {
    void deliver(hub::subscriber& s, const hub::payload_ptr& m, std::string_view bytes) {
        auto& t = static_cast<topic_subscription&>(s);
        t.sink->deliver(t, m, bytes);
    }
    void deliver_run(hub::subscriber& s, const hub::payload_ptr& first, const hub::payload_ptr& joined,
                     std::string_view bytes, std::size_t count, bool more_follow) {
        auto& t = static_cast<topic_subscription&>(s);
        t.sink->deliver_run(t, first, joined, bytes, count, more_follow);
    }
    void missed(hub::subscriber& s, std::uint64_t first, std::uint64_t last) {
        auto& t = static_cast<topic_subscription&>(s);
        t.sink->missed(t, first, last);
    }
    void disconnect(hub::subscriber& s, hub::disconnect_reason why) {
        auto& t = static_cast<topic_subscription&>(s);
        t.sink->cut_off(t, why);
    }
};

class group_base {
public:
    virtual ~group_base() = default;
    // from: first sequence to deliver (replay), or nullopt for live only.
    virtual void subscribe(topic_subscription& s, std::optional<std::uint64_t> from) = 0;
    virtual void unsubscribe(topic_subscription& s) noexcept = 0;
    virtual void written(topic_subscription& s, std::size_t bytes) = 0;
    virtual hub::topic& source() noexcept = 0;
};

template <class Policy>
class group final : public group_base {
public:
    // `thread` is the I/O thread the group drains on: anything with post(callable), any thread.
    template <class Thread>
    group(hub::topic_handle topic, Thread& thread)
        : group_(std::move(topic), [&thread](hub::drain_request r) { thread.post(std::move(r)); }) {}
    // Also counts the topic's open subscriptions (presence): one up per subscribe, one down when the
    // transport lets go, whether or not the group cut it off first.
    void subscribe(topic_subscription& s, std::optional<std::uint64_t> from) override {
        if (from) group_.subscribe(s, *from);
        else group_.subscribe(s);
        s.group = this;
        source().counters().subscribers.fetch_add(1, std::memory_order_relaxed);
    }
    void unsubscribe(topic_subscription& s) noexcept override {
        group_.unsubscribe(s);
        if (s.group == this) source().counters().subscribers.fetch_sub(1, std::memory_order_relaxed);
        s.group = nullptr;
    }
    void written(topic_subscription& s, std::size_t bytes) override { group_.written(s, bytes); }
    hub::topic& source() noexcept override { return group_.source(); }

private:
    hub::reader_group<sink_delivery, Policy> group_;
};

// One I/O thread's groups, by topic.
class topic_groups {
public:
    template <class Policy, class Thread>
    group_base& for_topic(const hub::topic_handle& topic, Thread& thread) {
        auto& slot = groups_[topic.get()];
        if (!slot) slot = std::make_unique<group<Policy>>(topic, thread);
        return *slot;
    }

private:
    std::unordered_map<const hub::topic*, std::unique_ptr<group_base>> groups_;
};

} // namespace tether::net
