#pragma once
// A response under construction: status, fields and body, serialized by serializer.hpp.
//
// Fields are kept pre-serialized ("Name: value\r\n") in one string, because a response is
// written once and never queried; that is one append per field instead of a vector of pairs.
// The framing fields (Content-Length, Transfer-Encoding, Date) belong to the serializer: a
// handler that set them by hand could contradict the body it sends, which is how response
// splitting and desynchronisation start, so setting them is refused.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tether/http/byte_buffer.hpp>
#include <tether/http/char_class.hpp>
#include <tether/http/status.hpp>

namespace tether::http {

// Literals as string_view: append(const char*) is an out-of-line call that measures the literal
// with strlen on every response; append(string_view) knows its length at compile time.
using namespace std::string_view_literals;

class response;
class deferred_response;

// Where res.defer() gets its handle: the connection that is answering (see deferred_response.hpp).
class response_deferral {
public:
    virtual deferred_response defer(response& res, std::chrono::milliseconds timeout) = 0;

protected:
    ~response_deferral() = default;
};

class response {
public:
    response& status(int code) {
        if (code < 100 || code > 999) throw std::invalid_argument("tether: HTTP status must be three digits");
        status_ = code;
        return *this;
    }
    int status() const noexcept { return status_; }

    // Adds a field. Throws std::invalid_argument for a name that is not a token, a value with
    // CR, LF or NUL (header injection), or a framing field the serializer owns.
    response& header(std::string_view name, std::string_view value) {
        if (!detail::is_token(name)) throw std::invalid_argument("tether: header name is not an HTTP token");
        for (char c : value)
            if (!detail::is_field_value_char(c))
                throw std::invalid_argument("tether: header value contains CR, LF or another control character");
        if (detail::iequals(name, "content-length") || detail::iequals(name, "transfer-encoding") ||
            detail::iequals(name, "date"))
            throw std::invalid_argument("tether: Content-Length, Transfer-Encoding and Date are set by the server");
        if (detail::iequals(name, "connection") && detail::list_contains_token(value, "close")) {
            close_ = true;   // the serializer writes "Connection: close" itself
            return *this;
        }
        if (detail::iequals(name, "content-type")) has_content_type_ = true;
        settle_known_type();
        fields_.append(name).append(": "sv).append(value).append("\r\n"sv);
        return *this;
    }

    response& content_type(std::string_view type) { return header("Content-Type", type); }


    // Sets the body, replacing any earlier one.
    response& body(std::string_view bytes) {
        // Copied into a byte_buffer, inline: std::string's assign() and append() are calls into libstdc++ (its
        // std::string is instantiated there), ~45 instructions for a 13-byte body. A view of the buffer itself
        // cannot be copied into it in place (the copy's moves may overlap): it goes through a string of its own.
        const auto at = reinterpret_cast<std::uintptr_t>(bytes.data());
        const auto copied = reinterpret_cast<std::uintptr_t>(copied_.view().data());
        if (at - copied < copied_.capacity()) [[unlikely]]
            return body(std::string(bytes));
        copied_.clear();
        copied_.append(bytes);
        in_owned_ = chunked_ = false;
        return *this;
    }
    response& body(std::string&& bytes) noexcept {
        owned_ = std::move(bytes);
        in_owned_ = true;
        chunked_ = false;
        return *this;
    }
    // A string literal converts equally well to both overloads above; this one settles it.
    response& body(const char* bytes) { return body(std::string_view{bytes}); }

    response& text(std::string_view bytes) {
        if (!has_content_type_) known_content_type("Content-Type: text/plain; charset=utf-8\r\n"sv);
        return body(bytes);
    }
    response& html(std::string_view bytes) {
        if (!has_content_type_) known_content_type("Content-Type: text/html; charset=utf-8\r\n"sv);
        return body(bytes);
    }
    // Takes an already encoded JSON document (see core/json_writer.hpp to build one).
    response& json(std::string_view encoded) {
        if (!has_content_type_) known_content_type("Content-Type: application/json\r\n"sv);
        return body(encoded);
    }
    response& json(std::string&& encoded) {
        if (!has_content_type_) known_content_type("Content-Type: application/json\r\n"sv);
        return body(std::move(encoded));
    }
    response& json(const char* encoded) { return json(std::string_view{encoded}); }

    // Appends one piece of a body sent with chunked coding (RFC 9112 §7.1): for content whose
    // length is unknown when the first byte is produced. Empty pieces are skipped, because an
    // empty chunk would end the body. The first piece replaces a body set with body(), just as
    // body() replaces pieces written before it: the two framings never mix in one body.
    response& write(std::string_view piece) {
        if (!chunked_) owned_.clear();
        in_owned_ = chunked_ = true;
        if (!piece.empty()) append_chunk(owned_, piece);
        return *this;
    }

