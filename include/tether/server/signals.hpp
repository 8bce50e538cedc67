#pragma once
// What a server does with the signals an operator sends (server_options::handle_signals):
//   SIGINT, SIGTERM   graceful stop (what systemd, Docker and Ctrl-C send)
//   SIGHUP            reload the TLS certificates (only with TLS), as nginx and HAProxy do, so a
//                     renewed certificate goes live without dropping a connection
// Asio's signal_set turns a signal into a completion on an io_context (the server's service thread), so
// the stop and the reload run as ordinary handlers there, never inside a signal handler.
#include <asio.hpp>

#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <tether/log.hpp>

namespace tether {

class signal_watch {
public:
    // `reload` may be empty (no TLS): SIGHUP is then left to its default.
    // `log(level, text)` says how each reload went.
    signal_watch(asio::io_context& io, std::function<void()> stop, std::function<void()> reload,
                 std::function<void(log::level, std::string_view)> log)
        : stop_signals_(io, SIGINT, SIGTERM), stop_(std::move(stop)), reload_(std::move(reload)), log_(std::move(log)) {
        stop_signals_.async_wait([this](std::error_code ec, int) {
            if (!ec) stop_();
        });
        if (reload_) {
            reload_signal_ = std::make_unique<asio::signal_set>(io, SIGHUP);
            wait_for_reload();
        }
    }

    // On the io_context's thread: no more signals are taken (the server is stopping).
    void cancel() {
        stop_signals_.cancel();
        if (reload_signal_) reload_signal_->cancel();
    }

private:
    // Reload, say how it went, and keep listening for the next SIGHUP. A failed reload keeps the
    // old certificates: a typo in a renewed file must not take the server down.
    void wait_for_reload() {
        reload_signal_->async_wait([this](std::error_code ec, int) {
            if (ec) return;
            try {
                reload_();
                log_(log::level::warning, "SIGHUP: TLS certificates reloaded");
            } catch (const std::exception& e) {
                log_(log::level::error, std::string("SIGHUP: TLS certificates not reloaded, keeping the old ones: ") + e.what());
            }
            wait_for_reload();
        });
    }

    asio::signal_set stop_signals_;
    std::unique_ptr<asio::signal_set> reload_signal_;
    std::function<void()> stop_, reload_;
    std::function<void(log::level, std::string_view)> log_;
};

} // namespace tether
