// notifications_web: a notification feed in the browser that keeps working where WebSocket does
// not: the page (examples/web/notifications_web/) uses tether.js with WebSocket first and long
// polling as the fallback, and re-reads the list over REST whenever the hub says history was
// lost (a restart), so nothing is ever missing from the page.
//
//   ./notifications_web --port 8080 [--state notifications.log]    then open http://127.0.0.1:8080/
//   curl -X POST http://127.0.0.1:8080/api/notifications -d '{"text":"build passed"}'
//   curl http://127.0.0.1:8080/api/notifications                   # {"items":[..],"cursor":".."}
//   open http://127.0.0.1:8080/?transports=longpoll                # force a transport
//
// With --state FILE every notification is appended to FILE and read back at start, so after a
// restart the list is complete even though the hub's history (in memory) starts a new epoch.
// The list and the topic's cursor are read under the lock publishing takes, so a page that
// loads the list and subscribes from that cursor sees every notification exactly once.
#include <cstdio>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "web/web_example.hpp"

namespace {

class feed {
public:
    feed(tether::topic<> topic, std::optional<std::string> state_file) : topic_(topic), file_(std::move(state_file)) {
        if (!file_) return;
        std::ifstream in(*file_);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) items_.push_back(line);   // each line is one published JSON body
    }

    // Returns the notification's number (1, 2, ...), which stays stable across restarts.
    std::size_t add(std::string_view text) {
        std::lock_guard lock(mutex_);
        std::size_t n = items_.size() + 1;
        std::string body;
        tether::json::writer(body).begin_object().member("n", n).member("text", text).end_object();
        if (file_) {
            std::ofstream out(*file_, std::ios::app);
            out << body << '\n' << std::flush;
            if (!out) throw tether::http::error(503, "cannot write the state file");
        }
        items_.push_back(body);
        topic_.publish(body);
        return n;
    }

    // {"items":[...],"cursor":"<id>"}: subscribe from `cursor` to continue exactly after items.
    std::string snapshot(std::size_t last) const {
        std::lock_guard lock(mutex_);
        std::string out = "{\"items\":[";
        std::size_t first = items_.size() > last ? items_.size() - last : 0;
        for (std::size_t i = first; i < items_.size(); ++i) {
            if (i > first) out.push_back(',');
            out.append(items_[i]);   // already JSON
        }
        out.append("],\"cursor\":");
        tether::json::escape_quoted(out, tether::hub::to_string(topic_.position()));
        out.push_back('}');
        return out;
    }

private:
    tether::topic<> topic_;
    std::optional<std::string> file_;
    mutable std::mutex mutex_;
    std::vector<std::string> items_;
};

} // namespace

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    auto state_file = web_example::take_option(argc, argv, "--state");
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    auto topic = app.topic("notifications");
    feed notifications(topic, state_file);

    app.post("/api/notifications", [&](auto& req, auto& res) {
        auto text = tether::json::parse(req.body(), [](auto& doc) {
            auto object = tether::json::as<simdjson::ondemand::object>(doc, "body");
            return tether::json::field<std::string>(object, "text");
        });
        if (text.empty() || text.size() > 1000) throw tether::http::error(422, "field 'text': must be 1 to 1000 bytes");
        std::string body;
        tether::json::writer(body).begin_object().member("n", notifications.add(text)).end_object();
        res.status(201).json(std::move(body));
    });
    app.get("/api/notifications", [&](auto&, auto& res) {
        res.header("Cache-Control", "no-store").json(notifications.snapshot(1000));
    });
    app.realtime(topic);   // /ws, /sse/notifications, /poll/notifications, /status/notifications, /tether.js
    web_example::serve_page(app, root);

    app.listen();
    web_example::print_listening(app.url());
    app.run();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help, "  --state FILE    keep notifications in FILE across restarts\n");
} catch (const std::exception& e) {
    std::fprintf(stderr, "notifications_web: %s\n", e.what());
    return 1;
}
