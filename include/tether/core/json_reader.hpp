#pragma once
// tether::json::parse — reading request bodies with simdjson's on-demand API (simdjson 3.0.1).
//
// Why this shape: on-demand parses only what the handler touches, which is the whole point of using it for
// request bodies; it needs one parser per thread (its buffers are reused) and an input followed by
// SIMDJSON_PADDING readable bytes. So each thread keeps one parser and one padded copy buffer, and the
// handler reads the document inside a callback. Every simdjson failure becomes one exception type,
// tether::json::parse_error, whose message is fit for a client ("field 'qty': expected integer"): the
// server catches it and answers 400 with a JSON error body.
//
//     auto order = tether::json::parse(req.body(), [](simdjson::ondemand::document& doc) {
//         auto obj = tether::json::as<simdjson::ondemand::object>(doc, "body");
//         return order_t{tether::json::field<std::string>(obj, "sku"), tether::json::field<int>(obj, "qty")};
//     });
//
// LIFETIME (the one rule to remember): the document and everything read from it — values, objects,
// arrays, and the std::string_view of every string (they point into the parser's buffers or the copied
// input) — are valid only until the callback returns. Copy what you keep (field<std::string>, not
// field<std::string_view>) and never return a view from the callback.
//
// What on-demand does and does not check (simdjson 3.0.1): the whole input is checked for valid UTF-8 and
// well-formed strings before the callback runs; everything else is validated only where it is read. A body
// {"a":1,"b":tru} is accepted by a handler that reads only "a", and content after the top-level value is not
// always reported. Handlers read what they need and ignore the rest; that is what on-demand buys us.
//
// Field lookup uses find_field_unordered (any member order); it compares the raw key text, so a key
// spelled with escapes ("na\u006de") does not match "name" (simdjson's documented behaviour).
//
// Reentrancy: a callback may call parse() again (e.g. a string field that itself holds JSON); the nested
// call uses its own parser and buffer so the outer document stays valid.
#include <simdjson.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace tether::json {

// Bad JSON or JSON of the wrong shape; the message is written for the client that sent it.
class parse_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A short, client-facing description of a simdjson error code.
inline std::string describe(simdjson::error_code ec) {
    using namespace std::string_literals;
    switch (ec) {
        case simdjson::EMPTY: return "invalid JSON: the body is empty";
        case simdjson::UTF8_ERROR: return "invalid JSON: not valid UTF-8";
        case simdjson::UNCLOSED_STRING: return "invalid JSON: unclosed string";
        case simdjson::UNESCAPED_CHARS: return "invalid JSON: unescaped control character in a string";
        case simdjson::STRING_ERROR: return "invalid JSON: malformed string";
        case simdjson::T_ATOM_ERROR:
        case simdjson::F_ATOM_ERROR:
        case simdjson::N_ATOM_ERROR: return "invalid JSON: malformed literal (expected true, false or null)";
        case simdjson::NUMBER_ERROR: return "invalid JSON: malformed number";
        case simdjson::TAPE_ERROR:
        case simdjson::INCOMPLETE_ARRAY_OR_OBJECT: return "invalid JSON: unbalanced or incomplete object or array";
        case simdjson::TRAILING_CONTENT: return "invalid JSON: unexpected content after the value";
        case simdjson::DEPTH_ERROR: return "invalid JSON: nested too deeply";
        case simdjson::CAPACITY: return "invalid JSON: document too large";
        case simdjson::INCORRECT_TYPE: return "unexpected JSON type";
        case simdjson::NUMBER_OUT_OF_RANGE: return "number out of range";
        case simdjson::NO_SUCH_FIELD: return "missing field";
        default: return "invalid JSON: "s + simdjson::error_message(ec);
    }
}

[[noreturn]] inline void throw_parse_error(simdjson::error_code ec) { throw parse_error(describe(ec)); }

