#pragma once
// The JSON halves of a JWT: the JOSE header (RFC 7515 §4) and the claims set (RFC 7519 §4), read
// with simdjson's on-demand API. No cryptography and no OpenSSL here: jwt.hpp decides which key
// checks the signature, and reads the claims only once it holds.
//
// Strictness, and why:
// - Member names must be unique, compared after unescaping ("e\u0078p" is "exp"). RFC 7515 §4 and
//   RFC 7519 §4 allow either refusing duplicates or keeping the last one; refusing leaves no room
//   for an issuer's JSON library and this one to read two different "exp" values in one token.
// - Every value is walked, not only the registered claims, because on-demand parsing skips what it
//   is not asked about without checking it (`[1,,2]` passes a skip): "malformed" then means what
//   it says, and claims::json() never hands out text that does not parse. Nesting is capped at
//   max_json_depth so the walk's recursion is bounded.
// - Registered claims must have their registered types: "iss", "sub", "jti" strings; "aud" a
//   string or an array of strings; "exp", "nbf", "iat" NumericDates (§2: seconds since the epoch,
//   possibly fractional). A fractional "exp" is rounded down and "nbf" up, so rounding never
//   widens the validity window.
// - A "crit" header (RFC 7515 §4.1.11) lists extensions the recipient must understand or reject
//   the token; tether understands none, so any "crit" is refused.
// Header parameters that point at keys ("jku", "jwk", "x5u", "x5c") are read by nobody: the
// verifier's keys are configured, never taken from the token (RFC 8725 §3.10).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/json_reader.hpp>

namespace tether::auth {

namespace detail {
// The JSON text of a scalar value; raw_json_token() includes the whitespace after it.
inline std::string_view scalar_json(simdjson::ondemand::value& v) noexcept {
    std::string_view text = v.raw_json_token();
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r'))
        text.remove_suffix(1);
    return text;
}
} // namespace detail

// What a verified token says. The registered claims are decoded into members; any other claim
// is read on demand from `payload`, the claims set's JSON text:
//     auto role = claims.get<std::string>("role");          // std::optional<std::string>
//     auto scope = claims.json("scope");                     // raw JSON text, e.g. ["read","write"]
// get<T>() throws tether::json::parse_error when the claim exists with another type (the server
// answers 400 when a hook lets it escape); use json() to inspect a claim of uncertain shape.
struct claims {
    std::string iss;                                        // issuer (RFC 7519 §4.1.1); "" when absent
    std::string sub;                                        // subject (§4.1.2); "" when absent
    std::vector<std::string> aud;                           // audience (§4.1.3); one element for a string
    std::optional<std::chrono::sys_seconds> exp, nbf, iat;  // §4.1.4-6
    std::string jti;                                        // JWT ID (§4.1.7); "" when absent
    std::string kid;                                        // the header's key id (RFC 7515 §4.1.4), if any
    std::string payload;                                    // the claims set, as JSON text

    // Whether the claims set has a member called `name` (any value, null included).
    bool has(std::string_view name) const {
        bool found = false;
        find(name, [&](simdjson::ondemand::value&) { found = true; });
        return found;
    }
    // The JSON text of claim `name` ("\"alice\"", "42", "{\"a\":1}"), or nullopt when absent.
    std::optional<std::string> json(std::string_view name) const {
        std::optional<std::string> out;
        find(name, [&](simdjson::ondemand::value& v) { out.emplace(raw_json(v)); });
        return out;
    }
    // Claim `name` read as T (the types tether::json::as accepts); nullopt when absent or null.
    template <class T>
    std::optional<T> get(std::string_view name) const {
        std::optional<T> out;
        find(name, [&](simdjson::ondemand::value& v) {
            bool null = false;
            if (v.is_null().get(null) == simdjson::SUCCESS && null) return;
            std::string what = "claim '";
            what.append(name).append("'");
            out.emplace(json::as<T>(v, what));
        });
        return out;
    }

private:
    template <class F>
    void find(std::string_view name, F&& f) const {
        json::parse(std::string_view(payload), [&](simdjson::ondemand::document& doc) {   // copied, padded
            simdjson::ondemand::object object;
            if (doc.get_object().get(object) != simdjson::SUCCESS) return;
            for (auto member : object) {
                simdjson::ondemand::field field;
                std::string_view key;
                if (std::move(member).get(field) != simdjson::SUCCESS || field.unescaped_key().get(key) != simdjson::SUCCESS)
                    return;
                if (key != name) continue;
                simdjson::ondemand::value v = field.value();
                f(v);
                return;
            }
        });
    }

