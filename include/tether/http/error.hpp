#pragma once
// Errors as every tether endpoint answers them: one JSON shape,
// {"error": {"status": 422, "message": "..."}}, whether a handler threw it or the server itself
// refused the request, so a browser client handles every failure one way.
//
// A handler throws http::error to answer with an error status and a message, e.g.
// `throw tether::http::error(422, "name must not be empty")`.
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/core/json_writer.hpp>
#include <tether/http/response.hpp>

namespace tether::http {

class error : public std::runtime_error {
public:
    error(int status, const std::string& message) : std::runtime_error(message), status_(status) {
        if (status < 400 || status > 599) throw std::invalid_argument("tether: http::error needs a 4xx or 5xx status");
    }
    int status() const noexcept { return status_; }

private:
    int status_;
};

// Sets `res` to the error shape above with `status`.
inline void write_error(response& res, int status, std::string_view message) {
    std::string body;
    body.reserve(48 + message.size());
    json::writer w(body);
    w.begin_object().key("error").begin_object().member("status", status).member("message", message).end_object().end_object();
    res.status(status).json(std::move(body));
}

} // namespace tether::http
