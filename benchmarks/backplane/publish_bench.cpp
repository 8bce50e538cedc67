// publish_bench: how many messages one node publishes per second through the Redis backplane, each one
// answered (stored, with its id) before it counts. benchmarks/backplane/run.sh sets it against
// redis-benchmark running the very same script with a pipeline: Redis' own ceiling for this work.
//
//   publish_bench --redis redis://127.0.0.1:6379/0 [--window 256] [--size 64] [--duration 3] [--warmup 1]
//   publish_bench --print-script        the publish script (for redis-benchmark's EVALSHA)
//
// `window` publishes are kept unanswered at all times: each answer submits the next one, from the backplane's
// thread, so the measurement is the backplane's pipelined path (queue, one write per burst, hiredis, the
// script, the answer), not a thread hand-off. The node also receives every message back on the topic's
// channel and ingests it into its ring, as a node with subscribers does. The last stdout line reads
// "result key=value ...".
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <tether/redis.hpp>
#include <tether/topic.hpp>

namespace {

struct options {
    std::string url;
    std::size_t window = 256;
    std::size_t size = 64;
    double duration = 3;
    double warmup = 1;
};

double cpu_seconds() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

struct publisher {
    tether::hub::topic& topic;
    std::string body;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> stored{0}, failed{0}, in_flight{0};

    void submit() {
        in_flight.fetch_add(1, std::memory_order_relaxed);
        tether::async_publish(topic, body, {}, [this](std::error_code ec, tether::hub::cursor) {
            (ec ? failed : stored).fetch_add(1, std::memory_order_relaxed);
            in_flight.fetch_sub(1, std::memory_order_relaxed);
            if (!stopping.load(std::memory_order_relaxed)) submit();   // keep the window full
        });
    }
};

}  // namespace

int main(int argc, char** argv) try {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--print-script") {
            std::fwrite(tether::redis::scripts::publish.data(), 1, tether::redis::scripts::publish.size(), stdout);
            return 0;
        }
        if (i + 1 >= argc) throw std::invalid_argument("missing value for " + std::string(arg));
        std::string value = argv[++i];
        if (arg == "--redis") o.url = value;
        else if (arg == "--window") o.window = std::stoul(value);
        else if (arg == "--size") o.size = std::stoul(value);
        else if (arg == "--duration") o.duration = std::stod(value);
        else if (arg == "--warmup") o.warmup = std::stod(value);
        else throw std::invalid_argument("unknown option " + std::string(arg));
    }
    if (o.url.empty()) throw std::invalid_argument("--redis URL is required");

    tether::redis::backplane redis{o.url};
    auto topic = std::make_shared<tether::hub::topic>("bench", std::vector<tether::hub::wire_format>{},
                                                      tether::hub::topic_options{.capacity = 4096});
    redis.attach(topic, {});
    if (!redis.wait_until_ready(std::chrono::seconds(10))) throw std::runtime_error("Redis not ready in 10 s");

    publisher p{*topic, std::string(o.size, 'x')};
    for (std::size_t i = 0; i < o.window; ++i) p.submit();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
    auto const stored0 = p.stored.load();
    auto const cpu0 = cpu_seconds();
    auto const t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.duration));
    auto const stored1 = p.stored.load();
    auto const cpu1 = cpu_seconds();
    auto const seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    p.stopping = true;
    for (int i = 0; i < 1000 && p.in_flight.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));

    auto const rate = static_cast<double>(stored1 - stored0) / seconds;
    auto const cpu_us = stored1 > stored0 ? (cpu1 - cpu0) * 1e6 / static_cast<double>(stored1 - stored0) : -1.0;
    std::fprintf(stderr, "publish_bench: %.0f publishes/s stored (window %zu, %zu B), %.2f us CPU per publish, %llu failed\n",
                 rate, o.window, o.size, cpu_us, static_cast<unsigned long long>(p.failed.load()));
    std::printf("result publishes_per_s=%.0f window=%zu size=%zu seconds=%.3f cpu_us_per_publish=%.3f failed=%llu ingested=%llu\n",
                rate, o.window, o.size, seconds, cpu_us, static_cast<unsigned long long>(p.failed.load()),
                static_cast<unsigned long long>(topic->next_sequence() - 1));
    return p.failed.load() == 0 ? 0 : 1;
} catch (std::exception const& e) {
    std::fprintf(stderr, "publish_bench: %s\n", e.what());
    return 2;
}
