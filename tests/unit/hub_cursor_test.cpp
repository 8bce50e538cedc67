// Cursors: their wire form, strict parsing of untrusted input, and the topic's resume decision;
// the named composite of a many-topic stream and its ?topics= list.
#include "hub_test_support.hpp"

#include <catch2/catch.hpp>
#include <tether/hub/composite_cursor.hpp>

#include <limits>
#include <string>
#include <string_view>
#include <vector>

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

TEST_CASE("a named composite cursor: entries by topic, each cursor strict, the rest of the string unharmed") {
    using hub::named_cursor;
    std::vector<named_cursor> seen;
    hub::for_each_named_cursor("a:00000000000000ab-3,b:zz,:00000000000000ab-1,nocolon,a:00000000000000ab-9,c:00000000000000ab-0", 64,
                               [&](const named_cursor& c) { seen.push_back(c); });
    REQUIRE(seen.size() == 4);   // ":..." (no name) and "nocolon" are skipped
    CHECK(seen[0].topic == "a");
    CHECK(seen[0].valid);
    CHECK(seen[0].position == hub::cursor{0xab, 3});
    CHECK(seen[1].topic == "b");
    CHECK_FALSE(seen[1].valid);   // there, but not a cursor: not recoverable, not "fresh"
    CHECK(seen[2].topic == "a");
    CHECK(seen[3].position == hub::cursor{0xab, 0});

    // The first entry for a name wins; a name with none is nullopt.
    auto a = hub::find_named_cursor("a:00000000000000ab-3,a:00000000000000ab-9", "a", 64);
    REQUIRE(a);
    CHECK(a->position.sequence == 3);
    CHECK_FALSE(hub::find_named_cursor("a:00000000000000ab-3", "b", 64));
    // The walk stops after max_entries: an attacker's header costs a bounded amount of work.
    CHECK_FALSE(hub::find_named_cursor("a:00000000000000ab-1,b:00000000000000ab-2", "b", 1));

    std::string out;
    hub::append_named_cursor(out, "a", {0xab, 3}, true);
    hub::append_named_cursor(out, "b", {0xab, 0}, false);
    CHECK(out == "a:00000000000000ab-3,b:00000000000000ab-0");
}
