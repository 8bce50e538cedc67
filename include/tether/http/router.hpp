#pragma once
// Maps (method, path) to a handler: literal segments, ":name" parameters and a trailing "*".
//
// Routes live in a segment trie, so matching costs one comparison per segment of the request
// path however many routes there are. Literal segments win over parameters and parameters over
// the wildcard, backtracking when a more specific branch dead-ends ("/files/new" beats
// "/files/:id", and "/files/:id/raw" still matches "/files/new/raw"). A path that exists under
// other methods answers 405 with Allow (RFC 9110 §15.5.6); OPTIONS is answered automatically
// from the same knowledge, and HEAD falls back to GET (RFC 9110 §9.3.2).
//
// Patterns made only of literal segments are also kept in a hash table by their whole text: for a
// request path equal to one, that node is the first candidate the depth-first search reaches, so
// when it serves the method the search would return it, and one lookup answers instead of a walk
// (the common case: "/api/items", "/plaintext"). Any other outcome takes the search.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/method.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/short_bytes.hpp>

namespace tether::http {

// Grants the router access to the request's parameter slots.
class router_base {
protected:
    // The search writes captures straight into the request's parameter slots (no array of its own to
    // clear and copy from): a failed branch only lowers the count, and bind() makes the count final.
    using capture = request::bound_param;
    static capture* capture_slots(request& req) noexcept { return req.params_.data(); }

    static void set_route(request& req, std::string_view pattern, std::uint32_t id) noexcept {
        req.route_ = pattern;
        req.route_id_ = id;
    }

    // A literal path's match: its route, and no parameters or wildcard. (The route is written once: a hit does
    // not unbind first.)
    static void bind_literal(request& req, std::string_view pattern, std::uint32_t id) noexcept {
        set_route(req, pattern, id);
        req.param_count_ = 0;
        req.wildcard_ = {};
    }

    // Forgets what matched the connection's previous request: a request no route matches has no
    // route, parameters or wildcard (not views into the last request's bytes).
    static void unbind(request& req) noexcept {
        set_route(req, {}, 0);
        req.param_count_ = 0;
        req.wildcard_ = {};
    }

    // Binds the `count` captures in the request's slots, percent-decoding values that need it. False
    // when a value holds a malformed escape, which the caller answers with 400.
    static bool bind(request& req, std::size_t count, std::string_view wildcard) {
        req.wildcard_ = wildcard;
        req.param_storage_.clear();
        std::size_t decoded_bytes = 0;
        for (std::size_t i = 0; i < count; ++i)
            if (req.params_[i].value.find('%') != std::string_view::npos) decoded_bytes += req.params_[i].value.size();
        if (decoded_bytes) {
            // Reserve up front: decoding only shrinks, so the views below never see a reallocation.
            req.param_storage_.reserve(decoded_bytes);
            for (std::size_t i = 0; i < count; ++i) {
                std::string_view& value = req.params_[i].value;
                if (value.find('%') == std::string_view::npos) continue;
                std::size_t start = req.param_storage_.size();
                if (!percent_decode_append(req.param_storage_, value, /*plus_as_space=*/false)) return false;
                value = std::string_view{req.param_storage_}.substr(start);
            }
        }
        req.param_count_ = count;
        return true;
    }
};

template <class Handler>
class router : router_base {
public:
    enum class outcome : std::uint8_t { found, not_found, method_not_allowed, options, bad_request };

    // Sixteen trivially copyable bytes, so a match comes back in two registers: the allowed methods are a
    // set, spelled out by allow() only for the 405 and OPTIONS answers that name them (a std::string here
    // was built and destroyed on every hit, ~10 of a pipelined request's instructions).
    struct match_result {
        outcome result;
        std::uint16_t allowed = 0;   // for 405 and automatic OPTIONS: the methods the path accepts, a bit each
        const Handler* handler = nullptr;

