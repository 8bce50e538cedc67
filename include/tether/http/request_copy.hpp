#pragma once
// A request's head kept beyond its buffer: what `after` middleware sees when a deferred reply is
// finally written (server/middleware.hpp). The request line and fields are written out once and
// parsed back with the same strict parser, so the copy answers every question the original did
// (method, target, path, query, fields, host) except its body, which is not kept. Attributes, the
// matched route, its path parameters and the arrival time are carried over.
//
// Made when some `after` hook exists and a reply is deferred, and for every streamed body (the
// upload's handlers see the head while the buffer moves on): one allocation per such request.
#include <string>
#include <utility>

#include <tether/http/parser.hpp>
#include <tether/http/request.hpp>

namespace tether::http {

class request_copy {
public:
    explicit request_copy(const request& original) {
        head_.reserve(256);
        head_.append(original.method_name()).append(" ").append(original.target()).append(" HTTP/1.");
        head_.push_back(original.version_minor() == 0 ? '0' : '1');
        head_.append("\r\n");
        for (const field& f : original.fields()) head_.append(f.name).append(": ").append(f.value).append("\r\n");
        head_.append("\r\n");
        limits lenient;
        lenient.require_host = false;          // it passed the real checks already
        lenient.max_header_bytes = head_.size() + 1;
        lenient.max_fields = original.fields().size() + 1;
        lenient.max_target_bytes = original.target().size() + 1;
        request_parser parser(lenient);
        parser.parse(head_, request_);   // cannot fail: the same bytes parsed before
        for (const auto& [k, v] : original.attributes()) request_.set_attribute(k, v);
        request_.set_received_at(original.received_at());
        request_.route_ = original.route();   // a view into the route table, which outlives requests
        request_.route_id_ = original.route_id();
        copy_params(original);
    }
    request_copy(const request_copy&) = delete;
    request_copy& operator=(const request_copy&) = delete;

    const request& get() const noexcept { return request_; }
    request& get() noexcept { return request_; }

private:
    // Path parameter values may be percent-decoded copies rather than views into the target, so
    // they are copied out as they are. Names are views into the route table.
    void copy_params(const request& original) {
        std::size_t bytes = original.wildcard_.size();
        for (std::size_t i = 0; i < original.param_count_; ++i) bytes += original.params_[i].value.size();
        params_.reserve(bytes);   // no reallocation below: the views stay valid
        auto keep = [this](std::string_view value) {
            params_.append(value);
            return std::string_view(params_).substr(params_.size() - value.size());
        };
        for (std::size_t i = 0; i < original.param_count_; ++i)
            request_.params_[i] = {original.params_[i].name, keep(original.params_[i].value)};
        request_.param_count_ = original.param_count_;
        request_.wildcard_ = keep(original.wildcard_);
    }

    std::string head_;     // must outlive request_'s views: declared first
    std::string params_;   // the path parameters' and wildcard's values
    request request_;
};

} // namespace tether::http
