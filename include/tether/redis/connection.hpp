#pragma once
// One hiredis asynchronous connection driven by an asio::io_context: hiredis 0.14 formats commands, buffers
// them and parses replies; Asio tells it when its socket is readable or writable. Nothing here blocks, so a
// slow or dead Redis costs the backplane's thread nothing but waiting (the I/O threads are never involved).
//
// The adapter. hiredis asks for readiness through five hooks (redisAsyncContext::ev): addRead / delRead /
// addWrite / delWrite, meaning "keep telling me when the socket is readable (writable)" or "stop", and
// cleanup, called once when the context is being freed, before hiredis closes the descriptor. Asio's
// async_wait is one-shot, so a wanted direction is re-armed after each event while it is still wanted. The
// descriptor belongs to hiredis: the stream_descriptor is released, never closed, in cleanup.
//
// Lifetime is the delicate part, and why the watcher is a separate reference-counted object. hiredis frees
// its context from inside our calls (EOF or an error in redisAsyncHandleRead, a failed connect) and calls
// cleanup from there; a wait may still be queued in the io_context at that moment. Each queued wait holds a
// reference to the watcher, whose `context` is cleared by cleanup, so a late completion finds nothing to
// touch. The owner hears of the loss through a posted call, never from inside hiredis' stack.
//
// Commands are pipelined by construction: a command only appends to hiredis' output buffer and asks for
// writability; everything issued in one turn of the loop goes out in one write. Replies come back in order
// and hiredis calls each command's callback with the reply (or with null when the connection is lost: then
// for every pending command, before cleanup).
//
// Rejected: hiredis' blocking API on a thread of its own (a thread per connection, and no pipelining unless
// we rebuild the async machinery), and a Redis client written here (RESP is easy; reconnects, pub/sub and
// partial reads are what hiredis has already got right for a decade).
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/redis/url.hpp>

namespace tether::redis {

class connection {
public:
    /// A reply callback: the reply (owned by hiredis, valid during the call) or null if the connection was
    /// lost before it came.
    using reply_function = std::function<void(redisReply*)>;

    explicit connection(asio::io_context& io) : io_{io} {}
    connection(connection const&) = delete;
    connection& operator=(connection const&) = delete;
    ~connection() { close(); }

    /// Starts connecting (AUTH and SELECT are queued first, so they are answered before anything else).
    /// `on_ready(error)` comes once: empty when connected and accepted, or why not (then `on_lost` does not
    /// follow). `on_lost` comes once when an established connection goes. Both are posted, never called from
    /// inside hiredis. Returns false (and calls nothing) if hiredis could not even start.
    bool open(url const& where, bool select_db, std::function<void(std::string error)> on_ready,
              std::function<void(std::string why)> on_lost) {
        close();
        on_ready_ = std::move(on_ready);
        on_lost_ = std::move(on_lost);
        redisAsyncContext* ac = where.is_unix() ? redisAsyncConnectUnix(where.socket_path.c_str())
                                                : redisAsyncConnect(where.host.c_str(), where.port);
        if (ac == nullptr) return false;
        if (ac->err != 0) {
            last_error_ = ac->errstr;
            redisAsyncFree(ac);
            return false;
        }
        if (!where.is_unix()) redisEnableKeepAlive(&ac->c);   // notices a peer that vanished without a FIN
        watch_ = std::make_shared<watcher>(io_, ac, this);
        watch_->keep_alive = watch_;   // until hiredis is done with it (cleanup), whatever happens to us
        ac->data = watch_.get();
        redisAsyncSetConnectCallback(ac, &on_connect_thunk);
        redisAsyncSetDisconnectCallback(ac, &on_disconnect_thunk);
        // Anything the server refuses here (a wrong password, an ACL, a db that does not exist) is a failed
        // open, reported with Redis' own words.
        if (!where.password.empty()) {
            std::vector<std::string> auth{"AUTH"};
            if (!where.user.empty()) auth.push_back(where.user);
            auth.push_back(where.password);
            send(auth, [this](redisReply* r) { check_setup(r, "AUTH"); });
        }
        if (select_db && where.db != 0) {
            send({"SELECT", std::to_string(where.db)}, [this](redisReply* r) { check_setup(r, "SELECT"); });
        }
        send({"PING"}, [this](redisReply* r) {   // the last setup reply: from here on we are ready
            if (r == nullptr || r->type == REDIS_REPLY_ERROR) return check_setup(r, "PING");
            if (setup_failed_) return;
            ready_ = true;
            notify_ready({});
        });
        return true;
    }

