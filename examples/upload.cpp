// upload: files saved to a directory as their bytes arrive (app.upload), so a file of any size costs
// the server one read (64 KiB) of memory, never the file; GET serves them back.
//
//   ./upload --port 8080 --dir /tmp/uploads [--max-bytes N]           (1 GiB by default)
//   curl -T big.iso http://127.0.0.1:8080/files/big.iso               # 201 {"name":"big.iso","bytes":...}
//   curl -T big.iso -H 'Transfer-Encoding: chunked' http://127.0.0.1:8080/files/big.iso   # 200: replaced
//   curl -o copy.iso http://127.0.0.1:8080/files/big.iso
//
// Each upload goes to a hidden ".name.part-N" next to its final name and is renamed into place only
// when whole, so readers never see half a file and two uploads of one name never mix; a client that
// goes away, stalls, or sends more than --max-bytes leaves nothing behind (on_abort removes the
// part). curl sends "Expect: 100-continue" for large files: a refused upload (a bad name, a file too
// large for --max-bytes) is answered before curl sends a byte of it.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <tether/tether.hpp>

namespace {

namespace fs = std::filesystem;

// A name that stays one file inside the directory: no separators, no dot-files (the parts are
// dot-files), no control characters. The router already percent-decoded it, so "%2F" is a '/'.
std::string checked_name(std::string_view name) {
    if (name.empty() || name.size() > 255 || name.front() == '.')
        throw tether::http::error(400, "a file name is 1 to 255 bytes and does not start with '.'");
    for (char c : name)
        if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            throw tether::http::error(400, "a file name has no '/', '\\' or control characters");
    return std::string(name);
}

// One upload in progress; what on_start opened, on_end or on_abort closes (and the destructor, if
// neither ran).
struct saving {
    std::FILE* file = nullptr;
    fs::path part, target;
    std::uint64_t bytes = 0;
    saving() = default;
    saving(const saving&) = delete;
    saving& operator=(const saving&) = delete;
    ~saving() {
        if (file) std::fclose(file);
    }
};

} // namespace

int main(int argc, char** argv) try {
    // --dir and --max-bytes are this example's own; the rest are every example's (tether/cli.hpp).
    fs::path dir = fs::temp_directory_path() / "tether-uploads";
    std::uint64_t max_bytes = std::uint64_t{1} << 30;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if ((arg == "--dir" || arg == "--max-bytes") && i + 1 < argc) {
            if (arg == "--dir") dir = argv[++i];
            else max_bytes = std::stoull(argv[++i]);
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    auto options = tether::parse_command_line(argc, argv);
    options.handle_signals = true;
    fs::create_directories(dir);
    dir = fs::canonical(dir);

    tether::server app{options};
    std::atomic<std::uint64_t> serial{0};
    app.upload<saving>(tether::http::method::put, "/files/:name", {
        .on_start = [&](const tether::http::request& req, saving& s) {
            s.target = dir / checked_name(req.param("name"));
            s.part = dir / ("." + s.target.filename().string() + ".part-" + std::to_string(++serial));
            s.file = std::fopen(s.part.c_str(), "wb");
            if (!s.file) throw tether::http::error(500, "cannot create the file");
        },
        .on_data = [](saving& s, std::string_view piece) {   // synchronous: the disk paces the client
            if (std::fwrite(piece.data(), 1, piece.size(), s.file) != piece.size())
                throw tether::http::error(507, "cannot write the file (disk full?)");
            s.bytes += piece.size();
        },
        .on_end = [](tether::http::request& req, tether::http::response& res, saving& s) {
            if (std::fclose(std::exchange(s.file, nullptr)) != 0) throw tether::http::error(507, "cannot write the file");
            const bool replaced = fs::exists(s.target);
            fs::rename(s.part, s.target);   // atomic: readers see the old file or the new one
            std::string body;
            tether::json::writer(body).begin_object().member("name", req.param("name")).member("bytes", s.bytes).end_object();
            res.status(replaced ? 200 : 201).header("Location", req.path()).json(std::move(body));
        },
        .on_abort = [](saving& s) {   // the client left or stalled, the body broke, the disk failed
            std::fclose(std::exchange(s.file, nullptr));
            std::error_code ignored;
            fs::remove(s.part, ignored);
        },
        .max_body_bytes = max_bytes,
    });
    tether::http::serve_directory(app, "/files", dir.string());   // GET and HEAD, with ETag and Range

    app.listen();
    std::printf("saving uploads to %s\nlistening on %s\n", dir.c_str(), app.url().c_str());
    std::fflush(stdout);
    app.run();
} catch (const tether::help_requested& help) {
    std::printf("%s  --dir DIR       where files are saved (default: the temp directory's tether-uploads)\n"
                "  --max-bytes N   the largest file accepted (default 1073741824)\n",
                help.what());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "upload: %s\n", e.what());
    return 1;
}
