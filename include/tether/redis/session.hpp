#pragma once
// The backplane's machinery (backplane.hpp has the design and the public face): its thread, its two Redis
// connections and their reconnects, the attached topics and their catch-up state (topic_sync.hpp), the queue
// of publishes, and a heartbeat that is both the connection's watchdog and the presence refresh.
//
// The public functions are thread-safe; everything else runs on the backplane's own thread, so none of the
// state below is shared or locked, except the publish queue (one short critical section per publish: a
// lock-free queue would save nanoseconds on a path that then waits for a network round trip) and the list
// of attached topics (touched at start-up and shutdown).
//
// Why one header of ~700 lines: it is one state machine on one thread. A session's state, its generation
// (which makes every callback of a lost session stale), the publish runs in flight and the topics' catch-up
// all change together in lost(), became_ready() and shutdown; split by concern, each part would need the
// others' private state. The parts with no I/O in them live apart: topic_sync.hpp (catch-up decisions),
// wire.hpp (parsing), scripts.hpp (the Lua side), connection.hpp (hiredis on Asio), presence.hpp.
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
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
#include <tether/redis/topic_sync.hpp>
#include <tether/redis/url.hpp>
#include <tether/redis/wire.hpp>
#include <tether/server/backplane.hpp>

namespace tether::redis {

struct backplane_options {
    std::string prefix = "tether:";    ///< of every key and channel (scripts.hpp)
    std::string node_id;               ///< this node in presence entries; empty: host:pid:random
    std::size_t history_bytes = 0;     ///< byte budget of each topic's stream; 0: the topic's own (max_bytes)
    std::size_t max_unanswered = 65536;                    ///< publishes queued or waiting for Redis
    std::size_t max_unanswered_bytes = std::size_t{64} << 20;
    std::chrono::milliseconds command_timeout{3000};       ///< unanswered this long: the connection is dead
    std::chrono::milliseconds reconnect_min{100};          ///< backoff: from this, doubling, with full jitter
    std::chrono::milliseconds reconnect_max{5000};
    std::chrono::milliseconds presence_interval{1000};     ///< heartbeat: presence refresh and watchdog probe
    std::chrono::milliseconds presence_ttl{3000};          ///< a node's entries outlive its last refresh by this
    std::function<void(log::level, std::string_view)> log; ///< default: warnings and errors to stderr
};

struct backplane_stats {
    bool connected = false;
    std::uint64_t connects = 0;    ///< sessions established (1 + reconnects)
    std::uint64_t stored = 0;      ///< publishes Redis confirmed
    std::uint64_t failed = 0;      ///< publishes completed with an error
    std::uint64_t fetches = 0;     ///< catch-up reads of topic histories
};

class session final : private topic_sync::requests {
public:
    /// A query's answer: an error, or the reply (valid during the call).
    using reply_function = std::function<void(std::error_code, redisReply const*)>;

    session(url where, backplane_options options)
        : where_{std::move(where)}, options_{std::move(options)}, node_id_{make_node_id(options_.node_id)} {
        if (!options_.log) {
            options_.log = [](log::level l, std::string_view m) { log::stderr_logger{}.log(l, "redis backplane: " + std::string(m)); };
        }
        new_candidate();
        sub_.on_message([this](std::string_view channel, std::string_view payload) { on_channel(channel, payload); });
        asio::post(io_, [this] { connect(); });
        arm_tick();
        thread_ = std::thread{[this] { run(); }};
    }
    session(session const&) = delete;
    session& operator=(session const&) = delete;

    /// Stops the thread (removing this node's presence entries first, briefly, if connected). Publishes
    /// still unanswered complete with `indeterminate`, later ones with `stopped`.
    void shut_down() {
        if (stopping_.exchange(true)) return;
        {
            std::lock_guard lock{attached_mutex_};
            for (auto const& t : attached_) t->set_sequencer(&stopped_sequencer());
        }
        asio::post(io_, [this] { begin_shutdown(); });
        if (thread_.joinable()) thread_.join();
        std::lock_guard lock{queue_mutex_};
        for (auto& q : queue_) q.request->complete(errc::stopped, {});
        queue_.clear();
    }

