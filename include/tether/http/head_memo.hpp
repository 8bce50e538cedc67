#pragma once
// The heads of a thread's recent plain responses, kept for the rest of the second: serializer.hpp writes such a
// head by copying it from here instead of building it piece by piece.
//
// A "plain" response is the common answer of a small API or page: status, the Date, at most a Content-Type
// that text(), html() or json() chose, and a Content-Length, to an HTTP/1.1 request that keeps its connection
// and is not HEAD (RFC 9112 §4 status line, RFC 9110 §6.6.1 Date, §8.3 Content-Type, §8.6 Content-Length).
// Every byte of that head follows from four things: the status, which of response.hpp's
// static Content-Type lines (if any), the body's length and the second the Date names. Two responses that
// agree on those four have the same head, byte for byte. Building one costs ~190 instructions (a dozen
// pieces measured, then written, the length's digits among them); a copy of the ~120 bytes costs a tenth of
// that. A pipelined /plaintext request is ~1,150 instructions in all, so this is the largest single piece of
// it that can go.
//
// Direct-mapped on the body's length and the status, a few entries: a thread answering a handful of routes
// in turn keeps one head each, and a collision only costs the build the memo would have saved. Responses with
// fields set by header() are never kept (their lines would make the key as long as the head).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string_view>

#include <tether/http/short_bytes.hpp>

namespace tether::http {

class head_memo {
public:
    // What a plain head is made of (see the opening comment), in three words so that a lookup is three compares.
    // `type` is one of response.hpp's static field lines, or null: the same line is always the same bytes at the
    // same address, so the address names it.
    struct key {
        key() = default;
        key(int status, std::size_t body_length, const char* type, std::time_t second) noexcept
            : status_and_length(body_length >> 48 ? 0 : (static_cast<std::uint64_t>(status) << 48) | body_length),
              type(type), second(second) {}

        std::uint64_t status_and_length = 0;   // the status above bit 48, the body's length below; 0: none
        const char* type = nullptr;
        std::time_t second = -1;               // the Date's

        bool operator==(const key&) const = default;
    };

    // Heads this long or longer are not kept: a custom reason phrase could make one, and none of the heads
    // this is for comes near it (the longest, a JSON 200 of a gigabyte, is ~110 bytes).
    static constexpr std::size_t max_head_bytes = 160;

    // The head kept for `k`, or an empty view.
    [[gnu::always_inline]] std::string_view find(const key& k) const noexcept {
        const entry& e = entries_[slot(k)];
        return e.of == k ? std::string_view{e.bytes.data(), e.size} : std::string_view{};
    }

    // Keeps `head` as the head for `k`. Not kept: a head of max_head_bytes or more, and a body of 2^48 bytes or
    // more (its key is none).
    void keep(const key& k, std::string_view head) noexcept {
        if (head.size() >= max_head_bytes || k.status_and_length == 0) return;
        entry& e = entries_[slot(k)];
        std::memcpy(e.bytes.data(), head.data(), head.size());
        e.size = head.size();
        e.of = k;
    }

    // Copies a head found here to `to` and returns its end: four 32-byte moves for every head between 64 and 128
    // bytes (two from each end, overlapping in the middle), where memcpy would be a call through the PLT. Four
    // of 32, not two of 64: GCC turns a 64-byte memcpy into `rep movsl`, whose start-up costs more than the copy.
    [[gnu::always_inline]] static char* copy(char* to, std::string_view head) noexcept {
        const std::size_t n = head.size();
        const char* from = head.data();
        if (n <= 64) return detail::copy_short(to, from, n);
        if (n > 128) {
            std::memcpy(to, from, n);
            return to + n;
        }
        std::memcpy(to, from, 32);
        std::memcpy(to + 32, from + 32, 32);
        std::memcpy(to + n - 64, from + n - 64, 32);
        std::memcpy(to + n - 32, from + n - 32, 32);
        return to + n;
    }

    // Where `k` is kept: one of `slots`, by its length and status. Keys that share a slot replace each other.
    static constexpr std::size_t slots = 4;
    static std::size_t slot(const key& k) noexcept {
        return (k.status_and_length ^ (k.status_and_length >> 48)) & (slots - 1);
    }

private:
    struct entry {
        key of{};
        std::size_t size = 0;
        std::array<char, max_head_bytes> bytes;
    };
    std::array<entry, slots> entries_{};
};

} // namespace tether::http
