// Streamed request bodies (app.upload, include/tether/http/body_stream.hpp) on a running server over
// sockets: 100 MiB to a file in bounded memory, refusals at the head before the body is read,
// handlers that throw, pipelining behind an upload, clients that leave, concurrent uploads, and
// uploads paused and resumed from other threads.
#include <catch2/catch.hpp>

#include <asio.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hostile_support.hpp"

using namespace tether::itest;
using namespace std::chrono_literals;
using tether::http::method;

namespace {

// Deterministic bytes from a seed: a client sends a large body without holding it, and a checksum
// (FNV-1a, 64 bits) says whether the server kept every byte, in order.
struct fnv1a {
    std::uint64_t value = 0xcbf29ce484222325ull;
    void add(std::string_view bytes) {
        for (unsigned char c : bytes) value = (value ^ c) * 0x100000001b3ull;
    }
};

class body_source {
public:
    body_source(std::uint64_t seed, std::uint64_t size) : state_(seed * 0x9e3779b97f4a7c15ull + 1), left_(size) {}
    std::uint64_t left() const noexcept { return left_; }
    std::uint64_t checksum() const noexcept { return sum_.value; }
    // The next min(n, left()) bytes.
    std::string_view next(std::size_t n) {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, left_));
        buffer_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            buffer_[i] = static_cast<char>(state_ >> 24);
        }
        left_ -= n;
        sum_.add(buffer_);
        return buffer_;
    }

private:
    std::uint64_t state_;
    std::uint64_t left_;
    fnv1a sum_;
    std::string buffer_;
};

std::string hex(std::uint64_t v) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
    return text;
}

// A request head for an upload: Content-Length `length`, or chunked when it has none.
std::string upload_head(std::string_view target, std::optional<std::uint64_t> length, std::string_view extra = {},
                        std::string_view verb = "PUT") {
    std::string head = std::string(verb) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    head += length ? "Content-Length: " + std::to_string(*length) + "\r\n" : std::string("Transfer-Encoding: chunked\r\n");
    return head.append(extra).append("\r\n");
}

// Appends `data` framed as one chunk to `out`, in place: send_body reuses one string, so sending
// 100 MiB allocates nothing per chunk (under ASan, whose quarantine keeps freed memory up to
// 256 MiB, a string per chunk showed as ~250 MB of this process's RSS, the server's not).
void append_chunk(std::string& out, std::string_view data) {
    char size[20];
    std::snprintf(size, sizeof size, "%zx", data.size());
    out.append(size).append("\r\n").append(data).append("\r\n");
}

std::string chunk(std::string_view data) {
    std::string out;
    append_chunk(out, data);
    return out;
}

// Sends `src` as the body, in pieces of up to `piece` bytes (chunks of varying sizes when chunked).
bool send_body(raw_client& c, body_source& src, bool chunked, std::size_t piece = 256 * 1024) {
    std::string framed;
    for (std::size_t round = 0; src.left() > 0; ++round) {
        std::size_t n = chunked ? 1 + (round * 7919) % piece : piece;
        auto bytes = src.next(n);
        if (chunked) {
            framed.clear();
            append_chunk(framed, bytes);
        }
        if (!c.send(chunked ? std::string_view(framed) : bytes)) return false;
    }
    return !chunked || c.send("0\r\n\r\n");
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tether-upload-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
};

std::uint64_t file_checksum(const std::filesystem::path& p) {
    fnv1a sum;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return 0;
    std::string buffer(1 << 16, '\0');
    while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), f)) sum.add(std::string_view(buffer.data(), n));
    std::fclose(f);
    return sum.value;
}

// What the handlers saw, across threads.
struct tally {
    std::atomic<int> started{0}, pieces{0}, ended{0}, aborted{0}, destroyed{0};
    std::atomic<std::uint64_t> bytes{0};
};

