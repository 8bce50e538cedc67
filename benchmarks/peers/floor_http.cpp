// The HTTP "kernel floor" for benchmarks/http/run.sh: a reference server that does the least user-space work an
// HTTP/1.1 keep-alive server can do, so that the benchmark can show what the kernel alone costs per request.
// See floor_loop.hpp for why it exists and for the event loop (raw epoll, edge-triggered, one loop per thread).
//
// No parsing and no allocation per request: per read it counts the complete requests (the "\r\n\r\n" ending
// each request head; GET requests have no body) and answers each with the same precomputed bytes, the answers
// for one read in one send. The answer has the shape tether's `hello` example gives for GET /plaintext:
//
//   HTTP/1.1 200 OK\r\nDate: <IMF-fixdate>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n
//   \r\nHello, World!
//
// whatever the method or path (it is a floor, not a server). The Date is formatted once at start-up and never
// updated: the benchmark's clients do not look at it, and refreshing it would be work a floor does not need
// (the other servers format it at most once per second, which costs nothing measurable either).
//
// One concession to correctness beyond that: a read that contains "\r\nConnection: close\r\n" (exactly so
// spelled, as curl and benchmarks/http/run.sh's pipelining probe send it) gets its last answer with
// "Connection: close" and the connection is closed after the send, so such clients see EOF instead of waiting
// for a timeout. wrk never sends it, so the measured path pays only for the memmem over the bytes read.
//
// Usage: floor_http [--host 127.0.0.1] [--port 8080] [--threads 1]

#include "floor_loop.hpp"

#include <array>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view terminator = "\r\n\r\n";
constexpr std::string_view close_request = "\r\nConnection: close\r\n";

std::string make_answer(bool closing) {
    std::array<char, 64> date{};
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    const std::size_t date_size = std::strftime(date.data(), date.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    std::string a = "HTTP/1.1 200 OK\r\nDate: ";
    a.append(date.data(), date_size);
    a += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n";
    if (closing) a += "Connection: close\r\n";
    a += "\r\nHello, World!";
    return a;
}

struct http_session {
    // At most one request head can end per 4 bytes read (plus one that straddles the previous read), so
    // read_size / 4 + 1 answers cover any read.
    static constexpr std::size_t read_size = 16 * 1024;
    static constexpr std::size_t max_answers = read_size / terminator.size() + 1;

    struct context {
        // max_answers copies of the answer back to back, built once: n answers are the first n * size bytes, so
        // answering copies nothing. About 530 KB, touched once at start-up.
        std::string answer = make_answer(false);
        std::string answers = [this] {
            std::string all;
            all.reserve(answer.size() * max_answers);
            for (std::size_t i = 0; i < max_answers; ++i) all += answer;
            return all;
        }();
        std::string closing_answer = make_answer(true);
        std::string scratch;  // answers ending with closing_answer: rare, built only when a client asks to close
    };

    struct reply {
        std::string_view out;
        bool close;
    };

    reply on_data(context& ctx, char* data, std::size_t n) {
        const std::string_view in(data, n);
        std::size_t requests = 0;
        std::size_t from = 0;  // where the search continues in `in`
        // A terminator that starts in the previous read's last bytes: look in carry_ + the first 3 new bytes.
        if (carry_size_ > 0) {
            std::array<char, 6> window{};
            const std::size_t head = n < 3 ? n : 3;
            std::memcpy(window.data(), carry_.data(), carry_size_);
            std::memcpy(window.data() + carry_size_, data, head);
            for (std::size_t i = 0; i < carry_size_ && i + 4 <= carry_size_ + head; ++i) {
                if (std::string_view(window.data() + i, 4) == terminator) {
                    ++requests;
                    from = i + 4 - carry_size_;
                    break;
                }
            }
        }
        for (std::size_t at; (at = in.find(terminator, from)) != std::string_view::npos; from = at + 4) ++requests;
        keep_tail(in, from, requests > 0);

        // Only a close request whose head this read completed: one split after its "Connection: close" line
        // but before the empty line ends the next read (answering it here dropped its answer: 15/16 in the
        // pipelining probe when the batch arrived in two reads).
        const std::size_t close_at = requests > 0 ? in.find(close_request) : std::string_view::npos;
        const bool close = close_at != std::string_view::npos && close_at + close_request.size() + 2 <= from;
        if (!close) return {std::string_view(ctx.answers).substr(0, requests * ctx.answer.size()), false};
        ctx.scratch.assign(ctx.answers, 0, (requests - 1) * ctx.answer.size());
        ctx.scratch += ctx.closing_answer;
        return {ctx.scratch, true};
    }

private:
    // The carry for the next read: up to 3 bytes that followed the last terminator (or, with none found in
    // this read, the last 3 bytes of carry + this read), enough to find a terminator split across reads.
    void keep_tail(std::string_view in, std::size_t from, bool matched) {
        const std::size_t after = in.size() - from;
        if (matched || after >= 3) {
            carry_size_ = after < 3 ? after : 3;
            std::memcpy(carry_.data(), in.data() + in.size() - carry_size_, carry_size_);
            return;
        }
        // Fewer than 3 new bytes and no terminator: keep the newest bytes of the old carry before them.
        const std::size_t total = carry_size_ + in.size() < 3 ? carry_size_ + in.size() : 3;
        const std::size_t old_kept = total - in.size();
        std::memmove(carry_.data(), carry_.data() + carry_size_ - old_kept, old_kept);
        std::memcpy(carry_.data() + old_kept, in.data(), in.size());
        carry_size_ = total;
    }

    std::array<char, 3> carry_{};
    std::size_t carry_size_ = 0;
};

}  // namespace

int main(int argc, char** argv) { return tether_floor::serve<http_session>("floor_http", argc, argv); }
