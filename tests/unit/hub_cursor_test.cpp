// Cursors: their wire form, strict parsing of untrusted input, and the topic's resume decision.
#include "hub_test_support.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <string>

namespace hub = tether::hub;

TEST_CASE("a cursor's wire form is 16 lowercase hex digits of epoch, a dash, and the decimal sequence",
          "[hub][cursor]") {
    CHECK(hub::to_string({0x00c0ffee12345678, 42}) == "00c0ffee12345678-42");
    CHECK(hub::to_string({0, 0}) == "0000000000000000-0");
    CHECK(hub::to_string({~std::uint64_t{0}, ~std::uint64_t{0}}) == "ffffffffffffffff-18446744073709551615");
    CHECK(hub::to_string({~std::uint64_t{0}, ~std::uint64_t{0}}).size() == hub::cursor_max_chars);
}

TEST_CASE("parsing a cursor gives back exactly what was formatted", "[hub][cursor]") {
    for (auto const c : {hub::cursor{1, 0}, hub::cursor{0xdeadbeefcafebabe, 1},
                         hub::cursor{0x0123456789abcdef, 9'007'199'254'740'993},
                         hub::cursor{~std::uint64_t{0}, ~std::uint64_t{0}}}) {
        auto const parsed = hub::parse_cursor(hub::to_string(c));
        REQUIRE(parsed);
        CHECK(*parsed == c);
    }
}

TEST_CASE("anything but the exact wire form is rejected", "[hub][cursor]") {
    for (std::string const bad : {
             "",
             "-",
             "42",
             "00c0ffee12345678",
             "00c0ffee12345678-",
             "00c0ffee1234567-42",          // 15 hex digits
             "000c0ffee12345678-42",        // 17 hex digits
             "00C0FFEE12345678-42",         // upper case
             "00c0ffee1234567g-42",         // not hex
             "00c0ffee12345678_42",         // wrong separator
             "00c0ffee12345678-042",        // leading zero
             "00c0ffee12345678-+42",
             "00c0ffee12345678--42",
             "00c0ffee12345678-42 ",        // trailing space
             " 00c0ffee12345678-42",
             "00c0ffee12345678-4 2",
             "00c0ffee12345678-18446744073709551616",   // 2^64: overflow
             "00c0ffee12345678-99999999999999999999",
         }) {
        INFO(bad);
        CHECK_FALSE(hub::parse_cursor(bad));
    }
    CHECK(hub::parse_cursor("00c0ffee12345678-0"));
}

TEST_CASE("every topic draws a new non-zero epoch", "[hub][cursor]") {
    hub::topic a{"a"}, b{"b"};
    CHECK(a.epoch() != 0);
    CHECK(a.epoch() != b.epoch());
    CHECK(hub::topic{"c", {}, {.capacity = 8, .epoch = 77}}.epoch() == 77);
}

TEST_CASE("resume replays everything after the cursor, or declares it not recoverable", "[hub][cursor]") {
    hub::topic topic{"prices", {}, {.capacity = 8, .epoch = 0xabc}};
    for (int i = 0; i < 5; ++i) topic.publish("x");   // sequences 1..5

    SECTION("a cursor inside the history resumes right after it") {
        CHECK(topic.resume(hub::cursor{0xabc, 3}) == hub::resumption{true, 4});
        CHECK(topic.resume(hub::cursor{0xabc, 0}) == hub::resumption{true, 1});
    }
    SECTION("the current position resumes with nothing to replay") {
        CHECK(topic.position() == hub::cursor{0xabc, 5});
        CHECK(topic.resume(topic.position()) == hub::resumption{true, 6});
    }
    SECTION("a cursor from another epoch (a restart) is not recoverable") {
        CHECK(topic.resume(hub::cursor{0xabd, 3}) == hub::resumption{false, 6});
    }
    SECTION("a cursor naming a message never published is not recoverable") {
        CHECK(topic.resume(hub::cursor{0xabc, 6}) == hub::resumption{false, 6});
        CHECK(topic.resume(hub::cursor{0xabc, 1000}) == hub::resumption{false, 6});
    }
    SECTION("a cursor older than the retained history is not recoverable") {
        for (int i = 0; i < 10; ++i) topic.publish("y");   // now 1..15, ring keeps 8..15
        CHECK(topic.oldest_retained() == 8);
        CHECK(topic.resume(hub::cursor{0xabc, 7}) == hub::resumption{true, 8});
        CHECK(topic.resume(hub::cursor{0xabc, 6}) == hub::resumption{false, 16});
        CHECK(topic.resume(hub::cursor{0xabc, 0}) == hub::resumption{false, 16});
    }
    SECTION("the wire form resumes the same way, and garbage is simply not recoverable") {
        CHECK(topic.resume(hub::to_string({0xabc, 2})) == hub::resumption{true, 3});
        CHECK(topic.resume(std::string_view{"garbage"}) == hub::resumption{false, 6});
    }
}
