#pragma once
// Who may hold a descriptor: the server's caps on connections and streams, in total and per
// client address, checked where a connection is accepted and where a request becomes a stream.
//
// Why caps at all: every connection costs a descriptor, and a server out of descriptors serves
// nobody. One client opening a thousand WebSockets that answer pings would otherwise hold the
// server for as long as it liked. So:
//   - max_connections bounds descriptors in total (by default, the process's descriptor limit,
//     raised from soft to hard at start, minus a margin for files and listeners);
//   - max_streams (WebSocket, SSE and held long polls) stays below it by a reserve, so when
//     streams fill their share a plain HTTP request still gets a descriptor and an answer, and
//     a new stream gets 503 rather than the last descriptor;
//   - per client address, connections and streams are capped too (429 for a stream; a connection
//     over its cap is answered 503 and closed at accept).
// Behind a trusted proxy every user arrives from the proxy's address: connections from trusted
// proxies are exempt from the per-address connection cap, and streams are counted against the
// forwarded client address (see http/forwarded.hpp) instead.
//
// A connection carries its ticket (one pointer, the low bit saying whether it also holds a
// stream) from accept to close, through a protocol upgrade; releasing it is the destructor's
// job, so no path can leak a count. Counting takes a mutex on the per-address table: that is
// once per accept, upgrade and close, never per request or message.
#include <atomic>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tether::net {

struct admission_limits {
    std::size_t max_connections = 0;              // 0: derived from the descriptor limit
    std::size_t max_connections_per_address = 256;
    std::size_t max_streams_per_address = 128;    // WebSocket, SSE and held long polls
    std::size_t stream_reserve = 0;               // 0: max_connections / 16, at least 16
    bool exempt_loopback = true;                  // per-address caps skip 127.0.0.0/8 and ::1
};

// An IPv6 address, or an IPv4 one mapped into IPv6 (RFC 4291 §2.5.5.2): one key for both.
struct address_key {
    std::array<unsigned char, 16> bytes{};

    static address_key from(const sockaddr_storage& a) noexcept {
        address_key k;
        if (a.ss_family == AF_INET6) {
            std::memcpy(k.bytes.data(), &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, 16);
        } else if (a.ss_family == AF_INET) {
            k.bytes[10] = k.bytes[11] = 0xff;
            std::memcpy(k.bytes.data() + 12, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, 4);
        }
        return k;
    }
    // From the text form of an IPv4 or IPv6 address; false when it is neither.
    static bool parse(std::string_view text, address_key& out) noexcept {
        char buffer[INET6_ADDRSTRLEN + 1];
        if (text.size() >= sizeof buffer) return false;
        std::memcpy(buffer, text.data(), text.size());
        buffer[text.size()] = '\0';
        address_key k;
        in_addr v4;
        if (::inet_pton(AF_INET, buffer, &v4) == 1) {
            k.bytes[10] = k.bytes[11] = 0xff;
            std::memcpy(k.bytes.data() + 12, &v4, 4);
        } else if (::inet_pton(AF_INET6, buffer, k.bytes.data()) != 1) {
            return false;
        }
        out = k;
        return true;
    }
    // "192.0.2.1" or RFC 5952 §4's "2001:db8::1". IPv4 is formatted here: glibc's inet_ntop goes
    // through sprintf (~1,700 instructions), and an access log asks once per request.
    std::string to_string() const {
        static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(bytes.data(), mapped, 12) != 0) {
            char buffer[INET6_ADDRSTRLEN];
            return ::inet_ntop(AF_INET6, bytes.data(), buffer, sizeof buffer);
        }
        char text[16];   // "255.255.255.255"
        std::size_t n = 0;
        for (int i = 12; i < 16; ++i) {
            unsigned v = bytes[static_cast<std::size_t>(i)];
            if (v >= 100) text[n++] = static_cast<char>('0' + v / 100);
            if (v >= 10) text[n++] = static_cast<char>('0' + v / 10 % 10);
            text[n++] = static_cast<char>('0' + v % 10);
            if (i != 15) text[n++] = '.';
        }
        return std::string(text, n);
    }
    bool operator==(const address_key&) const = default;

    bool is_loopback() const noexcept {
        static constexpr unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(bytes.data(), v6_loopback, 16) == 0) return true;
        return std::memcmp(bytes.data(), mapped, 12) == 0 && bytes[12] == 127;
    }
};

