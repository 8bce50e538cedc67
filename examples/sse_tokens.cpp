// sse_tokens: a handler-driven Server-Sent Events stream, token by token, the way AI chat front
// ends show an answer while it is being generated.
//
//   ./sse_tokens --port 8080          then open http://127.0.0.1:8080/
//   curl -N 'http://127.0.0.1:8080/answer?prompt=hello'
//
// The generator runs on its own thread (as a model or a database cursor would) and pushes each
// token through the stream's handle, which posts it to the stream's I/O thread. Every event
// carries an id, so a browser that reconnects sends Last-Event-ID and the answer continues
// where it stopped instead of starting over.
//
// The answer has an end, an event "done", and then the stream ends. EventSource reconnects
// whenever a stream ends, so the page closes it on "done"; and should a client reconnect anyway
// (a page that does not, or a tab woken from sleep), its Last-Event-ID is the done event's, and
// it is answered 204 No Content (sse::stop_reconnecting), which tells EventSource to stop.
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tether/tether.hpp>

namespace {

constexpr std::string_view page = R"(<!doctype html><meta charset="utf-8"><title>tether sse_tokens</title>
<link rel="icon" href="data:,">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto} #answer{min-height:3em}</style>
<form id="ask"><input id="prompt" value="hello" maxlength="200"> <button>ask</button> <span id="status"></span></form>
<p id="answer"></p>
<script>
const $ = (id) => document.getElementById(id);
window.opened = 0;   // streams opened (the browser tests read it)
$('ask').onsubmit = (e) => {
  e.preventDefault();
  $('answer').textContent = '';
  const source = new EventSource('/answer?prompt=' + encodeURIComponent($('prompt').value));
  source.onopen = () => { window.opened++; $('status').textContent = 'streaming'; };
  source.addEventListener('token', (m) => { $('answer').textContent += m.data; });
  // The answer is complete: close, or EventSource reconnects as soon as the stream ends.
  source.addEventListener('done', () => { source.close(); $('status').textContent = 'done'; });
};
</script>)";

struct answer_request {
    std::string prompt;
};
using token_stream = tether::server::sse_stream<answer_request>;

std::vector<std::string> tokens_for(const std::string& prompt) {
    std::vector<std::string> out;
    std::string text = "You said \"" + prompt + "\". Here is a streamed answer, one token at a time, sent as Server-Sent Events.";
    for (std::size_t start = 0; start < text.size();) {
        auto end = text.find(' ', start);
        end = end == std::string::npos ? text.size() : end + 1;
        out.push_back(text.substr(start, end - start));
        start = end;
    }
    return out;
}

// One thread plays the model for every open stream.
class generator {
public:
    generator() : worker_([this] { run(); }) {}
    ~generator() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        worker_.join();
    }
    void start(token_stream::handle h, std::vector<std::string> tokens, std::size_t first) {
        std::lock_guard lock(mutex_);
        jobs_.push_back({std::move(h), std::move(tokens), first});
        wake_.notify_one();
    }

private:
    struct job {
        token_stream::handle stream;
        std::vector<std::string> tokens;
        std::size_t next;
    };
    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            wake_.wait_for(lock, std::chrono::milliseconds(80));
            for (auto& j : jobs_) {
                if (j.next < j.tokens.size()) {
                    j.stream.send(j.tokens[j.next], "token", std::to_string(j.next + 1));
                    ++j.next;
                } else {
                    j.stream.send("", "done", std::to_string(j.next + 1));
                    j.stream.end();
                    j.next = SIZE_MAX;
                }
            }
            std::erase_if(jobs_, [](const job& j) { return j.next == SIZE_MAX || !j.stream.alive(); });
        }
    }
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> jobs_;
    bool stopping_ = false;
    std::thread worker_;
};

} // namespace

int main(int argc, char** argv) try {
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    tether::server app{options};
    generator model;

    app.get("/", [](auto&, auto& res) { res.html(page); });
    app.sse<answer_request>(
        "/answer", {.on_request =
                        [](const tether::http::request& req, answer_request& a) {
                            a.prompt = tether::http::find_query_param(req.query_string(), "prompt").value_or("");
                            if (a.prompt.empty() || a.prompt.size() > 200)
                                throw tether::http::error(400, "prompt (1-200 bytes) is required");
                            // Ids are 1..N for the tokens and N + 1 for "done": past the
                            // last token there is nothing left to send, ever.
                            auto id = req.header("last-event-id").value_or("");
                            std::size_t seen = 0;
                            auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), seen);
                            if (ec == std::errc{} && end == id.data() + id.size() && seen > tokens_for(a.prompt).size())
                                throw tether::sse::stop_reconnecting{};
                        },
                    .on_open =
                        [&](token_stream& s) {
                            std::size_t resume_after = 0;   // tokens the browser already has
                            auto id = s.last_event_id();
                            std::from_chars(id.data(), id.data() + id.size(), resume_after);
                            model.start(s.get_handle(), tokens_for(s.user_data().prompt), resume_after);
                        },
                    .retry = std::chrono::milliseconds(1000),
                    .retry_jitter = std::chrono::milliseconds(500)});

    app.listen();
    std::printf("listening on %s\n", app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::fputs(help.what(), stdout);   // --help: the usage, and success
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "sse_tokens: %s\n", e.what());
    return 1;
}
