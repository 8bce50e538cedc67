// What the backplane parses itself (hiredis parses RESP; the meaning is ours): Redis URLs, the messages our
// scripts publish, our scripts' replies, presence entries. Replies are built by hiredis' own reader from
// RESP bytes, exactly as they arrive from a server.
#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tether/redis/presence.hpp>
#include <tether/redis/scripts.hpp>
#include <tether/redis/url.hpp>
#include <tether/redis/wire.hpp>

namespace wire = tether::redis::wire;
using tether::hub::cursor;

namespace {

struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

reply_ptr reply(std::string_view resp) {
    redisReader* reader = redisReaderCreate();
    redisReaderFeed(reader, resp.data(), resp.size());
    void* out = nullptr;
    REQUIRE(redisReaderGetReply(reader, &out) == REDIS_OK);
    redisReaderFree(reader);
    REQUIRE(out != nullptr);
    return reply_ptr{static_cast<redisReply*>(out)};
}

std::string bulk(std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; }

constexpr std::string_view epoch_hex = "00c0ffee12345678";
constexpr std::uint64_t epoch = 0x00c0ffee12345678;

}  // namespace

TEST_CASE("redis URLs: host, port, db, credentials and unix sockets", "[redis][unit]") {
    using tether::redis::parse_url;
    auto u = parse_url("redis://127.0.0.1:6380/2");
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 6380);
    CHECK(u.db == 2);
    CHECK(u.password.empty());
    CHECK_FALSE(u.is_unix());

    u = parse_url("redis://cache.internal");
    CHECK(u.host == "cache.internal");
    CHECK(u.port == 6379);
    CHECK(u.db == 0);

    u = parse_url("redis://:s%40cr%3At@[::1]:7000/0");
    CHECK(u.host == "::1");
    CHECK(u.port == 7000);
    CHECK(u.user.empty());
    CHECK(u.password == "s@cr:t");
    CHECK(u.where() == "[::1]:7000/0");

    u = parse_url("redis://app:pw@h:1/15");
    CHECK(u.user == "app");
    CHECK(u.password == "pw");
    CHECK(u.db == 15);

    u = parse_url("unix:///run/redis/redis.sock?db=3");
    CHECK(u.is_unix());
    CHECK(u.socket_path == "/run/redis/redis.sock");
    CHECK(u.db == 3);
    u = parse_url("unix://:pw@/tmp/r.sock");
    CHECK(u.password == "pw");
    CHECK(u.socket_path == "/tmp/r.sock");
}

TEST_CASE("redis URLs: malformed ones are refused with a reason, never guessed at", "[redis][unit]") {
    using tether::redis::parse_url;
    for (std::string_view bad : {"", "http://h:1", "redis://", "redis://:6379", "redis://h:", "redis://h:0",
                                 "redis://h:65536", "redis://h:12x", "redis://h/abc", "redis://h/01", "redis://h /0",
                                 "redis://[::1", "redis://[]:1", "redis://h:1/0?x=1", "redis://pw@h",
                                 "redis://:%zz@h", "redis://:%4@h", "unix://relative/path", "unix:///s?db=x",
                                 "unix:///s?timeout=1", "redis://h\n:1", "redis://ho$t:1"}) {
        INFO("URL: " << bad);
        CHECK_THROWS_AS(parse_url(bad), std::invalid_argument);
    }
    try {
        parse_url("redis://:secret@h:99999");
        FAIL("accepted a bad port");
    } catch (std::invalid_argument const& e) {
        CHECK(std::string_view{e.what()}.find("secret") == std::string_view::npos);   // never echoes a password
    }
}

