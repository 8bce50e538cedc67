#pragma once
// Command-line options shared by every example and benchmark server: `--host H`, `--port N`,
// `--threads N`, `--max-connections N`, and `--cert FILE --key FILE` to serve https and wss, so
// scripts and tests start any of them the same way.
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/config.hpp>

namespace tether {

inline constexpr std::string_view command_line_usage =
    "options:\n"
    "  --host H      address to bind (default 127.0.0.1)\n"
    "  --port N      TCP port, 0 for any free port (default 8080)\n"
    "  --threads N   I/O threads (default 1)\n"
    "  --max-connections N   connections held at once (default: the descriptor limit - 32)\n"
    "  --cert FILE   serve TLS (https, wss) with this PEM certificate chain (leaf first)\n"
    "  --key FILE    the PEM private key of --cert\n";

// `--help` or `-h`: not an error. parse_command_line throws this with the usage as its message;
// print what() to stdout and exit 0. It is an invalid_argument so that a program catching only
// std::exception still shows the usage.
class help_requested : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Fills host, port, threads, the connection cap and the TLS certificate of `defaults` from argv.
// Throws std::invalid_argument with a message naming the bad option (or --cert without --key),
// and help_requested for --help.
inline server_options parse_command_line(int argc, char** argv, server_options defaults = {}) {
    auto number = [](std::string_view option, std::string_view text, unsigned long max) {
        unsigned long value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size() || value > max)
            throw std::invalid_argument(std::string(option) + ": expected a number up to " + std::to_string(max) +
                                        ", got '" + std::string(text) + "'");
        return value;
    };
    std::string cert, key;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") throw help_requested(std::string(command_line_usage));
        if (i + 1 >= argc) throw std::invalid_argument("unknown option or missing value: " + std::string(arg));
        std::string_view value = argv[++i];
        if (arg == "--host") defaults.host = std::string(value);
        else if (arg == "--port") defaults.port = static_cast<std::uint16_t>(number(arg, value, 65535));
        else if (arg == "--threads") {
            defaults.threads = static_cast<unsigned>(number(arg, value, 256));
            if (defaults.threads == 0) throw std::invalid_argument("--threads: at least 1");
        } else if (arg == "--max-connections") {
            defaults.max_connections = number(arg, value, 10'000'000);
            if (defaults.max_connections == 0) throw std::invalid_argument("--max-connections: at least 1");
        } else if (arg == "--cert") cert = std::string(value);
        else if (arg == "--key") key = std::string(value);
        else throw std::invalid_argument("unknown option: " + std::string(arg));
    }
    if (cert.empty() != key.empty()) throw std::invalid_argument("--cert and --key go together");
    if (!cert.empty()) defaults.tls.certificates.insert(defaults.tls.certificates.begin(), {cert, key});
    return defaults;
}

} // namespace tether
