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

// A wheel on a clock the test moves, and the times its deadlines fired at.
struct hand_clock_wheel {
    timer_wheel wheel{start};
    std::vector<std::chrono::milliseconds> fired;
    std::chrono::milliseconds now{0};

    void arm(deadline& d, std::chrono::milliseconds delay) {
        d.fired_at = &fired, d.now = &now;
        wheel.arm(d, delay, start + now);
    }
    // Advances the wheel one resolution at a time until `until`.
    void run_until(std::chrono::milliseconds until) {
        while (now < until) {
            now += timer_wheel::resolution;
            wheel.advance(start + now);
        }
    }
};

// Whether `at` is in the first tick at or after `deadline`: when an entry due then may fire.
bool in_first_tick(std::chrono::milliseconds at, std::chrono::milliseconds deadline) {
    return at >= deadline && at < deadline + timer_wheel::resolution;
}

} // namespace

TEST_CASE("a deadline fires in the first tick at or after it, never before", "[net][timer_wheel]") {
    for (const auto delay : {1ms, 99ms, 100ms, 101ms, 250ms, 5000ms, 60000ms}) {
        hand_clock_wheel w;
        deadline d;
        w.arm(d, delay);
        w.run_until(delay + 1000ms);
        REQUIRE(w.fired.size() == 1);
        CHECK(in_first_tick(w.fired[0], delay));
        CHECK_FALSE(d.armed());
    }
}

TEST_CASE("a deadline pushed later again and again fires at the last one, not at the first", "[net][timer_wheel]") {
    hand_clock_wheel w;
    deadline d;
    // A keep-alive connection: every 300 ms a request pushes its 1 s idle deadline back, for 5 s (past many
    // of the slots it was first put in), then it goes quiet.
    for (; w.now < 5000ms; w.run_until(w.now + 300ms)) w.arm(d, 1000ms);
    const auto last_arm = w.now - 300ms;
    CHECK(w.fired.empty());
    w.run_until(w.now + 2000ms);
    REQUIRE(w.fired.size() == 1);
    CHECK(in_first_tick(w.fired[0], last_arm + 1000ms));
    CHECK(w.wheel.size() == 0);
}

TEST_CASE("a deadline moved earlier fires at the earlier one", "[net][timer_wheel]") {
    hand_clock_wheel w;
    deadline d;
    w.arm(d, 60000ms);   // idle
    w.run_until(1000ms);
    w.arm(d, 500ms);     // a request started arriving: the header deadline is shorter
    w.run_until(3000ms);
    REQUIRE(w.fired.size() == 1);
    CHECK(in_first_tick(w.fired[0], 1500ms));
}

TEST_CASE("a deadline laps away, pushed later across a lap, or cancelled after being pushed", "[net][timer_wheel]") {
    hand_clock_wheel w;
    deadline far, pushed, cancelled;
    w.arm(far, 250000ms);   // more than two laps of the wheel
    w.arm(pushed, 1000ms);
    w.arm(cancelled, 1000ms);
    w.run_until(500ms);
    w.arm(pushed, 110000ms);   // more than a lap later than its slot
    w.arm(cancelled, 5000ms);
    w.run_until(700ms);
    cancelled.disarm();
    CHECK(w.wheel.size() == 2);
    w.run_until(260000ms);
    REQUIRE(w.fired.size() == 2);
    CHECK(in_first_tick(w.fired[0], 110500ms));
    CHECK(in_first_tick(w.fired[1], 250000ms));
}

TEST_CASE("many entries pushed back in turn each fire once, at their own last deadline", "[net][timer_wheel]") {
    hand_clock_wheel w;
    std::vector<std::unique_ptr<deadline>> entries;
    for (int i = 0; i < 200; ++i) entries.push_back(std::make_unique<deadline>());
    // Entry i is pushed back on every round it is still "active" (i % 10 rounds), one round per 100 ms.
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 200; ++i)
            if (round <= i % 10) w.arm(*entries[static_cast<std::size_t>(i)], 2000ms);
        w.run_until(w.now + 100ms);
    }
    CHECK(w.fired.empty());   // every last deadline is 2 s after its arm, the earliest at 2.0 s
    w.run_until(5000ms);
    CHECK(w.fired.size() == 200);
    for (const auto at : w.fired) CHECK(at >= 2000ms);
    for (const auto at : w.fired) CHECK(at < 2900ms + timer_wheel::resolution);
    CHECK(w.wheel.size() == 0);
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
    hand_clock_wheel w;
    repeating r;
    r.wheel = &w.wheel, r.now = &w.now;
    int deleted_fired = 0;
    auto* s = new self_deleting;
    s->fired = &deleted_fired;
    w.wheel.arm(r, 1000ms, start + w.now);
    w.wheel.arm(*s, 1000ms, start + w.now);
    w.run_until(10000ms);
    CHECK(r.fired == 3);
    CHECK(deleted_fired == 1);
    CHECK(w.wheel.size() == 0);
}

TEST_CASE("timer wheel: the coarse clock a connection arms from is never behind the clock", "[net][timer]") {
    // arm() reads CLOCK_MONOTONIC_COARSE plus one resolution: a deadline computed from it must not fire
    // before its time, so the reading may run ahead of steady_clock, by at most that resolution.
    for (int i = 0; i < 100000; ++i) {
        const auto before = timer_wheel::clock::now();
        const auto coarse = timer_wheel::coarse_now();
        const auto after = timer_wheel::clock::now();
        REQUIRE(coarse >= before);
        REQUIRE(coarse - after <= timer_wheel::resolution);
    }
}
