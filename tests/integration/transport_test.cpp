// Both TCP transports (net/tcp.hpp) through a whole server: epoll_tcp, the default on Linux,
// and asio_tcp, the portable one. The rest of the suite runs on the default; these cases keep
// the portable transport honest and push the default through what stresses readiness
// handling most: pipelining, a reader slower than the writer, many connections at once, a
// protocol upgrade handing the socket over, peers that vanish, and running out of descriptors.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <tether/client/ws_client.hpp>
#include <tether/server.hpp>

#include "test_server.hpp"

using namespace std::chrono_literals;
using tether::itest::basic_test_server;
using tether::itest::get_request;
using tether::itest::raw_client;

namespace {

struct asio_config : tether::default_config {
    using transport = tether::transport::asio_tcp;
};
#if defined(__linux__)
struct epoll_config : tether::default_config {
    using transport = tether::transport::epoll_tcp;
};
#else
using epoll_config = asio_config;
#endif

template <class Server>
void routes(Server& app) {
    app.get("/hello", [](auto&, auto& res) { res.text("hello"); });
    app.get("/big/:n", [](auto& req, auto& res) {
        std::size_t n = std::stoul(std::string(req.param("n")));
        std::string body(n, '\0');
        for (std::size_t i = 0; i < n; ++i) body[i] = static_cast<char>('a' + i % 26);
        res.text(std::move(body));
    });
    app.websocket("/echo", {.on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); }});
}

} // namespace

TEMPLATE_TEST_CASE("transport: 16 pipelined requests in one write get 16 answers in order", "", epoll_config, asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    raw_client client{server.port()};
    std::string batch;
    for (int i = 0; i < 16; ++i) batch += get_request(i % 2 ? "/hello" : "/big/100");
    REQUIRE(client.send(batch));
    auto answers = client.read_responses(16);
    REQUIRE(answers.size() == 16);
    for (int i = 0; i < 16; ++i) {
        CHECK(answers[static_cast<std::size_t>(i)].status == 200);
        CHECK(answers[static_cast<std::size_t>(i)].body.size() == (i % 2 ? 5u : 100u));
    }
}

TEMPLATE_TEST_CASE("transport: an 8 MiB answer to a client that reads slowly arrives whole", "", epoll_config, asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    raw_client slow{server.port()};
    const std::size_t size = 8u << 20;
    REQUIRE(slow.send(get_request("/big/" + std::to_string(size))));
    std::this_thread::sleep_for(300ms);   // the server fills the socket and must wait for writability

    raw_client other{server.port()};      // meanwhile, others are served
    REQUIRE(other.send(get_request("/hello")));
    auto quick = other.read_response();
    REQUIRE(quick);
    CHECK(quick->body == "hello");

    auto answer = slow.read_response(20s);
    REQUIRE(answer);
    REQUIRE(answer->body.size() == size);
    bool intact = true;
    for (std::size_t i = 0; i < size && intact; ++i) intact = answer->body[i] == static_cast<char>('a' + i % 26);
    CHECK(intact);
}

TEMPLATE_TEST_CASE("transport: 300 connections at once are each answered on keep-alive, twice", "", epoll_config,
                   asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    std::vector<raw_client> clients;
    for (int i = 0; i < 300; ++i) clients.emplace_back(server.port());
    for (int round = 0; round < 2; ++round) {
        for (auto& c : clients) REQUIRE(c.send(get_request("/hello")));
        int answered = 0;
        for (auto& c : clients) {
            auto r = c.read_response();
            answered += r && r->status == 200 && r->body == "hello";
        }
        CHECK(answered == 300);
    }
}

TEMPLATE_TEST_CASE("transport: WebSocket after the upgrade echoes text, 1 MiB binary and fragments, and closes cleanly",
                   "", epoll_config, asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    tether::client::ws_client ws;
    ws.connect("127.0.0.1", server.port(), "/echo");
    ws.send_text("hello");
    auto text = ws.receive_message();
    REQUIRE(text);
    CHECK(text->payload == "hello");

    std::string big(1u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
    ws.send_binary(big);
    auto echoed = ws.receive_message();
    REQUIRE(echoed);
    CHECK(echoed->op == tether::ws::opcode::binary);
    CHECK(echoed->payload == big);

    ws.send_frame(tether::ws::opcode::text, "frag", false);
    ws.send_frame(tether::ws::opcode::continuation, "ments", true);
    auto joined = ws.receive_message();
    REQUIRE(joined);
    CHECK(joined->payload == "fragments");

    auto code = ws.close();
    REQUIRE(code);
    CHECK(*code == tether::ws::close_code::normal);
}

TEMPLATE_TEST_CASE("transport: peers that reset mid-request leave the others served", "", epoll_config, asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    for (int i = 0; i < 20; ++i) {
        raw_client gone{server.port()};
        REQUIRE(gone.send("GET /hello HTTP/1.1\r\nHo"));
        gone.reset_now();
    }
    raw_client client{server.port()};
    REQUIRE(client.send(get_request("/hello")));
    auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->body == "hello");
}

TEMPLATE_TEST_CASE("transport: stop() with idle keep-alive and WebSocket connections open returns promptly", "",
                   epoll_config, asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    raw_client idle{server.port()};
    REQUIRE(idle.send(get_request("/hello")));
    REQUIRE(idle.read_response());
    tether::client::ws_client ws;
    ws.connect("127.0.0.1", server.port(), "/echo");
    auto started = std::chrono::steady_clock::now();
    CHECK(server.stop_and_wait(5s));
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(idle.closed_within(2s));
}

namespace {

// The highest descriptor this process has open (RLIMIT_NOFILE limits descriptor numbers).
int highest_open_fd() {
    int highest = 2;
    for (int fd = 0; fd < 65536; ++fd)
        if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    return highest;
}

} // namespace

// Not run under ASan+UBSan (tests/run excludes it there): the sanitizer runtime needs descriptors
// of its own (UBSan's vptr check probes memory through a pipe) and reports false errors without.
TEMPLATE_TEST_CASE("transport: out of descriptors, accepting backs off, and the queued client is served once one frees",
                   "", epoll_config, asio_config) {
    basic_test_server<tether::basic_server<TestType>> server{routes<tether::basic_server<TestType>>};
    raw_client first{server.port()}, second{server.port()};
    for (raw_client* c : {&first, &second}) {
        REQUIRE(c->send(get_request("/hello")));
        REQUIRE(c->read_response());   // accepted and served: the server holds a descriptor for each
    }

    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit lowered = saved;
    lowered.rlim_cur = static_cast<rlim_t>(highest_open_fd() + 16);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    std::vector<int> fillers;   // take every free descriptor number, then give exactly one back
    for (int fd; (fd = ::dup(STDERR_FILENO)) >= 0;) fillers.push_back(fd);
    REQUIRE(errno == EMFILE);
    ::close(fillers.back());
    fillers.pop_back();

    {
        raw_client queued{server.port()};   // the last free number: the server's accept4 now gets EMFILE
        REQUIRE(queued.send(get_request("/hello")));
        CHECK_FALSE(queued.read_response(300ms));   // not accepted yet, and nothing crashed or spun out

        REQUIRE(second.send(get_request("/hello")));   // connections already open are served throughout
        auto served = second.read_response();
        REQUIRE(served);
        CHECK(served->body == "hello");

        first.reset_now();   // the server closes its side, and a descriptor is free again
        auto late = queued.read_response(5s);
        REQUIRE(late);
        CHECK(late->body == "hello");
    }
    for (int fd : fillers) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
}
