// libFuzzer target for what clients hand the hub: cursors (SSE Last-Event-ID, ?since=, WebSocket
// "since", several joined by commas on a multi-topic stream) and the JSON control messages of the
// pubsub protocol and of request bodies, read through include/tether/core/json_reader.hpp.
// Invariants on any input:
// - parse_cursor accepts exactly what format_cursor writes (lowercase hex, no leading zeros): a
//   parsed cursor prints back to the very same text;
// - splitting a composite id on commas and parsing each part never crashes;
// - the JSON reader either yields the fields or throws tether::json::parse_error (the server turns
//   that into 400 or a {"type":"error"} reply); any other exception or a crash is a bug.
#include <tether/core/json_reader.hpp>
#include <tether/hub/cursor.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void cursors(std::string_view in) {
    if (auto c = tether::hub::parse_cursor(in)) {
        check(tether::hub::to_string(*c) == in);
    }
    for (std::string_view rest = in;;) {   // a multi-topic stream's "c1,c2,..."
        auto comma = rest.find(',');
        (void)tether::hub::parse_cursor(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
}

struct command {
    std::string type, topic, since, data;
};

void control_message(std::string_view in) {
    try {
        auto c = tether::json::parse(in, [](simdjson::ondemand::document& doc) {
            auto obj = tether::json::as<simdjson::ondemand::object>(doc, "message");
            command r;
            r.type = tether::json::field<std::string>(obj, "type");
            r.topic = tether::json::optional_field<std::string>(obj, "topic").value_or("");
            r.since = tether::json::optional_field<std::string>(obj, "since").value_or("");
            r.data = tether::json::optional_field<std::string>(obj, "data").value_or("");
            return r;
        });
        check(c.type.size() <= in.size() && c.topic.size() <= in.size() && c.data.size() <= in.size());
        cursors(c.since);
    } catch (const tether::json::parse_error&) {
        // the expected answer to bad input
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    cursors(in);
    control_message(in);
    return 0;
}
