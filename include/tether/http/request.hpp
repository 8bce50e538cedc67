#pragma once
// A parsed HTTP/1.1 request as views into the connection's read buffer: nothing is copied
// out of the bytes the socket delivered, except a chunked body, which has to be decoded
// somewhere. The views are valid until the handler returns; a handler that needs them later
// (a deferred response) copies what it keeps.
#include <array>
#include <chrono>
#include <utility>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/char_class.hpp>
#include <tether/http/method.hpp>

namespace tether::http {

class request;

// Who sent a request, resolved by the connection that read it (the peer, or the forwarded
// client behind a trusted proxy: http/forwarded.hpp).
class client_source {
public:
    virtual std::string client_address(const request& req) const = 0;

protected:
    ~client_source() = default;
};

struct field {
    std::string_view name;
    std::string_view value;   // leading and trailing whitespace already removed
};

class request {
public:
    std::string_view method_name() const noexcept { return method_name_; }
    http::method method() const noexcept { return method_; }
    // The request-target exactly as sent (RFC 9112 §3.2), and its path and query parts.
    std::string_view target() const noexcept { return target_; }
    std::string_view path() const noexcept { return path_; }
    std::string_view query_string() const noexcept { return query_; }
    int version_minor() const noexcept { return version_minor_; }   // HTTP/1.<minor>
    // The host the request is for (RFC 9110 §7.2): the authority of an absolute-form target,
    // else the Host field; "" when neither names one. Already validated as uri-host [":" port].
    std::string_view host() const noexcept { return host_; }

    std::span<const field> fields() const noexcept { return {fields_.data(), field_count_}; }
    // The first field with this name, compared case-insensitively (RFC 9110 §5.1).
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < field_count_; ++i)
            if (detail::iequals(fields_[i].name, name)) return fields_[i].value;
        return std::nullopt;
    }
    bool has_header(std::string_view name) const noexcept { return header(name).has_value(); }

    // The client's IP address as text: the peer, or behind a proxy named in
    // server_options::trusted_proxies the client it forwarded for. "" outside a server.
    std::string client_address() const { return client_ ? client_->client_address(*this) : std::string{}; }
    // Set by the connection before the request is dispatched.
    void set_client_source(const client_source* source) noexcept { client_ = source; }

    std::string_view body() const noexcept { return body_; }
    bool keep_alive() const noexcept { return keep_alive_; }
    bool wants_upgrade() const noexcept { return upgrade_; }
    bool expects_continue() const noexcept { return expect_continue_; }
    bool chunked() const noexcept { return chunked_; }
    std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }

    // Path parameters bound by the router (":id" in "/items/:id"), percent-decoded.
    std::string_view param(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < param_count_; ++i)
            if (params_[i].name == name) return params_[i].value;
        return {};
    }
    // What a trailing "*" in the route matched ("" when the route has none).
    std::string_view wildcard() const noexcept { return wildcard_; }

    static constexpr std::size_t max_params = 8;

    // Values middleware attaches to the request for later hooks and the handler (a request id, the
    // authenticated user's id). They live as long as the request, deferred replies included.
    std::string_view attribute(std::string_view key) const noexcept {
        for (const auto& [k, v] : attributes_)
            if (k == key) return v;
        return {};
    }
    void set_attribute(std::string_view key, std::string_view value) {
        for (auto& [k, v] : attributes_)
            if (k == key) return void(v.assign(value));
        attributes_.emplace_back(std::string(key), std::string(value));
    }
    const std::vector<std::pair<std::string, std::string>>& attributes() const noexcept { return attributes_; }
    void clear_attributes() noexcept { attributes_.clear(); }

    // When the request's head was complete (for latency measures), set by the connection.
    std::chrono::steady_clock::time_point received_at() const noexcept { return received_at_; }
    void set_received_at(std::chrono::steady_clock::time_point t) noexcept { received_at_ = t; }
    // The route pattern that matched ("/items/:id"), set by the router; "" when none did.
    std::string_view route() const noexcept { return route_; }
    // That pattern's number, from 1 in registration order (0: none matched), for tables kept per
    // route (server/thread_metrics.hpp).
    std::uint32_t route_id() const noexcept { return route_id_; }

private:
    friend class request_parser;
    friend class router_base;
    friend class request_copy;

    std::string_view method_name_, target_, path_, query_, body_, wildcard_, host_, route_;
    std::vector<std::pair<std::string, std::string>> attributes_;
    std::chrono::steady_clock::time_point received_at_{};
    http::method method_ = method::other;
    const client_source* client_ = nullptr;
    std::uint32_t route_id_ = 0;
    int version_minor_ = 1;
    bool keep_alive_ = true, upgrade_ = false, expect_continue_ = false, chunked_ = false;
    std::optional<std::uint64_t> content_length_;

    // Grows to the largest field count seen and is then reused: no allocation per request.
    std::vector<field> fields_;
    std::size_t field_count_ = 0;

    struct bound_param {
        std::string_view name, value;
    };
    std::array<bound_param, max_params> params_{};
    std::size_t param_count_ = 0;
    std::string param_storage_;   // decoded parameter bytes when a value held '%XX'
};

} // namespace tether::http