    void attach(hub::topic_handle const& topic, backplane_topic options) {
        {
            std::lock_guard lock{attached_mutex_};
            attached_.push_back(topic);
        }
        asio::post(io_, [this, topic, options] {
            auto& e = *topics_.emplace_back(std::make_unique<entry>(*this, topic, options, options_.prefix, where_.db));
            by_channel_.emplace(e.keys.channel, &e);
            by_topic_.emplace(topic.get(), &e);
            if (state_ == state::ready) subscribe_one(e);
        });
    }

    void submit(hub::topic& topic, hub::publish_request_ptr request) {
        std::size_t const bytes = request->body().size() + request->key().size();
        if (stopping_.load(std::memory_order_acquire)) return request->complete(errc::stopped, {});
        if (!connected_.load(std::memory_order_acquire)) return fail_now(*request, errc::not_connected);
        auto const count = unanswered_.fetch_add(1, std::memory_order_relaxed) + 1;
        auto const total = unanswered_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
        if (count > options_.max_unanswered || total > options_.max_unanswered_bytes) {
            unanswered_.fetch_sub(1, std::memory_order_relaxed);
            unanswered_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
            return fail_now(*request, errc::overloaded);
        }
        bool post_drain;
        {
            std::lock_guard lock{queue_mutex_};
            queue_.push_back({&topic, std::move(request), bytes});
            post_drain = !drain_posted_;
            drain_posted_ = true;
        }
        if (post_drain) asio::post(io_, [this] { drain_queue(); });   // one wake per burst
    }

    bool wait_until_ready(std::chrono::milliseconds timeout) {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto answer = std::make_shared<std::promise<bool>>();
            auto ready = answer->get_future();
            asio::post(io_, [this, answer] { answer->set_value(all_in_step()); });
            if (ready.wait_until(deadline) != std::future_status::ready) return false;
            if (ready.get()) return true;
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
        }
    }

    /// Runs `script` (presence_query or latest) for `topic` and answers on the backplane thread.
    void query(std::string_view script, std::string topic, bool presence_keys, reply_function done) {
        asio::post(io_, [this, script, topic = std::move(topic), presence_keys, done = std::move(done)]() mutable {
            if (state_ != state::ready) return deliver(done, errc::not_connected, nullptr);
            scripts::topic_keys const keys{options_.prefix, topic, where_.db};
            auto const& s = script == scripts::latest ? latest_ : presence_query_;
            std::vector<std::string> args = presence_keys ? std::vector<std::string>{keys.presence, keys.presence_ttl}
                                                          : std::vector<std::string>{keys.meta, keys.latest};
            eval(s, 2, std::move(args), [done = std::move(done)](redisReply* r) {
                if (r == nullptr) return deliver(done, errc::indeterminate, nullptr);
                deliver(done, r->type == REDIS_REPLY_ERROR ? std::error_code{errc::rejected} : std::error_code{}, r);
            });
        });
    }

    bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }
    std::string const& node_id() const noexcept { return node_id_; }
    presence_users& users() noexcept { return users_; }
    backplane_stats stats() const noexcept {
        return {connected(), connects_.load(std::memory_order_relaxed), stored_.load(std::memory_order_relaxed),
                failed_.load(std::memory_order_relaxed), fetches_.load(std::memory_order_relaxed)};
    }

