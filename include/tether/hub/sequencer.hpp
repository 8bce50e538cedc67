#pragma once
// An external source of order for a topic: a backplane (Redis) that gives every message its epoch and
// sequence, so that several processes serving one topic agree on one order and one set of cursors.
//
// A topic with a sequencer no longer claims sequences itself. publish() hands the message to the sequencer
// as a publish_request, and the sequencer later does two separate things:
//   - completes the request: the message was stored under this cursor, or it was not (an error), exactly
//     once. Never success for a message the sequencer did not store.
//   - feeds every node's topic, in the one order, through topic::ingest() (and topic::skip_to() for what a
//     node will never have), from a single writer thread per topic.
// The two are deliberately unrelated: the publishing node learns of its own message the same way every other
// node does, so there is one path into the ring and one order, not a local fast path that could overtake it.
//
// Why an interface here and not a Redis type: the hub stays free of Asio and hiredis (it is usable and
// testable alone), and a test can stand in for the backplane with a few lines.
#include "tether/hub/cursor.hpp"

#include <memory>
#include <string>
#include <system_error>

namespace tether::hub {

class topic;

/// One message on its way to a sequencer, and what to call when the sequencer answers. Implementations
/// carry the caller's completion handler; the sequencer owns the request until it calls complete().
class publish_request {
public:
    publish_request(std::string body, std::string key) : body_{std::move(body)}, key_{std::move(key)} {}
    publish_request(publish_request const&) = delete;
    publish_request& operator=(publish_request const&) = delete;
    virtual ~publish_request() = default;

    std::string const& body() const noexcept { return body_; }
    std::string const& key() const noexcept { return key_; }

    /// Exactly once: `error` empty and `stored_as` the message's id, or the reason it was not stored. An
    /// error after the request left for the sequencer may be indeterminate (the connection broke before
    /// the answer came): the message may then have been stored, and it is never reported as stored.
    virtual void complete(std::error_code error, cursor stored_as) = 0;

private:
    std::string body_;
    std::string key_;
};

using publish_request_ptr = std::unique_ptr<publish_request>;

class sequencer {
public:
    /// Any thread. Takes the request and completes it exactly once, later or (on an immediate refusal,
    /// e.g. no connection) before returning.
    virtual void submit(topic& target, publish_request_ptr request) = 0;

protected:
    ~sequencer() = default;
};

}  // namespace tether::hub
