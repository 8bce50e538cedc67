// The memo of plain response heads (include/tether/http/head_memo.hpp) as serialize() uses it: a head copied
// from the memo is byte for byte the head serialize() builds without one, for every kind of response (kept or
// not), a new second gives a new Date, and only plain heads are kept.
#include <catch2/catch.hpp>

#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/byte_buffer.hpp>
#include <tether/http/head_memo.hpp>
#include <tether/http/response.hpp>
#include <tether/http/serializer.hpp>

using namespace tether::http;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view date_a = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view date_b = "Sun, 06 Nov 1994 08:49:38 GMT";
constexpr std::time_t second_a = 784111777;

struct shape {
    std::string name;
    std::function<void(response&)> make;
};

std::vector<shape> shapes() {
    const std::string long_body(1000, 'x');
    return {
        {"text 13 B", [](response& r) { r.text("Hello, World!"); }},
        {"json 27 B", [](response& r) { r.json(R"({"message":"Hello, World!"})"); }},
        {"html, empty body", [](response& r) { r.html(""); }},
        {"no type, 64 B", [](response& r) { r.body(std::string(64, 'a')); }},
        {"text, 65 B", [](response& r) { r.text(std::string(65, 'b')); }},
        {"json, 1000 B", [long_body](response& r) { r.json(long_body); }},
        {"404 text", [](response& r) { r.status(404).text("no such thing"); }},
        {"201 json", [](response& r) { r.status(201).json("{}"); }},
        {"299, a status without a reason", [](response& r) { r.status(299).text("odd"); }},
        {"204", [](response& r) { r.status(204); }},
        {"304", [](response& r) { r.status(304); }},
        {"a header set", [](response& r) { r.header("Cache-Control", "no-store").text("cached?"); }},
        {"Content-Type set by header()", [](response& r) { r.content_type("text/csv").body("a,b\n"); }},
        {"close asked", [](response& r) { r.text("bye").close(); }},
        {"chunked", [](response& r) { r.write("piece one").write("piece two"); }},
        {"streamed", [](response& r) { r.stream(); }},
    };
}

std::vector<serialize_context> contexts() {
    return {
        {1, false, true, date_a},    // the plain case
        {0, false, true, date_a},    // HTTP/1.0 keep-alive
        {1, true, true, date_a},     // HEAD
        {1, false, false, date_a},   // the connection closes
    };
}

std::string_view bytes_of(const std::string& out) { return out; }
std::string_view bytes_of(const byte_buffer& out) { return out.view(); }

template <class Buffer>
std::string serialized(const response& res, serialize_context ctx, head_memo* memo, bool& keep_alive) {
    ctx.memo = memo;
    ctx.date_second = second_a;
    Buffer out;
    keep_alive = serialize(res, out, ctx);
    return std::string(bytes_of(out));
}

} // namespace

TEST_CASE("a head from the memo is the head serialize() builds, for every response", "[http][serializer][memo]") {
    for (const shape& s : shapes()) {
        for (const serialize_context& ctx : contexts()) {
            INFO(s.name << ", HTTP/1." << ctx.version_minor << (ctx.head ? ", HEAD" : "")
                        << (ctx.keep_alive ? "" : ", closing"));
            response res;
            s.make(res);
            bool built_keep = false, first_keep = false, second_keep = false;
            const std::string built = serialized<std::string>(res, ctx, nullptr, built_keep);
            head_memo memo;
            const std::string first = serialized<byte_buffer>(res, ctx, &memo, first_keep);    // builds, may keep
            const std::string second = serialized<byte_buffer>(res, ctx, &memo, second_keep);  // may copy
            CHECK(first == built);
            CHECK(second == built);
            CHECK(first_keep == built_keep);
            CHECK(second_keep == built_keep);
            // The same through a std::string output.
            CHECK(serialized<std::string>(res, ctx, &memo, second_keep) == built);
        }
    }
}

