// The WebSocket "kernel floor" for benchmarks/ws/run.sh: a reference echo server that does the least user-space
// work a WebSocket (RFC 6455) echo server can do, so that the benchmark can show what the kernel alone costs
// per echoed message. See floor_loop.hpp for why it exists and for the event loop (raw epoll, edge-triggered,
// one loop per thread).
//
// What it does: answers the opening handshake with 101 and the right Sec-WebSocket-Accept (at any path; it
// checks nothing else of the request), then echoes frames as they stream in: each client frame header is
// turned into the unmasked server header with the same FIN bit, opcode and length, and the payload is unmasked
// straight from the receive buffer into the output, so a frame is never buffered whole and the only bytes kept
// across reads are an incomplete frame header (at most 14). All echoes of one read leave in one send. A data
// frame is echoed as it came (continuations too, so fragmented messages stay fragmented the same way); Ping
// gets a Pong with its payload, Pong is ignored, and Close is answered with a Close carrying the same payload,
// after which the connection is closed. No UTF-8 check of text, no message limit, no deflate: what the
// benchmark's client (benchmarks/loadgen/ws_load.cpp) sends needs none of it. A protocol error (unmasked
// frame, RSV bits, unknown opcode, bad control frame) just drops the connection.
//
// Usage: floor_ws [--host 127.0.0.1] [--port 8080] [--threads 1]

#include "floor_loop.hpp"

#include "floor_ws_handshake.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using tether_floor::header_value;

// out[i] = in[i] ^ key[(phase + i) % 4], eight bytes at a time: the only per-byte work an echo must do.
void unmask(char* out, const char* in, std::size_t n, const std::array<unsigned char, 4>& key, unsigned phase) {
    std::array<unsigned char, 8> rotated{};
    for (std::size_t i = 0; i < 8; ++i) rotated[i] = key[(phase + i) & 3];
    std::uint64_t key8;
    std::memcpy(&key8, rotated.data(), 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t word;
        std::memcpy(&word, in + i, 8);
        word ^= key8;
        std::memcpy(out + i, &word, 8);
    }
    for (; i < n; ++i) out[i] = static_cast<char>(in[i] ^ static_cast<char>(rotated[i & 7]));
}

struct ws_session {
    static constexpr std::size_t read_size = 64 * 1024;

    struct context {
        // The echoes of one read: never longer than the read (a server header is 4 bytes shorter than the
        // client's, a Pong or Close no longer than what it answers), plus one server header completed by bytes
        // carried from the previous read and the 101 when frames follow the handshake in the same read.
        std::unique_ptr<char[]> out{new char[read_size + 1024]};
    };

    struct reply {
        std::string_view out;
        bool close;
    };

    reply on_data(context& ctx, char* data, std::size_t n) {
        char* out = ctx.out.get();
        std::size_t used = 0;
        if (!open_) {
            // The request head is read in place when it arrives whole (the usual case: no allocation), and
            // collected in handshake_ only when it comes in pieces.
            std::string_view request(data, n);
            if (!handshake_.empty() || request.find("\r\n\r\n") == std::string_view::npos) {
                handshake_.append(data, n);
                request = handshake_;
            }
            const std::size_t end = request.find("\r\n\r\n");
            if (end == std::string_view::npos) {
                if (request.size() > 8192) return {{}, true};  // not a client we know
                return {{}, false};
            }
            const std::string_view key = header_value(request.substr(0, end + 2), "sec-websocket-key");
            if (key.empty()) {
                constexpr std::string_view bad =
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                return {bad, true};
            }
            // The 101 goes straight into the output.
            used = static_cast<std::size_t>(tether_floor::write_switching_protocols(key, out) - out);
            // Bytes after the request head are frames: they are the tail of this read.
            const std::size_t frames = request.size() - (end + 4);
            data += n - frames;
            n = frames;
            std::string().swap(handshake_);
            open_ = true;
        }
        const bool close = echo(data, n, out, used);
        return {std::string_view(out, used), close};
    }

private:
    // RFC 6455 §5.2 opcodes (continuation 0 and text 1 need no name: they are echoed as they come).
    static constexpr unsigned char op_binary = 2, op_close = 8, op_ping = 9, op_pong = 10;

