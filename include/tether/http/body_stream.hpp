#pragma once
// A route that takes its request body as it arrives instead of buffered whole (app.upload): uploads
// larger than memory, such as a 1 GiB file going to disk, or bodies a handler consumes as a stream.
//
//   struct saving { std::FILE* file = nullptr; std::string path; ~saving() { if (file) std::fclose(file); } };
//   app.upload<saving>(tether::http::method::put, "/files/:name", {
//       .on_start = [](const tether::http::request& req, saving& s) {       // the head, before any body byte
//           s.path = dir + "/" + checked_name(req.param("name")) + ".part";   // or throw http::error(403)
//           s.file = std::fopen(s.path.c_str(), "wb");
//       },
//       .on_data = [](saving& s, std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), s.file); },
//       .on_end = [](tether::http::request& req, tether::http::response& res, saving& s) { /* rename */ res.status(201); },
//       .on_abort = [](saving& s) { std::remove(s.path.c_str()); },          // it will not arrive whole
//       .max_body_bytes = 1ull << 40,
//   });
//
// Order, on the connection's I/O thread: the middleware's `before` hooks and this route's limit
// (413 for a Content-Length over it) at the head, then on_start, which may refuse by throwing
// http::error; a client that sent "Expect: 100-continue" is told to go on only after on_start
// accepted (RFC 9110 §10.1.1), so a refused client never sends its body. Then on_data once per piece
// as the bytes arrive (Content-Length or chunked alike, the chunk framing removed; a view valid
// during the call), and on_end once the body is whole: it answers like any handler (res.defer()
// included), and `after` hooks see that answer. `State` is default-constructed per request, lives
// while the body streams and is destroyed after on_end or on_abort.
//
// When the body will not arrive whole, on_abort runs instead of on_end, exactly once if on_start
// returned: the client left or reset, it stopped sending for `idle_timeout`, the chunk framing broke
// or passed max_body_bytes, on_data threw, the server stopped. A refusal (throwing, or a `before`
// hook answering) is answered at once and the connection closes after it, since the rest of the body
// is never read; the 4xx/5xx of an error in on_data likewise.
//
// Backpressure, and why on_data is synchronous by default: the connection reads the next bytes only
// when on_data returns, so a slow disk slows the reads, the socket's receive window closes and TCP
// holds the client back. Each upload costs one read (64 KiB at most) however large the body, and
// none of it counts toward max_buffered_request_bytes beyond that. A handler that hands pieces to
// another thread (asynchronous storage, a remote service) declares a third parameter and pauses:
//
//       .on_data = [&pool](sending& s, std::string_view piece, tether::http::body_flow& flow) {
//           pool.post([out = s.out, bytes = std::string(piece), later = flow.pause()]() mutable {
//               out->write(bytes);         // `out`: a shared_ptr the State holds
//               later.resume();            // any thread; or later.fail(507, "disk full")
//           });
//       },
//
// While paused the connection reads nothing (the client is held back the same way); it keeps at most
// the rest of the read that carried the piece. A handle dropped without resume() ends the upload with
// 500, one not resumed within `pause_timeout` with 504, and on_abort runs in both cases. State belongs
// to the I/O thread: give other threads copies or shared_ptrs, never a reference to it, because the
// upload may end (a timeout, the server stopping) and State be destroyed while they run.
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tether/http/request.hpp>
#include <tether/http/response.hpp>

namespace tether::http {

// The connection's side of a paused upload: where resume() and fail() go. Any thread.
class resume_channel {
public:
    virtual ~resume_channel() = default;
    virtual void resume() = 0;
    virtual void fail(int status, std::string message) = 0;
    virtual void abandon() = 0;   // the handle died unused: the upload ends with 500
};

// Resumes a paused upload (body_flow::pause()), once, from any thread.
class body_resume {
public:
    body_resume() = default;
    explicit body_resume(std::shared_ptr<resume_channel> channel) : channel_(std::move(channel)) {}
    body_resume(body_resume&&) noexcept = default;
    body_resume& operator=(body_resume&& other) noexcept {
        if (this != &other) {
            if (channel_) channel_->abandon();
            channel_ = std::move(other.channel_);
        }
        return *this;
    }
    body_resume(const body_resume&) = delete;
    body_resume& operator=(const body_resume&) = delete;
    ~body_resume() {
        if (channel_) channel_->abandon();
    }

    // The connection goes on reading and calling on_data. A client that is gone makes it a no-op.
    void resume() { take()->resume(); }
    // Ends the upload with `status` and the server's JSON error body; on_abort runs.
    void fail(int status, std::string_view message) { take()->fail(status, std::string(message)); }

    explicit operator bool() const noexcept { return static_cast<bool>(channel_); }

private:
    std::shared_ptr<resume_channel> take() {
        if (!channel_) throw std::logic_error("tether: body_resume used twice, or empty");
        return std::move(channel_);
    }
    std::shared_ptr<resume_channel> channel_;
};

// What a three-parameter on_data receives: pause() stops the body after this piece until the
// returned handle says so.
class body_flow {
public:
    virtual body_resume pause() = 0;

protected:
    ~body_flow() = default;
};

// on_data, either shape: (State&, piece) runs synchronously; (State&, piece, body_flow&) may pause.
template <class State>
class body_data_handler {
public:
    body_data_handler() = default;
    template <class F>
        requires std::invocable<F&, State&, std::string_view, body_flow&>
    body_data_handler(F f) : f_(std::move(f)) {}
    template <class F>
        requires(std::invocable<F&, State&, std::string_view> && !std::invocable<F&, State&, std::string_view, body_flow&>)
    body_data_handler(F f)
        : f_([g = std::move(f)](State& s, std::string_view piece, body_flow&) mutable { g(s, piece); }) {}

    explicit operator bool() const noexcept { return static_cast<bool>(f_); }
    void operator()(State& s, std::string_view piece, body_flow& flow) const { f_(s, piece, flow); }

private:
    std::function<void(State&, std::string_view, body_flow&)> f_;
};

template <class State>
struct body_stream {
    // At the head, before any body byte is read. Throw http::error to refuse (401, 403, 409, 507...).
    std::function<void(const request&, State&)> on_start{};
    // Each piece of the decoded body, in order; the view is valid during the call.
    body_data_handler<State> on_data{};
    // The body arrived whole: answer. The request is the head (its body() is empty).
    std::function<void(request&, response&, State&)> on_end{};
    // The body will not arrive whole (see above): clean up what on_start made.
    std::function<void(State&)> on_abort{};

    // Decoded body bytes this route accepts (413 past it; at the head for a Content-Length). It
    // replaces limits::max_body_bytes, which bounds buffered bodies, for this route.
    std::uint64_t max_body_bytes = std::uint64_t{1} << 30;
    // No body byte for this long: 408 and on_abort. 0: the server's body_timeout. Unlike a buffered
    // body's deadline it restarts whenever bytes arrive, so a large upload on a slow link may take
    // as long as it keeps moving.
    std::chrono::milliseconds idle_timeout{0};
    // A pause not resumed within this: 504 and on_abort. 0: the server's reply_timeout.
    std::chrono::milliseconds pause_timeout{0};
};

} // namespace tether::http
