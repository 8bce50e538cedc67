// ws_chat: chat rooms over WebSocket, with a page to try it from a browser.
//
//   ./ws_chat --port 8080          then open http://127.0.0.1:8080/ in two tabs
//   node -e "const W=require('ws');const w=new W('ws://127.0.0.1:8080/chat?room=lobby&name=cli');w.on('message',m=>console.log(''+m));w.on('open',()=>w.send('hello'))"
//
// Each connection's room and name come from the upgrade request's query string, checked in
// on_upgrade (a missing name is refused with 400 before the upgrade) and kept as typed
// per-connection user data. Rooms are a map of connection handles behind a mutex, because
// connections live on different I/O threads; a send through a handle is posted to the
// connection's own thread. The broadcast hub (topics with history and resume) will replace
// this map: a room becomes a topic, join becomes subscribe.
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <tether/tether.hpp>

namespace {

struct member {
    std::string room;
    std::string name;
};

using chat_socket = tether::server::websocket_connection<member>;

class rooms {
public:
    void join(chat_socket& ws) {
        std::lock_guard lock(mutex_);
        rooms_[ws.user_data().room].push_back(ws.get_handle());
    }
    void leave(chat_socket& ws) {
        std::lock_guard lock(mutex_);
        auto& members = rooms_[ws.user_data().room];
        std::erase_if(members, [](const chat_socket::handle& h) { return !h.alive(); });
        if (members.empty()) rooms_.erase(ws.user_data().room);
    }
    void broadcast(const std::string& room, const std::string& text) {
        std::lock_guard lock(mutex_);
        for (auto& h : rooms_[room]) h.send(text);
    }

private:
    std::mutex mutex_;
    std::map<std::string, std::vector<chat_socket::handle>> rooms_;
};

std::string chat_line(const member& from, std::string_view text) {
    std::string line;
    tether::json::writer(line).begin_object().member("from", from.name).member("text", text).end_object();
    return line;
}

// Elements are looked up by id: a bare `name` in a page script is window.name, not the input.
// Joining again (another room, another name) closes the previous socket first, so a second
// click never leaves two connections each showing every message.
constexpr std::string_view page = R"(<!doctype html><meta charset="utf-8"><title>tether chat</title>
<link rel="icon" href="data:,">
<p>room <input id="room" value="lobby"> name <input id="name" value="guest"> <button id="join">join</button></p>
<pre id="log"></pre><input id="text" size="60" placeholder="say something, press enter">
<script>
const $ = (id) => document.getElementById(id);
const log = (t) => { $('log').textContent += t + '\n'; };
let ws = null;
$('join').onclick = () => {
  if (ws) { ws.onclose = null; ws.close(1000, 'joining again'); }
  const q = new URLSearchParams({room: $('room').value, name: $('name').value});
  const socket = ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat?${q}`);
  socket.onmessage = (e) => { const m = JSON.parse(e.data); log(`${m.from}: ${m.text}`); };
  socket.onclose = (e) => { log(`(closed ${e.code} ${e.reason})`); if (ws === socket) ws = null; };
};
$('text').onkeydown = (e) => {
  if (e.key !== 'Enter' || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(e.target.value);
  e.target.value = '';
};
</script>)";

} // namespace

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    rooms chat;

    app.get("/", [](auto&, auto& res) { res.html(page); });
    app.websocket<member>(
        "/chat", {.on_upgrade =
                      [](const tether::http::request& req, member& m) {
                          auto query = req.query_string();
                          m.room = tether::http::find_query_param(query, "room").value_or("lobby");
                          m.name = tether::http::find_query_param(query, "name").value_or("");
                          if (m.name.empty() || m.name.size() > 32 || m.room.size() > 64)
                              throw tether::http::error(400, "name (1-32 bytes) and room (up to 64) are required");
                      },
                  .on_open =
                      [&](chat_socket& ws) {
                          chat.join(ws);
                          chat.broadcast(ws.user_data().room, chat_line({"", "server"}, ws.user_data().name + " joined"));
                      },
                  .on_message =
                      [&](chat_socket& ws, std::string_view text, tether::ws::opcode op) {
                          if (op != tether::ws::opcode::text) return ws.close(tether::ws::close_code::unsupported_data, "text only");
                          chat.broadcast(ws.user_data().room, chat_line(ws.user_data(), text));
                      },
                  .on_close =
                      [&](chat_socket& ws, tether::ws::close_code, std::string_view) {
                          chat.leave(ws);
                          chat.broadcast(ws.user_data().room, chat_line({"", "server"}, ws.user_data().name + " left"));
                      },
                  .max_message_size = 4096});

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "ws_chat: %s\n", e.what());
    return 1;
}