        // The Allow field's value (RFC 9110 §10.2.1): the accepted methods in their enum's order, then
        // OPTIONS, which is always answered, when no route names it. Empty unless the answer is 405 or OPTIONS.
        std::string allow() const {
            std::string list;
            if (result != outcome::method_not_allowed && result != outcome::options) return list;
            auto add = [&](std::string_view name) {
                if (!list.empty()) list.append(", ");
                list.append(name);
            };
            for (std::size_t i = 0; i < static_cast<std::size_t>(method::other); ++i)
                if (allowed & (1u << i)) add(to_string(static_cast<method>(i)));
            if (!(allowed & (1u << static_cast<unsigned>(method::options)))) add("OPTIONS");
            return list;
        }
    };

    // Registers `handler` for `pattern`, e.g. "/api/items/:id" or "/static/*". Throws
    // std::invalid_argument for a malformed pattern or a route registered twice.
    void add(method m, std::string_view pattern, Handler handler) {
        if (m == method::other) throw std::invalid_argument("tether: routes need a standard method");
        if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("tether: route pattern must start with '/'");
        node* at = &root_;
        std::size_t params = 0;
        std::string_view rest = pattern.substr(1);
        // "/" is the empty segment under the root, as "/files/" is under "files", so "/*" serves "/"
        // the way "/files/*" serves "/files/".
        bool last = false, wildcard = false;
        while (!last) {
            auto slash = rest.find('/');
            std::string_view segment = rest.substr(0, slash);
            last = slash == std::string_view::npos;
            rest = last ? std::string_view{} : rest.substr(slash + 1);
            if (segment == "*") {
                if (!last) throw std::invalid_argument("tether: '*' may only end a route pattern");
                if (!at->wildcard) at->wildcard = std::make_unique<node>();
                at = at->wildcard.get();
                wildcard = true;
                break;
            }
            if (!segment.empty() && segment.front() == ':') {
                std::string_view name = segment.substr(1);
                if (name.empty()) throw std::invalid_argument("tether: ':' needs a parameter name");
                if (++params > request::max_params) throw std::invalid_argument("tether: too many route parameters");
                if (!at->param) {
                    at->param = std::make_unique<node>();
                    at->param->param_name = std::string(name);
                } else if (at->param->param_name != name) {
                    throw std::invalid_argument("tether: conflicting parameter names at the same position");
                }
                at = at->param.get();
                continue;
            }
            at = &at->literal_child(segment);
        }
        auto& slot = at->handlers[static_cast<std::size_t>(m)];
        if (slot) throw std::invalid_argument("tether: route registered twice: " + std::string(pattern));
        slot = std::make_unique<Handler>(std::move(handler));
        if (at->pattern.empty()) {
            at->pattern = std::string(pattern);
            patterns_.push_back(at->pattern);
            at->id = static_cast<std::uint32_t>(patterns_.size());
            // Every node that can hold handlers is a heap child (even "/" is the empty segment under
            // the root), so the pointer stays valid when the router moves.
            if (params == 0 && !wildcard) literal_paths_.insert(at);
        }
    }

    // Route patterns are numbered from 1 as they are first registered (request::route_id());
    // several methods on one pattern share its number.
    std::size_t route_count() const noexcept { return patterns_.size(); }
    // The pattern numbered `id` (1..route_count()).
    std::string_view pattern(std::size_t id) const noexcept { return patterns_[id - 1]; }

