#pragma once
// The server's topics by name, each with the policy it was opened with. Transports that name a
// topic at run time (the pubsub control protocol, SSE routes, polling) find it here, together
// with the function that gives an I/O thread its typed reader group for it: the policy is a
// type, and this is where it survives being looked up by a string.
//
// Opening and looking up take a mutex (rare: a route registering, a client subscribing);
// publishing never touches the registry.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <tether/hub/topic.hpp>
#include <tether/net/topic_groups.hpp>
#include <tether/server/backplane.hpp>
#include <tether/topic.hpp>

namespace tether {

template <class ThreadState>
class topic_registry {
public:
    // `total_history_bytes`: what the histories of all topics may hold together (0: no cap).
    explicit topic_registry(std::size_t total_history_bytes)
        : budget_(total_history_bytes ? std::make_shared<hub::history_budget>(total_history_bytes) : nullptr) {}

    struct entry {
        hub::topic_handle handle;
        net::group_base& (*group_for)(ThreadState&, const hub::topic_handle&);
        tether::backplane* backplane = nullptr;
        bool conflating = false;   // opened with backpressure::conflate: its state is one value per key
    };

    // Opens (or returns) the topic `name`. Opening the same name with another policy, or with
    // another backplane, throws std::logic_error. A topic on a backplane is handed to it here.
    template <class Policy>
    tether::topic<Policy> open(std::string_view name, topic_options options) {
        std::lock_guard lock(mutex_);
        auto* plane = options.backplane != nullptr ? options.backplane : default_backplane_;
        if (auto it = topics_.find(name); it != topics_.end()) {
            if (it->second.group_for != &ThreadState::template group_for<Policy>)
                throw std::logic_error("tether: topic '" + std::string(name) + "' is already open with another policy");
            if (options.backplane != nullptr && options.backplane != it->second.backplane)
                throw std::logic_error("tether: topic '" + std::string(name) + "' is already open with another backplane");
            return tether::topic<Policy>(it->second.handle);
        }
        // Server topics encode only the wire formats someone reads (lazy_formats), and their history is
        // bounded in bytes per topic and, through the shared budget, for the server as a whole. Their
        // text is UTF-8, because formats put it in WebSocket text frames and JSON strings.
        auto handle = std::make_shared<hub::topic>(std::string(name),
                                                   detail::server_formats(std::string(name), ws_compressions_),
                                                   hub::topic_options{.capacity = detail::history_capacity(options.history),
                                                                      .max_bytes = options.max_history_bytes,
                                                                      .shared_budget = budget_,
                                                                      .lazy_formats = true,
                                                                      .default_content = options.content,
                                                                      .text_must_be_utf8 = true});
        if (plane != nullptr) plane->attach(handle, {.conflating = std::is_same_v<Policy, backpressure::conflate>});
        topics_.emplace(std::string(name), entry{handle, &ThreadState::template group_for<Policy>, plane,
                                                 std::is_same_v<Policy, backpressure::conflate>});
        return tether::topic<Policy>(std::move(handle));
    }

    // The backplane of topics opened from now on without one of their own.
    void use_backplane(tether::backplane* b) {
        std::lock_guard lock(mutex_);
        default_backplane_ = b;
    }

    // The topic named `name`, or nullptr. Any thread; entries live as long as the registry.
    const entry* find(std::string_view name) const {
        std::lock_guard lock(mutex_);
        auto it = topics_.find(name);
        return it == topics_.end() ? nullptr : &it->second;
    }

    // Calls f(name, entry) for every topic, in name order, under the registry's lock (the metrics
    // scrape): f must not open or look up topics.
    template <class F>
    void for_each(F&& f) const {
        std::lock_guard lock(mutex_);
        for (const auto& [name, e] : topics_) f(std::string_view(name), e);
    }

    const hub::history_budget* budget() const noexcept { return budget_.get(); }

    // Messages compressed for permessage-deflate subscribers, all topics together: once per message and
    // compressed format in use (net::topic_format::ws_deflate, ws_deflate_small), however many
    // subscribers share the frame.
    std::uint64_t ws_compressions() const noexcept { return ws_compressions_->load(std::memory_order_relaxed); }

private:
    std::shared_ptr<hub::history_budget> budget_;
    std::shared_ptr<std::atomic<std::uint64_t>> ws_compressions_ = std::make_shared<std::atomic<std::uint64_t>>(0);
    mutable std::mutex mutex_;
    std::map<std::string, entry, std::less<>> topics_;
    tether::backplane* default_backplane_ = nullptr;
};

} // namespace tether
