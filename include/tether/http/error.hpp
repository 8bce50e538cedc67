#pragma once
// An exception a handler throws to answer with an error status and a message, e.g.
// `throw tether::http::error(422, "name must not be empty")`. The server turns it into a JSON
// error body ({"error": {"status": 422, "message": "..."}}), the same shape as the errors it
// generates itself, so a browser client handles every failure one way.
#include <stdexcept>
#include <string>

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

} // namespace tether::http
