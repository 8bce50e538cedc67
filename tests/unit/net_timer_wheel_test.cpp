// The per-thread timer wheel behind every connection deadline (include/tether/net/timer_wheel.hpp), driven by
// hand with its own clock: an entry fires in the first tick at or after its deadline and never before it,
// whether its deadline was pushed later (kept in its old slot until the wheel reaches it), moved earlier,
// cancelled, or lies laps away; entries may re-arm and destroy themselves from on_timer().
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include <tether/net/timer_wheel.hpp>

using tether::net::timer_wheel;
using namespace std::chrono_literals;

namespace {

const timer_wheel::clock::time_point start{};

struct deadline final : timer_wheel::entry {
    std::vector<std::chrono::milliseconds>* fired_at = nullptr;
    std::chrono::milliseconds* now = nullptr;
    void on_timer() override { fired_at->push_back(*now); }
    using entry::disarm;
};

// Advances `wheel` one resolution at a time from `now` to `until`.
void run(timer_wheel& wheel, std::chrono::milliseconds& now, std::chrono::milliseconds until) {
    while (now < until) {
        now += timer_wheel::resolution;
        wheel.advance(start + now);
    }
}

} // namespace

TEST_CASE("a deadline fires in the first tick at or after it, never before", "[net][timer_wheel]") {
    for (const auto delay : {1ms, 99ms, 100ms, 101ms, 250ms, 5000ms, 60000ms}) {
        timer_wheel wheel(start);
        std::vector<std::chrono::milliseconds> fired;
        std::chrono::milliseconds now{0};
        deadline d;
        d.fired_at = &fired, d.now = &now;
        wheel.arm(d, delay, start + now);
        run(wheel, now, delay + 1000ms);
        REQUIRE(fired.size() == 1);
        CHECK(fired[0] >= delay);
        CHECK(fired[0] < delay + timer_wheel::resolution);
        CHECK_FALSE(d.armed());
    }
}

TEST_CASE("a deadline pushed later again and again fires at the last one, not at the first", "[net][timer_wheel]") {
    timer_wheel wheel(start);
    std::vector<std::chrono::milliseconds> fired;
    std::chrono::milliseconds now{0};
    deadline d;
    d.fired_at = &fired, d.now = &now;
    // A keep-alive connection: every 300 ms a request pushes its 1 s idle deadline back, for 5 s (past many
    // of the slots it was first put in), then it goes quiet.
    for (; now < 5000ms; run(wheel, now, now + 300ms)) wheel.arm(d, 1000ms, start + now);
    const auto last_arm = now - 300ms;
    CHECK(fired.empty());
    run(wheel, now, now + 2000ms);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] >= last_arm + 1000ms);
    CHECK(fired[0] < last_arm + 1000ms + timer_wheel::resolution);
    CHECK(wheel.size() == 0);
}

TEST_CASE("a deadline moved earlier fires at the earlier one", "[net][timer_wheel]") {
    timer_wheel wheel(start);
    std::vector<std::chrono::milliseconds> fired;
    std::chrono::milliseconds now{0};
    deadline d;
    d.fired_at = &fired, d.now = &now;
    wheel.arm(d, 60000ms, start + now);   // idle
    run(wheel, now, 1000ms);
    wheel.arm(d, 500ms, start + now);     // a request started arriving: the header deadline is shorter
    run(wheel, now, 3000ms);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] >= 1500ms);
    CHECK(fired[0] < 1500ms + timer_wheel::resolution);
}

TEST_CASE("a deadline laps away, pushed later across a lap, or cancelled after being pushed", "[net][timer_wheel]") {
    timer_wheel wheel(start);
    std::vector<std::chrono::milliseconds> fired;
    std::chrono::milliseconds now{0};
    deadline far, pushed, cancelled;
    for (deadline* d : {&far, &pushed, &cancelled}) d->fired_at = &fired, d->now = &now;
    wheel.arm(far, 250000ms, start + now);   // more than two laps of the wheel
    wheel.arm(pushed, 1000ms, start + now);
    wheel.arm(cancelled, 1000ms, start + now);
    run(wheel, now, 500ms);
    wheel.arm(pushed, 110000ms, start + now);   // more than a lap later than its slot
    wheel.arm(cancelled, 5000ms, start + now);
    run(wheel, now, 700ms);
    cancelled.disarm();
    CHECK(wheel.size() == 2);
    run(wheel, now, 260000ms);
    REQUIRE(fired.size() == 2);
    CHECK(fired[0] >= 110500ms);
    CHECK(fired[0] < 110500ms + timer_wheel::resolution);
    CHECK(fired[1] >= 250000ms);
    CHECK(fired[1] < 250000ms + timer_wheel::resolution);
}

TEST_CASE("many entries pushed back in turn each fire once, at their own last deadline", "[net][timer_wheel]") {
    timer_wheel wheel(start);
    std::vector<std::chrono::milliseconds> fired;
    std::chrono::milliseconds now{0};
    std::vector<std::unique_ptr<deadline>> entries;
    for (int i = 0; i < 200; ++i) {
        entries.push_back(std::make_unique<deadline>());
        entries.back()->fired_at = &fired, entries.back()->now = &now;
    }
    // Entry i is pushed back on every round it is still "active" (i % 10 rounds), one round per 100 ms.
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 200; ++i)
            if (round <= i % 10) wheel.arm(*entries[static_cast<std::size_t>(i)], 2000ms, start + now);
        run(wheel, now, now + 100ms);
    }
    CHECK(fired.empty());   // every last deadline is 2 s after its arm, the earliest at 2.0 s
    run(wheel, now, 5000ms);
    CHECK(fired.size() == 200);
    for (const auto at : fired) CHECK(at >= 2000ms);
    for (const auto at : fired) CHECK(at < 2900ms + timer_wheel::resolution);
    CHECK(wheel.size() == 0);
}

TEST_CASE("an entry may re-arm itself or destroy itself from on_timer()", "[net][timer_wheel]") {
    struct repeating final : timer_wheel::entry {
        timer_wheel* wheel = nullptr;
        std::chrono::milliseconds* now = nullptr;
        int fired = 0;
        void on_timer() override {
            if (++fired < 3) wheel->arm(*this, 1000ms, start + *now);
        }
    };
    struct self_deleting final : timer_wheel::entry {
        int* fired = nullptr;
        void on_timer() override {
            ++*fired;
            delete this;
        }
    };
    timer_wheel wheel(start);
    std::chrono::milliseconds now{0};
    repeating r;
    r.wheel = &wheel, r.now = &now;
    int deleted_fired = 0;
    auto* s = new self_deleting;
    s->fired = &deleted_fired;
    wheel.arm(r, 1000ms, start + now);
    wheel.arm(*s, 1000ms, start + now);
    run(wheel, now, 10000ms);
    CHECK(r.fired == 3);
    CHECK(deleted_fired == 1);
    CHECK(wheel.size() == 0);
}