    // Finds the handler for `req` and binds its path parameters.
    match_result match(request& req) const {
        const std::string_view path = req.path();
        const method m = req.method();
        if (m != method::other)
            if (const node* hit = literal_paths_.find(path); hit && hit->serves(m)) {
                bind_literal(req, hit->pattern, hit->id);
                return {outcome::found, 0, hit->handlers[static_cast<std::size_t>(m)].get()};
            }
        return search(req, path, m);
    }

private:
    // Everything but the literal lookup's hit, apart so that the hit pays for none of its frame.
    match_result search(request& req, std::string_view path, method m) const {
        unbind(req);
        if (path.empty() || path.front() != '/') return {outcome::not_found};
        search_state state{capture_slots(req), 0, {}};

        const std::string_view rest = path.substr(1);
        const node* found = m == method::other ? nullptr : find(root_, rest, false, m, state);
        if (!found && m == method::head) found = find(root_, rest, false, method::get, state = {capture_slots(req), 0, {}});
        if (found) {
            auto slot = static_cast<std::size_t>(m);
            const Handler* h = found->handlers[slot] ? found->handlers[slot].get()
                                                     : found->handlers[static_cast<std::size_t>(method::get)].get();
            if (!bind(req, state.count, state.wildcard)) return {outcome::bad_request};
            set_route(req, found->pattern, found->id);
            return {outcome::found, 0, h};
        }
        state = {capture_slots(req), 0, {}};
        if (!find(root_, rest, false, std::nullopt, state)) return {outcome::not_found};
        return {m == method::options ? outcome::options : outcome::method_not_allowed, allowed_methods(rest)};
    }

    struct node {
        std::vector<std::pair<std::string, std::unique_ptr<node>>> literals;
        std::unique_ptr<node> param;
        std::unique_ptr<node> wildcard;
        std::string param_name;
        std::string pattern;   // as first registered here (metrics and logs name routes by it)
        std::uint32_t id = 0;  // its number, 0 until a route is registered here
        std::array<std::unique_ptr<Handler>, 9> handlers{};   // indexed by method, `other` excluded

        node& literal_child(std::string_view segment) {
            for (auto& [text, child] : literals)
                if (text == segment) return *child;
            literals.emplace_back(std::string(segment), std::make_unique<node>());
            return *literals.back().second;
        }
        bool serves(std::optional<method> m) const noexcept {
            if (m) return handlers[static_cast<std::size_t>(*m)] != nullptr;
            for (auto& h : handlers)
                if (h) return true;
            return false;
        }
    };

    // Whole literal paths to their nodes: open addressing with linear probing, at most half full.
    // Entries are only added at registration, so how long a probe runs depends on the routes alone,
    // never on what a client sends.
    class literal_path_table {
    public:
        // `at` is a heap node (never the root): its pattern, the whole path, never changes or moves.
        void insert(const node* at) {
            if ((count_ + 1) * 2 > slots_.size()) grow();
            place(slot{words_of(at->pattern), at->pattern.data(), at});
            ++count_;
        }
        const node* find(std::string_view path) const noexcept {
            if (count_ == 0) return nullptr;
            const words w = words_of(path);
            for (std::size_t i = hash(w) & mask_;; i = (i + 1) & mask_) {
                const slot& s = slots_[i];
                if (!s.at) return nullptr;
                if (s.key == w && (w.length <= 16 || std::memcmp(s.pattern + 8, path.data() + 8, w.length - 16) == 0))
                    return s.at;
            }
        }

