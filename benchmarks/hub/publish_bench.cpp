// Cost of topic::publish() versus the number of subscribers: it must stay flat (O(1) in subscribers).
//
// Build and run (from the repository root; benchmarks/CMakeLists.txt is owned elsewhere):
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude benchmarks/hub/publish_bench.cpp -lbenchmark -pthread -o /work/build-hub/publish_bench
//   /work/build-hub/publish_bench
//
// Each message is encoded into three wire formats (raw JSON, an unmasked WebSocket text frame, an SSE
// event block with its id), as a server would configure. Two variants:
//   BM_publish_idle_readers  - N subscribers registered on two reader groups that are never drained: the
//                              pure publisher-side cost (claim, encode x3, allocate, store, wake check).
//   BM_publish_live_readers  - the same, with two threads draining the groups and delivering to all N
//                              subscribers as fast as they can, so the publisher also pays for sharing
//                              cache lines with readers. At 10,000 subscribers the readers cannot keep up
//                              and are lapped: publish does not wait for them, which is the point.
#include "tether/hub/hub.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hub = tether::hub;

namespace {

std::vector<hub::wire_format> server_formats() {
    return {
        hub::raw_format("json"),
        {"ws", [](hub::encode_input const& in, std::string& out) {   // RFC 6455 §5.2, FIN + text, unmasked
             out += static_cast<char>(0x81);
             if (in.body.size() < 126) {
                 out += static_cast<char>(in.body.size());
             } else {
                 out += static_cast<char>(126);
                 out += static_cast<char>((in.body.size() >> 8) & 0xff);
                 out += static_cast<char>(in.body.size() & 0xff);
             }
             out.append(in.body);
         }},
        {"sse", [](hub::encode_input const& in, std::string& out) {   // WHATWG EventSource: id + data
             char id[hub::cursor_max_chars];
             out += "id: ";
             out.append(id, hub::format_cursor(in.position, id));
             out += "\ndata: ";
             out.append(in.body);
             out += "\n\n";
         }},
    };
}

struct counting_delivery {
    hub::reader_group<counting_delivery, hub::backpressure::drop_oldest>* group = nullptr;
    std::uint64_t delivered = 0;
    void deliver(hub::subscriber& s, hub::payload_ptr const& m) {
        ++delivered;
        group->written(s, m->encoded(s.format()).size());   // an instantly writable socket
    }
    void missed(hub::subscriber&, std::uint64_t, std::uint64_t) {}
    void disconnect(hub::subscriber&, hub::disconnect_reason) {}
};
using group_type = hub::reader_group<counting_delivery, hub::backpressure::drop_oldest>;

class event_loop {
public:
    void post(std::function<void()> f) {
        {
            std::lock_guard lock{mutex_};
            tasks_.push_back(std::move(f));
        }
        cv_.notify_one();
    }
    void stop() { post({}); }
    void run() {
        for (;;) {
            std::function<void()> f;
            {
                std::unique_lock lock{mutex_};
                cv_.wait(lock, [&] { return !tasks_.empty(); });
                f = std::move(tasks_.front());
                tasks_.pop_front();
            }
            if (!f) return;
            f();
        }
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
};

std::string const body = R"({"symbol":"EURUSD","bid":1.08412,"ask":1.08415,"ts":1718000000123})";

void run_publish(benchmark::State& state, bool drained) {
    auto const subscriber_count = static_cast<std::size_t>(state.range(0));
    auto topic = std::make_shared<hub::topic>("prices", server_formats(), hub::topic_options{.capacity = 4096});
    event_loop loops[2];
    std::vector<std::unique_ptr<group_type>> groups;
    std::vector<std::unique_ptr<hub::subscriber>> subscribers;
    for (auto& loop : loops) {
        hub::wake_function wake;
        if (drained) {
            wake = [&loop](hub::drain_request r) { loop.post(std::move(r)); };
        } else {
            wake = [](hub::drain_request) {};   // never drained: the flag stays set after the first publish
        }
        groups.push_back(std::make_unique<group_type>(topic, std::move(wake)));
        groups.back()->delivery().group = groups.back().get();
    }
    for (std::size_t i = 0; i < subscriber_count; ++i) {
        subscribers.push_back(std::make_unique<hub::subscriber>(i % 3, 64 * 1024));
        groups[i % 2]->subscribe(*subscribers.back());
    }
    std::vector<std::thread> threads;
    if (drained) {
        for (auto& loop : loops) threads.emplace_back([&loop] { loop.run(); });
    }

    for (auto _ : state) {
        benchmark::DoNotOptimize(topic->publish(body, "EURUSD"));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));

    if (drained) {
        for (auto& loop : loops) loop.stop();
        for (auto& t : threads) t.join();
    }
    auto const stats = topic->stats();
    state.counters["delivered_per_msg"] =
        static_cast<double>(stats.delivered) / static_cast<double>(std::max<std::uint64_t>(stats.published, 1));
    subscribers.clear();   // unsubscribe before the groups go
    groups.clear();
}

void BM_publish_idle_readers(benchmark::State& state) { run_publish(state, false); }
void BM_publish_live_readers(benchmark::State& state) { run_publish(state, true); }

}  // namespace

BENCHMARK(BM_publish_idle_readers)->Arg(1)->Arg(100)->Arg(10'000)->UseRealTime();
BENCHMARK(BM_publish_live_readers)->Arg(1)->Arg(100)->Arg(10'000)->UseRealTime();

BENCHMARK_MAIN();
