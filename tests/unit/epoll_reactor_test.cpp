// The per-thread epoll loop and its sockets (net/epoll_reactor.hpp, net/epoll_socket.hpp):
// the contract the connections rely on, checked on socket pairs without a server, and its
// posted work (net/posted_task.hpp).
#if defined(__linux__)
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <tether/net/epoll_socket.hpp>

using namespace std::chrono_literals;
using tether::net::epoll_reactor;
using tether::net::epoll_socket;

namespace {

// One end of a connected, non-blocking stream pair as an epoll_socket; the other end stays a
// plain descriptor the test writes and reads with system calls.
struct socket_pair {
    socket_pair(epoll_reactor& reactor) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        std::error_code ec;
        ours.emplace(reactor, fds[0], ec);
        REQUIRE_FALSE(ec);
        peer = fds[1];
    }
    ~socket_pair() { ::close(peer); }
    void peer_sends(std::string_view bytes) const { REQUIRE(::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())); }

    std::optional<epoll_socket> ours;
    int peer = -1;
};

// What a wait handler saw. Handlers capture one pointer, as the reactor requires.
struct outcome {
    int calls = 0;
    std::error_code ec;
};
auto recorder(outcome& o) {
    return [p = &o](std::error_code ec) {
        ++p->calls;
        p->ec = ec;
    };
}

// A thread's worth of reactor, run by the test: turn() runs its loop for a while.
struct reactor_fixture {
    epoll_reactor reactor;

    void turn(std::chrono::milliseconds for_at_most = 50ms) {
        auto until = std::chrono::steady_clock::now() + for_at_most;
        for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now())
            reactor.run_once(static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(until - now).count()));
    }
};

} // namespace