    /// Sends a command; `done` gets its reply. False (and `done` is never called) when not connected.
    bool send(std::vector<std::string> const& args, reply_function done) {
        std::vector<char const*> argv;
        std::vector<std::size_t> lengths;
        for (auto const& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        return send_raw(static_cast<int>(argv.size()), argv.data(), lengths.data(), std::move(done));
    }

    bool send_raw(int argc, char const** argv, std::size_t const* lengths, reply_function done) {
        auto* ac = context();
        if (ac == nullptr) return false;
        auto* holder = new reply_function(std::move(done));
        if (redisAsyncCommandArgv(ac, &reply_thunk, holder, argc, argv, lengths) != REDIS_OK) {
            delete holder;
            return false;
        }
        return true;
    }

    /// The hot path's variant: a plain function and pointer, no allocation of ours. `fn` must cope with a
    /// null reply (the connection was lost) exactly like reply_function.
    bool send_raw(int argc, char const** argv, std::size_t const* lengths, redisCallbackFn* fn, void* data) {
        auto* ac = context();
        return ac != nullptr && redisAsyncCommandArgv(ac, fn, data, argc, argv, lengths) == REDIS_OK;
    }

    /// Where the messages of every channel subscribed on this connection go: channel, payload. Called from
    /// inside hiredis; it must not close this connection.
    void on_message(std::function<void(std::string_view, std::string_view)> f) { on_message_ = std::move(f); }

    /// Subscribes to `channels`; this connection then carries nothing but pub/sub (RESP2). `subscribed` is
    /// posted once Redis confirmed them all. False if not connected.
    bool subscribe(std::vector<std::string> const& channels, std::function<void()> subscribed) {
        auto* ac = context();
        if (ac == nullptr) return false;
        if (channels.empty()) {
            asio::post(io_, std::move(subscribed));
            return true;
        }
        // hiredis keeps one callback per channel, with this batch as its data, for the connection's life.
        auto& batch = *batches_.emplace_back(std::make_unique<subscription_batch>(this, channels.size(), std::move(subscribed)));
        std::vector<char const*> argv{"SUBSCRIBE"};
        std::vector<std::size_t> lengths{9};
        for (auto const& c : channels) {
            argv.push_back(c.data());
            lengths.push_back(c.size());
        }
        return redisAsyncCommandArgv(ac, &message_thunk, &batch, static_cast<int>(argv.size()), argv.data(),
                                     lengths.data()) == REDIS_OK;
    }

    /// Drops the connection now: pending callbacks get a null reply, on_lost is not called. Idempotent.
    void close() {
        on_ready_ = nullptr;
        on_lost_ = nullptr;
        if (watch_) {
            watch_->owner = nullptr;   // we asked for it: nothing to report
            if (auto* ac = watch_->context) redisAsyncFree(ac);   // deferred by hiredis inside its callbacks
        }
        watch_.reset();
        batches_.clear();   // hiredis passes them only non-null replies, and it has none left for us
        ready_ = false;
        setup_failed_ = false;
    }

    bool ready() const noexcept { return ready_ && context() != nullptr; }
    std::string const& last_error() const noexcept { return last_error_; }

private:
    // The adapter's state, shared with every queued wait (see the opening comment).
    struct watcher : std::enable_shared_from_this<watcher> {
        watcher(asio::io_context& io, redisAsyncContext* ac, connection* owner)
            : descriptor{io, ac->c.fd}, context{ac}, owner{owner} {
            ac->ev.data = this;
            ac->ev.addRead = [](void* p) { static_cast<watcher*>(p)->want(want_read, true); };
            ac->ev.delRead = [](void* p) { static_cast<watcher*>(p)->want(want_read, false); };
            ac->ev.addWrite = [](void* p) { static_cast<watcher*>(p)->want(want_write, true); };
            ac->ev.delWrite = [](void* p) { static_cast<watcher*>(p)->want(want_write, false); };
            ac->ev.cleanup = [](void* p) { static_cast<watcher*>(p)->cleanup(); };
        }

        static constexpr int want_read = 0, want_write = 1;

        void want(int direction, bool on) {
            wanted[direction] = on;
            if (on) arm(direction);
        }

        void arm(int direction) {
            if (context == nullptr || !wanted[direction] || waiting[direction]) return;
            waiting[direction] = true;
            auto const kind = direction == want_read ? asio::posix::stream_descriptor::wait_read
                                                     : asio::posix::stream_descriptor::wait_write;
            descriptor.async_wait(kind, [self = this->shared_from_this(), direction](std::error_code ec) {
                self->waiting[direction] = false;
                if (ec || self->context == nullptr || !self->wanted[direction]) return;
                if (direction == want_read) redisAsyncHandleRead(self->context);
                else redisAsyncHandleWrite(self->context);
                // hiredis may have freed the context in there (cleanup cleared it); else keep watching.
                self->arm(direction);
            });
        }

        // hiredis is freeing the context and will close the descriptor next: let go of it now (release,
        // not close: a late deregistration could hit another socket that reused the number).
        void cleanup() {
            auto const hold = std::move(keep_alive);   // may be the last reference: we go when this returns
            // hiredis calls cleanup before its disconnect callback: take the reason from the context now.
            if (owner != nullptr && context != nullptr && context->c.err != 0 && context->c.errstr[0] != 0) {
                owner->last_error_ = context->c.errstr;
            }
            context = nullptr;
            wanted[0] = wanted[1] = false;
            (void)descriptor.release();   // also completes queued waits with operation_aborted
            if (owner != nullptr) owner->lost();
        }

        asio::posix::stream_descriptor descriptor;
        redisAsyncContext* context;
        connection* owner;
        std::shared_ptr<watcher> keep_alive;
        bool wanted[2] = {false, false};
        bool waiting[2] = {false, false};
    };

    redisAsyncContext* context() const noexcept { return watch_ ? watch_->context : nullptr; }

    static connection* owner_of(redisAsyncContext const* ac) {
        auto* w = static_cast<watcher*>(ac->data);
        return w != nullptr ? w->owner : nullptr;
    }

    static void on_connect_thunk(redisAsyncContext const* ac, int status) {
        auto* self = owner_of(ac);
        if (self == nullptr || status == REDIS_OK) return;   // success: wait for the setup replies
        self->last_error_ = ac->errstr != nullptr ? ac->errstr : "connection failed";
        self->setup_failed_ = true;   // hiredis frees the context after this; cleanup reports it
    }
    static void on_disconnect_thunk(redisAsyncContext const* ac, int status) {
        auto* self = owner_of(ac);
        if (self != nullptr && status != REDIS_OK && ac->errstr != nullptr) self->last_error_ = ac->errstr;
    }

    static void reply_thunk(redisAsyncContext*, void* reply, void* data) {
        std::unique_ptr<reply_function> done{static_cast<reply_function*>(data)};
        if (*done) (*done)(static_cast<redisReply*>(reply));
    }

    struct subscription_batch {
        subscription_batch(connection* c, std::size_t n, std::function<void()> f)
            : owner{c}, awaiting{n}, subscribed{std::move(f)} {}
        connection* owner;
        std::size_t awaiting;
        std::function<void()> subscribed;
    };

    // Pub/sub: hiredis calls this for each SUBSCRIBE confirmation and then for every message, with the
    // whole ["subscribe" | "message", channel, count | payload] array; with null when the connection goes
    // (then the batch may already be gone with its connection: touch nothing).
    static void message_thunk(redisAsyncContext*, void* reply, void* data) {
        auto* r = static_cast<redisReply*>(reply);
        if (r == nullptr) return;
        auto* batch = static_cast<subscription_batch*>(data);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_STRING) {
            return;
        }
        std::string_view const kind{r->element[0]->str, r->element[0]->len};
        auto* self = batch->owner;
        if (kind == "subscribe") {
            if (batch->awaiting > 0 && --batch->awaiting == 0 && batch->subscribed) {
                asio::post(self->io_, std::exchange(batch->subscribed, nullptr));
            }
            return;
        }
        if (kind != "message" || r->element[2]->type != REDIS_REPLY_STRING || !self->on_message_) return;
        self->on_message_({r->element[1]->str, r->element[1]->len}, {r->element[2]->str, r->element[2]->len});
    }