    // Streams frames from `in` to out + used; true when the connection is to be closed after the send.
    bool echo(const char* in, std::size_t n, char* out, std::size_t& used) {
        std::size_t pos = 0;
        while (pos < n) {
            if (remaining_ == 0) {
                // Between frames (a frame's last payload byte ends it at once, below). Collect the header:
                // 2 bytes, then as many as its length field and mask key need.
                std::size_t need = header_size_needed();
                while (header_size_ < need && pos < n) {
                    const std::size_t take = std::min(need - header_size_, n - pos);
                    std::memcpy(header_.data() + header_size_, in + pos, take);
                    header_size_ += take;
                    pos += take;
                    need = header_size_needed();
                }
                if (header_size_ < need) return false;  // the rest comes with the next read
                if (!start_frame(out, used)) return true;
                if (remaining_ == 0) {  // an empty payload: the frame is complete already
                    if (opcode_ == op_close) return true;
                    continue;
                }
            }
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - pos));
            if (opcode_ != op_pong) {
                unmask(out + used, in + pos, take, mask_, phase_);
                used += take;
            }
            phase_ = static_cast<unsigned>((phase_ + take) & 3);
            remaining_ -= take;
            pos += take;
            if (remaining_ == 0 && opcode_ == op_close) return true;  // Close answered: close the connection
        }
        return false;
    }

    // Bytes of the header being collected, as far as its first two bytes tell (RFC 6455 §5.2).
    std::size_t header_size_needed() const {
        if (header_size_ < 2) return 2;
        const unsigned len7 = static_cast<unsigned char>(header_[1]) & 0x7f;
        const std::size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        return 2 + extended + 4;  // every client frame is masked (§5.3); an unmasked one is refused in start_frame
    }

    // A complete header: checks it and writes the server's header for the echo. False on a protocol error.
    bool start_frame(char* out, std::size_t& used) {
        const auto b0 = static_cast<unsigned char>(header_[0]);
        const auto b1 = static_cast<unsigned char>(header_[1]);
        opcode_ = b0 & 0x0f;
        const bool fin = (b0 & 0x80) != 0;
        if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0) return false;  // RSV bits without an extension; unmasked
        const bool control = (opcode_ & 0x08) != 0;
        if (opcode_ > op_binary && !(control && opcode_ <= op_pong)) return false;  // reserved opcodes
        const unsigned len7 = b1 & 0x7f;
        std::size_t at = 2;
        std::uint64_t length = len7;
        if (len7 == 126) {
            length = 0;
            for (; at < 4; ++at) length = (length << 8) | static_cast<unsigned char>(header_[at]);
        } else if (len7 == 127) {
            length = 0;
            for (; at < 10; ++at) length = (length << 8) | static_cast<unsigned char>(header_[at]);
        }
        if (control && (!fin || length > 125)) return false;  // §5.5
        std::memcpy(mask_.data(), header_.data() + at, 4);
        phase_ = 0;
        remaining_ = length;
        header_size_ = 0;
        if (opcode_ == op_pong) return true;  // nothing to answer
        // The server header is the client's without the mask bit and the mask key: same length encoding.
        const unsigned char reply_op = opcode_ == op_ping ? op_pong : opcode_;
        out[used++] = static_cast<char>((b0 & 0x80) | reply_op);
        out[used++] = static_cast<char>(len7);
        std::memcpy(out + used, header_.data() + 2, at - 2);
        used += at - 2;
        return true;
    }

    bool open_ = false;
    std::string handshake_;  // a request head that came in pieces, until the upgrade; released after it
    std::array<char, 14> header_{};
    std::size_t header_size_ = 0;
    std::uint64_t remaining_ = 0;  // payload bytes of the current frame not yet echoed
    unsigned char opcode_ = 0;
    std::array<unsigned char, 4> mask_{};
    unsigned phase_ = 0;  // position in the mask key of the next payload byte
};

}  // namespace

int main(int argc, char** argv) { return tether_floor::serve<ws_session>("floor_ws", argc, argv); }
