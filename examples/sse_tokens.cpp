// sse_tokens: a handler-driven Server-Sent Events stream, token by token, the way AI chat front
// ends show an answer while it is being generated.
//
//   ./sse_tokens --port 8080
//   curl -N 'http://127.0.0.1:8080/answer?prompt=hello'
//   in a browser console: e = new EventSource('/answer?prompt=hi'); e.addEventListener('token', m => console.log(m.data))
//
// The generator runs on its own thread (as a model or a database cursor would) and pushes each
// token through the stream's handle, which posts it to the stream's I/O thread. Every event
// carries an id, so a browser that reconnects sends Last-Event-ID and the answer continues
// where it stopped instead of starting over.
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

struct answer_request {
    std::string prompt;
    std::size_t first_token = 0;   // from Last-Event-ID on a reconnect
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

    app.sse<answer_request>(
        "/answer", {.on_request =
                        [](const tether::http::request& req, answer_request& a) {
                            a.prompt = tether::http::find_query_param(req.query_string(), "prompt").value_or("");
                            if (a.prompt.empty() || a.prompt.size() > 200)
                                throw tether::http::error(400, "prompt (1-200 bytes) is required");
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
} catch (const std::exception& e) {
    std::fprintf(stderr, "sse_tokens: %s\n", e.what());
    return 1;
}
