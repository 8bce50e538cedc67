// Broadcast hub microbenchmarks: what publish() costs the publisher, and what delivering one message to
// one subscriber costs its I/O thread.
//
// The topic has the three wire formats a server configures (raw JSON for polling, an unmasked WebSocket
// text frame, an SSE event block with its id), encoded with the library's own encoders, and a 64-byte
// ticker body. Reader groups are set up as in benchmarks/hub/publish_bench.cpp (which also measures live
// reader threads; build target hub_publish_bench):
//   BM_hub_publish/N    - two reader groups (two I/O threads) with N subscribers between them that are never
//                         drained: the publisher's own cost (claim, encode x3, allocate, store, wake check).
//                         It must not grow with N.
//   BM_hub_deliver/N    - one reader group on this thread, N subscribers; each iteration publishes one
//                         message and drains it to all N (hand-off of the shared payload, budget accounting).
//                         items/s counts deliveries, so 1/rate is the cost of one delivered message.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tether/hub/hub.hpp>
#include <tether/sse/event.hpp>
#include <tether/ws/frame.hpp>

namespace hub = tether::hub;

namespace {

std::vector<hub::wire_format> server_formats() {
    return {
        hub::raw_format("json"),
        {"ws", [](hub::encode_input const& in, std::string& out) {
             tether::ws::append_frame(out, tether::ws::opcode::text, in.body);
         }},
        {"sse", [](hub::encode_input const& in, std::string& out) {
             char id[hub::cursor_max_chars];
             const auto id_length = static_cast<std::size_t>(hub::format_cursor(in.position, id) - id);
             tether::sse::append_event(out, {.data = in.body, .id = std::string_view(id, id_length)});
         }},
    };
}

const std::string body = R"({"symbol":"EURUSD","bid":1.08412,"ask":1.08415,"ts":1718000000123})";

struct counting_delivery;
using group_type = hub::reader_group<counting_delivery, hub::backpressure::drop_oldest>;

struct counting_delivery {
    group_type* group = nullptr;
    std::uint64_t delivered = 0;
    void deliver(hub::subscriber& s, hub::payload_ptr const& m) {
        ++delivered;
        group->written(s, m->encoded(s.format()).size());   // an instantly writable socket
    }
    void missed(hub::subscriber&, std::uint64_t, std::uint64_t) {}
    void disconnect(hub::subscriber&, hub::disconnect_reason) {}
};

void BM_hub_publish(benchmark::State& state) {
    const auto subscriber_count = static_cast<std::size_t>(state.range(0));
    auto topic = std::make_shared<hub::topic>("prices", server_formats(), hub::topic_options{.capacity = 4096});
    std::vector<std::unique_ptr<group_type>> groups;
    for (int i = 0; i < 2; ++i) {
        groups.push_back(std::make_unique<group_type>(topic, [](hub::drain_request) {}));   // never drained
        groups.back()->delivery().group = groups.back().get();
    }
    std::vector<std::unique_ptr<hub::subscriber>> subscribers;
    for (std::size_t i = 0; i < subscriber_count; ++i) {
        subscribers.push_back(std::make_unique<hub::subscriber>(i % 3, 64 * 1024));
        groups[i % 2]->subscribe(*subscribers.back());
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(topic->publish(body, "EURUSD"));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    subscribers.clear();   // unsubscribe before the groups go
    groups.clear();
}

void BM_hub_deliver(benchmark::State& state) {
    const auto subscriber_count = static_cast<std::size_t>(state.range(0));
    auto topic = std::make_shared<hub::topic>("prices", server_formats(), hub::topic_options{.capacity = 4096});
    group_type group(topic, [](hub::drain_request) {});   // drained by hand below, on this thread
    group.delivery().group = &group;
    std::vector<std::unique_ptr<hub::subscriber>> subscribers;
    for (std::size_t i = 0; i < subscriber_count; ++i) {
        subscribers.push_back(std::make_unique<hub::subscriber>(i % 3, 64 * 1024));
        group.subscribe(*subscribers.back());
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(topic->publish(body, "EURUSD"));
        group.drain();
    }
    const auto delivered = group.delivery().delivered;
    if (delivered != state.iterations() * subscriber_count) state.SkipWithError("not every message was delivered");
    state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
    state.counters["delivered_per_msg"] = static_cast<double>(delivered) / static_cast<double>(state.iterations());
    subscribers.clear();
}

} // namespace

BENCHMARK(BM_hub_publish)->Arg(0)->Arg(1000);
BENCHMARK(BM_hub_deliver)->Arg(1)->Arg(1000);
