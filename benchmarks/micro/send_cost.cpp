// What one write costs the kernel, by system call: send() of one buffer against sendmsg() of the same
// buffer as a one-element iovec, to a loopback TCP peer that a second thread drains. Why tether's epoll
// socket sends a single buffer with send() (net/epoll_socket.hpp): sendmsg first copies in and checks the
// message header and the iovec array, a cost the floor servers (which use send) do not pay.
//
// The sender runs on CPU 0, the reader on CPU 1; each round sends CALLS writes of SIZE bytes one way, then
// the other, and the sender thread's CPU time (user + system, getrusage) ÷ CALLS is the cost per call.
// Rounds alternate which call goes first, so a machine that speeds up or slows down during the run does
// not favour one of them.
//
//   send_cost [--size 4480] [--calls 200000] [--rounds 10]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

double thread_cpu_us() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// A connected loopback pair: {sender, receiver}.
std::pair<int, int> loopback_pair() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("listen");
        std::exit(1);
    }
    int sender = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(sender, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        std::exit(1);
    }
    int receiver = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    int one = 1;
    ::setsockopt(sender, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return {sender, receiver};
}

// CPU µs per call of `calls` writes of `buffer`.
double measure(int fd, std::string_view buffer, long calls, bool with_sendmsg) {
    double const start = thread_cpu_us();
    for (long i = 0; i < calls; ++i) {
        if (with_sendmsg) {
            iovec one{const_cast<char*>(buffer.data()), buffer.size()};
            msghdr message{};
            message.msg_iov = &one;
            message.msg_iovlen = 1;
            (void)::sendmsg(fd, &message, MSG_NOSIGNAL);
        } else {
            (void)::send(fd, buffer.data(), buffer.size(), MSG_NOSIGNAL);
        }
    }
    return (thread_cpu_us() - start) / static_cast<double>(calls);
}

} // namespace

int main(int argc, char** argv) {
    std::size_t size = 4480;   // a flow-controlled fan-out's run: 64 frames of 64-byte bodies, enveloped
    long calls = 200000;
    int rounds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view flag = argv[i];
        if (flag == "--size") size = std::strtoul(argv[i + 1], nullptr, 10);
        else if (flag == "--calls") calls = std::strtol(argv[i + 1], nullptr, 10);
        else if (flag == "--rounds") rounds = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: send_cost [--size N] [--calls N] [--rounds N]\n");
            return 2;
        }
    }
    pin_to(0);
    auto [sender, receiver] = loopback_pair();
    std::thread reader([fd = receiver] {
        pin_to(1);
        std::vector<char> sink(1 << 16);
        while (::read(fd, sink.data(), sink.size()) > 0) {
        }
    });
    std::string const buffer(size, 'x');
    double send_total = 0, sendmsg_total = 0;
    int sendmsg_dearer = 0;
    for (int round = 0; round < rounds; ++round) {
        bool const sendmsg_first = round % 2 == 1;
        double a = measure(sender, buffer, calls, sendmsg_first);
        double b = measure(sender, buffer, calls, !sendmsg_first);
        double const with_send = sendmsg_first ? b : a, with_sendmsg = sendmsg_first ? a : b;
        std::printf("round %d: send %.3f us/call, sendmsg %.3f us/call\n", round + 1, with_send, with_sendmsg);
        send_total += with_send;
        sendmsg_total += with_sendmsg;
        sendmsg_dearer += with_sendmsg > with_send;
    }
    ::shutdown(sender, SHUT_WR);
    reader.join();
    std::printf("result size=%zu calls=%ld rounds=%d send_us=%.3f sendmsg_us=%.3f sendmsg_dearer_in=%d/%d\n", size, calls,
                rounds, send_total / rounds, sendmsg_total / rounds, sendmsg_dearer, rounds);
    return 0;
}
