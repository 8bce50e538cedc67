#pragma once
// Test support for the Redis backplane: child processes started and stopped by PID (a redis-server on a
// free loopback port with its own temporary directory, tether example nodes), a synchronous hiredis client
// for looking at what Redis holds, and bounded waits for conditions that become true asynchronously.
//
// Every process a test starts is killed by its PID in a destructor (SIGKILL after SIGTERM had its chance),
// so a failing REQUIRE never leaves a redis-server behind; every wait has a deadline.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace redis_test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
inline bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds timeout = 10s) {
    auto const deadline = steady::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (steady::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

/// Whether nothing on this machine holds 127.0.0.1:`port` (bound, listening or connected) right now.
inline bool port_is_free(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool const free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return free;
}

/// A port nobody holds right now, below the kernel's ephemeral range (ip_local_port_range). Not the
/// kernel's own choice for port 0: that comes from the ephemeral range, where between this check and
/// redis-server's bind (or its restart, minutes later) the port can become the local end of any
/// test's outgoing connection, even of a client that connects to this very port while nothing
/// listens there (a loopback connect to a port in that range can be given it as its own local port
/// and connect to itself). Below the range only another test's pick can take it, and the
/// constructor's first start then moves to another.
inline std::uint16_t free_port() {
    unsigned low = 32768;   // Linux's default first ephemeral port
    if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
        if (std::fscanf(f, "%u", &low) != 1) low = 32768;
        std::fclose(f);
    }
    constexpr unsigned first = 10000;   // above the well-known and most registered services' ports
    if (low > first + 1000) {
        static thread_local std::mt19937 pick{std::random_device{}()};
        for (int attempt = 0; attempt < 100; ++attempt) {
            auto const port = static_cast<std::uint16_t>(first + pick() % (low - first));
            if (port_is_free(port)) return port;
        }
    }
    throw std::runtime_error("free_port: no free port below the ephemeral range");
}

/// A child process, optionally with its stdout readable line by line; killed by PID when destroyed.
class child_process {
public:
    child_process(std::vector<std::string> argv, bool capture_stdout) {
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        int pipe_fds[2] = {-1, -1};
        if (capture_stdout) {
            if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
            posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
        }
        int const rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (capture_stdout) {
            ::close(pipe_fds[1]);
            out_ = pipe_fds[0];
        }
        if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv[0]);
    }
    child_process(child_process const&) = delete;
    child_process& operator=(child_process const&) = delete;
    ~child_process() {
        stop(SIGTERM, 3s);
        if (out_ >= 0) ::close(out_);
    }

    pid_t pid() const noexcept { return pid_; }
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }

    void signal(int sig) {
        if (pid_ > 0) ::kill(pid_, sig);
    }

    /// Sends `sig`, waits up to `grace` for the exit, then SIGKILLs. Reaps the child.
    void stop(int sig = SIGTERM, std::chrono::milliseconds grace = 3s) {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGCONT);   // a paused process cannot act on SIGTERM
        ::kill(pid_, sig);
        auto const deadline = steady::now() + grace;
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (steady::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
        pid_ = -1;
    }
    void kill_now() { stop(SIGKILL, 5s); }

    /// The next line of the child's stdout that contains `needle`, within `timeout`.
    std::optional<std::string> wait_for_line(std::string_view needle, std::chrono::milliseconds timeout = 10s) {
        auto const deadline = steady::now() + timeout;
        for (;;) {
            for (auto nl = buffer_.find('\n'); nl != std::string::npos; nl = buffer_.find('\n')) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                if (line.find(needle) != std::string::npos) return line;
            }
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (out_ < 0 || left.count() <= 0) return std::nullopt;
            pollfd p{out_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char chunk[4096];
            auto const n = ::read(out_, chunk, sizeof chunk);
            if (n <= 0) return std::nullopt;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string buffer_;
};

inline std::string redis_server_binary() {
#ifdef TETHER_REDIS_SERVER
    return TETHER_REDIS_SERVER;
#else
    return "/usr/bin/redis-server";
#endif
}

/// A blocking hiredis connection with a timeout, to look at (and poke) what Redis holds.
class inspector {
public:
    inspector(std::uint16_t port, std::string const& password = {}) {
        timeval tv{2, 0};
        context_ = redisConnectWithTimeout("127.0.0.1", port, tv);
        if (context_ == nullptr || context_->err != 0) {   // the destructor will not run: free it here
            if (context_ != nullptr) redisFree(context_);
            throw std::runtime_error("cannot connect to redis");
        }
        redisSetTimeout(context_, tv);
        if (!password.empty()) (void)text({"AUTH", password});
    }
    inspector(inspector const&) = delete;
    inspector& operator=(inspector const&) = delete;
    ~inspector() {
        if (context_ != nullptr) redisFree(context_);
    }

    /// Runs a command; the reply as text (an integer as its digits, an array as its elements joined by
    /// '\n', nil as ""), or nullopt for no reply (the connection failed).
    std::optional<std::string> text(std::vector<std::string> const& args) {
        std::vector<char const*> argv;
        std::vector<std::size_t> lengths;
        for (auto const& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
        if (r == nullptr) return std::nullopt;
        std::string out = render(r);
        freeReplyObject(r);
        return out;
    }

private:
    static std::string render(redisReply const* r) {
        switch (r->type) {
        case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
        case REDIS_REPLY_NIL: return {};
        case REDIS_REPLY_ARRAY: {
            std::string out;
            for (std::size_t i = 0; i < r->elements; ++i) {
                if (i) out += '\n';
                out += render(r->element[i]);
            }
            return out;
        }
        case REDIS_REPLY_ERROR: return "ERR:" + std::string(r->str, r->len);
        default: return std::string(r->str, r->len);
        }
    }
    redisContext* context_ = nullptr;
};

/// A redis-server of our own: a free loopback port, a fresh temporary directory, stopped by PID.
struct redis_config {
    bool append_only = false;   ///< AOF with appendfsync always: nothing acknowledged is lost
    std::string password;
    bool start = true;          ///< false: only reserve the port and directory (start() later)
};

class redis_server {
public:
    using config = redis_config;

    explicit redis_server(config c = redis_config{}) : config_{std::move(c)} {
        char pattern[] = "/tmp/tether-redis-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        dir_ = pattern;
        port_ = free_port();
        if (!config_.start) return;
        // Another test may take the port between free_port() and redis-server's bind. Only here,
        // before anyone was told the port, can the server move to another one.
        launch_result result = launch();
        for (int tries = 1; result == launch_result::exited && tries < 5; ++tries) {
            port_ = free_port();
            result = launch();
        }
        if (result != launch_result::answered)
            throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_));
    }
    redis_server(redis_server const&) = delete;
    redis_server& operator=(redis_server const&) = delete;
    ~redis_server() {
        process_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    std::uint16_t port() const noexcept { return port_; }
    std::string url(int db = 0) const {
        std::string auth = config_.password.empty() ? "" : ":" + config_.password + "@";
        return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
    }
    std::string socket_path() const { return dir_ + "/redis.sock"; }
    std::string const& dir() const noexcept { return dir_; }

    /// Starts it (again: same port, same directory, so an AOF is replayed), and waits until it answers.
    void start(std::optional<bool> append_only = std::nullopt) {
        if (append_only) config_.append_only = *append_only;
        if (launch() != launch_result::answered)
            throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_));
    }

    void kill() { process_->kill_now(); }            // SIGKILL: no shutdown save, no goodbye to clients
    void pause() { process_->signal(SIGSTOP); }      // alive but silent: a hung server
    void resume() { process_->signal(SIGCONT); }
    /// Stops it and deletes every file it kept (a restart without persistence loses everything).
    void kill_and_forget() {
        kill();
        for (auto const& f : std::filesystem::directory_iterator(dir_)) {
            if (f.path().filename() != "redis.log") std::filesystem::remove_all(f.path());
        }
    }

    inspector connect() const { return inspector{port_, config_.password}; }

private:
    enum class launch_result { answered, exited, silent };
    launch_result launch() {
        std::vector<std::string> argv{redis_server_binary(), "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                      "--dir", dir_, "--save", "", "--daemonize", "no", "--logfile", dir_ + "/redis.log",
                                      "--unixsocket", socket_path(), "--unixsocketperm", "700",
                                      "--appendonly", config_.append_only ? "yes" : "no", "--appendfsync", "always"};
        if (!config_.password.empty()) argv.insert(argv.end(), {"--requirepass", config_.password});
        process_ = std::make_unique<child_process>(argv, false);
        bool exited = false;
        bool const up = eventually([&] {
            if (!process_->running()) return exited = true;   // it could not start: its port was taken
            try {
                inspector probe{port_, config_.password};
                return probe.text({"PING"}) == "PONG";
            } catch (std::exception const&) {
                return false;
            }
        });
        return exited ? launch_result::exited : up ? launch_result::answered : launch_result::silent;
    }

    config config_;
    std::string dir_;
    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> process_;
};

}  // namespace redis_test
