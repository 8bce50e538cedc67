#pragma once
// Turns a byte stream into whole WebSocket messages (RFC 6455 §5.4: a message is one or more data frames,
// with control frames allowed in between). A thin, owning layer over frame_parser for users who want
// "give me the next message" rather than frame events: the client, tests, tools.
//
// It owns two buffers, the unparsed input and the fragments of the message in progress, which is the cost a
// server's hot path avoids by driving frame_parser over its per-thread read buffer directly. It still copies
// no more than it must: an unfragmented data frame that arrived whole is returned as a view into the input,
// and control frames always are. Rejected: callbacks (a pull API lets the caller stop, e.g. after a Close)
// and std::vector<message> results (allocation per read).

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <tether/ws/frame.hpp>

namespace tether::ws {

enum class assemble_status : std::uint8_t { need_more, message, error };

struct assembled_message {
    assemble_status status = assemble_status::need_more;
    opcode op = opcode::text;    // text or binary for data messages, else the control opcode
    std::string_view payload{};  // valid until the next call to next() or append()
    bool compressed = false;     // a data message whose first frame had RSV1 (RFC 7692: still compressed)
};

class message_assembler {
public:
    explicit message_assembler(role endpoint, frame_parser_options options = {}) : parser_(endpoint, options) {}

    // Queues received bytes (copied).
    void append(std::string_view bytes) {
        if (consumed_ != 0) {
            input_.erase(0, consumed_);
            consumed_ = 0;
        }
        input_.append(bytes);
    }

    // The next complete message or control frame, need_more, or error (then parser().error_code() is the
    // close code to send: 1002, 1007 or 1009).
    [[nodiscard]] assembled_message next() {
        if (message_returned_) {  // the caller is done with the previous message's view
            message_.clear();
            message_returned_ = false;
        }
        for (;;) {
            const parse_result r = parser_.next(std::span<char>(input_).subspan(consumed_));
            consumed_ += r.consumed;
            switch (r.status) {
                case parse_status::need_more:
                    if (consumed_ == input_.size()) {
                        input_.clear();
                        consumed_ = 0;
                    }
                    return {};
                case parse_status::error: return {assemble_status::error};
                case parse_status::header:
                    if (parser_.header().op == opcode::text || parser_.header().op == opcode::binary) start_message();
                    continue;
                case parse_status::payload: break;
            }
            const frame_header& h = parser_.header();
            if (is_control(h.op)) return {assemble_status::message, h.op, r.payload};
            if (h.op != opcode::continuation && r.message_end && r.payload.size() == h.payload_length)
                return {assemble_status::message, parser_.message_opcode(), r.payload,  // whole frame: no copy
                        parser_.message_compressed()};
            message_.append(r.payload);
            if (r.message_end) {
                message_returned_ = true;
                return {assemble_status::message, parser_.message_opcode(), message_, parser_.message_compressed()};
            }
        }
    }

    [[nodiscard]] const frame_parser& parser() const noexcept { return parser_; }
    // Bytes held on behalf of the peer: unparsed input plus the fragments of an unfinished message.
    [[nodiscard]] std::size_t buffered_size() const noexcept { return input_.size() - consumed_ + message_.size(); }

private:
    void start_message() {
        // Give back the memory of an earlier large message rather than keep it for the connection's life.
        if (message_.capacity() > 64 * 1024) std::string().swap(message_);
        message_.clear();
    }

    frame_parser parser_;
    std::string input_;
    std::size_t consumed_ = 0;
    std::string message_;
    bool message_returned_ = false;
};

}  // namespace tether::ws