TEST_CASE("channel messages: a stored message and an epoch notice, with any bytes in key and body",
          "[redis][unit]") {
    std::string const text = "m " + std::string(epoch_hex) + " 42 3 k 1x y\nz";   // the message views it
    auto m = wire::parse_channel_message(text);
    REQUIRE(m);
    CHECK(m->type == wire::channel_message::kind::message);
    CHECK(m->position == cursor{epoch, 42});
    CHECK(m->key == "k 1");
    CHECK(m->body == "x y\nz");

    m = wire::parse_channel_message("m " + std::string(epoch_hex) + " 7 0 ");
    REQUIRE(m);
    CHECK(m->key.empty());
    CHECK(m->body.empty());

    m = wire::parse_channel_message("e " + std::string(epoch_hex) + " 100");
    REQUIRE(m);
    CHECK(m->type == wire::channel_message::kind::epoch);
    CHECK(m->position == cursor{epoch, 100});
    CHECK(wire::parse_channel_message("e " + std::string(epoch_hex) + " 0"));   // a new epoch from the start
}

TEST_CASE("channel messages: anything malformed is refused", "[redis][unit]") {
    std::string const e{epoch_hex};
    for (std::string const& bad : std::vector<std::string>{std::string{}, "m", "m " + e, "m " + e + " 1", "m " + e + " 1 2 a",
                            "m " + e + " 0 0 ", "m " + e + " 01 0 ", "m " + e + " -1 0 ", "m " + e + " 1 00 x",
                            "m " + e + " 18446744073709551616 0 ", "m " + e + " 9007199254740992 0 ", "m " + e + " 1 x ", "x " + e + " 1 0 ",
                            "mm " + e + " 1 0 ", "m 00C0FFEE12345678 1 0 ", "m 0000000000000000 1 0 ",
                            "m 00c0ffee1234567 1 0 ", "e " + e, "e " + e + " ", "e " + e + " 1 ", "e " + e + " x"}) {
        INFO("message: " << bad);
        CHECK_FALSE(wire::parse_channel_message(bad));
    }
}

TEST_CASE("channel messages: a run one script stored is checked whole, then handed out in offset order",
          "[redis][unit]") {
    std::string const e{epoch_hex};
    struct seen {
        cursor position;
        std::string key, body;
        bool operator==(seen const&) const = default;
    };
    auto each = [](std::string const& text, std::vector<seen>& out) {
        return wire::for_each_channel_message(text, [&](wire::channel_message const& m) {
            CHECK(m.type == wire::channel_message::kind::message);
            out.push_back({m.position, std::string(m.key), std::string(m.body)});
        });
    };
    std::vector<seen> got;
    // Any bytes in keys and bodies, an empty one, and a body that looks like the next header.
    REQUIRE(each("b " + e + " 41 3 1 3 kx y0 0 0 5 1 2 a", got));
    CHECK(got == std::vector<seen>{{{epoch, 41}, "k", "x y"}, {{epoch, 42}, "", ""}, {{epoch, 43}, "", "1 2 a"}});
    // The single forms go through the same call.
    got.clear();
    REQUIRE(each("m " + e + " 7 1 kv", got));
    CHECK(got == std::vector<seen>{{{epoch, 7}, "k", "v"}});
    // Malformed anywhere: nothing at all is handed out.
    for (std::string const& bad : std::vector<std::string>{
             "b " + e + " 1 2 0 1 x",             // one message short
             "b " + e + " 1 2 0 1 x0 1 yz",       // bytes left over
             "b " + e + " 1 1 0 1 x",             // a run of one is an "m"
             "b " + e + " 0 2 0 1 x0 1 y",        // offset 0
             "b " + e + " 1 02 0 1 x0 1 y",       // a leading zero
             "b " + e + " 9007199254740991 2 0 1 x0 1 y",   // past Lua's exact integers
             "b " + e + " 1 2 0 9 x0 1 y",        // a length past the end
             "b " + e + " 1 99999999999 0 1 x",   // a count the bytes cannot hold
             "b " + e + " 1 2 0 1 x0  y",         // a missing length
             "b 0000000000000000 1 2 0 1 x0 1 y", "b " + e + " 1", "b "}) {
        INFO("payload: " << bad);
        got.clear();
        CHECK_FALSE(each(bad, got));
        CHECK(got.empty());
    }
}

