// Proves a consuming project links the Redis backplane (tether::redis, which brings hiredis): a topic
// ordered by a backplane whose Redis is unreachable refuses a publish with errc::not_connected rather
// than reporting it stored.
#include <cstdio>
#include <future>

#include <tether/redis.hpp>
#include <tether/tether.hpp>

int main() {
    tether::redis::backplane redis{"redis://127.0.0.1:1/0", {.log = [](tether::log::level, std::string_view) {}}};
    tether::server app{{.port = 0}};
    app.use_backplane(redis);
    auto news = app.topic("news");
    std::error_code error;
    try {
        news.async_publish("hello", asio::use_future).get();
    } catch (const std::system_error& e) {
        error = e.code();
    }
    bool ok = error == tether::redis::errc::not_connected && !redis.connected();
    std::printf("consumer_redis: %s\n", ok ? "ok" : error.message().c_str());
    return ok ? 0 : 1;
}