    private:
        // A path as the lookup reads it: its length and its first and last eight bytes (four each for shorter
        // paths, the bytes themselves below four). For paths of up to 16 bytes the three words are the path,
        // so a slot compares them where it keeps them, without following a pointer to the pattern (perf put
        // an eighth of route()'s time on that load); a longer path compares its middle bytes too.
        struct words {
            std::uint64_t head = 0, tail = 0;
            std::size_t length = 0;
            bool operator==(const words&) const = default;
        };
        static words words_of(std::string_view s) noexcept {
            words w;
            w.length = s.size();
            if (w.length >= 8) {
                w.head = detail::load_u64(s.data());
                w.tail = detail::load_u64(s.data() + w.length - 8);
            } else if (w.length >= 4) {
                w.head = detail::load_u32(s.data());
                w.tail = detail::load_u32(s.data() + w.length - 4);
            } else {
                for (char c : s) w.head = (w.head << 8) | static_cast<unsigned char>(c);
            }
            return w;
        }
        struct slot {
            words key;
            const char* pattern = nullptr;   // the node's pattern, for the middle of a path longer than 16 bytes
            const node* at = nullptr;
        };
        // Route paths that share a prefix ("/api/v1/...") differ in their length or their end. One multiply,
        // whose upper half depends on every input bit, and the index taken from that half: a lookup waits on the
        // hash before its first load, and three chained multiplies were where perf found route()'s time. Not a
        // defence against chosen collisions, which it needs none of (see above).
        static std::size_t hash(const words& w) noexcept {
            constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
            const std::uint64_t h = (w.head ^ ((w.tail << 29) | (w.tail >> 35)) ^ w.length) * k;
            return static_cast<std::size_t>(h >> 32);
        }
        void place(slot entry) {
            std::size_t i = hash(entry.key) & mask_;
            while (slots_[i].at) i = (i + 1) & mask_;
            slots_[i] = entry;
        }
        void grow() {
            std::vector<slot> old = std::move(slots_);
            slots_.assign(old.empty() ? 8 : old.size() * 2, slot{});
            mask_ = slots_.size() - 1;
            for (const slot& s : old)
                if (s.at) place(s);
        }
        std::vector<slot> slots_;
        std::size_t mask_ = 0;   // slots_.size() - 1, a power of two minus one
        std::size_t count_ = 0;
    };

    struct search_state {
        capture* captures;
        std::size_t count;
        std::string_view wildcard;
    };

    // Depth-first search in specificity order; `rest` is the path after the node's segment.
    static const node* find(const node& at, std::string_view rest, bool at_end, std::optional<method> m,
                            search_state& state) {
        if (at_end) {
            if (at.serves(m)) return &at;
            // "/files/*" also serves "/files/" (an empty remainder), never "/files".
            return nullptr;
        }
        // memchr itself: string_view::find wraps it in an out-of-line call that costs as much again.
        const auto* slash = rest.empty() ? nullptr : static_cast<const char*>(std::memchr(rest.data(), '/', rest.size()));
        const bool next_at_end = slash == nullptr;
        const std::string_view segment = next_at_end ? rest : std::string_view(rest.data(), static_cast<std::size_t>(slash - rest.data()));
        const std::string_view next = next_at_end ? std::string_view{} : rest.substr(segment.size() + 1);

        for (auto& [text, child] : at.literals)
            // Not string_view's ==, which goes through an out-of-line compare() and memcmp.
            if (detail::equal_short(text, segment))
                if (auto* hit = find(*child, next, next_at_end, m, state)) return hit;
        if (at.param && !segment.empty()) {
            std::size_t saved = state.count;
            state.captures[state.count++] = {at.param->param_name, segment};
            if (auto* hit = find(*at.param, next, next_at_end, m, state)) return hit;
            state.count = saved;
        }
        if (at.wildcard && at.wildcard->serves(m)) {
            state.wildcard = rest;
            return at.wildcard.get();
        }
        return nullptr;
    }

    // The methods some route accepts for this path, each found the way match() would find it: the
    // routes serving one path may sit on different nodes ("/files/new" for GET, "/files/:id" for
    // POST), so every method is searched rather than one node's handlers listed. GET implies HEAD
    // and OPTIONS is always answered (match_result::allow()). Only the 405 and OPTIONS answers pay for this.
    std::uint16_t allowed_methods(std::string_view rest) const {
        std::uint16_t allowed = 0;
        bool get_served = false;
        for (std::size_t i = 0; i < root_.handlers.size(); ++i) {
            const auto m = static_cast<method>(i);
            std::array<capture, request::max_params> captures{};
            search_state state{captures.data(), 0, {}};
            bool served = find(root_, rest, false, m, state) != nullptr;
            if (m == method::get) get_served = served;
            if (served || (m == method::head && get_served)) allowed |= static_cast<std::uint16_t>(1u << i);
        }
        return allowed;
    }

    node root_;
    std::vector<std::string> patterns_;   // by id - 1
    literal_path_table literal_paths_;
};

} // namespace tether::http