TEST_CASE_METHOD(reactor_fixture, "epoll socket: a read wait completes when data arrives, and the read returns it") {
    socket_pair pair{reactor};
    outcome readable;
    pair.ours->async_wait_readable(recorder(readable));
    turn(20ms);
    CHECK(readable.calls == 0);

    pair.peer_sends("hello");
    turn();
    REQUIRE(readable.calls == 1);
    CHECK_FALSE(readable.ec);
    char buffer[64];
    std::error_code ec;
    std::size_t n = pair.ours->read_some(buffer, sizeof buffer, ec);
    CHECK_FALSE(ec);
    CHECK(std::string(buffer, n) == "hello");
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: data that arrived while nobody waited completes the next wait at once") {
    socket_pair pair{reactor};
    pair.peer_sends("early");
    turn();   // the reactor sees the edge with no wait armed

    outcome readable;
    pair.ours->async_wait_readable(recorder(readable));
    CHECK(readable.calls == 0);   // never inside the caller
    turn();
    CHECK(readable.calls == 1);
    CHECK_FALSE(readable.ec);
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: after a read that drained the socket, the next wait waits for new data") {
    socket_pair pair{reactor};
    pair.peer_sends("abc");
    turn();
    char buffer[64];
    std::error_code ec;
    REQUIRE(pair.ours->read_some(buffer, sizeof buffer, ec) == 3);   // short read: drained

    outcome readable;
    pair.ours->async_wait_readable(recorder(readable));
    turn(20ms);
    CHECK(readable.calls == 0);
    pair.peer_sends("d");
    turn();
    CHECK(readable.calls == 1);

    // A read with nothing left says would_block, as asio's non-blocking sockets do.
    REQUIRE(pair.ours->read_some(buffer, sizeof buffer, ec) == 1);
    pair.ours->read_some(buffer, sizeof buffer, ec);
    CHECK(ec == asio::error::would_block);
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: closing completes pending waits with operation_aborted, after close() returns") {
    socket_pair pair{reactor};
    outcome readable;
    pair.ours->async_wait_readable(recorder(readable));
    pair.ours->close();
    CHECK(readable.calls == 0);
    CHECK_FALSE(pair.ours->is_open());
    turn();
    CHECK(readable.calls == 1);
    CHECK(readable.ec == asio::error::operation_aborted);
    CHECK(reactor.sockets() == 0);
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: the peer closing wakes the reader, which then reads end of stream") {
    socket_pair pair{reactor};
    outcome readable;
    pair.ours->async_wait_readable(recorder(readable));
    ::shutdown(pair.peer, SHUT_WR);
    turn();
    REQUIRE(readable.calls == 1);
    char buffer[8];
    std::error_code ec;
    CHECK(pair.ours->read_some(buffer, sizeof buffer, ec) == 0);
    CHECK(ec == asio::error::eof);
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: a full send buffer says would_block, and the write wait completes once the peer reads") {
    socket_pair pair{reactor};
    std::string chunk(64 * 1024, 'x');
    std::array<asio::const_buffer, 2> halves{asio::buffer(chunk.data(), chunk.size() / 2),
                                             asio::buffer(chunk.data() + chunk.size() / 2, chunk.size() / 2)};
    std::error_code ec;
    std::size_t written = 0;
    for (int i = 0; i < 1000 && !ec; ++i) written += pair.ours->write_some(halves, ec);
    REQUIRE(ec == asio::error::would_block);
    REQUIRE(written > 0);

    outcome writable;
    pair.ours->async_wait_writable(recorder(writable));
    turn(20ms);
    CHECK(writable.calls == 0);

    std::vector<char> sink(1 << 20);
    std::size_t drained = 0;
    for (ssize_t n; (n = ::read(pair.peer, sink.data(), sink.size())) > 0;) drained += static_cast<std::size_t>(n);
    CHECK(drained == written);   // every byte write_some reported, and no more
    turn();
    CHECK(writable.calls == 1);
    CHECK_FALSE(writable.ec);
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: a callback may destroy another socket that became ready in the same batch") {
    socket_pair first{reactor};
    auto second = std::make_unique<socket_pair>(reactor);

    // Whichever runs first destroys the other socket; the other's callback must still run
    // exactly once (with success: it was already due), and nothing may touch freed memory.
    struct shared_state {
        std::unique_ptr<socket_pair>* second;
        socket_pair* first;
        int calls = 0;
    } state{&second, &first};
    auto destroy_other = [s = &state](std::error_code) {
        if (++s->calls == 1 && *s->second) s->second->reset();
    };
    first.ours->async_wait_readable(destroy_other);
    second->ours->async_wait_readable(destroy_other);
    first.peer_sends("1");
    second->peer_sends("2");
    turn();
    CHECK(state.calls == 2);
    CHECK(second == nullptr);
    CHECK(reactor.sockets() == 1);
}

TEST_CASE_METHOD(reactor_fixture, "epoll socket: moving a socket keeps its registration and its armed wait") {
    socket_pair pair{reactor};
    outcome readable;
    pair.ours->async_wait_readable(recorder(readable));
    epoll_socket moved(std::move(*pair.ours));
    CHECK_FALSE(pair.ours->is_open());
    pair.peer_sends("x");
    turn();
    CHECK(readable.calls == 1);
    CHECK(reactor.sockets() == 1);
}

TEST_CASE_METHOD(reactor_fixture, "epoll reactor: a post from another thread wakes a loop blocked in epoll_wait") {
    std::vector<int> ran;
    std::thread poster([this, &ran] {
        std::this_thread::sleep_for(20ms);   // the loop below is asleep in epoll_wait by then
        for (int i = 0; i < 3; ++i) reactor.post([&ran, i] { ran.push_back(i); });
    });
    auto started = std::chrono::steady_clock::now();
    while (ran.size() < 3 && std::chrono::steady_clock::now() - started < 10s) reactor.run_once(-1);
    poster.join();
    CHECK(ran == std::vector<int>{0, 1, 2});   // all of them, in the order posted
    CHECK(reactor.idle());
}

