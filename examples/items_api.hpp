#pragma once
// The JSON resource behind rest_crud and crud_web: /api/items with create, read, update, delete
// and list, validation errors (422 naming the field) and malformed JSON (400, from the reader).
//
// The store is an in-memory map behind a shared_mutex because handlers run on every I/O thread
// (--threads N). Errors are thrown as tether::http::error or come from the JSON reader; the
// server turns both into the same {"error":{"status":..,"message":..}} body.
#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <tether/tether.hpp>

namespace items_api {

struct item {
    std::string name;
    double price = 0;
};

class item_store {
public:
    std::uint64_t create(item i) {
        std::unique_lock lock(mutex_);
        items_.emplace(next_id_, std::move(i));
        return next_id_++;
    }
    std::optional<item> find(std::uint64_t id) const {
        std::shared_lock lock(mutex_);
        auto it = items_.find(id);
        return it == items_.end() ? std::nullopt : std::optional<item>(it->second);
    }
    bool replace(std::uint64_t id, item i) {
        std::unique_lock lock(mutex_);
        auto it = items_.find(id);
        if (it == items_.end()) return false;
        it->second = std::move(i);
        return true;
    }
    bool erase(std::uint64_t id) {
        std::unique_lock lock(mutex_);
        return items_.erase(id) == 1;
    }
    // Calls f(id, item) for up to `limit` items after skipping `offset`, optionally filtered by
    // a substring of the name; returns how many matched in total.
    template <class F>
    std::size_t list(std::size_t offset, std::size_t limit, std::string_view filter, F&& f) const {
        std::shared_lock lock(mutex_);
        std::size_t matched = 0;
        for (const auto& [id, i] : items_) {
            if (!filter.empty() && i.name.find(filter) == std::string::npos) continue;
            if (matched >= offset && matched - offset < limit) f(id, i);
            ++matched;
        }
        return matched;
    }

private:
    mutable std::shared_mutex mutex_;
    std::map<std::uint64_t, item> items_;
    std::uint64_t next_id_ = 1;
};

// Reads and validates {"name": string (1..100 bytes), "price": number >= 0}. Malformed JSON is
// 400 (from the reader); well-formed JSON that breaks these rules is 422 naming the field. Both
// fields are required: a missing price, or null (what JSON.stringify makes of NaN, so a
// browser's Number("abc")), is refused rather than stored as 0.
inline item parse_item(std::string_view body) {
    return tether::json::parse(body, [](simdjson::ondemand::document& doc) {
        auto object = tether::json::as<simdjson::ondemand::object>(doc, "body");
        item i;
        i.name = tether::json::field<std::string>(object, "name");
        if (i.name.empty() || i.name.size() > 100)
            throw tether::http::error(422, "field 'name': must be 1 to 100 bytes");
        if (object.find_field_unordered("price").get_double().get(i.price) != simdjson::SUCCESS || !(i.price >= 0))
            throw tether::http::error(422, "field 'price': must be a number >= 0");
        return i;
    });
}

inline std::uint64_t parse_id(std::string_view text) {
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || end != text.data() + text.size()) throw tether::http::error(404, "no such item");
    return id;
}

inline std::size_t query_number(const tether::http::request& req, std::string_view name, std::size_t fallback, std::size_t max) {
    auto text = tether::http::find_query_param(req.query_string(), name);
    if (!text) return fallback;
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || value > max)
        throw tether::http::error(400, "query parameter '" + std::string(name) + "' must be a number up to " +
                                           std::to_string(max));
    return value;
}

inline void write_item(tether::json::writer& w, std::uint64_t id, const item& i) {
    w.begin_object().member("id", id).member("name", i.name).member("price", i.price).end_object();
}

// Called after every successful change: op is "created", "updated" or "deleted".
using on_change = std::function<void(std::string_view op, std::uint64_t id)>;

template <class Server>
void register_routes(Server& app, item_store& store, on_change changed = [](std::string_view, std::uint64_t) {}) {
    app.get("/api/items", [&store](auto& req, auto& res) {
        std::size_t offset = query_number(req, "offset", 0, SIZE_MAX);
        std::size_t limit = query_number(req, "limit", 50, 1000);
        std::string filter = tether::http::find_query_param(req.query_string(), "q").value_or("");
        std::string body;
        tether::json::writer w(body);
        w.begin_object().key("items").begin_array();
        std::size_t total = store.list(offset, limit, filter, [&](std::uint64_t id, const item& i) { write_item(w, id, i); });
        w.end_array().member("total", total).end_object();
        res.header("Cache-Control", "no-store").json(std::move(body));
    });
    app.post("/api/items", [&store, changed](auto& req, auto& res) {
        item i = parse_item(req.body());
        std::uint64_t id = store.create(i);
        std::string body;
        tether::json::writer w(body);
        write_item(w, id, i);
        res.status(201).header("Location", "/api/items/" + std::to_string(id)).json(std::move(body));
        changed("created", id);
    });
    app.get("/api/items/:id", [&store](auto& req, auto& res) {
        std::uint64_t id = parse_id(req.param("id"));
        auto found = store.find(id);
        if (!found) throw tether::http::error(404, "no such item");
        std::string body;
        tether::json::writer w(body);
        write_item(w, id, *found);
        res.json(std::move(body));
    });
    app.put("/api/items/:id", [&store, changed](auto& req, auto& res) {
        std::uint64_t id = parse_id(req.param("id"));
        item i = parse_item(req.body());
        if (!store.replace(id, i)) throw tether::http::error(404, "no such item");
        std::string body;
        tether::json::writer w(body);
        write_item(w, id, i);
        res.json(std::move(body));
        changed("updated", id);
    });
    app.del("/api/items/:id", [&store, changed](auto& req, auto& res) {
        std::uint64_t id = parse_id(req.param("id"));
        if (!store.erase(id)) throw tether::http::error(404, "no such item");
        res.status(204);
        changed("deleted", id);
    });
}

} // namespace items_api