namespace detail {

template <class T>
inline constexpr bool is_string_like = std::same_as<T, std::string_view> || std::same_as<T, std::string>;

// The word a client understands for what we wanted.
template <class T>
constexpr const char* json_type_name() noexcept {
    if constexpr (is_string_like<T>) return "string";
    else if constexpr (std::same_as<T, bool>) return "boolean";
    else if constexpr (std::unsigned_integral<T>) return "non-negative integer";
    else if constexpr (std::integral<T>) return "integer";
    else if constexpr (std::floating_point<T>) return "number";
    else if constexpr (std::same_as<T, simdjson::ondemand::object>) return "object";
    else if constexpr (std::same_as<T, simdjson::ondemand::array>) return "array";
    else return "value";
}

// Reads src (a document, a value, or a simdjson_result<value> that may carry an error) as T, returning
// simdjson's error code. Integers narrower than 64 bits
// are range-checked here because simdjson only knows int64/uint64.
template <class T, class Source>
simdjson::error_code read(Source& src, T& out) {
    namespace od = simdjson::ondemand;
    if constexpr (std::same_as<T, std::string_view>) {
        return src.get_string().get(out);
    } else if constexpr (std::same_as<T, std::string>) {
        std::string_view s;
        if (auto ec = src.get_string().get(s)) return ec;
        out.assign(s);
        return simdjson::SUCCESS;
    } else if constexpr (std::same_as<T, bool>) {
        return src.get_bool().get(out);
    } else if constexpr (std::integral<T>) {
        using wide = std::conditional_t<std::signed_integral<T>, std::int64_t, std::uint64_t>;
        wide w;
        simdjson::error_code ec;
        if constexpr (std::signed_integral<T>) ec = src.get_int64().get(w);
        else ec = src.get_uint64().get(w);
        if (ec) return ec;
        if (w < static_cast<wide>(std::numeric_limits<T>::min()) || w > static_cast<wide>(std::numeric_limits<T>::max()))
            return simdjson::NUMBER_OUT_OF_RANGE;
        out = static_cast<T>(w);
        return simdjson::SUCCESS;
    } else if constexpr (std::floating_point<T>) {
        double d;
        if (auto ec = src.get_double().get(d)) return ec;
        out = static_cast<T>(d);
        return simdjson::SUCCESS;
    } else if constexpr (std::same_as<T, od::object>) {
        return src.get_object().get(out);
    } else if constexpr (std::same_as<T, od::array>) {
        return src.get_array().get(out);
    } else if constexpr (std::same_as<T, od::value>) {
        if constexpr (std::same_as<Source, od::value>) {
            out = src;
            return simdjson::SUCCESS;
        } else if constexpr (std::same_as<Source, od::document>) {
            return src.get_value().get(out);
        } else {
            return std::move(src).get(out); // simdjson_result<value>: its own error, or the value
        }
    } else {
        static_assert(sizeof(T) == 0, "tether::json: unsupported type; use string_view, string, bool, an "
                                      "integer, a floating-point type, object, array or value");
    }
}

[[noreturn]] inline void throw_for(std::string_view what, simdjson::error_code ec, const char* expected) {
    std::string msg;
    msg.reserve(64);
    if (!what.empty()) msg.append(what).append(": ");
    switch (ec) {
        case simdjson::INCORRECT_TYPE: msg.append("expected ").append(expected); break;
        case simdjson::NUMBER_OUT_OF_RANGE: msg.append("number out of range for ").append(expected); break;
        case simdjson::NO_SUCH_FIELD: msg.append("missing"); break;
        default: msg.append(describe(ec));
    }
    throw parse_error(msg);
}

inline std::string field_label(std::string_view name) {
    std::string s;
    s.reserve(name.size() + 8);
    s.append("field '").append(name).append("'");
    return s;
}

} // namespace detail

// Reads a document or value as T, or throws parse_error("<what>: expected <type>"), or just
// "expected <type>" when what is empty. T: std::string_view, std::string, bool, any integer type
// (range-checked), float/double, ondemand::object, ondemand::array, ondemand::value. src may be an rvalue,
// such as the simdjson_result<value> that array iteration and at() yield.
template <class T, class Source>
T as(Source&& src, std::string_view what = {}) {
    T out{};
    if (auto ec = detail::read<T>(src, out)) detail::throw_for(what, ec, detail::json_type_name<T>());
    return out;
}

// The member called name of an object (or of a document or value holding one), read as T. Throws
// parse_error "field 'name': missing", "field 'name': expected string", ... A JSON null is a wrong type
// here; use optional_field when null is allowed.
template <class T, class Container>
T field(Container& container, std::string_view name) {
    simdjson::ondemand::value v;
    if (auto ec = container.find_field_unordered(name).get(v)) {
        if (ec == simdjson::INCORRECT_TYPE) detail::throw_for(detail::field_label(name), ec, "an enclosing object");
        detail::throw_for(detail::field_label(name), ec, "value");
    }
    T out{};
    if (auto ec = detail::read<T>(v, out)) detail::throw_for(detail::field_label(name), ec, detail::json_type_name<T>());
    return out;
}

// Like field, but a missing member or a JSON null gives std::nullopt.
template <class T, class Container>
std::optional<T> optional_field(Container& container, std::string_view name) {
    simdjson::ondemand::value v;
    if (auto ec = container.find_field_unordered(name).get(v)) {
        if (ec == simdjson::NO_SUCH_FIELD) return std::nullopt;
        if (ec == simdjson::INCORRECT_TYPE) detail::throw_for(detail::field_label(name), ec, "an enclosing object");
        detail::throw_for(detail::field_label(name), ec, "value");
    }
    bool null = false;
    if (auto ec = v.is_null().get(null)) detail::throw_for(detail::field_label(name), ec, "value");
    if (null) return std::nullopt;
    T out{};
    if (auto ec = detail::read<T>(v, out)) detail::throw_for(detail::field_label(name), ec, detail::json_type_name<T>());
    return out;
}

