// fixed_client: a deterministic, fixed-count client for instruction counting (benchmarks/callgrind/run.sh).
//
//   fixed_client http --port N --count K [--path /plaintext] [--expect "Hello, World!"] [--pipeline D]
//   fixed_client ws   --port N --count K [--path /ws] [--size 64]
//
// http: one keep-alive connection, K sequential GET requests, each response read completely (Content-Length)
//       and checked (status 200, body), then the connection is closed. With --pipeline D the requests go D at a
//       time in one send (the last batch holds what is left), and the D answers are read before the next batch:
//       what wrk's pipeline.lua does, with a fixed count.
// ws:   one connection, the opening handshake (fixed key, RFC 6455 §1.3's sample nonce), K sequential masked
//       binary messages of --size bytes (fixed mask key and pattern), each echo read and checked byte for byte,
//       then the closing handshake (Close 1000, the server's Close awaited).
// K = 0 does everything but the requests: that run is the baseline subtracted from a K-request run, so the
// difference is the cost of K requests alone, without process start, connection setup and shutdown.
//
// Why not wrk or ws_load: they are time-based, so the work a server does under valgrind would depend on how
// slow valgrind makes it. Blocking sockets and one request in flight make every run do the same work.
// Exit status 0 only if every answer was correct; the last stdout line is "result requests=K seconds=S".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/ws/frame.hpp>

namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fixed_client: %s\n", what.c_str());
    std::exit(1);
}

struct options {
    std::string mode;
    unsigned port = 0;
    unsigned long count = 0;
    std::string path;
    std::string expect = "Hello, World!";
    std::size_t size = 64;
    unsigned long pipeline = 1;
};

options parse(int argc, char** argv) {
    if (argc < 2) fail("usage: fixed_client http|ws --port N --count K [--path P] [--expect BODY] [--size BYTES] [--pipeline D]");
    options o;
    o.mode = argv[1];
    if (o.mode != "http" && o.mode != "ws") fail("mode must be http or ws");
    o.path = o.mode == "http" ? "/plaintext" : "/ws";
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string_view a = argv[i];
        const char* v = argv[i + 1];
        if (a == "--port") o.port = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
        else if (a == "--count") o.count = std::strtoul(v, nullptr, 10);
        else if (a == "--path") o.path = v;
        else if (a == "--expect") o.expect = v;
        else if (a == "--size") o.size = std::strtoul(v, nullptr, 10);
        else if (a == "--pipeline") o.pipeline = std::strtoul(v, nullptr, 10);
        else fail("unknown option " + std::string(a));
    }
    if (o.port == 0 || o.port > 65535) fail("--port is required");
    if (o.pipeline == 0) fail("--pipeline must be at least 1");
    return o;
}

class connection {
public:
    explicit connection(unsigned port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) fail("socket: " + std::string(std::strerror(errno)));
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   // loopback only
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            fail("connect: " + std::string(std::strerror(errno)));
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { ::close(fd_); }

    void send_all(std::string_view bytes) {
        while (!bytes.empty()) {
            auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail("send: " + std::string(std::strerror(errno)));
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // Appends what one recv() returns to `in`; false on EOF.
    bool receive(std::string& in) {
        char buf[16384];
        for (;;) {
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("recv: " + std::string(std::strerror(errno)));
            if (n == 0) return false;
            in.append(buf, static_cast<std::size_t>(n));
            return true;
        }
    }

private:
    int fd_ = -1;
};

// Reads one response head + Content-Length body from the front of `in` (receiving more as needed) and
// removes it. Returns the status and the body.
std::pair<int, std::string> read_response(connection& c, std::string& in) {
    std::size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos)
        if (!c.receive(in)) fail("EOF before a response head");
    std::string_view head(in.data(), head_end);
    if (head.size() < 12 || head.substr(0, 9) != "HTTP/1.1 ") fail("not an HTTP/1.1 response");
    int status = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::size_t length = 0;
    for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos;) {
        auto next = head.find("\r\n", pos + 2);
        auto line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
        if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0)
            length = std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
        pos = next;
    }
    const std::size_t total = head_end + 4 + length;
    while (in.size() < total)
        if (!c.receive(in)) fail("EOF inside a response body");
    std::string body = in.substr(head_end + 4, length);
    in.erase(0, total);
    return {status, body};
}

