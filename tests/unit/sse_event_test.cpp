#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <tether/sse/event.hpp>

using namespace std::chrono_literals;
namespace sse = tether::sse;

namespace {
// What a browser's EventSource would dispatch for a stream (WHATWG §9.2.6, "interpret the
// event stream"), reduced to data/type/id: the reference the encoder is checked against.
struct dispatched {
    std::string data, type, id;
};
std::vector<dispatched> browser_parse(std::string_view stream) {
    std::vector<dispatched> out;
    std::string data, type, id, last_id;
    bool has_data = false;
    while (!stream.empty()) {
        auto end = stream.find_first_of("\r\n");
        std::string_view line = stream.substr(0, end);
        std::size_t skip = end == std::string_view::npos ? stream.size()
                         : (stream[end] == '\r' && end + 1 < stream.size() && stream[end + 1] == '\n') ? end + 2
                                                                                                       : end + 1;
        stream.remove_prefix(skip);
        if (line.empty()) {
            if (has_data) {
                if (!data.empty() && data.back() == '\n') data.pop_back();
                out.push_back({data, type.empty() ? "message" : type, last_id});
            }
            data.clear(), type.clear(), has_data = false;
            continue;
        }
        if (line.front() == ':') continue;
        auto colon = line.find(':');
        std::string_view field = line.substr(0, colon), value;
        if (colon != std::string_view::npos) {
            value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        if (field == "data") data.append(value).push_back('\n'), has_data = true;
        else if (field == "event") type = value;
        else if (field == "id" && value.find('\0') == std::string_view::npos) last_id = value;
    }
    return out;
}
} // namespace

TEST_CASE("an event with id, type and data is encoded field by field and ends with a blank line", "[sse]") {
    CHECK(sse::encode({.data = "hello", .type = "greeting", .id = "7"}) == "id: 7\nevent: greeting\ndata: hello\n\n");
    CHECK(sse::encode({.data = "x"}) == "data: x\n\n");
}

TEST_CASE("multi-line data becomes one data line per line for CRLF, CR and LF alike", "[sse]") {
    CHECK(sse::encode({.data = "a\nb\r\nc\rd"}) == "data: a\ndata: b\ndata: c\ndata: d\n\n");
    CHECK(sse::encode({.data = "trailing\n"}) == "data: trailing\ndata: \n\n");
    CHECK(sse::encode({.data = ""}) == "data: \n\n");
}

TEST_CASE("what the browser dispatches is exactly the published data", "[sse]") {
    const std::vector<std::string> payloads = {"plain", "two\nlines", "crlf\r\nline", "cr\ronly", " leading space",
                                               "", "\n", "a\n\nb", ":colon first", "data: looks like a field"};
    std::string stream;
    for (const auto& p : payloads) sse::append_event(stream, {.data = p, .id = "1"});
    auto events = browser_parse(stream);
    REQUIRE(events.size() == payloads.size());
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        std::string expected = payloads[i];
        // The browser normalises every line ending to LF.
        for (std::size_t at; (at = expected.find("\r\n")) != std::string::npos;) expected.replace(at, 2, "\n");
        for (auto& c : expected) if (c == '\r') c = '\n';
        CHECK(events[i].data == expected);
        CHECK(events[i].type == "message");
    }
}

TEST_CASE("retry is written in milliseconds", "[sse]") {
    CHECK(sse::encode({.data = "x", .retry = 2500ms}) == "retry: 2500\ndata: x\n\n");
}

TEST_CASE("CR or LF in an id or event type is refused at the API", "[sse]") {
    CHECK_THROWS_AS(sse::encode({.data = "x", .id = "1\nevent: evil"}), std::invalid_argument);
    CHECK_THROWS_AS(sse::encode({.data = "x", .id = "1\r"}), std::invalid_argument);
    CHECK_THROWS_AS(sse::encode({.data = "x", .type = "a\nb"}), std::invalid_argument);
    CHECK_THROWS_AS(sse::encode({.data = "x", .id = std::string_view("a\0b", 3)}), std::invalid_argument);
}

TEST_CASE("comments are ignored by the browser and keep the stream alive", "[sse]") {
    std::string out;
    sse::append_comment(out, "heartbeat");
    CHECK(out == ": heartbeat\n\n");
    sse::append_event(out, {.data = "after"});
    auto events = browser_parse(out);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "after");
}
