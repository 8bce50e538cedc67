#pragma once
// A streamed request body in progress on an HTTP connection (http/body_stream.hpp, app.upload): the
// upload itself, whether on_data asked to pause, and the channel a body_resume handle reaches the
// connection through, from any thread. The connection drives it (net/http_connection.hpp); this
// header holds the state, so the connection keeps only the glue.
//
// Lifetimes, as for deferred replies (net/deferred_reply.hpp, whose reasoning this follows): the handle
// may outlive the connection (the client left, the pause timed out, the server stopped) and the
// connection may give up on the handle, so the two meet only in a shared channel. Its pointer to the
// connection is read and written on the connection's I/O thread alone: resume() posts, and the post
// finds the connection there or finds it gone (null) and does nothing. A handle used after the whole
// server is gone is dropped by the thread's post_gate.
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <tether/http/body_stream.hpp>
#include <tether/net/io_thread.hpp>

namespace tether::net {

// What the connection does when the handle speaks: go on, or end the upload with an error.
class pacing_target {
public:
    enum class verdict : unsigned char { resume, fail, abandoned };
    virtual void paced(verdict v, int status, std::string message) = 0;

protected:
    ~pacing_target() = default;
};

class pacing_channel final : public http::resume_channel, public std::enable_shared_from_this<pacing_channel> {
public:
    pacing_channel(std::shared_ptr<post_gate> gate, pacing_target& target) : gate_(std::move(gate)), target_(&target) {}

    // Any thread.
    void resume() override { post(pacing_target::verdict::resume, 0, {}); }
    void fail(int status, std::string message) override { post(pacing_target::verdict::fail, status, std::move(message)); }
    void abandon() override { post(pacing_target::verdict::abandoned, 500, "the upload's handler dropped its resume handle"); }

    // I/O thread: the connection no longer waits for this handle.
    void detach() noexcept { target_ = nullptr; }

private:
    void post(pacing_target::verdict v, int status, std::string message) {
        gate_->post([self = shared_from_this(), v, status, message = std::move(message)]() mutable {
            if (auto* t = std::exchange(self->target_, nullptr)) t->paced(v, status, std::move(message));
        });
    }

    std::shared_ptr<post_gate> gate_;
    pacing_target* target_;   // I/O thread only
};

// The connection's slot for one upload. `Upload` is the server's running_upload (server/uploads.hpp).
template <class Upload>
class upload_slot final : public http::body_flow {
public:
    upload_slot(io_thread& thread, pacing_target& owner) noexcept : thread_(thread), owner_(owner) {}

    explicit operator bool() const noexcept { return static_cast<bool>(upload_); }
    Upload& operator*() const noexcept { return *upload_; }
    Upload* operator->() const noexcept { return upload_.get(); }
    std::unique_ptr<Upload>& holder() noexcept { return upload_; }   // where the route puts a new upload

    // The upload leaves the slot (its body ended, or will not), and any pause is forgotten: a handle
    // still out there then resumes nothing.
    std::unique_ptr<Upload> release() noexcept {
        resumed();
        return std::move(upload_);
    }

    // Runs `on_data(flow)` for one piece; pause() may be called inside it. Returns what it returned.
    template <class OnData>
    bool deliver(OnData&& on_data) {
        progress_ = true;
        in_on_data_ = true;
        const bool ok = on_data(static_cast<http::body_flow&>(*this));
        in_on_data_ = false;
        return ok;
    }
    bool paused() const noexcept { return paused_; }
    // The handle spoke (or the upload is gone): no longer paused.
    void resumed() noexcept {
        if (pacing_) std::exchange(pacing_, nullptr)->detach();
        paused_ = false;
    }
    // Whether a piece arrived since the last call (the streaming deadline restarts only then).
    bool take_progress() noexcept { return std::exchange(progress_, false); }

    http::body_resume pause() override {
        if (!in_on_data_) throw std::logic_error("tether: body_flow::pause() outside on_data");
        if (paused_) throw std::logic_error("tether: body_flow::pause() twice for one piece");
        paused_ = true;
        pacing_ = std::make_shared<pacing_channel>(thread_.gate(), owner_);
        return http::body_resume(pacing_);
    }

private:
    io_thread& thread_;
    pacing_target& owner_;
    std::unique_ptr<Upload> upload_;
    std::shared_ptr<pacing_channel> pacing_;   // while paused
    bool paused_ = false;
    bool in_on_data_ = false;
    bool progress_ = false;
};

} // namespace tether::net