    static std::string raw_json(simdjson::ondemand::value& v) {
        simdjson::ondemand::json_type type{};
        std::string_view text;
        if (v.type().get(type) != simdjson::SUCCESS) return {};
        if (type == simdjson::ondemand::json_type::object) {
            simdjson::ondemand::object o;
            if (v.get_object().get(o) != simdjson::SUCCESS || o.raw_json().get(text) != simdjson::SUCCESS) return {};
        } else if (type == simdjson::ondemand::json_type::array) {
            simdjson::ondemand::array a;
            if (v.get_array().get(a) != simdjson::SUCCESS || a.raw_json().get(text) != simdjson::SUCCESS) return {};
        } else {
            text = detail::scalar_json(v);
        }
        return std::string(text);
    }
};

// The JOSE header members the verifier uses.
struct jose_header {
    std::string alg;
    std::optional<std::string> kid;
};

namespace detail {

inline constexpr std::size_t max_json_depth = 32;

// RFC 8259 §6: number = [ "-" ] int [ frac ] [ exp ], int = "0" / digit1-9 *DIGIT. simdjson
// refuses valid numbers it cannot represent (integers beyond 64 bits, 1e400) with the same error
// as malformed ones; a claim nobody reads as a number may hold one, so the walk checks the text.
constexpr bool is_json_number(std::string_view t) noexcept {
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
        return i > start;
    };
    if (i < t.size() && t[i] == '-') ++i;
    if (i < t.size() && t[i] == '0') ++i;
    else if (!digits()) return false;
    if (i < t.size() && t[i] == '.' && (++i, !digits())) return false;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == t.size();
}

// Reads every value below `v`, so a malformed one anywhere is reported; false on any error.
inline bool walk_json(simdjson::ondemand::value v, std::size_t depth) {
    namespace od = simdjson::ondemand;
    if (depth > max_json_depth) return false;
    od::json_type type{};
    if (v.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
    case od::json_type::object: {
        od::object o;
        if (v.get_object().get(o) != simdjson::SUCCESS) return false;
        for (auto member : o) {
            od::field f;
            std::string_view key;
            if (std::move(member).get(f) != simdjson::SUCCESS || f.unescaped_key().get(key) != simdjson::SUCCESS) return false;
            if (!walk_json(f.value(), depth + 1)) return false;
        }
        return true;
    }
    case od::json_type::array: {
        od::array a;
        if (v.get_array().get(a) != simdjson::SUCCESS) return false;
        for (auto element : a) {
            od::value e;
            if (std::move(element).get(e) != simdjson::SUCCESS || !walk_json(e, depth + 1)) return false;
        }
        return true;
    }
    case od::json_type::string: {
        std::string_view s;
        return v.get_string().get(s) == simdjson::SUCCESS;
    }
    case od::json_type::number: {
        od::number n;
        if (v.get_number().get(n) == simdjson::SUCCESS) return true;
        return is_json_number(scalar_json(v));
    }
    case od::json_type::boolean: {
        bool b = false;
        return v.get_bool().get(b) == simdjson::SUCCESS;
    }
    case od::json_type::null: {
        bool null = false;
        return v.is_null().get(null) == simdjson::SUCCESS && null;
    }
    }
    return false;
}

// Walks the members of the top-level object of `doc`, calling on_member(name, value) for each,
// which returns nullptr or what is wrong; then refuses duplicate names and trailing content.
// Returns nullptr or a static description of the fault; `names` ends up holding the member names,
// unescaped and sorted (views valid until the document is done).
template <class OnMember>
const char* read_json_object(simdjson::ondemand::document& doc, const char* not_object,
                             std::vector<std::string_view>& names, OnMember&& on_member) {
    namespace od = simdjson::ondemand;
    od::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) return not_object;
    for (auto member : object) {
        od::field f;
        std::string_view name;
        if (std::move(member).get(f) != simdjson::SUCCESS || f.unescaped_key().get(name) != simdjson::SUCCESS)
            return "invalid JSON";
        names.push_back(name);
        if (const char* fault = on_member(name, f.value())) return fault;
    }
    const char* after = nullptr;
    if (doc.current_location().get(after) == simdjson::SUCCESS) return "content after the JSON object";
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end()) return "duplicate member name";
    return nullptr;
}

// A StringOrURI (RFC 7519 §2), copied out.
inline const char* read_string(simdjson::ondemand::value v, std::string& out, const char* fault) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return fault;
    out.assign(s);
    return nullptr;
}

