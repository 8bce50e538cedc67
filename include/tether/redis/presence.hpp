#pragma once
// Presence: how many subscriptions a topic has across all nodes, and which users, with entries that vanish
// when their node dies.
//
// Each node writes one entry per topic into Redis (scripts.hpp: a hash field per node, and the same node in
// a sorted set scored by its expiry time on Redis' clock), refreshed every presence interval; an entry not
// refreshed within the time to live is dropped by the next query. So a node killed with SIGKILL disappears
// after at most one time to live, and no node needs to know the others. Rejected: one Redis key per node
// with an EXPIRE (finding them needs SCAN, which walks the whole keyspace), and keyspace notifications
// (off by default, and lost while a node is disconnected).
//
// What a node counts: its open subscriptions to the topic on every transport (WebSocket, SSE, held long
// polls: net/topic_groups.hpp keeps the number), plus user ids the application names with join()/leave()
// (for example from a connection's user data), counted once per user per node.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#include <tether/redis/wire.hpp>

namespace tether::redis {

struct presence {
    std::uint64_t subscriptions = 0;   ///< open subscriptions on all live nodes
    std::size_t nodes = 0;             ///< live nodes with at least one subscription or user
    std::vector<std::string> users;    ///< distinct user ids, sorted
};

/// This node's named users per topic. Any thread.
class presence_users {
public:
    void join(std::string_view topic, std::string_view user) {
        std::lock_guard lock(mutex_);
        ++users_[std::string(topic)][std::string(user)];
    }
    void leave(std::string_view topic, std::string_view user) {
        std::lock_guard lock(mutex_);
        auto t = users_.find(topic);
        if (t == users_.end()) return;
        auto u = t->second.find(user);
        if (u == t->second.end()) return;
        if (--u->second == 0) t->second.erase(u);
        if (t->second.empty()) users_.erase(t);
    }
    /// The entry this node writes for `topic`: "" (nothing to say: remove it), else "<n>[\n<user>...]".
    /// User ids with a newline cannot be represented and are left out.
    std::string entry(std::string_view topic, std::uint64_t subscriptions) const {
        std::lock_guard lock(mutex_);
        auto t = users_.find(topic);
        if (subscriptions == 0 && t == users_.end()) return {};
        std::string out = std::to_string(subscriptions);
        if (t != users_.end()) {
            for (auto const& [user, count] : t->second) {
                if (user.empty() || user.find('\n') != std::string::npos) continue;
                out += '\n';
                out += user;
            }
        }
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::map<std::string, int, std::less<>>, std::less<>> users_;
};

/// Adds up the presence query's answer (node, entry, node, entry, ...). Entries that do not parse are
/// skipped (another version of tether, or not ours); nullopt if the answer is not a flat array.
inline std::optional<presence> sum_presence(redisReply const* r) {
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return std::nullopt;
    presence p;
    std::set<std::string, std::less<>> users;
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
        auto const* value = r->element[i + 1];
        if (!wire::detail::is_string(value)) continue;
        auto entry = wire::parse_node_presence(wire::detail::str(value));
        if (!entry) continue;
        p.subscriptions += entry->subscriptions;
        ++p.nodes;
        for (auto u : entry->users) users.emplace(u);
    }
    p.users.assign(users.begin(), users.end());
    return p;
}

} // namespace tether::redis
