// libFuzzer target for the positions a many-topic stream takes back from its client: the named
// composite cursor ("a:<cursor>,b:<cursor>", SSE Last-Event-ID and a poll's ?since=) and the
// ?topics= list (include/tether/hub/composite_cursor.hpp). Both are untrusted and as long as a
// request line allows. Invariants on any input:
// - every entry visited names a non-empty topic without ':' or ',', and at most max_entries are;
// - an entry whose cursor parsed prints back, with append_named_cursor, to exactly its own text
//   (so the server's ids and what it accepts agree byte for byte);
// - find_named_cursor answers what the first matching entry of the walk says;
// - http::split_list gives distinct, non-empty names without ',' in their order of first
//   appearance, never more than max_topics, and refuses (nullopt) only when there are more.
#include <tether/http/query.hpp>
#include <tether/hub/composite_cursor.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void composite(std::string_view in, std::size_t max_entries) {
    std::size_t visited = 0;
    std::vector<tether::hub::named_cursor> entries;
    tether::hub::for_each_named_cursor(in, max_entries, [&](const tether::hub::named_cursor& c) {
        ++visited;
        check(!c.topic.empty());
        check(c.topic.find_first_of(":,") == std::string_view::npos);
        if (c.valid) {
            std::string text;
            tether::hub::append_named_cursor(text, c.topic, c.position, true);
            // The entry's text is the topic, ':', and the cursor; it sits in `in` right at c.topic.
            auto at = static_cast<std::size_t>(c.topic.data() - in.data());
            check(in.substr(at, text.size()) == text);
            check(at + text.size() == in.size() || in[at + text.size()] == ',');
        }
        entries.push_back(c);
    });
    check(visited <= max_entries);
    for (const auto& e : entries) {
        auto found = tether::hub::find_named_cursor(in, e.topic, max_entries);
        check(found.has_value());
        check(found->topic.data() <= e.topic.data());   // the first entry of that name
        check(found->topic == e.topic);
    }
}

void topic_list(std::string_view in, std::size_t max_topics) {
    auto names = tether::http::split_list(in, max_topics);
    std::set<std::string_view> distinct;
    for (std::string_view rest = in;;) {
        auto comma = rest.find(',');
        if (auto name = rest.substr(0, comma); !name.empty()) distinct.insert(name);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (!names) return check(distinct.size() > max_topics);
    check(names->size() == distinct.size());
    std::set<std::string_view> seen;
    for (auto n : *names) {
        check(!n.empty() && n.find(',') == std::string_view::npos);
        check(seen.insert(n).second);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // The first byte picks the bounds, so small and large ones are both explored.
    std::size_t bound = size ? (static_cast<std::size_t>(data[0]) % 70) + 1 : 64;
    composite(in, bound * 2);
    topic_list(in, bound);
    return 0;
}