TEST_CASE("the publish script's answer is {epoch, offset}", "[redis][unit]") {
    auto ok = reply("*2\r\n" + bulk(epoch_hex) + ":17\r\n");
    CHECK(wire::parse_stored_as(ok.get()) == cursor{epoch, 17});
    CHECK_FALSE(wire::parse_stored_as(reply("*2\r\n" + bulk(epoch_hex) + ":0\r\n").get()));
    CHECK_FALSE(wire::parse_stored_as(reply("*1\r\n" + bulk(epoch_hex)).get()));
    CHECK_FALSE(wire::parse_stored_as(reply("*2\r\n" + bulk("nothex") + ":1\r\n").get()));
    CHECK_FALSE(wire::parse_stored_as(reply("-ERR no\r\n").get()));
    CHECK_FALSE(wire::parse_stored_as(nullptr));
}

TEST_CASE("the fetch script's answer: nothing, or epoch, last offset and consecutive entries", "[redis][unit]") {
    auto none = wire::parse_history(reply("*0\r\n").get());
    REQUIRE(none);
    CHECK_FALSE(none->exists);

    auto entry = [](std::string_view id, std::string_view body, std::string_view key) {
        return "*2\r\n" + bulk(id) + "*4\r\n" + bulk("d") + bulk(body) + bulk("k") + bulk(key);
    };
    auto const answer = reply("*3\r\n" + bulk(epoch_hex) + bulk("12") + "*2\r\n" + entry("11-0", "eleven", "") + entry("12-0", "twelve", "k"));
    auto h = wire::parse_history(answer.get());   // views into the reply: it must outlive them
    REQUIRE(h);
    CHECK(h->exists);
    CHECK(h->last == cursor{epoch, 12});
    REQUIRE(h->entries.size() == 2);
    CHECK(h->entries[0].offset == 11);
    CHECK(h->entries[0].body == "eleven");
    CHECK(h->entries[1].key == "k");

    // Not our stream: a gap, an id past the last offset, a foreign id, a missing body.
    CHECK_FALSE(wire::parse_history(reply("*3\r\n" + bulk(epoch_hex) + bulk("12") + "*2\r\n" + entry("10-0", "a", "") + entry("12-0", "b", "")).get()));
    CHECK_FALSE(wire::parse_history(reply("*3\r\n" + bulk(epoch_hex) + bulk("11") + "*1\r\n" + entry("12-0", "a", "")).get()));
    CHECK_FALSE(wire::parse_history(reply("*3\r\n" + bulk(epoch_hex) + bulk("12") + "*1\r\n" + entry("12-1", "a", "")).get()));
    CHECK_FALSE(wire::parse_history(reply("*3\r\n" + bulk(epoch_hex) + bulk("12") + "*1\r\n*2\r\n" + bulk("12-0") + "*2\r\n" + bulk("k") + bulk("x")).get()));
    CHECK_FALSE(wire::parse_history(reply("*2\r\n" + bulk(epoch_hex) + bulk("12")).get()));
}

TEST_CASE("presence entries add up across nodes, users counted once", "[redis][unit]") {
    auto p = tether::redis::sum_presence(
        reply("*6\r\n" + bulk("node-a") + bulk("3\nann\nbob") + bulk("node-b") + bulk("2\nbob") + bulk("node-c") + bulk("garbage")).get());
    REQUIRE(p);
    CHECK(p->subscriptions == 5);
    CHECK(p->nodes == 2);
    CHECK(p->users == std::vector<std::string>{"ann", "bob"});

    tether::redis::presence_users users;
    CHECK(users.entry("t", 0).empty());
    users.join("t", "ann");
    users.join("t", "ann");
    users.join("t", "bad\nname");
    CHECK(users.entry("t", 4) == "4\nann");
    users.leave("t", "ann");
    CHECK(users.entry("t", 0) == "0\nann");
    users.leave("t", "ann");
    users.leave("t", "bad\nname");
    CHECK(users.entry("t", 0).empty());
}

TEST_CASE("script SHA-1s match Redis' (FIPS 180-4 test vector, and a script)", "[redis][unit]") {
    CHECK(tether::redis::scripts::sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(tether::redis::scripts::sha1_hex(tether::redis::scripts::publish).size() == 40);
}