    // A setup reply. null: the connection went (cleanup reports it); an error: Redis refused us.
    void check_setup(redisReply* r, char const* what) {
        if (r == nullptr || r->type != REDIS_REPLY_ERROR || setup_failed_) return;
        setup_failed_ = true;
        last_error_ = std::string(what) + ": " + std::string(r->str, r->len);
        notify_ready(last_error_);
        if (auto* ac = context()) redisAsyncFree(ac);   // inside a callback: hiredis frees it when we return
    }

    void notify_ready(std::string error) {
        if (auto f = std::exchange(on_ready_, nullptr)) {
            asio::post(io_, [f = std::move(f), error = std::move(error)] { f(error); });
        }
    }

    // From the watcher's cleanup, inside hiredis: only records and posts.
    void lost() {
        bool const was_ready = ready_;
        ready_ = false;
        if (auto f = std::exchange(on_ready_, nullptr)) {
            asio::post(io_, [f = std::move(f), e = last_error_.empty() ? std::string("connection failed") : last_error_] { f(e); });
        } else if (auto g = std::exchange(on_lost_, nullptr); g && was_ready) {
            asio::post(io_, [g = std::move(g), e = last_error_.empty() ? std::string("connection lost") : last_error_] { g(e); });
        }
        if (watch_) watch_->owner = nullptr;
    }

    asio::io_context& io_;
    std::shared_ptr<watcher> watch_;
    std::function<void(std::string)> on_ready_;
    std::function<void(std::string)> on_lost_;
    std::function<void(std::string_view, std::string_view)> on_message_;
    std::vector<std::unique_ptr<subscription_batch>> batches_;
    std::string last_error_;
    bool ready_ = false;
    bool setup_failed_ = false;
};

}  // namespace tether::redis