// PUT /files/:name saved to `dir`, as examples/upload.cpp does: name.part while it streams, renamed
// when whole, removed when it will not be.
struct saving {
    std::FILE* file = nullptr;
    std::filesystem::path part, final_path;
    std::uint64_t bytes = 0;
    tally* seen = nullptr;
    ~saving() {
        if (file) std::fclose(file);
        if (seen) ++seen->destroyed;
    }
};

tether::body_stream<saving> file_route(const std::filesystem::path& dir, tally& seen, std::uint64_t limit = 1ull << 30) {
    return {
        .on_start =
            [&dir, &seen](const tether::http::request& req, saving& s) {
                s.seen = &seen;
                s.final_path = dir / std::string(req.param("name"));
                s.part = s.final_path;
                s.part += ".part";
                s.file = std::fopen(s.part.c_str(), "wb");
                if (!s.file) throw tether::http::error(500, "cannot create the file");
                ++seen.started;
            },
        .on_data =
            [&seen](saving& s, std::string_view piece) {
                if (std::fwrite(piece.data(), 1, piece.size(), s.file) != piece.size())
                    throw tether::http::error(507, "disk full");
                s.bytes += piece.size();
                seen.bytes += piece.size();
                ++seen.pieces;
            },
        .on_end =
            [&seen](tether::http::request&, tether::http::response& res, saving& s) {
                std::fclose(std::exchange(s.file, nullptr));
                std::filesystem::rename(s.part, s.final_path);
                ++seen.ended;
                res.status(201).json("{\"bytes\":" + std::to_string(s.bytes) + "}");
            },
        .on_abort =
            [&seen](saving& s) {
                std::fclose(std::exchange(s.file, nullptr));
                std::filesystem::remove(s.part);
                ++seen.aborted;
            },
        .max_body_bytes = limit,
    };
}

} // namespace

TEST_CASE("a 100 MiB upload streams to a file in bounded memory, with Content-Length and chunked", "[upload]") {
    temp_dir dir;
    tally seen;
    test_server server([&](tether::server& app) { app.upload<saving>(method::put, "/files/:name", file_route(dir.path, seen)); });
    constexpr std::uint64_t size = 100ull << 20;
    for (bool chunked : {false, true}) {
        INFO((chunked ? "chunked" : "Content-Length"));
        const std::string name = chunked ? "chunked.bin" : "length.bin";
        body_source src(chunked ? 2 : 1, size);
        rss_watch rss;
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/files/" + name, chunked ? std::nullopt : std::optional(size))));
        REQUIRE(send_body(c, src, chunked));
        auto r = c.read_response(60s);
        REQUIRE(r);
        CHECK(r->status == 201);
        CHECK(r->body == "{\"bytes\":" + std::to_string(size) + "}");
        const auto growth = rss.peak_growth();
        INFO("peak RSS growth " << growth << " bytes");
        // The claim: a 100 MiB body never costs the server more than 16 MiB of memory.
        CHECK(growth < (under_sanitizer ? with_slack(16u << 20) : (16u << 20)));
        CHECK(std::filesystem::file_size(dir.path / name) == size);
        CHECK(file_checksum(dir.path / name) == src.checksum());
        CHECK(!std::filesystem::exists(dir.path / (name + ".part")));
    }
    CHECK(seen.ended == 2);
    CHECK(seen.aborted == 0);
    CHECK(server.app().stats().uploads == 2);
    CHECK(server.app().buffered_input() == 0);
}

