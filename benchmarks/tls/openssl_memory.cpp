// openssl_memory: what OpenSSL itself keeps for each idle server-side TLS connection, by allocation site, for
// benchmarks/tls/run.sh. It shows why "an idle wss connection under 8 KiB" is out of reach for any server that
// keeps an OpenSSL connection object (tether, nginx, Beast alike): the SSL object alone is about 7.6 KB.
//
//   openssl_memory --cert FILE --key FILE [--connections 200]
//
// How: OpenSSL's allocator hooks (CRYPTO_set_mem_functions, before any other OpenSSL call) record every live
// allocation made on the server's I/O thread with its file:line. A tether server runs in this process; an
// OpenSSL client on the main thread opens N connections, each doing one GET /plaintext (the handshake is then
// complete and a TLS 1.3 ticket sent), and keeps them open. Live server-side bytes are sampled before and
// after; their difference per connection, and the largest sites, are printed. malloc's own overhead (~16 B
// per allocation) is not included.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tether/tether.hpp>

namespace {

thread_local bool counted_thread = false;   // the server's I/O thread
std::mutex mutex;
std::unordered_map<void*, std::pair<std::size_t, const char*>>* live;   // pointer -> size, "file:line"
std::unordered_map<std::string, const char*>* names;                    // interned "file:line"

const char* site(const char* file, int line) {
    std::string key = std::string(file ? file : "?") + ":" + std::to_string(line);
    auto [it, inserted] = names->try_emplace(key, nullptr);
    if (inserted) it->second = (new std::string(key))->c_str();
    return it->second;
}
void* on_malloc(std::size_t n, const char* file, int line) {
    void* p = std::malloc(n);
    if (counted_thread && p) {
        std::lock_guard lock(mutex);
        (*live)[p] = {n, site(file, line)};
    }
    return p;
}
void on_free(void* p, const char*, int) {
    if (p) {
        std::lock_guard lock(mutex);
        live->erase(p);
    }
    std::free(p);
}
void* on_realloc(void* p, std::size_t n, const char* file, int line) {
    void* q = std::realloc(p, n);
    std::lock_guard lock(mutex);
    if (p) live->erase(p);
    if (counted_thread && q) (*live)[q] = {n, site(file, line)};
    return q;
}

std::map<std::string, std::pair<long, long>> by_site() {   // site -> bytes, allocations
    std::lock_guard lock(mutex);
    std::map<std::string, std::pair<long, long>> out;
    for (const auto& [p, entry] : *live) {
        auto& s = out[entry.second];
        s.first += static_cast<long>(entry.first);
        ++s.second;
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    live = new std::unordered_map<void*, std::pair<std::size_t, const char*>>();
    names = new std::unordered_map<std::string, const char*>();
    if (!CRYPTO_set_mem_functions(on_malloc, on_realloc, on_free)) return 1;
    int connections = 200;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--connections") connections = std::atoi(argv[i + 1]);
    std::vector<char*> args{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--connections") { ++i; continue; }
        args.push_back(argv[i]);
    }
    auto options = tether::parse_command_line(static_cast<int>(args.size()), args.data());
    options.port = 0;
    options.threads = 1;
    tether::server app{options};
    app.get("/plaintext", [](auto&, auto& res) { res.text("Hello, World!"); });
    app.listen();
    std::thread server([&] {
        counted_thread = true;
        app.run();
    });

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    auto open = [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(app.port());
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::exit(1);
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) != 1) std::exit(1);
        const char request[] = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";
        SSL_write(ssl, request, sizeof request - 1);
        std::string got;
        char buffer[1024];
        while (got.find("Hello, World!") == std::string::npos) {
            int n = SSL_read(ssl, buffer, sizeof buffer);
            if (n <= 0) std::exit(1);
            got.append(buffer, static_cast<std::size_t>(n));
        }
        return ssl;
    };
    std::vector<SSL*> warm{open()};   // one-off allocations (the BIO method, the SSL_CTX) happen here
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto before = by_site();
    std::vector<SSL*> held;
    for (int i = 0; i < connections; ++i) held.push_back(open());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto after = by_site();

    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    long allocations = 0;
    for (const auto& [name, s] : after) {
        auto b = before.count(name) ? before.at(name) : std::pair<long, long>{0, 0};
        double per = static_cast<double>(s.first - b.first) / connections;
        allocations += s.second - b.second;
        total += per;
        if (per > 0) rows.emplace_back(per, name);
    }
    std::sort(rows.rbegin(), rows.rend());
    std::printf("| OpenSSL allocation site (3.0) | bytes per idle connection |\n|---|---|\n");
    for (std::size_t i = 0; i < rows.size() && i < 8; ++i) std::printf("| `%s` | %.0f |\n", rows[i].second.c_str(), rows[i].first);
    std::printf("| all %zu sites, %.1f allocations per connection | **%.0f** |\n", rows.size(),
                static_cast<double>(allocations) / connections, total);
    std::printf("result openssl_bytes_per_conn=%.0f allocations_per_conn=%.1f\n", total,
                static_cast<double>(allocations) / connections);
    for (SSL* s : held) SSL_free(s);
    for (SSL* s : warm) SSL_free(s);
    SSL_CTX_free(ctx);
    app.stop();
    server.join();
}
