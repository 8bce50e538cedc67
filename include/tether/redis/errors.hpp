#pragma once
// Why a backplane operation did not succeed, as std::error_code values (so that completion handlers take
// the one error type Asio uses). The distinction that matters to a caller is whether the message may have
// been stored: `not_connected`, `overloaded`, `rejected` and `stopped` say it was not; `indeterminate` says
// the connection broke after the request left, so it may have been (retrying may then store it twice).
#include <string>
#include <system_error>

namespace tether::redis {

enum class errc {
    not_connected = 1,   ///< no connection to Redis right now: not stored
    overloaded,          ///< this node's queue of unanswered publishes is full: not stored
    indeterminate,       ///< the connection broke before Redis answered: may have been stored
    rejected,            ///< Redis answered with an error (out of memory, a script error): not stored
    bad_reply,           ///< Redis answered something our scripts never send
    stopped,             ///< the backplane is shutting down: not stored
};

inline std::error_category const& error_category() noexcept {
    struct category final : std::error_category {
        char const* name() const noexcept override { return "tether.redis"; }
        std::string message(int value) const override {
            switch (static_cast<errc>(value)) {
            case errc::not_connected: return "Redis is unreachable; the message was not stored";
            case errc::overloaded: return "too many publishes waiting for Redis; the message was not stored";
            case errc::indeterminate: return "the connection to Redis broke before it answered; the message may have been stored";
            case errc::rejected: return "Redis refused the message";
            case errc::bad_reply: return "unexpected reply from Redis";
            case errc::stopped: return "the backplane is stopping; the message was not stored";
            }
            return "unknown backplane error";
        }
    };
    static category const instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

} // namespace tether::redis

template <>
struct std::is_error_code_enum<tether::redis::errc> : std::true_type {};
