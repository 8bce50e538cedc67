// Proves a consuming project compiles, links and runs tether: serve one route on a free port,
// request it over a real socket, check the answer, stop. When tether was built with zlib
// (TETHER_CONSUMER_EXPECT_DEFLATE), also that permessage-deflate came along through the package:
// a compressed WebSocket echo with tether's own client. When tether was built with TLS the
// consumer must get it too (TETHER_CONSUMER_EXPECT_TLS): a wss echo over a throwaway
// self-signed certificate made here with OpenSSL, which the consumer never linked by itself.
// Likewise the compression codings tether was built with (TETHER_CONSUMER_EXPECT_GZIP, _BROTLI):
// the consumer must get their definitions and libraries from tether::tether alone.
#include <asio.hpp>
#include <cstdio>
#include <string>
#include <thread>

#include <tether/client/ws_client.hpp>
#include <tether/tether.hpp>

#if TETHER_CONSUMER_EXPECT_DEFLATE
static_assert(tether::ws::deflate_available, "tether was built with zlib, but the package did not carry it");
#endif

#if TETHER_CONSUMER_EXPECT_TLS
#if !TETHER_HAS_TLS
#error "tether was built with TLS, but tether::tether did not bring it to this consumer"
#endif
#include <cstdlib>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

// A self-signed P-256 certificate for CN=localhost in cert.pem and key.pem of `dir`.
static void make_certificate(const std::string& dir) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen((dir + "/cert.pem").c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen((dir + "/key.pem").c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static bool wss_echo() {
    char dir[] = "/tmp/tether-consumer-XXXXXX";
    if (!::mkdtemp(dir)) return false;
    make_certificate(dir);
    tether::server_options o;
    o.port = 0;
    o.tls.certificates = {{std::string(dir) + "/cert.pem", std::string(dir) + "/key.pem"}};
    tether::server app{o};
    app.websocket("/ws", {.on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); }});
    app.listen();
    std::thread server([&] { app.run(); });
    bool ok = false;
    try {
        tether::client::ws_client ws;
        ws.connect("wss://127.0.0.1:" + std::to_string(app.port()) + "/ws",
                   {.tls = tether::client::tls_client_options{.verify = false}});
        ws.send_text("over tls");
        auto m = ws.receive_message();
        ok = ws.secure() && m && m->payload == "over tls" && app.url().starts_with("https://");
        ws.close();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: wss: %s\n", e.what());
    }
    app.stop();
    server.join();
    std::system((std::string("rm -rf ") + dir).c_str());
    std::printf("consumer: wss %s\n", ok ? "ok" : "FAILED");
    return ok;
}
#endif

#if TETHER_CONSUMER_EXPECT_GZIP && !TETHER_WITH_GZIP
#error "tether was built with zlib, but tether::tether did not bring gzip to this consumer"
#endif
#if TETHER_CONSUMER_EXPECT_BROTLI && !TETHER_WITH_BROTLI
#error "tether was built with libbrotlienc, but tether::tether did not bring br to this consumer"
#endif

// Each coding tether has encodes a repetitive text to something smaller (links zlib / libbrotlienc).
static bool codings_work() {
    std::string text, out;
    for (int i = 0; i < 200; ++i) text += "tether compresses this line. ";
    bool ok = true;
    if constexpr (tether::http::gzip_available) ok = tether::http::gzip_encode(text, out, 6, text.size() - 1) && ok;
    if constexpr (tether::http::brotli_available) ok = tether::http::brotli_encode(text, out, 4, text.size() - 1) && ok;
    std::printf("consumer: codings (gzip %d, br %d) %s\n", int{tether::http::gzip_available},
                int{tether::http::brotli_available}, ok ? "ok" : "FAILED");
    return ok;
}

int main() {
    tether::server app{{.port = 0}};
    app.get("/ping", [](auto&, auto& res) { res.text("pong"); });
    app.websocket("/echo", {.on_message = [](auto& ws, std::string_view m, tether::ws::opcode op) { ws.send(m, op); },
                            .permessage_deflate = {.mode = tether::ws::deflate_mode::on}});
    app.listen();
    std::thread server([&] { app.run(); });

    std::string reply;
    try {
        asio::io_context io;
        asio::ip::tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), app.port()});
        asio::write(socket, asio::buffer(std::string("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
        std::error_code ec;
        char buffer[1024];
        for (std::size_t n; (n = socket.read_some(asio::buffer(buffer), ec)) > 0 || !ec;) reply.append(buffer, n);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
    }
    bool deflate_ok = !tether::ws::deflate_available;
    if (tether::ws::deflate_available) {
        try {
            tether::client::ws_client ws;
            ws.connect("127.0.0.1", app.port(), "/echo", {.permessage_deflate = tether::client::deflate_settings{}});
            const std::string message(4096, 'z');
            ws.send_text(message);
            auto echo = ws.receive_message();
            deflate_ok = echo && echo->compressed && echo->payload == message;
            ws.close();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "consumer: deflate: %s\n", e.what());
        }
    }
    app.stop();
    server.join();

    bool ok = reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 && reply.ends_with("\r\n\r\npong") && deflate_ok;
    std::printf("consumer: %s\n", ok ? "ok" : reply.c_str());
#if TETHER_CONSUMER_EXPECT_TLS
    ok = wss_echo() && ok;
#endif
    ok = codings_work() && ok;
    return ok ? 0 : 1;
}
