// auth_web: a chat room only signed-in users can read or write, on every transport, with
// connection tokens that live a minute and are renewed by tether.js before each reconnection.
//
//   ./auth_web --port 8080          then open http://127.0.0.1:8080/ and sign in with a name
//   curl -i http://127.0.0.1:8080/sse/room              # 401 {"error":{"status":401,"message":"token required"}}
//
// Two tokens, the pattern Centrifugo documents for connection tokens:
// - the session, a JWT in an HttpOnly cookie (the page's script cannot read it, so an injected
//   script cannot carry it away), set by POST /api/login and valid for 8 hours;
// - the connection token, a JWT of `--token-ttl` seconds (default 60) for audience "realtime",
//   handed out by POST /api/token to whoever holds a session. tether.js asks for one before every
//   connection (its `token` callback) and sends it as ?token= on WebSocket and SSE URLs, where a
//   short life limits what a URL kept in a log is worth, and as "Authorization: Bearer" on polls
//   and REST publishes.
// app.realtime applies the same check (auth::require_jwt) to the WebSocket handshake, to every SSE
// stream and poll, and to the REST publish route; a publish is stamped with the sender's name from
// the verified token, never from the message, which anyone can write.
//
// Both tokens are signed with one HS256 secret: `--secret-file F` (at least 32 bytes; servers that
// share it accept each other's sessions and tokens, and a restart keeps them valid), or a random
// one per process. This server is its own issuer, so the verifiers allow no clock skew.
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>

#include <openssl/rand.h>

#include <tether/auth/jwt.hpp>
#include <tether/auth/jwt_issue.hpp>
#include <tether/http/cookie.hpp>

#include "web/web_example.hpp"

namespace {

using namespace std::chrono_literals;
namespace auth = tether::auth;

constexpr std::string_view own_usage =
    "  --secret-file F  HS256 secret (at least 32 bytes) for sessions and tokens (default: random per run)\n"
    "  --token-ttl S    connection tokens live S seconds (default 60)\n";

struct member {
    std::string name;   // the token's "sub": who this connection speaks for
};

std::string read_secret(const std::optional<std::string>& file) {
    if (!file) {
        unsigned char bytes[32];
        if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
        return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
    }
    std::ifstream in(*file, std::ios::binary);
    if (!in) throw std::invalid_argument("--secret-file: cannot read " + *file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string json_string_field(std::string_view body, const char* name, std::size_t max_bytes) {
    auto value = tether::json::parse(body, [name](auto& doc) {
        auto object = tether::json::as<simdjson::ondemand::object>(doc, "body");
        return tether::json::field<std::string>(object, name);
    });
    if (value.empty() || value.size() > max_bytes)
        throw tether::http::error(422, std::string("field '") + name + "': must be 1 to " + std::to_string(max_bytes) + " bytes");
    return value;
}

std::string token_json(std::string_view token, std::chrono::seconds ttl) {
    std::string out;
    tether::json::writer(out).begin_object().member("token", token).member("expires_in", ttl.count()).end_object();
    return out;
}

} // namespace

int main(int argc, char** argv) try {
    auto root = web_example::web_root(argc, argv);
    const auto secret_file = web_example::take_option(argc, argv, "--secret-file");
    const std::chrono::seconds token_ttl{std::stoi(web_example::take_option(argc, argv, "--token-ttl").value_or("60"))};
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;

    const auto key = auth::jwt_key::hs256(read_secret(secret_file));
    const auth::jwt_verifier sessions({.keys = {key}, .audience = "session", .leeway = 0s});
    const auth::jwt_verifier connections({.keys = {key}, .audience = "realtime", .leeway = 0s});

    tether::server app{options};
    auto room = app.topic("room", {.history = 256});

    // The session: who the browser is, for 8 hours, in a cookie only the server reads.
    app.post("/api/login", [key](tether::http::request& req, tether::http::response& res) {
        const std::string name = json_string_field(req.body(), "name", 40);
        const std::string session = auth::issue_jwt(key, {.sub = name, .aud = "session", .ttl = 8h});
        res.header("Set-Cookie", "session=" + session + "; Path=/; Max-Age=28800; HttpOnly; SameSite=Strict");
        std::string body;
        tether::json::writer(body).begin_object().member("name", name).end_object();
        res.json(std::move(body));
    });
    app.post("/api/logout", [](tether::http::request&, tether::http::response& res) {
        res.header("Set-Cookie", "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict").status(204);
    });
    const auto session_user = [sessions](const tether::http::request& req) {
        const auto cookie = tether::http::find_cookie(req, "session");
        if (!cookie) throw tether::http::error(401, "not signed in");
        auto result = sessions.verify(*cookie);
        if (!result) throw tether::http::error(401, "session " + result.message());
        return std::move(result).claims().sub;
    };
    app.get("/api/me", [session_user](tether::http::request& req, tether::http::response& res) {
        std::string body;
        tether::json::writer(body).begin_object().member("name", session_user(req)).end_object();
        res.header("Cache-Control", "no-store").json(std::move(body));
    });
    // A connection token for the session's user: what tether.js's `token` callback fetches.
    app.post("/api/token", [key, token_ttl, session_user](tether::http::request& req, tether::http::response& res) {
        const std::string token = auth::issue_jwt(key, {.sub = session_user(req), .aud = "realtime", .ttl = token_ttl});
        res.header("Cache-Control", "no-store").json(token_json(token, token_ttl));
    });

    app.realtime(tether::realtime_options<member>{
                     .routes = {.publish = "/api/publish/{topic}"},
                     .pubsub = {.authorize = auth::require_jwt(connections, [](auth::claims&& c, member& m) { m.name = std::move(c.sub); }),
                                .can_publish = [](const member& m, std::string_view) { return !m.name.empty(); },
                                .prepare_publish =
                                    [](const member& m, std::string_view, std::string_view data) {
                                        std::string out;
                                        tether::json::writer(out)
                                            .begin_object()
                                            .member("from", m.name)
                                            .member("text", json_string_field(data, "text", 2000))
                                            .end_object();
                                        return out;
                                    },
                                .max_message_size = 4096}},
                 room);
    web_example::serve_page(app, root);

    app.listen();
    web_example::print_listening(app.url());
    app.run();
} catch (const tether::help_requested& help) {
    return web_example::print_help(help, own_usage);
} catch (const std::exception& e) {
    std::fprintf(stderr, "auth_web: %s\n", e.what());
    return 1;
}