struct address_key_hash {
    std::size_t operator()(const address_key& k) const noexcept {
        std::uint64_t a, b;
        std::memcpy(&a, k.bytes.data(), 8);
        std::memcpy(&b, k.bytes.data() + 8, 8);
        return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull + (a << 6)));
    }
};

// Why a connection or stream was refused, for the status a client gets and the counters.
enum class refusal : std::uint8_t { none, server_full, address_full, streams_full, address_streams_full };

class admission_control;

// One connection's hold on the caps; moves with the connection through an upgrade.
class admission {
public:
    admission() = default;
    admission(admission&& o) noexcept : control_(std::exchange(o.control_, nullptr)), held_(std::exchange(o.held_, 0)) {}
    admission& operator=(admission&& o) noexcept {
        if (this != &o) {
            release();
            control_ = std::exchange(o.control_, nullptr);
            held_ = std::exchange(o.held_, 0);
        }
        return *this;
    }
    ~admission() { release(); }

    explicit operator bool() const noexcept { return control_ != nullptr; }
    bool holds_stream() const noexcept { return (held_ & stream_bit) != 0; }
    // The peer's address, when this connection is counted per address (not a trusted proxy).
    inline std::optional<address_key> peer() const noexcept;
    inline void release() noexcept;

private:
    friend class admission_control;
    struct entry;
    static constexpr std::uintptr_t stream_bit = 1;      // a stream is held too
    static constexpr std::uintptr_t forwarded_bit = 2;   // the entry is the forwarded client's, for the stream only
    entry* entry_ptr() const noexcept { return reinterpret_cast<entry*>(held_ & ~std::uintptr_t{3}); }

    admission_control* control_ = nullptr;
    // The per-address entry this connection is counted in, tagged with the bits above. A
    // connection from a trusted proxy has none; its stream, if any, is counted in the forwarded
    // client's entry, held here with forwarded_bit.
    std::uintptr_t held_ = 0;
};

struct admission::entry {
    std::size_t connections = 0;
    std::size_t streams = 0;
    address_key key{};
};

class admission_control {
public:
    void configure(const admission_limits& l, std::size_t descriptor_limit) {
        limits_ = l;
        std::size_t by_descriptors = descriptor_limit > 64 ? descriptor_limit - 32 : descriptor_limit / 2;
        max_connections_ = l.max_connections == 0 ? by_descriptors : std::min(l.max_connections, by_descriptors);
        std::size_t reserve = l.stream_reserve != 0 ? l.stream_reserve : std::max<std::size_t>(16, max_connections_ / 16);
        max_streams_ = max_connections_ > reserve ? max_connections_ - reserve : max_connections_ / 2;
    }
    std::size_t max_connections() const noexcept { return max_connections_; }
    std::size_t max_streams() const noexcept { return max_streams_; }
    std::size_t connections() const noexcept { return connections_.load(std::memory_order_relaxed); }
    std::size_t streams() const noexcept { return streams_.load(std::memory_order_relaxed); }

    // At accept. `trusted_proxy`: skip the per-address cap (the proxy carries many clients).
    refusal admit_connection(const address_key& peer, bool trusted_proxy, admission& out) {
        if (limits_.exempt_loopback && peer.is_loopback()) trusted_proxy = true;   // counted in total only
        if (connections_.fetch_add(1, std::memory_order_relaxed) >= max_connections_) {
            connections_.fetch_sub(1, std::memory_order_relaxed);
            return refusal::server_full;
        }
        admission a;
        a.control_ = this;
        if (!trusted_proxy) {
            std::lock_guard lock(mutex_);
            auto& e = table_[peer];
            if (e.connections >= limits_.max_connections_per_address) {
                if (e.connections == 0 && e.streams == 0) table_.erase(peer);
                a.control_ = nullptr;
                connections_.fetch_sub(1, std::memory_order_relaxed);
                return refusal::address_full;
            }
            ++e.connections;
            e.key = peer;
            a.held_ = reinterpret_cast<std::uintptr_t>(&e);
        }
        out = std::move(a);
        return refusal::none;
    }

