// libFuzzer target for what the Redis backplane parses itself (hiredis parses RESP; the meaning is ours):
// redis:// and unix:// URLs, the messages our scripts publish on topic channels, our scripts' replies, and
// presence entries; and, fed with whatever of that parses, the catch-up state machine that acts on it.
//
// The input is split in two at the first 0xff byte: the first part is tried as a URL, a channel message and
// a presence entry; the second is fed to hiredis' own reply reader (as bytes from a server would be) and
// every reply it yields is given to each reply decoder, and also, as channel messages and fetch answers, to
// a topic_sync driving a real hub topic.
// Invariants on any input:
// - parse_url either returns or throws std::invalid_argument, and never puts the password in its message;
// - a parsed channel message's key and body lie inside the input, and the message prints back the same (a run of
//   messages too, whole or not at all, with consecutive offsets);
// - a decoded history holds consecutive offsets ending at most at its last offset;
// - the topic fed by topic_sync never goes backwards, whatever arrives in whatever order.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/hub/topic.hpp>
#include <tether/redis/presence.hpp>
#include <tether/redis/topic_sync.hpp>
#include <tether/redis/url.hpp>
#include <tether/redis/wire.hpp>

namespace {

namespace wire = tether::redis::wire;

void check(bool ok) {
    if (!ok) std::abort();
}

void url(std::string_view in) {
    try {
        auto u = tether::redis::parse_url(in);
        check(u.is_unix() ? u.socket_path.front() == '/' : !u.host.empty() && u.port != 0);
        check(u.db >= 0);
    } catch (std::invalid_argument const& e) {
        std::string_view const what = e.what();
        check(what.starts_with("redis URL: "));
    }
}

void channel_message(std::string_view in) {
    auto m = wire::parse_channel_message(in);
    if (!m) return;
    check(m->position.epoch != 0);
    if (m->type == wire::channel_message::kind::epoch) {
        check(in == "e " + wire::epoch_text(m->position.epoch) + " " + std::to_string(m->position.sequence));
        return;
    }
    check(m->key.data() >= in.data() && m->body.data() + m->body.size() == in.data() + in.size());
    check(in == "m " + wire::epoch_text(m->position.epoch) + " " + std::to_string(m->position.sequence) + " " +
                    std::to_string(m->key.size()) + " " + std::string(m->key) + std::string(m->body));
}

// A run ("b ..."): handed out whole or not at all, consecutive offsets of one epoch, every view inside the
// input, and the run prints back the same.
void channel_run(std::string_view in) {
    if (!in.starts_with("b ")) {   // the single forms, as channel_message() checks them
        return check(wire::for_each_channel_message(in, [](auto const&) {}) == wire::parse_channel_message(in).has_value());
    }
    std::string printed;
    std::uint64_t count = 0, epoch = 0, first = 0;
    bool const ok = wire::for_each_channel_message(in, [&](wire::channel_message const& m) {
        if (count == 0) {
            epoch = m.position.epoch;
            first = m.position.sequence;
        }
        check(m.position.epoch == epoch && m.position.sequence == first + count);
        check(m.key.data() >= in.data() && m.body.data() + m.body.size() <= in.data() + in.size());
        printed += std::to_string(m.key.size()) + " " + std::to_string(m.body.size()) + " " + std::string(m.key) + std::string(m.body);
        ++count;
    });
    check(ok == (count > 0));
    if (ok) check(in == "b " + wire::epoch_text(epoch) + " " + std::to_string(first) + " " + std::to_string(count) + " " + printed);
}

struct no_sequencer final : tether::hub::sequencer {
    void submit(tether::hub::topic&, tether::hub::publish_request_ptr) override {}
};

struct ignore_requests final : tether::redis::topic_sync::requests {
    void fetch(tether::redis::topic_sync&, std::uint64_t) override {}
    void start_epoch(tether::redis::topic_sync&, std::optional<std::uint64_t>, std::uint64_t) override {}
};

// hiredis 0.14 allocates a multi-bulk's element array as soon as it reads "*<count>", however large (later
// versions cap it): a test of hiredis, not of our decoders, and an allocation no real Redis asks for. Inputs
// claiming more than 100,000 elements are left out.
bool claims_huge_array(std::string_view in) {
    for (std::size_t i = in.find('*'); i != std::string_view::npos; i = in.find('*', i + 1)) {
        std::size_t digits = 0;
        while (i + 1 + digits < in.size() && in[i + 1 + digits] >= '0' && in[i + 1 + digits] <= '9') ++digits;
        if (digits > 5) return true;
    }
    return false;
}

void replies(std::string_view in) {
    if (claims_huge_array(in)) return;
    no_sequencer sequencer;
    auto topic = std::make_shared<tether::hub::topic>("t", std::vector<tether::hub::wire_format>{},
                                                      tether::hub::topic_options{.capacity = 8});
    topic->set_sequencer(&sequencer);
    ignore_requests requests;
    tether::redis::topic_sync sync{topic, requests, {16, 4096}};
    sync.on_session_start();

    redisReader* reader = redisReaderCreate();
    redisReaderFeed(reader, in.data(), in.size());
    for (int i = 0; i < 64; ++i) {
        void* out = nullptr;
        if (redisReaderGetReply(reader, &out) != REDIS_OK || out == nullptr) break;
        auto* r = static_cast<redisReply*>(out);
        auto const before = topic->next_sequence();
        (void)wire::parse_stored_as(r);
        (void)tether::redis::sum_presence(r);
        if (auto latest = wire::parse_latest(r)) {
            for (std::size_t k = 1; k < latest->entries.size(); ++k) check(latest->entries[k - 1].offset <= latest->entries[k].offset);
        }
        auto history = wire::parse_history(r);
        if (history && history->exists) {
            for (std::size_t k = 0; k < history->entries.size(); ++k) {
                check(history->entries[k].offset <= history->last.sequence);
                if (k > 0) check(history->entries[k].offset == history->entries[k - 1].offset + 1);
            }
        }
        sync.on_history(history);   // also when it did not parse: treated as a lost answer
        if (r->type == REDIS_REPLY_STRING) sync.on_channel_message({r->str, r->len});
        check(topic->next_sequence() >= before);
        if (i % 3 == 2) sync.on_epoch_answer();
        if (i % 7 == 6) sync.on_session_start();   // as after a reconnect
        freeReplyObject(r);
    }
    redisReaderFree(reader);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const all{reinterpret_cast<char const*>(data), size};
    auto const split = all.find('\xff');
    auto const text = all.substr(0, split);
    url(text);
    channel_message(text);
    channel_run(text);
    (void)wire::parse_node_presence(text);
    if (split != std::string_view::npos) replies(all.substr(split + 1));
    return 0;
}
