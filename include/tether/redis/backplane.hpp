#pragma once
// tether::redis::backplane: several tether servers ("nodes") serve the same topics as one, through Redis.
//
//   tether::redis::backplane redis{"redis://127.0.0.1:6379/0"};   // declared before the server
//   tether::server app{options};
//   app.use_backplane(redis);                 // or per topic: app.topic("news", {.backplane = &redis})
//   auto news = app.topic("news");
//   redis.wait_until_ready(std::chrono::seconds(5));
//   news.async_publish(body, [](std::error_code ec, tether::hub::cursor id) { ... });
//
// The design, and why.
//
// One order, decided by Redis. Every publish, from any node, goes through one Lua script (scripts.hpp) that
// reads or creates the topic's epoch, INCRs its offset, XADDs the message to a capped stream and PUBLISHes
// (epoch, offset, key, body) on the topic's channel, atomically: Redis runs scripts one at a time, so the offset
// order is the only order there is, and the id a node gives its clients (`<epoch>-<offset>`) is the same id
// on every node and every transport. A cursor from node A therefore resumes on node B.
//
// Each node's ring is a cache of Redis' history, fed in that order by one thread (topic_sync.hpp decides
// what to ingest, what to fetch, when to skip): channel messages in the steady state; a fetch script that
// reads the stream when a gap shows (an offset further than the next one, a reconnect, a late start). The
// stream is capped at the topic's history (the ring's capacity) and an optional byte budget, so a node that
// has caught up holds what Redis holds, and a resume that the ring cannot serve could not be served from
// Redis either; a node that starts late or was cut off fills its ring from the stream before it is "ready"
// (wait_until_ready), which is how a resume older than that node's ring is served from Redis' history.
// Rejected: fetching per resuming client (every transport would need an asynchronous resume, and the ring,
// once warm, already holds exactly Redis' history), and Redis lists or sorted sets (a stream keeps ids and
// trims by count in one command).
//
// The epoch lives in Redis. When Redis loses a topic (FLUSHALL, a restart without persistence, eviction),
// the next publish finds no epoch and starts one, and so does a node that notices the loss first (it asks
// for a new epoch explicitly, so that every node and client learns of it even if nobody publishes). Offsets
// of a new epoch continue after the publishing node's position, so sequences never go back in any ring
// (hub/topic.hpp relies on it); where a node finds Redis behind what it delivered (an AOF that lost its last
// writes), it starts a new epoch above its position rather than ever reuse an id for another message. A
// client whose cursor is of another epoch gets recovered:false / event: reset, never a silent gap and never
// a duplicate; a live subscriber is told the same at the first message of the new epoch (the transports
// compare each message's epoch with the one they last sent).
//
// Completions and batching. hub::topic::submit() (tether::topic::async_publish) puts the message in a queue;
// the backplane thread sends a topic's queued messages as one run, one script that stores them all and
// PUBLISHes them as one channel message, and while a run is in Redis the topic's next messages wait for it
// (session.hpp). An idle topic's publish thus leaves at once, and a busy topic's runs grow with Redis' round
// trip, with no timer: Redis pays its per-script and per-PUBLISH costs (a Lua call, a write to every node)
// once per run, and each node wakes once per run and writes it to each subscriber in one send. One publish
// per script, pipelined, was measured first: at 7,000 messages/s across three nodes Redis spent 24 us a
// script and every stage woke once per message.
// A request completes only when Redis answered: with the id it was stored under, or an error (errors.hpp),
// never success for a message Redis did not store. Unanswered publishes are bounded (count and bytes):
// past that, or while Redis is unreachable, they fail at once instead of queueing without limit.
//
// Threads. One thread of its own with its own io_context runs both Redis connections (commands, and the
// pub/sub one, which RESP2 cannot share) and ingests into the rings. So a slow Redis delays nothing but that
// thread: publishers only queue, and I/O threads only read rings. Reconnects back off exponentially with full
// jitter (so that a fleet does not reconnect in step); subscribers stay connected meanwhile, and the first
// fetch after the reconnect fills whatever they missed, or changes the epoch if Redis lost it. A command
// unanswered for command_timeout counts as a lost connection (hiredis 0.14 has no timeouts of its own).
//
// Presence (presence.hpp) rides on the same heartbeat that probes the connection.
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <tether/hub/sequencer.hpp>
#include <tether/hub/topic.hpp>
#include <tether/log.hpp>
#include <tether/redis/connection.hpp>
#include <tether/redis/errors.hpp>
#include <tether/redis/presence.hpp>
#include <tether/redis/scripts.hpp>
#include <tether/redis/session.hpp>
#include <tether/redis/topic_sync.hpp>
#include <tether/redis/url.hpp>
#include <tether/redis/wire.hpp>
#include <tether/server/backplane.hpp>

