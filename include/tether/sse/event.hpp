#pragma once
// Server-Sent Events encoding (WHATWG HTML, "Server-sent events", §9.2.5 and §9.2.6), I/O-free.
//
// An event is a block of field lines ended by an empty line. Multi-line data is split into one
// "data:" line per line, on CRLF, CR or LF alike, because the browser's parser treats all three
// as line ends and joins data lines with LF: this is the one encoding that gives the page
// exactly the string that was published. Ids and event names are single-line by definition; a
// CR or LF in one would let the publisher inject fields, so they are refused at the API
// (std::invalid_argument), as is NUL in an id (the browser ignores such ids, §9.2.6).
// Blocks are appended to a caller's string so the hub can encode an event once and share the
// bytes with every subscriber.
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tether::sse {

struct event {
    std::string_view data;
    std::string_view type = {};   // the "event:" field; empty means "message"
    std::string_view id = {};     // the "id:" field, echoed back by the browser as Last-Event-ID
    std::optional<std::chrono::milliseconds> retry = {};   // reconnection delay hint
};

inline void check_single_line(std::string_view value, const char* what, bool reject_nul) {
    for (char c : value)
        if (c == '\r' || c == '\n' || (reject_nul && c == '\0'))
            throw std::invalid_argument(std::string("tether::sse: ") + what + " must not contain CR, LF" +
                                        (reject_nul ? " or NUL" : ""));
}

// Appends "<name>: <value>\n". The space after the colon is optional in the grammar but one is
// always stripped by the browser, so it must be written when the value itself starts with one.
inline void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.push_back('\n');
}

// Splits a payload into lines on CRLF, CR or LF. Two memchr scans (vectorized in libc) rather
// than find_first_of, which tests every byte against the set one by one and made encoding a 1 KiB
// event cost about 2 µs; each scan's hit is remembered until passed, so many short lines do not
// rescan the rest of the payload (which would be quadratic in the number of lines).
class line_splitter {
public:
    explicit line_splitter(std::string_view text) noexcept : text_(text), cr_(find('\r')), lf_(find('\n')) {}

    // The next line, or false after the last one (a payload always has at least one line).
    bool next(std::string_view& line) noexcept {
        if (done_) return false;
        if (cr_ < pos_) cr_ = find('\r');
        if (lf_ < pos_) lf_ = find('\n');
        std::size_t end = cr_ < lf_ ? cr_ : lf_;
        if (end == npos) {
            line = text_.substr(pos_);
            done_ = true;
            return true;
        }
        line = text_.substr(pos_, end - pos_);
        pos_ = end + ((text_[end] == '\r' && lf_ == end + 1) ? 2 : 1);
        return true;
    }

private:
    static constexpr std::size_t npos = std::string_view::npos;
    std::size_t find(char c) const noexcept {
        if (pos_ >= text_.size()) return npos;
        const void* hit = std::memchr(text_.data() + pos_, c, text_.size() - pos_);
        return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text_.data()) : npos;
    }
    std::string_view text_;
    std::size_t pos_ = 0, cr_, lf_;   // the first CR and LF at or after pos_ once refreshed; npos: none
    bool done_ = false;
};

// Appends one event block, ending with the blank line that dispatches it.
inline void append_event(std::string& out, const event& e) {
    check_single_line(e.id, "an event id", true);
    check_single_line(e.type, "an event type", false);
    if (!e.id.empty()) append_field(out, "id", e.id);
    if (!e.type.empty()) append_field(out, "event", e.type);
    if (e.retry) {
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, e.retry->count() < 0 ? 0 : e.retry->count());
        (void)ec;
        append_field(out, "retry", std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    line_splitter lines(e.data);   // one data line per line of the payload, whatever the line ending
    for (std::string_view line; lines.next(line);) append_field(out, "data", line);
    out.push_back('\n');
}

inline std::string encode(const event& e) {
    std::string out;
    out.reserve(e.data.size() + e.id.size() + e.type.size() + 32);
    append_event(out, e);
    return out;
}

// A comment line: ignored by the browser, but it keeps proxies and the TCP connection from
// timing out an idle stream (the heartbeat). Multi-line text becomes several comment lines.
inline void append_comment(std::string& out, std::string_view text = {}) {
    std::string_view rest = text;
    do {
        auto end = rest.find_first_of("\r\n");
        out.append(": ");
        out.append(rest.substr(0, end));
        out.push_back('\n');
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    } while (!rest.empty());
    out.push_back('\n');
}

} // namespace tether::sse
