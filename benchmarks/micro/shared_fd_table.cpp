// What a process's other threads cost its I/O thread's system calls, even when they do nothing. Threads share
// one descriptor table, and while it is shared (more than one thread holds it) the kernel takes and drops a
// reference on the file for every call on a descriptor (fdget/fput: two atomic operations) that the lone thread
// of a process skips. This is the difference between the HTTP stage's two floors, floor and floor-mt (the floor
// with --idle-threads), which tether's service thread and an application's own threads bring to any server.
//
// Each round times CALLS non-blocking recv() calls on an empty socket (each returns EAGAIN at once, so the call
// is all system-call overhead) twice: with this thread alone in the process, and with IDLE threads started that
// only wait; the idle threads are joined before the next round, so the table is private again. getppid(),
// which takes no descriptor, is timed the same two ways as the control. Pinned to CPU 0.
//
//   shared_fd_table [--calls 2000000] [--rounds 5] [--idle 2]
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <semaphore>
#include <thread>
#include <vector>

namespace {

double ns_per_call(long calls, auto&& call) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) call();
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    return took.count() / static_cast<double>(calls);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    long calls = 2'000'000;
    int rounds = 5, idle = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--calls")) calls = std::atol(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--idle")) idle = std::atoi(argv[i + 1]);
        else return std::fprintf(stderr, "usage: %s [--calls N] [--rounds N] [--idle N]\n", argv[0]), 2;
    }
    cpu_set_t cpu;
    CPU_ZERO(&cpu);
    CPU_SET(0, &cpu);
    sched_setaffinity(0, sizeof cpu, &cpu);

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) != 0) return std::perror("socketpair"), 1;
    char buffer[64];
    const auto empty_recv = [&] { syscall(SYS_recvfrom, pair[0], buffer, sizeof buffer, 0, nullptr, nullptr); };
    const auto no_descriptor = [] { syscall(SYS_getppid); };

    std::vector<double> recv_alone, recv_shared, plain_alone, plain_shared;
    for (int r = 0; r < rounds; ++r) {
        recv_alone.push_back(ns_per_call(calls, empty_recv));
        plain_alone.push_back(ns_per_call(calls, no_descriptor));
        std::counting_semaphore<> stop{0};
        std::vector<std::thread> idlers;
        for (int i = 0; i < idle; ++i) idlers.emplace_back([&stop] { stop.acquire(); });
        recv_shared.push_back(ns_per_call(calls, empty_recv));
        plain_shared.push_back(ns_per_call(calls, no_descriptor));
        stop.release(idle);
        for (auto& t : idlers) t.join();
        std::printf("round %d: recv %.1f ns alone, %.1f ns with %d idle threads; getppid %.1f / %.1f ns\n", r + 1,
                    recv_alone.back(), recv_shared.back(), idle, plain_alone.back(), plain_shared.back());
    }
    std::printf("median: recv (EAGAIN) %.1f ns alone, %.1f ns with %d idle threads (+%.1f ns a call); "
                "getppid %.1f / %.1f ns\n",
                median(recv_alone), median(recv_shared), idle, median(recv_shared) - median(recv_alone),
                median(plain_alone), median(plain_shared));
    close(pair[0]);
    close(pair[1]);
}