TEST_CASE("only plain heads are kept: the common status, type and length of a kept-alive 1.1 answer",
          "[http][serializer][memo]") {
    const auto kept_after = [](const std::function<void(response&)>& make, serialize_context ctx = {1, false, true, date_a}) {
        response res;
        make(res);
        head_memo memo;
        ctx.memo = &memo;
        ctx.date_second = second_a;
        byte_buffer out;
        serialize(res, out, ctx);
        return !memo.find({res.status(), res.body_bytes().size(), res.field_lines().known_type.data(), second_a}).empty();
    };
    CHECK(kept_after([](response& r) { r.text("Hello, World!"); }));
    CHECK(kept_after([](response& r) { r.status(404).json("{}"); }));
    CHECK(kept_after([](response& r) { r.body("untyped"); }));
    CHECK_FALSE(kept_after([](response& r) { r.header("X-A", "b").text("x"); }));
    CHECK_FALSE(kept_after([](response& r) { r.text("x").close(); }));
    CHECK_FALSE(kept_after([](response& r) { r.write("x"); }));
    CHECK_FALSE(kept_after([](response& r) { r.status(204); }));
    CHECK_FALSE(kept_after([](response& r) { r.text("x"); }, {0, false, true, date_a}));
    CHECK_FALSE(kept_after([](response& r) { r.text("x"); }, {1, true, true, date_a}));
    CHECK_FALSE(kept_after([](response& r) { r.text("x"); }, {1, false, false, date_a}));
}

TEST_CASE("a new second is a new head: the Date is never a second old", "[http][serializer][memo]") {
    response res;
    res.text("Hello, World!");
    head_memo memo;
    byte_buffer out;
    serialize(res, out, {1, false, true, date_a, &memo, second_a});
    serialize(res, out, {1, false, true, date_b, &memo, second_a + 1});
    const std::string both(out.view());
    const auto first = both.find(date_a), second = both.find(date_b);
    CHECK(first != std::string::npos);
    CHECK(second != std::string::npos);
    CHECK(first < second);
    CHECK(both.find(date_a, first + 1) == std::string::npos);
}

TEST_CASE("a few routes answered in turn keep a head each; keys that share a slot replace each other",
          "[http][serializer][memo]") {
    // Four answers of different lengths, one per slot (a route's status and length pick it).
    std::vector<head_memo::key> routes;
    for (std::size_t length = 10; routes.size() < head_memo::slots; ++length) {
        const head_memo::key k{200, length, nullptr, second_a};
        bool taken = false;
        for (const auto& r : routes) taken = taken || head_memo::slot(r) == head_memo::slot(k);
        if (!taken) routes.push_back(k);
    }
    head_memo memo;
    for (std::size_t i = 0; i < routes.size(); ++i) memo.keep(routes[i], "HEAD-" + std::to_string(i) + "\r\n\r\n");
    for (std::size_t i = 0; i < routes.size(); ++i) CHECK(memo.find(routes[i]) == "HEAD-" + std::to_string(i) + "\r\n\r\n");

    // Another second, another status: not found.
    CHECK(memo.find({200, routes[0].status_and_length & 0xffff, nullptr, second_a + 1}).empty());
    CHECK(memo.find({201, routes[0].status_and_length & 0xffff, nullptr, second_a}).empty());

    // A fifth answer takes the slot of the one it shares it with; the others stay.
    head_memo::key fifth{404, 9, nullptr, second_a};
    memo.keep(fifth, "HEAD-404\r\n\r\n");
    CHECK(memo.find(fifth) == "HEAD-404\r\n\r\n");
    for (const auto& r : routes) CHECK(memo.find(r).empty() == (head_memo::slot(r) == head_memo::slot(fifth)));
}

TEST_CASE("heads too long to keep, and bodies too long for the key, are never kept", "[http][serializer][memo]") {
    head_memo memo;
    const head_memo::key k{200, 13, nullptr, second_a};
    memo.keep(k, std::string(head_memo::max_head_bytes, 'h'));
    CHECK(memo.find(k).empty());
    memo.keep(k, std::string(head_memo::max_head_bytes - 1, 'h'));
    CHECK(memo.find(k).size() == head_memo::max_head_bytes - 1);

    // A body of 2^48 bytes or more has no key: it would read as another status.
    const head_memo::key huge{200, std::uint64_t{1} << 48, nullptr, second_a};
    CHECK(huge.status_and_length == 0);
    memo.keep(huge, "HEAD\r\n\r\n");
    CHECK(memo.find(huge).empty());
}

TEST_CASE("head_memo::copy writes exactly the head, for every length", "[http][serializer][memo]") {
    std::string head;
    for (std::size_t n = 0; n <= 200; ++n) {
        head.assign(n, '\0');
        for (std::size_t i = 0; i < n; ++i) head[i] = static_cast<char>('a' + i % 26);
        std::string to(n + 16, '#');
        char* end = head_memo::copy(to.data() + 8, head);
        CHECK(end == to.data() + 8 + n);
        CHECK(to.substr(8, n) == head);
        CHECK(to.substr(0, 8) == "########");
        CHECK(to.substr(8 + n) == "########");
    }
}
