// floor_redis: the cross-node latency floor of a Redis backplane, with no tether code in the path.
// benchmarks/backplane/run.sh runs it beside tether's three nodes: whatever latency this shows on the
// same cores is the machine's (Redis, the scheduler, loopback), not tether's.
//
//   floor_redis pub --port P --rate R --duration S --sha SHA1 [--size 64]
//       one connection, paced at R messages/s: every message is the EVALSHA of tether's own publish script
//       (the same keys and arguments run.sh gives redis-benchmark), so Redis does exactly the work it does
//       for a node's publish: HINCRBY, XADD with trimming, PUBLISH. Each pass sends the messages that are
//       due, pipelined, then reads their answers. The body starts with the send time (CLOCK_MONOTONIC ns).
//   floor_redis sub --port P --duration S
//       SUBSCRIBEs to the script's channel and, for every message, takes now − the send time in its body.
//       Stops S seconds after the first message; prints "result received=N p50_us=X p99_us=Y max_us=Z".
//
// What it leaves out, against a node: the WebSocket hop from the load tool to node 1, node 1's queue and
// hiredis' async path, node 2's parse, ring and fan-out to its WebSocket subscribers, and their read. So
// tether's figure minus this one is what tether adds.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr const char* channel = "tether:{rb}:0";

std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct options {
    std::string mode, sha;
    int port = 6379;
    double rate = 10000, duration = 5;
    std::size_t size = 64;
};

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: floor_redis pub|sub --port P [--rate R] [--duration S] [--sha SHA1] [--size N]\n");
    std::exit(2);
}

options parse(int argc, char** argv) {
    if (argc < 2) usage();
    options o;
    o.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string_view k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--port") o.port = std::atoi(v);
        else if (k == "--rate") o.rate = std::atof(v);
        else if (k == "--duration") o.duration = std::atof(v);
        else if (k == "--sha") o.sha = v;
        else if (k == "--size") o.size = static_cast<std::size_t>(std::atol(v));
        else usage();
    }
    if ((o.mode != "pub" && o.mode != "sub") || (o.mode == "pub" && o.sha.empty())) usage();
    return o;
}

redisContext* connect(int port) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        std::fprintf(stderr, "floor_redis: cannot connect to 127.0.0.1:%d: %s\n", port, c ? c->errstr : "no memory");
        std::exit(1);
    }
    return c;
}

int publish(const options& o) {
    redisContext* c = connect(o.port);
    const std::size_t size = std::max<std::size_t>(o.size, 20);
    std::string body(size, 'x');
    const auto start = now_ns();
    const auto end = start + static_cast<std::int64_t>(o.duration * 1e9);
    std::uint64_t sent = 0;
    for (auto t = start; t < end; t = now_ns()) {
        auto due = static_cast<std::uint64_t>(static_cast<double>(t - start) * o.rate / 1e9);
        std::size_t batch = 0;
        for (; sent < due; ++sent, ++batch) {
            std::snprintf(body.data(), 21, "%020lld", static_cast<long long>(now_ns()));
            body[20] = 'x';
            // The arguments redis-benchmark's EVALSHA row uses in run.sh.
            redisAppendCommand(c, "EVALSHA %s 3 tether:{rb}:meta tether:{rb}:stream tether:{rb}:latest %s %s %s %s %s %s %b %s",
                               o.sha.c_str(), "00c0ffee00c0ffee", "0", "4096", "0", channel, "0", body.data(), body.size(), "");
        }
        for (std::size_t i = 0; i < batch; ++i) {
            void* reply = nullptr;
            if (redisGetReply(c, &reply) != REDIS_OK) {
                std::fprintf(stderr, "floor_redis: %s\n", c->errstr);
                return 1;
            }
            auto* r = static_cast<redisReply*>(reply);
            if (r->type == REDIS_REPLY_ERROR) {
                std::fprintf(stderr, "floor_redis: %.*s\n", static_cast<int>(r->len), r->str);
                freeReplyObject(r);
                return 1;
            }
            freeReplyObject(r);
        }
        if (batch == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    std::printf("result sent=%llu\n", static_cast<unsigned long long>(sent));
    redisFree(c);
    return 0;
}

int subscribe(const options& o) {
    redisContext* c = connect(o.port);
    auto* r = static_cast<redisReply*>(redisCommand(c, "SUBSCRIBE %s", channel));
    if (!r) return 1;
    freeReplyObject(r);
    std::printf("subscribed\n");
    std::fflush(stdout);
    std::vector<std::int64_t> latencies;
    latencies.reserve(static_cast<std::size_t>(o.duration * 20000) + 1024);
    std::int64_t stop_at = 0;
    for (;;) {
        void* reply = nullptr;
        if (redisGetReply(c, &reply) != REDIS_OK) break;
        const auto received = now_ns();
        auto* m = static_cast<redisReply*>(reply);
        // ["message", channel, "m <epoch> <offset> <key length> <key><body>"]: the key is empty here.
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 && m->element[2]->type == REDIS_REPLY_STRING) {
            std::string_view text(m->element[2]->str, m->element[2]->len);
            std::size_t body = 0;
            for (int spaces = 0; spaces < 4 && body != std::string_view::npos; ++spaces) {
                auto space = text.find(' ', body);
                body = space == std::string_view::npos ? space : space + 1;
            }
            if (body != std::string_view::npos && text.size() >= body + 20) {
                latencies.push_back(received - std::atoll(std::string(text.substr(body, 20)).c_str()));
                if (stop_at == 0) stop_at = received + static_cast<std::int64_t>(o.duration * 1e9);
            }
        }
        freeReplyObject(m);
        if (stop_at != 0 && received >= stop_at) break;
    }
    redisFree(c);
    if (latencies.empty()) {
        std::printf("result received=0\n");
        return 1;
    }
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double q) { return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(q * static_cast<double>(latencies.size())))] / 1000; };
    std::printf("result received=%zu p50_us=%lld p99_us=%lld max_us=%lld\n", latencies.size(), static_cast<long long>(at(0.5)),
                static_cast<long long>(at(0.99)), static_cast<long long>(latencies.back() / 1000));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    return o.mode == "pub" ? publish(o) : subscribe(o);
}