private:
    enum class state : std::uint8_t { idle, connecting, ready, stopped };

    struct script_ref {
        explicit script_ref(std::string_view s) : body{s}, sha{scripts::sha1_hex(s)} {}
        std::string_view body;
        std::string sha;
    };

    struct entry;
    struct queued {
        hub::topic* topic;
        hub::publish_request_ptr request;
        std::size_t bytes;
    };

    // A topic's run of publishes between the queue and Redis' answer; hiredis carries it as its callback's
    // data. One per topic and at most one in flight: what is submitted meanwhile waits in `pending` and goes
    // as the next run. So an idle topic's publish leaves at once, and a busy one's runs grow with Redis'
    // round trip (the batching adapts to the load by itself; nothing waits on a timer). One in flight also
    // keeps a NOSCRIPT retry from being overtaken by the topic's next run.
    struct publish_batch {
        session* self = nullptr;
        entry* target = nullptr;
        std::vector<queued> runs;     // the requests it carries, in order
        bool busy = false;
        bool as_eval = false;
        char floor[24] = {};
        std::size_t floor_length = 0;
        std::vector<char const*> argv;   // the command, rebuilt per run; views into `runs` and the entry
        std::vector<std::size_t> lengths;
    };
    // A run stops at this many messages or bytes (a script blocks Redis while it runs; the first message
    // always goes, however large).
    static constexpr std::size_t max_batch_messages = 128;
    static constexpr std::size_t max_batch_bytes = std::size_t{1} << 20;

    struct entry {
        entry(session& owner, hub::topic_handle const& t, backplane_topic o, std::string const& prefix, int db)
            : keys{prefix, t->name(), db}, options{o}, name{t->name()}, maxlen{std::to_string(t->capacity())},
              maxbytes{std::to_string(owner.options_.history_bytes != 0 ? owner.options_.history_bytes : t->max_bytes())},
              sync{t, owner} {
            batch.self = &owner;
            batch.target = this;
        }
        scripts::topic_keys keys;
        backplane_topic options;
        std::string name, maxlen, maxbytes;   // the stream's budgets: the ring's count, the byte budget
        topic_sync sync;
        bool subscribed = false;         // its channel, in this session
        bool presence_written = false;   // an entry of ours is in Redis
        std::uint64_t last_stored = 0;   // the highest offset Redis said it stored for us
        std::deque<queued> pending;      // publishes waiting for the batch in flight to be answered
        publish_batch batch;             // the run of publishes one script is storing (if busy)
    };


    struct stopped_sequencer_type final : hub::sequencer {
        void submit(hub::topic&, hub::publish_request_ptr r) override { r->complete(errc::stopped, {}); }
    };
    static hub::sequencer& stopped_sequencer() {
        static stopped_sequencer_type instance;
        return instance;
    }

    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    // ---- the thread -----------------------------------------------------------------------------
    void run() {
        for (;;) {
            try {
                io_.run();
                return;
            } catch (std::exception const& e) {   // from an application's completion handler run inline
                log(log::level::error, std::string("a completion handler threw: ") + e.what());
            }
        }
    }

    void log(log::level l, std::string_view m) const { options_.log(l, m); }

    static std::string make_node_id(std::string const& given) {
        if (!given.empty()) return given;
        char host[256] = {};
        if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
        std::string const random = wire::epoch_text(hub::make_epoch()).substr(0, 8);
        return std::string(host) + ":" + std::to_string(getpid()) + ":" + random;
    }

    void new_candidate() { candidate_text_ = wire::epoch_text(candidate_ = hub::make_epoch()); }

    // ---- the session: connect, subscribe, ready, lost, reconnect --------------------------------
    std::string where() const { return where_.where(); }

    void connect() {
        if (state_ == state::stopped) return;
        state_ = state::connecting;
        connect_started_ = std::chrono::steady_clock::now();
        auto const gen = ++generation_;
        bool const opened = cmd_.open(
            where_, true,
            [this, gen](std::string error) {
                if (gen != generation_) return;
                if (!error.empty()) return lost(gen, "cannot connect to Redis at " + where() + ": " + error);
                load_scripts(gen);
            },
            [this, gen](std::string why) { lost(gen, "lost the connection to Redis at " + where() + ": " + why); });
        if (!opened) lost(gen, "cannot connect to Redis at " + where() + ": " + cmd_.last_error());
    }

    // Every script is in Redis' cache before the first publish of a session. Otherwise the first publishes,
    // pipelined, would all come back NOSCRIPT and be sent again as EVAL, and one that another node's load
    // let through in between would overtake them: a publisher's messages must keep its order. (After a
    // SCRIPT FLUSH in mid-session, eval() still falls back to EVAL.)
    void load_scripts(std::uint64_t gen) {
        script_ref const* all[] = {&publish_, &fetch_, &new_epoch_, &presence_update_, &presence_query_, &latest_};
        auto remaining = std::make_shared<std::size_t>(std::size(all));
        for (auto const* s : all) {
            command({"SCRIPT", "LOAD", std::string(s->body)}, [this, gen, s, remaining](redisReply* r) {
                if (r == nullptr || gen != generation_) return;
                if (r->type != REDIS_REPLY_STRING || std::string_view{r->str, r->len} != s->sha) {
                    return post_lost("Redis at " + where() + " did not load our scripts");
                }
                if (--*remaining == 0) open_subscriber(gen);
            });
        }
    }

    void open_subscriber(std::uint64_t gen) {
        bool const opened = sub_.open(
            where_, false,
            [this, gen](std::string error) {
                if (gen != generation_) return;
                if (!error.empty()) return lost(gen, "cannot connect to Redis at " + where() + ": " + error);
                std::vector<std::string> channels;
                for (auto& e : topics_) {
                    channels.push_back(e->keys.channel);
                    e->subscribed = true;
                }
                if (!sub_.subscribe(channels, [this, gen] { if (gen == generation_) became_ready(); })) {
                    lost(gen, "cannot subscribe at " + where());
                }
            },
            [this, gen](std::string why) { lost(gen, "lost the connection to Redis at " + where() + ": " + why); });
        if (!opened) lost(gen, "cannot connect to Redis at " + where() + ": " + sub_.last_error());
    }

    void became_ready() {
        state_ = state::ready;
        connected_.store(true, std::memory_order_release);
        connects_.fetch_add(1, std::memory_order_relaxed);
        attempts_ = 0;
        if (announced_down_) log(log::level::warning, "connected to Redis at " + where() + " again");
        announced_down_ = false;
        last_heartbeat_ = {};
        for (auto& e : topics_) {
            if (e->subscribed) e->sync.on_session_start();
            else subscribe_one(*e);
        }
    }

    void subscribe_one(entry& e) {
        e.subscribed = true;
        sub_.subscribe({e.keys.channel}, [this, &e, gen = generation_] {
            if (gen == generation_ && state_ == state::ready) e.sync.on_session_start();
        });
    }

    // Either connection failed or went silent: drop both, fail what was unanswered, and try again later.
    void lost(std::uint64_t gen, std::string const& why) {
        if (gen != generation_ || state_ == state::idle || state_ == state::stopped) return;
        state_ = state::idle;
        connected_.store(false, std::memory_order_release);
        ++generation_;   // every callback of this session is stale now
        if (!announced_down_) log(log::level::warning, why + "; retrying with backoff");
        announced_down_ = true;
        for (auto& e : topics_) {
            e->sync.on_session_end();
            e->subscribed = false;
        }
        outstanding_ = 0;
        cmd_.close();   // unanswered publishes complete here, as indeterminate
        sub_.close();
        for (auto& e : topics_) fail_pending(*e, errc::not_connected);   // never sent: certainly not stored
        // Full jitter over an exponentially growing window (so that many nodes do not reconnect in step).
        auto window = options_.reconnect_min * (std::int64_t{1} << std::min(attempts_++, 16u));
        window = std::min(window, options_.reconnect_max);
        std::uniform_int_distribution<std::int64_t> pick{options_.reconnect_min.count(), std::max(window, options_.reconnect_min).count()};
        reconnect_.expires_after(std::chrono::milliseconds{pick(random_)});
        reconnect_.async_wait([this](std::error_code ec) {
            if (!ec) connect();
        });
    }
    void post_lost(std::string why) {
        asio::post(io_, [this, gen = generation_, why = std::move(why)] { lost(gen, why); });
    }

    bool all_in_step() const {
        if (state_ != state::ready) return false;
        for (auto const& e : topics_) {
            if (!e->subscribed || !e->sync.in_step()) return false;
        }
        return true;
    }

    // ---- commands: counted for the watchdog, scripts with a NOSCRIPT fallback ---------------------
    void note_sent() {
        if (outstanding_++ == 0) last_progress_ = std::chrono::steady_clock::now();
    }
    void note_answered() {
        if (outstanding_ > 0) --outstanding_;
        last_progress_ = std::chrono::steady_clock::now();
    }

    // `done` gets the reply, or null when the connection is gone (then or later).
    void command(std::vector<std::string> const& args, std::function<void(redisReply*)> done) {
        if (cmd_.ready() && cmd_.send(args, [this, done](redisReply* r) {
                if (r != nullptr) note_answered();
                done(r);
            })) {
            return note_sent();
        }
        done(nullptr);
    }

    void eval(script_ref const& s, int keys, std::vector<std::string> args, std::function<void(redisReply*)> done) {
        std::vector<std::string> full{"EVALSHA", s.sha, std::to_string(keys)};
        full.insert(full.end(), args.begin(), args.end());
        command(full, [this, &s, full, done = std::move(done)](redisReply* r) mutable {
            if (r != nullptr && r->type == REDIS_REPLY_ERROR && std::string_view{r->str, r->len}.starts_with("NOSCRIPT")) {
                full[0] = "EVAL";   // Redis restarted or flushed its scripts: send the text (which caches it again)
                full[1] = std::string(s.body);
                return command(full, std::move(done));
            }
            done(r);
        });
    }

    static void deliver(reply_function const& done, std::error_code ec, redisReply const* r) {
        try {
            done(ec, r);
        } catch (...) {
            // An application's completion handler threw inside hiredis' callback: it must not unwind through C.
        }
    }

    // ---- publishing -----------------------------------------------------------------------------
    void fail_now(hub::publish_request& request, errc why) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        request.complete(why, {});
    }

    void drain_queue() {
        {
            std::lock_guard lock{queue_mutex_};
            draining_.swap(queue_);
            drain_posted_ = false;
        }
        for (auto& q : draining_) {
            auto found = by_topic_.find(q.topic);
            if (found == by_topic_.end() || state_ != state::ready) {
                finish(q, state_ == state::stopped ? errc::stopped : errc::not_connected);
                continue;
            }
            auto& e = *found->second;
            if (e.pending.empty() && !e.batch.busy) idle_.push_back(&e);   // its run leaves after this loop
            e.pending.push_back(std::move(q));
        }
        draining_.clear();
        for (auto* e : idle_) send_batch(*e);   // only topics this drain touched, not every attached one
        idle_.clear();
    }

    // Sends the topic's next run: as many pending publishes as one script may carry.
    void send_batch(entry& e) {
        auto& b = e.batch;
        if (state_ != state::ready) return fail_pending(e, errc::not_connected);
        b.as_eval = false;
        b.runs.clear();
        std::size_t bytes = 0;
        while (!e.pending.empty() && b.runs.size() < max_batch_messages &&
               (b.runs.empty() || bytes + e.pending.front().bytes <= max_batch_bytes)) {
            bytes += e.pending.front().bytes;
            b.runs.push_back(std::move(e.pending.front()));
            e.pending.pop_front();
        }
        send_script(b);
    }

    void send_script(publish_batch& b) {
        auto& e = *b.target;
        // Where a new epoch would start: after everything this node has seen or was told it stored.
        auto const floor = std::max(e.sync.topic().next_sequence() - 1, e.last_stored);
        b.floor_length = static_cast<std::size_t>(std::to_chars(b.floor, b.floor + sizeof b.floor, floor).ptr - b.floor);
        b.argv.clear();
        b.lengths.clear();
        auto const add = [&b](std::string_view a) {
            b.argv.push_back(a.data());
            b.lengths.push_back(a.size());
        };
        add(b.as_eval ? std::string_view{"EVAL"} : std::string_view{"EVALSHA"});
        add(b.as_eval ? publish_.body : std::string_view{publish_.sha});
        for (std::string_view a : {std::string_view{"3"}, std::string_view{e.keys.meta}, std::string_view{e.keys.stream},
                                   std::string_view{e.keys.latest}, std::string_view{candidate_text_},
                                   std::string_view{b.floor, b.floor_length}, std::string_view{e.maxlen},
                                   std::string_view{e.maxbytes}, std::string_view{e.keys.channel},
                                   e.options.conflating ? std::string_view{"1"} : std::string_view{"0"}}) {
            add(a);
        }
        for (auto const& q : b.runs) {
            add(q.request->body());
            add(q.request->key());
        }
        if (!cmd_.ready() || !cmd_.send_raw(static_cast<int>(b.argv.size()), b.argv.data(), b.lengths.data(), &on_published, &b)) {
            finish_batch(b, errc::not_connected);
            return fail_pending(e, errc::not_connected);   // the connection is going: lost() follows
        }
        b.busy = true;
        note_sent();
    }

    static void on_published(redisAsyncContext*, void* reply, void* data) {
        auto& b = *static_cast<publish_batch*>(data);
        auto* self = b.self;
        auto* r = static_cast<redisReply*>(reply);
        b.busy = false;
        if (r == nullptr) return self->finish_batch(b, errc::indeterminate);   // the connection is gone
        self->note_answered();
        if (r->type == REDIS_REPLY_ERROR) {
            std::string_view const text{r->str, r->len};
            if (!b.as_eval && text.starts_with("NOSCRIPT")) {
                b.as_eval = true;
                return self->send_script(b);
            }
            self->log(log::level::warning, "Redis refused " + std::to_string(b.runs.size()) + " message(s) for " +
                                               b.target->name + ": " + std::string(text));
            self->finish_batch(b, errc::rejected);
        } else if (auto const stored = wire::parse_stored_as(r)) {
            if (stored->epoch == self->candidate_) self->new_candidate();   // it started an epoch: never offer it again
            auto& e = *b.target;
            e.last_stored = std::max(e.last_stored, stored->sequence + b.runs.size() - 1);
            self->finish_batch(b, {}, *stored);
        } else {
            self->finish_batch(b, errc::bad_reply);
        }
        if (!b.target->pending.empty()) self->send_batch(*b.target);
    }

    // Completes every publish of the run: with consecutive ids from `first` on, or with the error.
    void finish_batch(publish_batch& b, std::error_code ec, hub::cursor first = {}) {
        // A completion handler that publishes again only queues (submit): the run stays as it is meanwhile.
        for (std::size_t i = 0; i < b.runs.size(); ++i) {
            finish(b.runs[i], ec, ec ? hub::cursor{} : hub::cursor{first.epoch, first.sequence + i});
        }
        b.runs.clear();
    }

    void fail_pending(entry& e, errc why) {
        auto pending = std::move(e.pending);
        e.pending.clear();
        for (auto& q : pending) finish(q, why);
    }

    void finish(queued& q, std::error_code ec, hub::cursor stored_as = {}) {
        unanswered_.fetch_sub(1, std::memory_order_relaxed);
        unanswered_bytes_.fetch_sub(q.bytes, std::memory_order_relaxed);
        (ec ? failed_ : stored_).fetch_add(1, std::memory_order_relaxed);
        try {
            q.request->complete(ec, stored_as);
        } catch (std::exception const& e) {   // we may be inside hiredis: nothing may unwind through it
            log(log::level::error, std::string("a publish completion handler threw: ") + e.what());
        } catch (...) {
            log(log::level::error, "a publish completion handler threw");
        }
    }

    // ---- catch-up: what topic_sync asks for -------------------------------------------------------
    entry* entry_of(topic_sync& t) {
        auto found = by_topic_.find(&t.topic());
        return found != by_topic_.end() ? found->second : nullptr;
    }

    void fetch(topic_sync& t, std::uint64_t from) override {
        auto* e = entry_of(t);
        if (e == nullptr || state_ != state::ready) return;   // the next session starts with a fetch anyway
        fetches_.fetch_add(1, std::memory_order_relaxed);
        eval(fetch_, 2, {e->keys.meta, e->keys.stream, std::to_string(from), e->maxlen}, [this, e](redisReply* r) {
            if (r == nullptr) return;
            if (r->type == REDIS_REPLY_ERROR) return post_lost("reading " + e->name + "'s history failed: " + std::string(r->str, r->len));
            e->sync.on_history(wire::parse_history(r));
        });
    }

    void start_epoch(topic_sync& t, std::optional<std::uint64_t> expected, std::uint64_t last) override {
        auto* e = entry_of(t);
        if (e == nullptr || state_ != state::ready) return;
        bool const lost = t.follows_redis();   // else the topic is simply new to Redis
        eval(new_epoch_, 3,
             {e->keys.meta, e->keys.stream, e->keys.latest, expected ? wire::epoch_text(*expected) : std::string{},
              candidate_text_, std::to_string(last), e->keys.channel},
             [this, e, lost](redisReply* r) {
                 if (r == nullptr) return;
                 if (r->type == REDIS_REPLY_ERROR) return post_lost("starting an epoch for " + e->name + " failed");
                 if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
                     if (lost) log(log::level::warning, "Redis lost the history of " + e->name + ": a new epoch; clients resuming it reset");
                     new_candidate();
                 }
                 e->sync.on_epoch_answer();
             });
    }

    void on_channel(std::string_view channel, std::string_view payload) {
        auto found = by_channel_.find(channel);
        if (found != by_channel_.end()) found->second->sync.on_channel_message(payload);
    }

    // ---- heartbeat: watchdog and presence --------------------------------------------------------
    void arm_tick() {
        tick_.expires_after(std::chrono::milliseconds{100});
        tick_.async_wait([this](std::error_code ec) {
            if (ec || state_ == state::stopped) return;
            tick();
            arm_tick();
        });
    }

    void tick() {
        auto const now = std::chrono::steady_clock::now();
        auto const ms = [](auto d) { return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
        if (state_ == state::connecting && now - connect_started_ > options_.command_timeout) {
            return lost(generation_, "no answer from Redis at " + where() + " within " + ms(options_.command_timeout) + " ms");
        }
        if (state_ != state::ready) return;
        if (outstanding_ > 0 && now - last_progress_ > options_.command_timeout) {
            return lost(generation_, "Redis at " + where() + " did not answer for " + ms(now - last_progress_) + " ms");
        }
        if (now - last_heartbeat_ < options_.presence_interval) return;
        last_heartbeat_ = now;
        write_presence(false);
        command({"PING"}, [](redisReply*) {});   // a probe for the watchdog, even without topics
    }

    void write_presence(bool leaving) {
        auto const ttl = std::to_string(options_.presence_ttl.count());
        for (auto& e : topics_) {
            auto const n = e->sync.topic().counters().subscribers.load(std::memory_order_relaxed);
            auto value = leaving ? std::string{} : users_.entry(e->name, n > 0 ? static_cast<std::uint64_t>(n) : 0);
            if (value.empty() && !e->presence_written) continue;
            e->presence_written = !value.empty();
            eval(presence_update_, 2, {e->keys.presence, e->keys.presence_ttl, node_id_, std::move(value), ttl}, [](redisReply*) {});
        }
    }

    // ---- shutdown ---------------------------------------------------------------------------------
    void begin_shutdown() {
        if (state_ != state::ready) return end_shutdown();
        write_presence(true);   // best effort: what is not removed expires anyway
        command({"PING"}, [this](redisReply*) { asio::post(io_, [this] { end_shutdown(); }); });
        reconnect_.expires_after(std::chrono::milliseconds{500});
        reconnect_.async_wait([this](std::error_code) { end_shutdown(); });
    }

    void end_shutdown() {
        if (state_ == state::stopped) return;
        state_ = state::stopped;
        connected_.store(false, std::memory_order_release);
        ++generation_;
        tick_.cancel();
        reconnect_.cancel();
        cmd_.close();
        sub_.close();
        for (auto& e : topics_) fail_pending(*e, errc::stopped);
        drain_queue();   // fails what was queued meanwhile
        work_.reset();
    }

    url const where_;
    backplane_options options_;
    std::string const node_id_;
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
    connection cmd_{io_};   // commands and scripts
    connection sub_{io_};   // the topics' channels
    asio::steady_timer tick_{io_};
    asio::steady_timer reconnect_{io_};
    std::minstd_rand random_{std::random_device{}()};

    script_ref const publish_{scripts::publish}, fetch_{scripts::fetch}, new_epoch_{scripts::new_epoch};
    script_ref const presence_update_{scripts::presence_update}, presence_query_{scripts::presence_query};
    script_ref const latest_{scripts::latest};

    // Backplane thread only.
    std::deque<std::unique_ptr<entry>> topics_;
    std::unordered_map<std::string, entry*, string_hash, std::equal_to<>> by_channel_;
    std::unordered_map<hub::topic const*, entry*> by_topic_;
    state state_ = state::idle;
    std::uint64_t generation_ = 0;
    unsigned attempts_ = 0;
    bool announced_down_ = false;
    std::size_t outstanding_ = 0;
    std::chrono::steady_clock::time_point last_progress_{}, connect_started_{}, last_heartbeat_{};
    std::uint64_t candidate_ = 0;
    std::string candidate_text_;
    std::vector<queued> draining_;
    std::vector<entry*> idle_;   // drain_queue(): topics with no run out that got publishes
    presence_users users_;

    // Shared with other threads.
    std::mutex queue_mutex_;
    std::vector<queued> queue_;
    bool drain_posted_ = false;
    std::mutex attached_mutex_;
    std::vector<hub::topic_handle> attached_;
    std::atomic<bool> connected_{false}, stopping_{false};
    std::atomic<std::size_t> unanswered_{0}, unanswered_bytes_{0};
    std::atomic<std::uint64_t> connects_{0}, stored_{0}, failed_{0}, fetches_{0};
    std::thread thread_;
};

} // namespace tether::redis