TEST_CASE("an upload is refused at its head, before its body is read", "[upload]") {
    temp_dir dir;
    tally seen;
    test_server server([&](tether::server& app) {
        app.use("/files", {.before = [](auto& req, auto& res) {
                               if (req.header("authorization")) return true;
                               tether::http::write_error(res, 401, "log in first");
                               return false;
                           }});
        app.upload<saving>(method::put, "/files/:name", file_route(dir.path, seen, 1 << 20));
        app.upload<saving>(method::put, "/full/:name",
                           {.on_start = [](const tether::http::request&, saving&) { throw tether::http::error(507, "no space"); }});
    });
    const std::string auth = "Authorization: Bearer x\r\n";

    SECTION("a before hook answers 401, and a client waiting on 100-continue never gets the go-ahead") {
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/files/a", 10u << 20, "Expect: 100-continue\r\n")));
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(r->header_has_token("connection", "close"));
        CHECK(c.closed_within(10s));
    }
    SECTION("a client that sends its body at once gets the 401 and a close, its body unread") {
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/files/a", 100u << 20) + std::string(64 * 1024, 'x')));
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(c.closed_within(10s));
    }
    SECTION("a Content-Length over the route's limit is 413 at the head") {
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/files/a", (1u << 20) + 1, auth)));
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(c.closed_within(10s));
    }
    SECTION("on_start refuses by throwing, and no 100 Continue was sent first") {
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/full/a", 1000, auth + "Expect: 100-continue\r\n")));
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 507);
        CHECK(r->body.find("no space") != std::string::npos);
    }
    SECTION("an accepted upload gets 100 Continue, then its answer") {
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/files/ok", 5, auth + "Expect: 100-continue\r\n")));
        auto go = c.read_response(10s);
        REQUIRE(go);
        CHECK(go->status == 100);
        REQUIRE(c.send("hello"));
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 201);
        CHECK(seen.ended == 1);
    }
    SECTION("an expectation other than 100-continue is 417") {
        raw_client c{server.port()};
        REQUIRE(c.send(upload_head("/files/a", 5, auth + "Expect: something-else\r\n")));
        auto r = c.read_response(10s);
        REQUIRE(r);
        CHECK(r->status == 417);
    }
    CHECK(seen.started == seen.ended);   // the refused never started
    CHECK(seen.aborted == 0);
    CHECK(seen.bytes <= 5);
}