namespace detail {

// Above this size the per-thread copy buffer and parser are released after use, so one large body does
// not pin its memory to the thread for good.
inline constexpr std::size_t retained_capacity = std::size_t{1} << 20;

struct thread_state {
    simdjson::ondemand::parser parser;
    std::unique_ptr<char[]> buffer;
    std::size_t capacity = 0; // bytes in buffer, padding included
    bool busy = false;        // a callback on this thread is running: nested calls must not reuse us
};

inline thread_state& this_thread_state() {
    thread_local thread_state state;
    return state;
}

// Marks the thread state busy for one parse, and trims it afterwards.
class busy_scope {
public:
    explicit busy_scope(thread_state& s) noexcept : s_(s) { s_.busy = true; }
    ~busy_scope() {
        s_.busy = false;
        if (s_.capacity > retained_capacity) {
            s_.buffer.reset();
            s_.capacity = 0;
        }
        if (s_.parser.capacity() > retained_capacity) s_.parser = simdjson::ondemand::parser{};
    }
    busy_scope(const busy_scope&) = delete;
    busy_scope& operator=(const busy_scope&) = delete;

private:
    thread_state& s_;
};

template <class F>
decltype(auto) run(simdjson::ondemand::parser& parser, simdjson::padded_string_view input, F& f) {
    using result = std::invoke_result_t<F&, simdjson::ondemand::document&>;
    simdjson::ondemand::document doc;
    if (auto ec = parser.iterate(input).get(doc)) throw_parse_error(ec);
#if SIMDJSON_EXCEPTIONS
    try {
#endif
        if constexpr (std::same_as<result, simdjson::error_code>) {
            if (auto ec = std::invoke(f, doc)) throw_parse_error(ec);
        } else {
            return std::invoke(f, doc);
        }
#if SIMDJSON_EXCEPTIONS
    } catch (const simdjson::simdjson_error& e) {
        throw_parse_error(e.error());
    }
#endif
}

} // namespace detail

// Parses body, which the caller guarantees is followed by at least SIMDJSON_PADDING readable bytes
// (body.padding() >= SIMDJSON_PADDING), without copying it. Otherwise as parse(std::string_view, f).
template <class F>
    requires std::invocable<F&, simdjson::ondemand::document&>
decltype(auto) parse(simdjson::padded_string_view body, F&& f) {
    auto& state = detail::this_thread_state();
    if (state.busy) {
        simdjson::ondemand::parser nested;
        return detail::run(nested, body, f);
    }
    detail::busy_scope scope(state);
    return detail::run(state.parser, body, f);
}

// A simdjson::padded_string is parsed in place. (A template on the exact type: padded_string converts from
// std::string implicitly, and a std::string must take the copying overload.)
template <class Body, class F>
    requires std::same_as<std::remove_cvref_t<Body>, simdjson::padded_string> &&
             std::invocable<F&, simdjson::ondemand::document&>
decltype(auto) parse(const Body& body, F&& f) {
    return parse(static_cast<simdjson::padded_string_view>(body), std::forward<F>(f));
}

// Copies body into this thread's padded buffer (reused across calls) and runs f(document&) on it. Returns
// what f returns; if f returns simdjson::error_code, a non-zero code becomes a parse_error and parse
// returns void. Any simdjson error — from parsing, from f's error codes, or a simdjson_error thrown by the
// exception-style API inside f — is rethrown as parse_error. Other exceptions from f pass through.
template <class F>
    requires std::invocable<F&, simdjson::ondemand::document&>
decltype(auto) parse(std::string_view body, F&& f) {
    auto& state = detail::this_thread_state();
    if (state.busy) {
        const simdjson::padded_string copy(body);
        simdjson::ondemand::parser nested;
        return detail::run(nested, copy, f);
    }
    detail::busy_scope scope(state);
    const std::size_t needed = body.size() + simdjson::SIMDJSON_PADDING;
    if (state.capacity < needed) {
        const std::size_t grown = std::max(needed, state.capacity + state.capacity / 2);
        state.buffer = std::make_unique_for_overwrite<char[]>(grown);
        state.capacity = grown;
    }
    if (!body.empty()) std::memcpy(state.buffer.get(), body.data(), body.size());
    // simdjson may read the padding; zero it so it never sees stale bytes of an earlier body.
    std::memset(state.buffer.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
    return detail::run(state.parser, simdjson::padded_string_view(state.buffer.get(), body.size(), state.capacity), f);
}

} // namespace tether::json
