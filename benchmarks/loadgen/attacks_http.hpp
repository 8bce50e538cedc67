#pragma once
// attack_load's attacks on the request path, each one finding of issue 16: chunk extensions (1), pipelined
// answers nobody reads (2), history growth (4), stalled bodies (6), Host and target validation (10).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "attack_base.hpp"

namespace attack {

// 1. Chunk extensions: the raw chunked bytes are kept until the request completes, ~4 KiB per body byte.
class chunk_ext final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        const std::string unit = "1;" + std::string(or_default<std::uint64_t>(o_.size, 4000), 'e') + "\r\na\r\n";
        while (block_.size() < (256u << 10)) block_ += unit;
        for (std::uint64_t i = 0; i < connections(); ++i) open();
    }
    void on_connected(conn& c) override {
        loop_->send(c, "GET /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        loop_->stream(c, block_.data(), block_.size(), UINT64_MAX);
    }
    // Refused: stop and start over on a new connection. (Streaming on into the server's lingering close would
    // only measure loopback bandwidth, and the kernel would spend the tool's core on it.)
    void on_response(conn& c, int, std::string_view) override { loop_->close(c); }
    void on_end(conn&, end_reason, int) override {
        if (may_open(connections() * 1000)) open();
    }
    std::string unmet() override {   // refused (400/413) rather than buffered
        const tally& t = loop_->seen();
        for (const auto& [status, n] : t.statuses)
            if (status >= 400) return "";
        return t.eof + t.resets > 0 ? "" : "never refused";
    }
    std::string outcome() override {
        return "sent " + mib(loop_->seen().bytes_written) + " MiB of chunk extensions on " +
               std::to_string(connections()) + " connections (a new one for each the server answered or closed); " +
               saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 16); }
    void open() {
        ++opens_;
        loop_->open(0);
    }
    std::string block_;
};

// 2. Pipelined requests on sockets that never read: every answer found in one read is queued before the
// backlog is checked.
class pipeline final : public attack_base {
public:
    pipeline(const options& o, bool polls) : attack_base(o), polls_(polls) {}
    bool setup() override {
        if (!polls_) {
            request_ = "GET " + (o_.path.empty() ? std::string("/tether.js") : o_.path) + " HTTP/1.1\r\nHost: x\r\n\r\n";
            return true;
        }
        // A long history of the largest messages the target takes, then the oldest cursor the topic still
        // recovers from: the halving search copes with a server that keeps fewer messages (or bytes) than were
        // published.
        const std::uint64_t history = or_default<std::uint64_t>(o_.history, 1024);
        const std::uint64_t wanted = or_default<std::uint64_t>(o_.size, 65536);
        size_ = fit_publish_size(o_, wanted, &refusal_);
        if (size_ == 0 || !publish_history(o_, history - 1, payload_bytes(o_.payload, size_))) {
            std::fprintf(stderr, "attack_load: setup: %s refused every message size (%s)\n", o_.publish_path.c_str(),
                         refusal_.c_str());
            return false;
        }
        const auto first = http_exchange(o_, get_request(o_.poll_path), 5s);
        const auto cursor = first.status == 200 ? next_cursor(first.body) : std::nullopt;
        const auto parts = cursor ? split_cursor(*cursor) : std::nullopt;
        if (!parts) {
            std::fprintf(stderr, "attack_load: setup: GET %s gave no cursor (%d %s)\n", o_.poll_path.c_str(),
                         first.status, first.error.c_str());
            return false;
        }
        for (std::uint64_t gap = std::min(parts->second, history); gap > 0; gap /= 2) {
            const std::string target = o_.status_path + "?since=" + parts->first + "-" + std::to_string(parts->second - gap);
            const auto r = http_exchange(o_, get_request(target), 30s, 512u << 20);
            if (r.status == 200 && r.body.find("\"recovered\":true") != std::string::npos) {
                request_ = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
                answer_bytes_ = r.body.size();
                replay_ = gap;
                return true;
            }
        }
        std::fprintf(stderr, "attack_load: setup: no cursor the topic recovers from\n");
        return false;
    }
    void start() override {
        for (std::uint64_t i = 0; i < requests(); ++i) block_ += request_;
        for (std::uint64_t i = 0; i < connections(); ++i) {
            ++opens_;
            loop_->open(0, false, o_.rcvbuf);
        }
    }
    void on_connected(conn& c) override { loop_->stream(c, block_.data(), block_.size(), block_.size()); }
    void stop() override {
        attack_base::stop();
        written_ = loop_->seen().bytes_written / request_.size();
        held_ = held_by_server([](const conn&) { return true; });
        dropped_ = static_cast<int>(connections()) - held_;
    }
    std::string outcome() override {
        std::string s = std::to_string(written_) + " of " + std::to_string(requests() * connections()) +
                        " pipelined requests written on " + std::to_string(connections()) +
                        " connections that never read";
        if (polls_)
            s += " (cursor " + std::to_string(replay_) + " messages of " + std::to_string(size_) + " B back: " +
                 mib(answer_bytes_) + " MiB per answer" + shrunk(or_default<std::uint64_t>(o_.size, 65536), size_, refusal_) +
                 ")";
        return s + "; at the end the server held " + std::to_string(held_) + " of them and had closed " +
               std::to_string(dropped_) + "; " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 8); }
    std::uint64_t requests() const { return or_default<std::uint64_t>(o_.requests, polls_ ? 8 : 2000); }
    bool polls_;
    std::string request_;
    std::string block_;
    std::uint64_t answer_bytes_ = 0;
    std::uint64_t replay_ = 0;
    std::uint64_t size_ = 0;
    std::string refusal_;
    std::uint64_t written_ = 0;
    int held_ = 0, dropped_ = 0;
};