    // When a request becomes a stream (WebSocket, SSE, a held long poll). `client` is the
    // address the stream is counted against: the peer, or the forwarded client behind a trusted
    // proxy (whose connection holds no per-address entry of its own).
    refusal admit_stream(admission& a, const address_key& client) {
        if (!a || a.holds_stream()) return refusal::none;
        if (streams_.fetch_add(1, std::memory_order_relaxed) >= max_streams_) {
            streams_.fetch_sub(1, std::memory_order_relaxed);
            return refusal::streams_full;
        }
        if (!a.entry_ptr() && limits_.exempt_loopback && client.is_loopback()) {
            a.held_ |= admission::stream_bit;   // counted in total only, like its connection
            return refusal::none;
        }
        std::lock_guard lock(mutex_);
        admission::entry* e = a.entry_ptr();
        bool forwarded = e == nullptr;
        if (forwarded) e = &table_[client];
        if (e->streams >= limits_.max_streams_per_address) {
            if (forwarded) erase_if_unused(*e);
            streams_.fetch_sub(1, std::memory_order_relaxed);
            return refusal::address_streams_full;
        }
        ++e->streams;
        if (forwarded) {
            e->key = client;
            a.held_ = reinterpret_cast<std::uintptr_t>(e) | admission::forwarded_bit;
        }
        a.held_ |= admission::stream_bit;
        return refusal::none;
    }

    // Ends a stream but keeps the connection (a long poll answered on a keep-alive connection).
    void release_stream(admission& a) noexcept {
        if (!a.holds_stream()) return;
        std::lock_guard lock(mutex_);
        drop_stream(a);
    }

    std::size_t tracked_addresses() const {
        std::lock_guard lock(mutex_);
        return table_.size();
    }

private:
    friend class admission;

    refusal undo_stream(refusal why) noexcept {
        streams_.fetch_sub(1, std::memory_order_relaxed);
        return why;
    }

    // With mutex_ held.
    void drop_stream(admission& a) noexcept {
        admission::entry* e = a.entry_ptr();
        streams_.fetch_sub(1, std::memory_order_relaxed);
        if (!e) {   // counted in total only (an exempt loopback client)
            a.held_ &= ~admission::stream_bit;
            return;
        }
        --e->streams;
        if (a.held_ & admission::forwarded_bit) {   // the entry was the stream's only
            erase_if_unused(*e);
            a.held_ = 0;
        } else {
            a.held_ &= ~admission::stream_bit;
        }
    }

    void erase_if_unused(admission::entry& e) noexcept {
        if (e.connections == 0 && e.streams == 0) table_.erase(e.key);
    }

    void release(admission& a) noexcept {
        std::lock_guard lock(mutex_);
        if (a.holds_stream()) drop_stream(a);
        if (admission::entry* e = a.entry_ptr()) {
            --e->connections;
            erase_if_unused(*e);
        }
        connections_.fetch_sub(1, std::memory_order_relaxed);
    }

    admission_limits limits_{};
    std::size_t max_connections_ = 1024;
    std::size_t max_streams_ = 960;
    std::atomic<std::size_t> connections_{0}, streams_{0};
    mutable std::mutex mutex_;
    std::unordered_map<address_key, admission::entry, address_key_hash> table_;
};

inline std::optional<address_key> admission::peer() const noexcept {
    if (held_ & forwarded_bit) return std::nullopt;
    if (entry* e = entry_ptr()) return e->key;
    return std::nullopt;
}

inline void admission::release() noexcept {
    if (!control_) return;
    control_->release(*this);
    control_ = nullptr;
    held_ = 0;
}

} // namespace tether::net
