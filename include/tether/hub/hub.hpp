#pragma once
// The hub: topics by name, and the one include for the broadcast core.
//
// Topics are created on first use and live as long as anyone holds their handle (the registry holds one
// too, so they live until the registry goes). Lookup and creation take a mutex: they happen when a route is
// set up or a connection subscribes, never per message; publishing goes straight to the topic through the
// handle, without touching the registry. Rejected: a lock-free map (complexity for a cold path) and handing
// out raw pointers or references (a handle that cannot dangle is worth one atomic increment on lookup).
#include "tether/hub/backpressure.hpp"
#include "tether/hub/cursor.hpp"
#include "tether/hub/payload.hpp"
#include "tether/hub/reader_group.hpp"
#include "tether/hub/ring.hpp"
#include "tether/hub/subscriber.hpp"
#include "tether/hub/topic.hpp"
#include "tether/hub/wake.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::hub {

class registry {
public:
    /// Every topic created here gets these wire formats (empty: raw only) and these options (a fresh epoch
    /// is drawn per topic unless options.epoch is set).
    explicit registry(std::vector<wire_format> formats = {}, topic_options defaults = {})
        : formats_{std::move(formats)}, defaults_{defaults} {}

    /// The topic called `name`, created on first use. Thread-safe.
    topic_handle open(std::string_view name) {
        std::lock_guard lock{mutex_};
        if (auto found = topics_.find(name); found != topics_.end()) return found->second;
        auto created = std::make_shared<topic>(std::string{name}, formats_, defaults_);
        topics_.emplace(std::string{name}, created);
        return created;
    }

    /// The topic called `name`, or null if it was never opened. Thread-safe.
    topic_handle find(std::string_view name) const {
        std::lock_guard lock{mutex_};
        auto found = topics_.find(name);
        return found != topics_.end() ? found->second : nullptr;
    }

    std::vector<std::string> names() const {
        std::lock_guard lock{mutex_};
        std::vector<std::string> out;
        out.reserve(topics_.size());
        for (auto const& entry : topics_) out.push_back(entry.first);
        return out;
    }

    std::size_t size() const {
        std::lock_guard lock{mutex_};
        return topics_.size();
    }

private:
    std::vector<wire_format> const formats_;
    topic_options const defaults_;
    mutable std::mutex mutex_;
    std::map<std::string, topic_handle, std::less<>> topics_;
};

}  // namespace tether::hub