// 4. History with no byte cap: every message kept, in every wire format.
class history final : public attack_base {
public:
    using attack_base::attack_base;
    bool setup() override {
        size_ = fit_publish_size(o_, wanted(), &refusal_);
        if (size_ == 0)
            std::fprintf(stderr, "attack_load: setup: %s refused every size (%s)\n", o_.publish_path.c_str(),
                         refusal_.c_str());
        return size_ > 0;
    }
    void start() override {
        request_ = post_request(o_.publish_path, payload_bytes(o_.payload, size_));
        for (std::uint64_t i = 0; i < or_default<std::uint64_t>(o_.connections, 2); ++i) loop_->open(0);
    }
    void on_connected(conn& c) override { next(c); }
    void on_response(conn& c, int status, std::string_view) override {
        if (success(status)) ++published_;
        next(c);
    }
    void on_end(conn&, end_reason, int) override {
        if (may_open(1000)) {
            ++opens_;
            loop_->open(0);
        }
    }
    std::string outcome() override {
        return std::to_string(published_) + " messages of " + std::to_string(size_) + " B (" + o_.payload +
               " payload) published" + shrunk(wanted(), size_, refusal_) + ", " + mib(published_ * size_) +
               " MiB of payload; " + saw();
    }

private:
    std::uint64_t wanted() const { return or_default<std::uint64_t>(o_.size, 65536); }
    void next(conn& c) {
        if (running_ && sent_ < or_default<std::uint64_t>(o_.requests, 100'000)) {
            ++sent_;
            loop_->send(c, request_);
        }
    }
    std::string request_;
    std::string refusal_;
    std::uint64_t size_ = 0;
    std::uint64_t sent_ = 0;
    std::uint64_t published_ = 0;
};

// 6. Stalled bodies: most of a 1 MiB body, then silence, on many connections.
class stalled_body final : public attack_base {
public:
    using attack_base::attack_base;
    void start() override {
        block_.assign(64 * 1024, 'a');
        for (std::uint64_t i = 0; i < connections(); ++i) loop_->open(0);
    }
    void on_connected(conn& c) override {
        loop_->send(c, "POST " + o_.publish_path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " + std::to_string(size()) + "\r\n\r\n");
        loop_->stream(c, block_.data(), block_.size(), size() - 1);
    }
    void stop() override {
        attack_base::stop();
        still_open_ = loop_->live();
    }
    std::string outcome() override {
        return std::to_string(connections()) + " connections sent " + mib(loop_->seen().bytes_written) +
               " MiB of " + std::to_string(size()) + "-byte bodies, all but the last byte, then stalled; still open " +
               std::to_string(still_open_) + "; " + saw();
    }

private:
    std::uint64_t connections() const { return or_default<std::uint64_t>(o_.connections, 500); }
    std::uint64_t size() const { return or_default<std::uint64_t>(o_.size, 1u << 20); }
    std::string block_;
    std::size_t still_open_ = 0;
};

// 10. Host and target validation (RFC 9112 §3.2, §3.2.2; RFC 9110 §4.2.3): one request per connection.
class bad_host final : public attack_base {
public:
    using attack_base::attack_base;
    struct variant {
        const char* name;
        std::string request;
        bool must_refuse;   // 400, by the RFC (the others: what the server does is shown, not judged)
        std::map<std::string, std::uint64_t> seen;
    };
    void start() override {
        const std::string path = o_.path.empty() ? "/plaintext" : o_.path;
        const std::string tail = " HTTP/1.1\r\nConnection: close\r\n";
        variants_ = {
            {"Host 'a b'", "GET " + path + tail + "Host: a b\r\n\r\n", true, {}},
            {"Host 'a, b'", "GET " + path + tail + "Host: a, b\r\n\r\n", true, {}},
            {"Host 'user@evil'", "GET " + path + tail + "Host: user@evil\r\n\r\n", true, {}},
            // §3.2.2: the target's authority wins over Host; a 200 is right (a handler must see evil.example).
            {"absolute-form, other Host", "GET http://evil.example" + path + tail + "Host: 127.0.0.1\r\n\r\n", false, {}},
            {"target byte 0xC3 0xA9", "GET " + path + "\xC3\xA9" + tail + "Host: 127.0.0.1\r\n\r\n", true, {}},
            {"(control) no Host", "GET " + path + tail + "\r\n", true, {}},
            {"(control) two Hosts", "GET " + path + tail + "Host: a\r\nHost: b\r\n\r\n", true, {}},
        };
        started_ = clock_type::now();
    }
    void tick(clock_type::time_point now) override {
        const auto due = static_cast<std::uint64_t>(seconds_between(started_, now) * or_default(o_.rate, 1000.0));
        while (running_ && opens_ < due && loop_->live() < 64) {
            conn* c = loop_->open(static_cast<int>(opens_ % variants_.size()));
            ++opens_;
            if (c) loop_->send(*c, variants_[static_cast<std::size_t>(c->role)].request);
        }
    }
    void on_response(conn& c, int status, std::string_view) override {
        ++variants_[static_cast<std::size_t>(c.role)].seen[std::to_string(status)];
        c.count = 1;
        loop_->close(c);
    }
    void on_end(conn& c, end_reason why, int) override {
        if (c.count || why == end_reason::by_us) return;
        ++variants_[static_cast<std::size_t>(c.role)].seen[why == end_reason::reset ? "reset" : "no answer"];
    }
    std::string unmet() override {   // RFC 9112 §3.2: 400 for an invalid Host; 400 for raw bytes >= 0x80
        std::string s;
        for (const auto& v : variants_) {
            if (!v.must_refuse) continue;
            for (const auto& [what, n] : v.seen)
                if (what != "400") s += (s.empty() ? "" : ", ") + std::string(v.name) + " → " + what;
        }
        return s;
    }
    std::string outcome() override {
        std::string s;
        for (const auto& v : variants_) s += std::string(v.name) + " → " + counts(v.seen) + "; ";
        return s + "(" + std::to_string(opens_) + " requests)";
    }

private:
    std::vector<variant> variants_;
    clock_type::time_point started_{};
};

} // namespace attack