TEST_CASE("a chunked upload over its route's limit is 413 at the chunk that crosses it, and cleaned up", "[upload]") {
    temp_dir dir;
    tally seen;
    test_server server([&](tether::server& app) { app.upload<saving>(method::put, "/files/:name", file_route(dir.path, seen, 100'000)); });
    raw_client c{server.port()};
    REQUIRE(c.send(upload_head("/files/big", std::nullopt)));
    for (int i = 0; i < 3; ++i) c.send(chunk(std::string(40'000, 'c')));
    auto r = c.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(c.closed_within(10s));
    CHECK(eventually([&] { return seen.aborted == 1 && seen.destroyed == 1; }));
    CHECK(seen.ended == 0);
    CHECK(seen.bytes == 80'000);   // the first two chunks; the third was refused by its size line
    CHECK(!std::filesystem::exists(dir.path / "big.part"));
}

TEST_CASE("on_data that throws is answered with its status, the upload aborted and the connection closed", "[upload]") {
    tally seen;
    struct counting {
        std::uint64_t bytes = 0;
    };
    test_server server([&](tether::server& app) {
        app.upload<counting>(method::post, "/quota", {.on_data = [](counting& s, std::string_view piece) {
                                                            if ((s.bytes += piece.size()) > (1u << 20))
                                                                throw tether::http::error(507, "quota exceeded");
                                                        },
                                                        .on_abort = [&](counting&) { ++seen.aborted; }});
        app.upload<counting>(method::post, "/broken", {.on_data = [](counting&, std::string_view) { throw std::runtime_error("bug"); },
                                                         .on_abort = [&](counting&) { ++seen.aborted; }});
    });
    for (auto [path, status] : {std::pair{"/quota", 507}, std::pair{"/broken", 500}}) {
        INFO(path);
        raw_client c{server.port()};
        body_source src(3, 8u << 20);
        REQUIRE(c.send(upload_head(path, src.left(), {}, "POST")));
        // The server stops reading at the error: the writer may fail part-way, the answer still comes.
        std::thread writer([&] { send_body(c, src, false, 64 * 1024); });
        auto r = c.read_response(10s);
        writer.join();
        REQUIRE(r);
        CHECK(r->status == status);
        CHECK(c.closed_within(10s));
    }
    CHECK(eventually([&] { return seen.aborted == 2; }));
    CHECK(server.app().stats().handler_errors == 1);   // the bug, not the 507
    CHECK(server.app().stats().aborted_uploads == 2);
}

TEST_CASE("requests pipelined behind streamed bodies are answered in order", "[upload]") {
    struct text {
        std::string body;
    };
    test_server server([](tether::server& app) {
        app.upload<text>(method::put, "/echo/:n", {.on_data = [](text& t, std::string_view piece) { t.body.append(piece); },
                                                   .on_end = [](auto& req, auto& res, text& t) {
                                                       res.text(std::string(req.param("n")) + ":" + t.body);
                                                   }});
        app.get("/plain/:n", [](auto& req, auto& res) { res.text(req.param("n")); });
    });
    raw_client c{server.port()};
    c.send(upload_head("/echo/1", 5) + "hello" + get_request("/plain/2") + upload_head("/echo/3", std::nullopt) + chunk("ab") +
           chunk("cd") + "0\r\n\r\n" + get_request("/plain/4") + upload_head("/echo/5", 0));
    auto answers = c.read_responses(5, 10s);
    REQUIRE(answers.size() == 5);
    CHECK(answers[0].body == "1:hello");
    CHECK(answers[1].body == "2");
    CHECK(answers[2].body == "3:abcd");
    CHECK(answers[3].body == "4");
    CHECK(answers[4].body == "5:");   // no body: on_start and on_end, no piece
}

TEST_CASE("a client that leaves mid-upload: on_abort runs, on_end never, and nothing stays held", "[upload]") {
    temp_dir dir;
    tally seen;
    test_server server([&](tether::server& app) { app.upload<saving>(method::put, "/files/:name", file_route(dir.path, seen)); });
    for (bool reset : {false, true}) {
        INFO((reset ? "reset" : "closed"));
        const int before = seen.aborted;
        {
            raw_client c{server.port()};
            body_source src(4, 2u << 20);
            REQUIRE(c.send(upload_head(reset ? "/files/r" : "/files/c", 100u << 20)));
            REQUIRE(send_body(c, src, false, 64 * 1024));
            REQUIRE(eventually([&] { return seen.bytes >= (2u << 20) * (before + 1); }));
            if (reset) c.reset_now();
        }
        CHECK(eventually([&] { return seen.aborted == before + 1 && seen.destroyed == before + 1; }));
    }
    CHECK(seen.ended == 0);
    CHECK(std::filesystem::is_empty(dir.path));   // the partial files were removed by on_abort
    CHECK(eventually([&] { return server.app().admission().connections() == 0; }));
    CHECK(server.app().buffered_input() == 0);
}

TEST_CASE("an upload that stops sending for idle_timeout gets 408 and on_abort", "[upload]") {
    temp_dir dir;
    tally seen;
    test_server server([&](tether::server& app) {
        auto route = file_route(dir.path, seen);
        route.idle_timeout = 300ms;
        app.upload<saving>(method::put, "/files/:name", std::move(route));
    });
    raw_client c{server.port()};
    REQUIRE(c.send(upload_head("/files/stalled", 1000) + std::string(100, 's')));
    auto r = c.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(eventually([&] { return seen.aborted == 1; }));
    CHECK(seen.ended == 0);
}

TEST_CASE("concurrent uploads on two I/O threads each arrive whole, none charged to the input budget", "[upload][threads]") {
    struct summing {
        fnv1a sum;
        std::uint64_t bytes = 0;
    };
    auto options = test_server::defaults();
    // Far below the bodies in flight: a streamed body holds only what it has not yet handed on.
    options.max_buffered_request_bytes = 64 * 1024;
    test_server server(
        [](tether::server& app) {
            app.upload<summing>(method::put, "/sum", {.on_data = [](summing& s, std::string_view piece) {
                                                          s.sum.add(piece);
                                                          s.bytes += piece.size();
                                                      },
                                                      .on_end = [](auto&, auto& res, summing& s) {
                                                          res.text(hex(s.sum.value) + " " + std::to_string(s.bytes));
                                                      }});
        },
        options);
    constexpr int clients = 8;
    constexpr std::uint64_t size = 8u << 20;
    std::atomic<int> right{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, i] {
            raw_client c{server.port()};
            body_source src(10 + static_cast<std::uint64_t>(i), size);
            const bool chunked = i % 2 == 1;
            if (!c.send(upload_head("/sum", chunked ? std::nullopt : std::optional(size))) || !send_body(c, src, chunked, 32 * 1024))
                return;
            auto r = c.read_response(60s);
            if (r && r->status == 200 && r->body == hex(src.checksum()) + " " + std::to_string(size)) ++right;
        });
    for (auto& t : threads) t.join();
    CHECK(right == clients);
    CHECK(server.app().stats().rejected == 0);   // no 503 for the budget
}

TEST_CASE("a paused upload takes no piece until another thread resumes it", "[upload][threads]") {
    // A worker that "stores" each piece later, the way an asynchronous disk or network write would.
    struct storage {
        asio::io_context io;
        asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
        std::thread thread{[this] { io.run(); }};
        ~storage() {
            guard.reset();
            thread.join();
        }
    };
    struct sink {
        std::mutex mutex;
        fnv1a sum;
        std::uint64_t bytes = 0;
    };
    struct paced {
        std::shared_ptr<sink> out = std::make_shared<sink>();
    };
    std::atomic<int> in_flight{0}, overlapped{0}, aborted{0};
    std::vector<tether::http::body_resume> kept;   // declared before the server: outlives it
    std::mutex kept_mutex;
    storage store;
    test_server server([&](tether::server& app) {
        app.upload<paced>(method::put, "/paced",
                          {.on_data =
                               [&](paced& p, std::string_view piece, tether::body_flow& flow) {
                                   if (in_flight.fetch_add(1) != 0) ++overlapped;   // a piece while one was in flight
                                   asio::post(store.io, [out = p.out, bytes = std::string(piece), later = flow.pause(),
                                                         &in_flight]() mutable {
                                       std::this_thread::sleep_for(1ms);
                                       {
                                           std::lock_guard lock(out->mutex);
                                           out->sum.add(bytes);
                                           out->bytes += bytes.size();
                                       }
                                       in_flight.fetch_sub(1);
                                       later.resume();
                                   });
                               },
                           .on_end =
                               [](auto&, auto& res, paced& p) {
                                   std::lock_guard lock(p.out->mutex);
                                   res.text(hex(p.out->sum.value) + " " + std::to_string(p.out->bytes));
                               },
                           .on_abort = [&](paced&) { ++aborted; }});
        app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
        app.upload<paced>(method::put, "/dropped", {.on_data = [](paced&, std::string_view, tether::body_flow& flow) {
                                                        (void)flow.pause();   // the handle dies here, unused
                                                    },
                                                    .on_abort = [&](paced&) { ++aborted; }});
        app.upload<paced>(method::put, "/failed",
                          {.on_data =
                               [&](paced&, std::string_view, tether::body_flow& flow) {
                                   asio::post(store.io, [later = flow.pause()]() mutable { later.fail(507, "store full"); });
                               },
                           .on_abort = [&](paced&) { ++aborted; }});
        app.upload<paced>(method::put, "/forgotten",
                          {.on_data =
                               [&](paced&, std::string_view, tether::body_flow& flow) {
                                   std::lock_guard lock(kept_mutex);
                                   kept.push_back(flow.pause());
                               },
                           .on_abort = [&](paced&) { ++aborted; },
                           .pause_timeout = 300ms});
    });

    SECTION("resumed piece by piece: the body arrives whole and in order, one piece in flight at a time") {
        for (bool chunked : {false, true}) {
            raw_client c{server.port()};
            body_source src(chunked ? 21 : 20, 4u << 20);
            REQUIRE(c.send(upload_head("/paced", chunked ? std::nullopt : std::optional(src.left()))));
            REQUIRE(send_body(c, src, chunked, 64 * 1024));
            auto r = c.read_response(60s);
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == hex(src.checksum()) + " " + std::to_string(4u << 20));
        }
        CHECK(overlapped == 0);
        CHECK(aborted == 0);
    }
    SECTION("a handle dropped unused is 500, one failed is its status, one never used is 504; on_abort each time") {
        for (auto [path, status] : {std::pair{"/dropped", 500}, std::pair{"/failed", 507}, std::pair{"/forgotten", 504}}) {
            INFO(path);
            raw_client c{server.port()};
            REQUIRE(c.send(upload_head(path, 100'000) + std::string(100'000, 'p')));
            auto r = c.read_response(10s);
            REQUIRE(r);
            CHECK(r->status == status);
            CHECK(c.closed_within(10s));
        }
        CHECK(eventually([&] { return aborted == 3; }));
        // Resuming after the server gave up is a no-op.
        std::lock_guard lock(kept_mutex);
        for (auto& later : kept) later.resume();
        CHECK(normal_request_served(server.port()));
    }
}

TEST_CASE("an upload's handlers see its path parameters and middleware attributes; on_end may defer", "[upload][middleware]") {
    std::vector<std::string> trace;
    std::mutex trace_mutex;
    auto note = [&](std::string s) {
        std::lock_guard lock(trace_mutex);
        trace.push_back(std::move(s));
    };
    struct nothing {};
    std::vector<std::thread> repliers;
    std::mutex repliers_mutex;
    test_server server([&](tether::server& app) {
        app.use({.before = [&](auto& req, auto&) {
                     note("before");
                     req.set_attribute("id", "u-1");
                     return true;
                 },
                 .after = [&](const auto& req, auto& res) {
                     note("after " + std::string(req.route()) + " " + std::to_string(res.status()));
                     res.header("X-Request-Id", req.attribute("id"));
                 }});
        app.upload<nothing>(method::post, "/later/:n",
                            {.on_start = [&](const auto& req, nothing&) { note("start " + std::string(req.param("n"))); },
                             .on_data = [&](nothing&, std::string_view piece) { note("data " + std::string(piece)); },
                             .on_end = [&](auto& req, auto& res, nothing&) {
                                 note("end " + std::string(req.attribute("id")));
                                 std::lock_guard lock(repliers_mutex);
                                 repliers.emplace_back([reply = res.defer(), n = std::string(req.param("n"))]() mutable {
                                     reply.status(202).text("stored " + n);
                                     reply.send();
                                 });
                             }});
    });
    raw_client c{server.port()};
    REQUIRE(c.send(upload_head("/later/7", 3, {}, "POST") + "abc" + get_request("/missing")));
    auto answers = c.read_responses(2, 10s);
    {
        std::lock_guard lock(repliers_mutex);
        for (auto& t : repliers) t.join();
    }
    REQUIRE(answers.size() == 2);
    CHECK(answers[0].status == 202);
    CHECK(answers[0].body == "stored 7");
    CHECK(answers[0].header("x-request-id") == "u-1");
    CHECK(answers[1].status == 404);
    std::lock_guard lock(trace_mutex);
    CHECK(trace == std::vector<std::string>{"before", "start 7", "data abc", "end u-1", "after /later/:n 202", "before",
                                            "after  404"});
}