// A NumericDate (RFC 7519 §2), within ±2^53 s so no arithmetic on it can overflow.
inline const char* read_numeric_date(simdjson::ondemand::value v, bool round_up,
                                     std::optional<std::chrono::sys_seconds>& out, const char* fault) {
    double seconds = 0;
    if (v.get_double().get(seconds) != simdjson::SUCCESS || !std::isfinite(seconds) ||
        std::fabs(seconds) > 9007199254740992.0)
        return fault;
    seconds = round_up ? std::ceil(seconds) : std::floor(seconds);
    out = std::chrono::sys_seconds(std::chrono::seconds(static_cast<std::int64_t>(seconds)));
    return nullptr;
}

inline const char* read_audience(simdjson::ondemand::value v, std::vector<std::string>& out) {
    constexpr const char* fault = "\"aud\" is neither a string nor an array of strings";
    simdjson::ondemand::json_type type{};
    if (v.type().get(type) != simdjson::SUCCESS) return fault;
    if (type == simdjson::ondemand::json_type::string) {
        out.emplace_back();
        return read_string(v, out.back(), fault);
    }
    simdjson::ondemand::array array;
    if (v.get_array().get(array) != simdjson::SUCCESS) return fault;
    for (auto element : array) {
        simdjson::ondemand::value e;
        if (std::move(element).get(e) != simdjson::SUCCESS) return fault;
        out.emplace_back();
        if (const char* f = read_string(e, out.back(), fault)) return f;
    }
    // An empty array is present yet names nobody; refusing it keeps "has an audience" and "has
    // a non-empty aud" the same question for the verifier.
    return out.empty() ? "\"aud\" is an empty array" : nullptr;
}

// Runs `read` on the JSON text `text`; turns a parse failure into "<what> is not JSON".
template <class Read>
const char* with_json(std::string_view text, const char* not_json, Read&& read) {
    try {
        return json::parse(text, [&](simdjson::ondemand::document& doc) { return read(doc); });
    } catch (const json::parse_error&) {
        return not_json;
    }
}

// The JOSE header (RFC 7515 §4); nullptr or the fault.
inline const char* parse_jose_header(std::string_view text, jose_header& out) {
    return with_json(text, "header is not JSON", [&](simdjson::ondemand::document& doc) {
        bool has_alg = false;
        std::vector<std::string_view> names;
        const char* fault = read_json_object(doc, "header is not a JSON object", names,
                                             [&](std::string_view name, simdjson::ondemand::value v) -> const char* {
            if (name == "alg") {
                has_alg = true;
                return read_string(v, out.alg, "header \"alg\" is not a string");
            }
            if (name == "kid") return read_string(v, out.kid.emplace(), "header \"kid\" is not a string");
            if (name == "crit") return "header \"crit\" names extensions tether does not implement";
            return walk_json(v, 1) ? nullptr : "header is not JSON";
        });
        if (!fault && !has_alg) fault = "header has no \"alg\"";
        return fault;
    });
}

// The claims set (RFC 7519 §4) of out.payload into out's members; nullptr or the fault. `missing`
// is set to the first of `required` the claims set lacks, if any (checked in the same parse).
inline const char* parse_claims(claims& out, const std::vector<std::string>& required, const std::string*& missing) {
    missing = nullptr;
    return with_json(out.payload, "payload is not JSON", [&](simdjson::ondemand::document& doc) {
        std::vector<std::string_view> names;
        names.reserve(16);
        const char* fault = read_json_object(doc, "payload is not a JSON object", names,
                                             [&](std::string_view name, simdjson::ondemand::value v) -> const char* {
            if (name == "iss") return read_string(v, out.iss, "\"iss\" is not a string");
            if (name == "sub") return read_string(v, out.sub, "\"sub\" is not a string");
            if (name == "jti") return read_string(v, out.jti, "\"jti\" is not a string");
            if (name == "aud") return read_audience(v, out.aud);
            if (name == "exp") return read_numeric_date(v, false, out.exp, "\"exp\" is not a NumericDate");
            if (name == "nbf") return read_numeric_date(v, true, out.nbf, "\"nbf\" is not a NumericDate");
            if (name == "iat") return read_numeric_date(v, false, out.iat, "\"iat\" is not a NumericDate");
            return walk_json(v, 1) ? nullptr : "payload is not JSON";
        });
        if (fault) return fault;
        for (const std::string& name : required) {
            if (!std::binary_search(names.begin(), names.end(), std::string_view(name))) {
                missing = &name;
                break;
            }
        }
        return static_cast<const char*>(nullptr);
    });
}

} // namespace detail
} // namespace tether::auth
