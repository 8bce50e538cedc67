#pragma once
// The server's topics by name, each with the policy it was opened with. Transports that name a
// topic at run time (the pubsub control protocol, SSE routes, polling) find it here, together
// with the function that gives an I/O thread its typed reader group for it: the policy is a
// type, and this is where it survives being looked up by a string.
//
// Opening and looking up take a mutex (rare: a route registering, a client subscribing);
// publishing never touches the registry.
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/hub/topic.hpp>
#include <tether/net/topic_groups.hpp>
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
    };

    // Opens (or returns) the topic `name`. Opening the same name with another policy throws
    // std::logic_error.
    template <class Policy>
    tether::topic<Policy> open(std::string_view name, topic_options options) {
        std::lock_guard lock(mutex_);
        if (auto it = topics_.find(name); it != topics_.end()) {
            if (it->second.group_for != &ThreadState::template group_for<Policy>)
                throw std::logic_error("tether: topic '" + std::string(name) + "' is already open with another policy");
            return tether::topic<Policy>(it->second.handle);
        }
        // Server topics encode only the wire formats someone reads (lazy_formats), and their history is
        // bounded in bytes per topic and, through the shared budget, for the server as a whole. Their
        // text is UTF-8, because formats put it in WebSocket text frames and JSON strings.
        auto handle = std::make_shared<hub::topic>(std::string(name), detail::server_formats(std::string(name)),
                                                   hub::topic_options{.capacity = detail::history_capacity(options.history),
                                                                      .max_bytes = options.max_history_bytes,
                                                                      .shared_budget = budget_,
                                                                      .lazy_formats = true,
                                                                      .default_content = options.content,
                                                                      .text_must_be_utf8 = true});
        topics_.emplace(std::string(name), entry{handle, &ThreadState::template group_for<Policy>});
        return tether::topic<Policy>(std::move(handle));
    }

    // The topic named `name`, or nullptr. Any thread; entries live as long as the registry.
    const entry* find(std::string_view name) const {
        std::lock_guard lock(mutex_);
        auto it = topics_.find(name);
        return it == topics_.end() ? nullptr : &it->second;
    }

    const hub::history_budget* budget() const noexcept { return budget_.get(); }

private:
    std::shared_ptr<hub::history_budget> budget_;
    mutable std::mutex mutex_;
    std::map<std::string, entry, std::less<>> topics_;
};

} // namespace tether
