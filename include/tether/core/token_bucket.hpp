#pragma once
// A token bucket (the classic rate limiter): `burst` tokens at most, refilled at `per_second`;
// each event takes one, and an event that finds the bucket empty is over the rate. It lets a
// client send a burst and then a steady rate, which is what interactive clients do, while a
// flood is refused within one burst.
//
// Eight bytes, so a connection can carry one inline: the level as a float and the time of the
// last refill in milliseconds of a 32-bit steady clock (it wraps after 49 days; the unsigned
// subtraction stays correct across the wrap as long as the gap between events is shorter).
#include <chrono>
#include <cstdint>

namespace tether {

struct rate_limit {
    double per_second = 0;   // 0: unlimited
    double burst = 0;        // 0: one second's worth
    bool limited() const noexcept { return per_second > 0; }
};

class token_bucket {
public:
    // Takes one token; false when none is left (the event is over the rate).
    bool take(const rate_limit& limit, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) noexcept {
        if (!limit.limited()) return true;
        const double capacity = limit.burst > 0 ? limit.burst : limit.per_second;
        const auto now_ms = static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
        if (tokens_ < 0) {   // first event: a full bucket
            tokens_ = static_cast<float>(capacity);
        } else {
            const std::uint32_t elapsed = now_ms - last_ms_;
            double refilled = tokens_ + elapsed * limit.per_second / 1000.0;
            tokens_ = static_cast<float>(refilled < capacity ? refilled : capacity);
        }
        last_ms_ = now_ms;
        if (tokens_ < 1.0f) return false;
        tokens_ -= 1.0f;
        return true;
    }

private:
    float tokens_ = -1;   // negative: never used
    std::uint32_t last_ms_ = 0;
};

} // namespace tether