void run_http(const options& o) {
    connection c(o.port);
    const std::string request = "GET " + o.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    std::string in, batch;
    for (unsigned long i = 0; i < o.count;) {
        const unsigned long depth = std::min(o.pipeline, o.count - i);
        batch.clear();
        for (unsigned long k = 0; k < depth; ++k) batch += request;
        c.send_all(batch);
        for (unsigned long k = 0; k < depth; ++k, ++i) {
            auto [status, body] = read_response(c, in);
            if (status != 200) fail("request " + std::to_string(i) + ": status " + std::to_string(status));
            if (body != o.expect) fail("request " + std::to_string(i) + ": unexpected body '" + body + "'");
        }
    }
}

namespace ws = tether::ws;

// Reads one whole unmasked server frame from `in` (receiving more as needed) and removes it.
struct frame {
    ws::opcode op;
    std::string payload;
};
frame read_frame(connection& c, std::string& in) {
    for (;;) {
        if (in.size() >= 2) {
            const auto b1 = static_cast<unsigned char>(in[1]);
            if (b1 & 0x80) fail("masked frame from the server");
            std::size_t header = 2, length = b1 & 0x7f;
            if (length == 126 && in.size() >= 4) {
                header = 4;
                length = (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
            } else if (length == 127 && in.size() >= 10) {
                header = 10;
                length = 0;
                for (int k = 2; k < 10; ++k) length = (length << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(k)]);
            } else if (length >= 126) {
                header = 0;   // extended length not complete yet
            }
            if (header != 0 && in.size() >= header + length) {
                if (!(static_cast<unsigned char>(in[0]) & 0x80)) fail("fragmented echo (not expected at these sizes)");
                frame f{static_cast<ws::opcode>(static_cast<unsigned char>(in[0]) & 0x0f), in.substr(header, length)};
                in.erase(0, header + length);
                return f;
            }
        }
        if (!c.receive(in)) fail("EOF while waiting for a frame");
    }
}

void run_ws(const options& o) {
    connection c(o.port);
    // RFC 6455 §1.3's sample: key "dGhlIHNhbXBsZSBub25jZQ==" is answered with this accept value.
    c.send_all("GET " + o.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    std::string in;
    std::size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos)
        if (!c.receive(in)) fail("EOF during the opening handshake");
    std::string_view head(in.data(), head_end);
    if (head.substr(0, 12) != "HTTP/1.1 101") fail("handshake refused: " + std::string(head.substr(0, head.find('\r'))));
    if (head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == std::string_view::npos) fail("wrong Sec-WebSocket-Accept");
    in.erase(0, head_end + 4);

    std::string payload(o.size, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
    const ws::mask_key key{0x12, 0x34, 0x56, 0x78};
    std::string out;
    for (unsigned long i = 0; i < o.count; ++i) {
        out.clear();
        ws::append_frame(out, ws::opcode::binary, payload, true, key);
        c.send_all(out);
        auto f = read_frame(c, in);
        if (f.op != ws::opcode::binary || f.payload != payload) fail("message " + std::to_string(i) + ": wrong echo");
    }
    out.clear();
    const char close_body[2] = {0x03, static_cast<char>(0xe8)};   // 1000
    ws::append_frame(out, ws::opcode::close, std::string_view(close_body, 2), true, key);
    c.send_all(out);
    for (;;) {
        auto f = read_frame(c, in);
        if (f.op == ws::opcode::close) break;
    }
}

} // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    const auto start = std::chrono::steady_clock::now();
    if (o.mode == "http") run_http(o);
    else run_ws(o);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("result requests=%lu seconds=%.3f\n", o.count, took.count());
    return 0;
}
