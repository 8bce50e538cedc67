#pragma once
// A response under construction: status, fields and body, serialized by serializer.hpp.
//
// Fields are kept pre-serialized ("Name: value\r\n") in one string, because a response is
// written once and never queried; that is one append per field instead of a vector of pairs.
// The framing fields (Content-Length, Transfer-Encoding, Date) belong to the serializer: a
// handler that set them by hand could contradict the body it sends, which is how response
// splitting and desynchronisation start, so setting them is refused.
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tether/http/char_class.hpp>
#include <tether/http/status.hpp>

namespace tether::http {

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
        fields_.append(name).append(": ").append(value).append("\r\n");
        return *this;
    }

    response& content_type(std::string_view type) { return header("Content-Type", type); }

    // Sets the body, replacing any earlier one.
    response& body(std::string_view bytes) {
        body_.assign(bytes);
        chunked_ = false;
        return *this;
    }
    response& body(std::string&& bytes) noexcept {
        body_ = std::move(bytes);
        chunked_ = false;
        return *this;
    }
    // A string literal converts equally well to both overloads above; this one settles it.
    response& body(const char* bytes) { return body(std::string_view{bytes}); }

    response& text(std::string_view bytes) {
        if (!has_content_type_) content_type("text/plain; charset=utf-8");
        return body(bytes);
    }
    response& html(std::string_view bytes) {
        if (!has_content_type_) content_type("text/html; charset=utf-8");
        return body(bytes);
    }
    // Takes an already encoded JSON document (see core/json_writer.hpp to build one).
    response& json(std::string_view encoded) {
        if (!has_content_type_) content_type("application/json");
        return body(encoded);
    }
    response& json(std::string&& encoded) {
        if (!has_content_type_) content_type("application/json");
        return body(std::move(encoded));
    }
    response& json(const char* encoded) { return json(std::string_view{encoded}); }

    // Appends one piece of a body sent with chunked coding (RFC 9112 §7.1): for content whose
    // length is unknown when the first byte is produced. Empty pieces are skipped, because an
    // empty chunk would end the body. The first piece replaces a body set with body(), just as
    // body() replaces pieces written before it: the two framings never mix in one body.
    response& write(std::string_view piece) {
        if (!chunked_) body_.clear();
        chunked_ = true;
        if (!piece.empty()) append_chunk(body_, piece);
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

    std::string_view fields() const noexcept { return fields_; }
    // Appends fields taken from fields() of another response: they were validated when set.
    // Only for framing-neutral fields (the held long-poll response keeps its CORS fields so).
    response& append_fields(std::string_view validated) {
        fields_.append(validated);
        return *this;
    }
    std::string_view body_bytes() const noexcept { return body_; }
    bool chunked() const noexcept { return chunked_; }
    bool wants_close() const noexcept { return close_; }
    bool has_content_type() const noexcept { return has_content_type_; }

    // Back to "200, no fields, no body", keeping the buffers' capacity for the next request.
    void clear() noexcept {
        status_ = 200;
        fields_.clear();
        body_.clear();
        chunked_ = close_ = has_content_type_ = streaming_ = deferred_ = false;
    }

    static void append_chunk(std::string& out, std::string_view piece) {
        char size[20];
        int n = 0;
        for (std::size_t v = piece.size(); v != 0 || n == 0; v >>= 4) size[n++] = "0123456789abcdef"[v & 15];
        while (n) out.push_back(size[--n]);
        out.append("\r\n").append(piece).append("\r\n");
    }

private:
    int status_ = 200;
    bool chunked_ = false, close_ = false, has_content_type_ = false, streaming_ = false, deferred_ = false;
    response_deferral* deferral_ = nullptr;
    std::string fields_;
    std::string body_;   // for chunked responses: already framed chunks, without the last-chunk
};

} // namespace tether::http