    // Marks a response whose body is produced after the handler returns by a connection that
    // takes over the socket (Server-Sent Events): only the head is serialized, announcing a
    // chunked body the stream then writes chunk by chunk.
    response& stream() noexcept {
        streaming_ = true;
        chunked_ = true;
        return *this;
    }
    bool streaming() const noexcept { return streaming_; }

    // Ask for the connection to close once this response is written.
    response& close() noexcept {
        close_ = true;
        return *this;
    }

    // Finishes this response later, from any thread, through the returned handle (defined in
    // deferred_response.hpp, which server.hpp includes). `timeout` 0: the server's reply_timeout.
    // Fields set before the call are kept on the reply.
    deferred_response defer(std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
    bool deferred() const noexcept { return deferred_; }
    // Set by the connection before the handler runs.
    void set_deferral(response_deferral* source) noexcept { deferral_ = source; }

    // Every field line set so far, "Name: value\r\n" each, in the order they were set.
    std::string_view fields() const {
        settle_known_type();
        return fields_.view();
    }
    // The same lines in two pieces, to be written one after the other without being joined first: those set
    // by header() and, last, the Content-Type line text(), html() or json() chose (empty when none is pending).
    struct field_pieces {
        std::string_view set;
        std::string_view known_type;
    };
    field_pieces field_lines() const noexcept { return {fields_.view(), known_type_}; }

    // The value of the first field named `name` (case-insensitive), as set; nullopt when none is.
    // A scan of the serialized fields: for `after` middleware deciding on a finished response
    // (is it already encoded? did the handler set this header?), not for a handler's hot path.
    std::optional<std::string_view> field(std::string_view name) const noexcept {
        std::optional<std::string_view> found;
        for_each_field([&](std::string_view n, std::string_view v, std::size_t, std::size_t) {
            if (!detail::iequals(n, name)) return true;
            found = detail::trim_ows(v);
            return false;
        });
        return found;
    }
    bool has_field(std::string_view name) const noexcept { return field(name).has_value(); }
    // Which of `names` (at most 32) some field already has, bit i for names[i]: one scan for
    // middleware that adds several defaults (security_headers), instead of one scan per name.
    template <std::size_t N>
    std::uint32_t fields_present(const std::array<std::string_view, N>& names, std::size_t count) const noexcept {
        static_assert(N <= 32);
        std::uint32_t present = 0;
        for_each_field([&](std::string_view name, std::string_view, std::size_t, std::size_t) {
            for (std::size_t i = 0; i < count && i < N; ++i)
                if (detail::iequals(name, names[i])) present |= std::uint32_t{1} << i;
            return true;
        });
        return present;
    }
    // Whether some field named `name` lists `token`, for list fields that may be set more than
    // once (Vary, Cache-Control: RFC 9110 §5.3 lets several lines form one list).
    bool field_lists(std::string_view name, std::string_view token) const {
        bool found = false;
        for_each_field([&](std::string_view n, std::string_view v, std::size_t, std::size_t) {
            found = detail::iequals(n, name) && detail::list_contains_token(v, token);
            return !found;
        });
        return found;
    }

    // Removes every field named `name`; returns how many there were. Middleware replacing a value
    // (a strong ETag made weak by compression) removes it, then sets the new one.
    std::size_t remove_field(std::string_view name) {
        settle_known_type();
        byte_buffer kept;
        std::size_t removed = 0;
        for_each_field([&](std::string_view n, std::string_view, std::size_t begin, std::size_t end) {
            if (detail::iequals(n, name)) ++removed;
            else kept.append(fields_.view().substr(begin, end - begin));
            return true;
        });
        if (removed == 0) return 0;
        fields_.swap(kept);
        if (detail::iequals(name, "content-type")) has_content_type_ = false;
        return removed;
    }

    // Exchanges the body with `bytes`: a content coding replacing the body with its encoding
    // (middleware/compress.hpp) keeps the original's buffer for the next response instead of
    // freeing it. The result is a body of known length, never chunked. A body set from a view is first copied
    // into the string (one copy beside an encoding's work; it may allocate, hence not noexcept).
    void swap_body(std::string& bytes) {
        if (!in_owned_) {
            owned_.assign(copied_.view());
            copied_.clear();
            in_owned_ = true;
        }
        owned_.swap(bytes);
        chunked_ = false;
    }
    // Appends fields taken from fields() of another response: they were validated when set.
    // Only for framing-neutral fields (the held long-poll response keeps its CORS fields so).
    response& append_fields(std::string_view validated) {
        settle_known_type();
        fields_.append(validated);
        return *this;
    }
    std::string_view body_bytes() const noexcept { return in_owned_ ? std::string_view{owned_} : copied_.view(); }
    bool chunked() const noexcept { return chunked_; }
    // Whether the head is a plain one (head_memo.hpp): no field but a pending Content-Type, a body of known
    // length that the status allows, and the connection not asked to close.
    bool plain() const noexcept {
        return !(chunked_ | close_ | streaming_) && fields_.empty() && !status_forbids_body(status_);
    }
    bool wants_close() const noexcept { return close_; }
    bool has_content_type() const noexcept { return has_content_type_; }

    // Back to "200, no fields, no body", keeping the buffers' capacity for the next request.
    void clear() noexcept {
        status_ = 200;
        fields_.clear();
        known_type_ = {};
        copied_.clear();
        owned_.clear();
        chunked_ = close_ = has_content_type_ = streaming_ = deferred_ = in_owned_ = false;
    }

    static void append_chunk(std::string& out, std::string_view piece) {
        char size[20];
        int n = 0;
        for (std::size_t v = piece.size(); v != 0 || n == 0; v >>= 4) size[n++] = "0123456789abcdef"[v & 15];
        while (n) out.push_back(size[--n]);
        out.append("\r\n"sv).append(piece).append("\r\n"sv);
    }

private:
    // text(), html() and json() name their type with a whole field line from this file: nothing for
    // header()'s checks to find, and those checks were most of what answering a small request cost. The
    // line is not copied: it stays pending, and the serializer writes it from this file's static bytes
    // (field_lines()). When it was copied here, perf put over a quarter of serialize()'s samples on the two
    // loads reading the copy back a moment later: the mark of loads that straddle the copy's overlapping
    // stores, which the CPU cannot forward. Anything that adds a field after it, or needs the lines
    // joined, first appends it (settle_known_type()).
    void known_content_type(std::string_view field_line) {
        known_type_ = field_line;
        has_content_type_ = true;
    }
    void settle_known_type() const {
        if (known_type_.empty()) return;
        fields_.append(known_type_);
        known_type_ = {};
    }
    // Calls f(name, raw_value, begin, end) for each "Name: value\r\n" line of fields_, [begin, end)
    // being the whole line and raw_value not yet trimmed of whitespace (callers trim the one they
    // use: a scan for one name should not pay for trimming every other); stops when f returns false.
    template <class F>
    void for_each_field(F&& f) const {
        // The pending Content-Type line (settle_known_type()) comes last; [begin, end) are offsets into the
        // settled lines only, which is all remove_field(), their one user, sees (it settles first).
        const std::string_view lines = fields_.view();
        std::size_t begin = 0;
        while (begin < lines.size()) {
            // A name is a token, so the first ':' ends it; a value holds no CR or LF, so the
            // first CRLF after it ends the line (both checked by header()).
            std::size_t colon = lines.find(':', begin);
            if (colon == std::string_view::npos) return;   // cannot happen: every line was appended whole
            std::size_t end = lines.find("\r\n", colon);
            if (end == std::string_view::npos) return;
            std::string_view name(lines.data() + begin, colon - begin);
            std::string_view raw_value(lines.data() + colon + 1, end - colon - 1);
            if (!f(name, raw_value, begin, end + 2)) return;
            begin = end + 2;
        }
        if (!known_type_.empty()) {
            const std::size_t colon = known_type_.find(':');
            f(known_type_.substr(0, colon), known_type_.substr(colon + 1, known_type_.size() - colon - 3), lines.size(),
              lines.size() + known_type_.size());
        }
    }

    int status_ = 200;
    bool chunked_ = false, close_ = false, has_content_type_ = false, streaming_ = false, deferred_ = false,
         in_owned_ = false;
    response_deferral* deferral_ = nullptr;
    // "Name: value\r\n" lines, appended in place (byte_buffer.hpp says why not a string), and a Content-Type
    // line of this file's not yet appended to them (known_content_type()). Mutable: fields() joins them.
    mutable byte_buffer fields_;
    mutable std::string_view known_type_;
    // The body: copied_ holds one set from a view (body(std::string_view)), owned_ one handed over as a string
    // (body(std::string&&), swap_body()) or written in chunks (already framed, without the last-chunk);
    // in_owned_ (with the flags above) says which is the body.
    byte_buffer copied_;
    std::string owned_;
};

} // namespace tether::http