TEST_CASE_METHOD(reactor_fixture, "epoll reactor: a post from the loop's own thread runs in the next turn, never inside the caller") {
    std::vector<std::string> ran;
    reactor.post([this, &ran] {
        ran.push_back("first");
        reactor.post([&ran] { ran.push_back("posted by first"); });
        ran.push_back("first, after posting");
    });
    reactor.run_once(1000);
    CHECK(ran == std::vector<std::string>{"first", "first, after posting"});
    CHECK_FALSE(reactor.idle());   // the second is queued: the loop must not block or end
    reactor.run_once(-1);          // returns at once: queued work means no waiting
    CHECK(ran == std::vector<std::string>{"first", "first, after posting", "posted by first"});
    CHECK(reactor.idle());
}

TEST_CASE_METHOD(reactor_fixture, "epoll reactor: a handler that throws leaves the ones after it queued, each runs once") {
    std::vector<int> ran;
    reactor.post([&ran] { ran.push_back(1); });
    reactor.post([] { throw std::runtime_error("handler failed"); });
    reactor.post([&ran] { ran.push_back(3); });
    CHECK_THROWS_AS(reactor.run_once(1000), std::runtime_error);
    CHECK(ran == std::vector<int>{1});
    CHECK_FALSE(reactor.idle());
    reactor.run_once(1000);
    CHECK(ran == std::vector<int>{1, 3});
    CHECK(reactor.idle());
}

TEST_CASE_METHOD(reactor_fixture, "epoll reactor: the alarm wakes a wait without a timeout at its time, once, and clear_alarm silences it") {
    // run_once(-1) has nothing else to wake it: a watchdog post ends the test's wait if the alarm never rings.
    auto wait_for_ring = [this](std::chrono::milliseconds give_up_after) {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        std::thread watchdog([&] {
            std::unique_lock lock(m);
            if (!cv.wait_for(lock, give_up_after, [&] { return done; })) reactor.post([] {});
        });
        reactor.run_once(-1);
        {
            std::lock_guard lock(m);
            done = true;
        }
        cv.notify_one();
        watchdog.join();
        const bool rang = reactor.rung();
        while (!reactor.idle()) reactor.run_once(0);   // the watchdog's post, if it came too
        return rang;
    };

    auto set_at = std::chrono::steady_clock::now();
    reactor.set_alarm(set_at + 30ms);
    CHECK(wait_for_ring(2s));
    CHECK(std::chrono::steady_clock::now() - set_at >= 30ms);   // never before its time
    CHECK_FALSE(reactor.rung());                                // rung() answers once per ring

    // Rung and read: it does not ring again until set again.
    CHECK_FALSE(wait_for_ring(100ms));

    // A time already past rings at once.
    reactor.set_alarm(std::chrono::steady_clock::now() - 1s);
    CHECK(wait_for_ring(2s));

    // Cleared before its time: silent.
    reactor.set_alarm(std::chrono::steady_clock::now() + 20ms);
    reactor.clear_alarm();
    CHECK_FALSE(wait_for_ring(150ms));

    // Set again before it rang: only the later time counts.
    set_at = std::chrono::steady_clock::now();
    reactor.set_alarm(set_at + 10ms);
    reactor.set_alarm(set_at + 60ms);
    CHECK(wait_for_ring(2s));
    CHECK(std::chrono::steady_clock::now() - set_at >= 60ms);
}

TEST_CASE("posted task: small callables live inline, large ones on the heap; both run once and are destroyed once") {
    auto counter = std::make_shared<int>(0);
    {
        tether::net::posted_task small([counter] { ++*counter; });
        std::array<char, 200> big{};
        tether::net::posted_task large([counter, big] { *counter += 10 + big[0]; });
        tether::net::posted_task moved_small(std::move(small));
        tether::net::posted_task moved_large(std::move(large));
        CHECK_FALSE(small);
        CHECK_FALSE(large);
        moved_small();
        moved_large();
        CHECK(*counter == 11);
        CHECK(counter.use_count() == 3);
    }
    CHECK(counter.use_count() == 1);   // every copy of the capture was destroyed
}
#endif