namespace tether::redis {

/// A conflating topic's newest value for one key (backplane::async_latest).
struct latest_value {
    std::string key;
    hub::cursor id;
    std::string body;
};

class backplane final : public tether::backplane, public hub::sequencer {
public:
    /// Parses `url` (url.hpp; throws std::invalid_argument) and starts connecting on its own thread.
    explicit backplane(std::string_view url, backplane_options options = {})
        : session_{parse_url(url), std::move(options)} {}
    ~backplane() { session_.shut_down(); }

    // ---- what the server calls -----------------------------------------------------------------
    void attach(hub::topic_handle const& topic, backplane_topic options) override {
        topic->set_sequencer(this);
        session_.attach(topic, options);
    }
    void submit(hub::topic& topic, hub::publish_request_ptr request) override { session_.submit(topic, std::move(request)); }

    // ---- what the application calls ------------------------------------------------------------
    /// Blocks the caller (at start-up, before listening) until connected and every attached topic has caught
    /// up with Redis, or `timeout` passed. True if ready.
    bool wait_until_ready(std::chrono::milliseconds timeout) { return session_.wait_until_ready(timeout); }
    bool connected() const noexcept { return session_.connected(); }
    backplane_stats stats() const noexcept { return session_.stats(); }
    std::string const& node_id() const noexcept { return session_.node_id(); }

    /// Names `user` as present on `topic` on this node (counted once however often joined), until as many
    /// leave() calls. Any thread; reaches Redis with the next heartbeat.
    void join(std::string_view topic, std::string_view user) { session_.users().join(topic, user); }
    void leave(std::string_view topic, std::string_view user) { session_.users().leave(topic, user); }

    /// Presence on `topic` across all live nodes: void(std::error_code, presence).
    template <class CompletionToken>
    auto async_presence(std::string_view topic, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, presence)>(
            [this](auto handler, std::string topic) {
                session_.query(scripts::presence_query, std::move(topic), true,
                               completion(std::move(handler), [](redisReply const* r) { return sum_presence(r); }));
            },
            token, std::string(topic));
    }

    /// A conflating topic's newest value per key, in offset order: void(std::error_code, std::vector<latest_value>).
    /// What a node serves as "the current state" to a client that was told recovered:false.
    template <class CompletionToken>
    auto async_latest(std::string_view topic, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, std::vector<latest_value>)>(
            [this](auto handler, std::string topic) {
                session_.query(scripts::latest, std::move(topic), false,
                               completion(std::move(handler), [](redisReply const* r) -> std::optional<std::vector<latest_value>> {
                                   auto values = wire::parse_latest(r);
                                   if (!values) return std::nullopt;
                                   std::vector<latest_value> out;
                                   for (auto const& e : values->entries)
                                       out.push_back({std::string(e.key), {values->epoch, e.offset}, std::string(e.body)});
                                   return out;
                               }));
            },
            token, std::string(topic));
    }

private:
    // Wraps an Asio handler into the session's reply callback: decodes the reply on the backplane thread
    // and dispatches (error, value) to the handler's executor (default: the backplane thread).
    template <class Handler, class Decode>
    static session::reply_function completion(Handler handler, Decode decode) {
        using value_type = typename std::invoke_result_t<Decode, redisReply const*>::value_type;
        auto work = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        auto shared = std::make_shared<std::pair<Handler, decltype(work)>>(std::move(handler), std::move(work));
        return [shared, decode](std::error_code ec, redisReply const* r) {
            value_type value{};
            if (!ec) {
                if (auto decoded = decode(r)) value = std::move(*decoded);
                else ec = errc::bad_reply;
            }
            auto work = std::move(shared->second);
            asio::dispatch(work, [h = std::move(shared->first), ec, v = std::move(value)]() mutable { std::move(h)(ec, std::move(v)); });
        };
    }

    session session_;
};

} // namespace tether::redis
