#pragma once
// Serving a directory tree over GET/HEAD: serve_directory(app, "/static", "./public").
//
// What a browser-facing file server has to get completely right, and how it is done here:
// - Path safety in three layers. path.hpp normalizes the URL path (percent-decoding after
//   splitting, dot-segments, NUL, backslash, dotfiles); the result is resolved with
//   std::filesystem::canonical and must lie inside the canonical root, which defeats symlinks
//   pointing out; the file is opened O_NOFOLLOW|O_NONBLOCK and fstat'ed, so what is sent is what
//   was checked (a regular file: never a FIFO that would block the I/O thread or a device).
// - Refusals are 404, like a missing file, with the same body: a 403 for "/.env" or a symlink
//   escape would confirm that the name exists. Malformed input (bad escape, NUL, backslash) is
//   400, since no well-behaved client sends it.
// - Validators: a strong ETag "<size hex>-<mtime ns hex>[-br|-gz]" from fstat, costing no read.
//   Linux stores mtime in nanoseconds but stamps it from a coarse clock (a few ms), so two
//   writes of the same size within one tick would share a tag: the trade nginx and Apache make
//   too, and a build writing new bytes of the same size to the same name within milliseconds
//   of serving the old is not how sites are deployed. The inode is left out on purpose, so
//   servers behind one load balancer agree on tags for the same deployment. Each content
//   coding is its own representation, so it gets its own tag. Last-Modified is the
//   file's mtime (never later than now, RFC 9110 §8.8.2.1).
// - Conditionals follow RFC 9110 §13.2.2 (conditional.hpp): If-None-Match beats
//   If-Modified-Since; If-Match / If-Unmodified-Since give 412.
// - Range (range.hpp): one satisfiable range gives 206; several are answered with 200 and the
//   whole file, which §14.2 allows and which avoids multipart/byteranges (rarely asked for by
//   browsers, a known amplification vector); none satisfiable gives 416 "bytes */size".
//   If-Range with a stale validator gives the whole file. A range longer than max_file_bytes is
//   cut to it (a media player asking "bytes=0-" of a large video gets a first part and asks on).
// - Precompressed siblings: "app.js.br" / "app.js.gz" beside "app.js" are served when
//   Accept-Encoding accepts them (q=0 refuses; accept_encoding.hpp negotiates, as for the
//   compress middleware), with Content-Encoding, the original's Content-Type, and
//   Vary: Accept-Encoding whenever a sibling exists.
// - Cache-Control: immutable_cache_control for content-hashed names ("app.3f2a9c1b.js": a
//   segment of 8 or more hex digits between dots), cache_control (default "no-cache": always
//   revalidate, cheap with the 304s above) otherwise.
// Files are read into the response body (response has no file body); max_file_bytes bounds
// that, and a whole file beyond it is a 500 naming the option: a deployment error to fix, not
// the client's.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <tether/http/accept_encoding.hpp>
#include <tether/http/conditional.hpp>
#include <tether/http/date.hpp>
#include <tether/http/method.hpp>
#include <tether/http/mime.hpp>
#include <tether/http/path.hpp>
#include <tether/http/range.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>

namespace tether::http {

struct static_options {
    std::string index = "index.html";     // served for a directory path; empty: directories are 404
    bool dotfiles = false;                // serve names starting with '.'
    bool precompressed = true;            // prefer foo.js.br / foo.js.gz siblings per Accept-Encoding (Vary: Accept-Encoding)
    std::string cache_control = "no-cache";             // for ordinary files
    std::string immutable_cache_control = "public, max-age=31536000, immutable"; // content-hashed names like app.3f2a9c1b.js
    std::size_t max_file_bytes = 64 * 1024 * 1024;
};

// "app.3f2a9c1b.js", "chunk.0123abcd.min.css": some dot-separated segment other than the first
// and the last is at least 8 hex digits, the shape bundlers give content hashes.
inline bool is_content_hashed_name(std::string_view name) noexcept {
    if (auto slash = name.find_last_of('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    auto first_dot = name.find('.'), last_dot = name.find_last_of('.');
    if (first_dot == std::string_view::npos || first_dot == last_dot) return false;
    std::string_view middle = name.substr(first_dot + 1, last_dot - first_dot - 1);
    while (!middle.empty()) {
        auto dot = middle.find('.');
        std::string_view segment = middle.substr(0, dot);
        bool hex = segment.size() >= 8;
        for (char c : segment) hex = hex && detail::hex_value(c) >= 0;
        if (hex) return true;
        if (dot == std::string_view::npos) break;
        middle.remove_prefix(dot + 1);
    }
    return false;
}

namespace detail {

// An open file descriptor with the fstat taken through it.
class open_file {
public:
    open_file() = default;
    explicit open_file(const std::filesystem::path& p) noexcept {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. O_NOFOLLOW:
        // the canonical path has no symlink left, so one appearing now is a swap.
        fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd_ >= 0 && ::fstat(fd_, &st_) != 0) reset();
    }
    open_file(open_file&& o) noexcept : fd_(std::exchange(o.fd_, -1)), st_(o.st_) {}
    open_file& operator=(open_file&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
            st_ = o.st_;
        }
        return *this;
    }
    ~open_file() { reset(); }

    explicit operator bool() const noexcept { return fd_ >= 0; }
    bool regular() const noexcept { return fd_ >= 0 && S_ISREG(st_.st_mode); }
    bool directory() const noexcept { return fd_ >= 0 && S_ISDIR(st_.st_mode); }
    std::uint64_t size() const noexcept { return static_cast<std::uint64_t>(st_.st_size); }
    std::time_t mtime() const noexcept { return st_.st_mtim.tv_sec; }
    std::uint64_t mtime_ns() const noexcept {
        return static_cast<std::uint64_t>(st_.st_mtim.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(st_.st_mtim.tv_nsec);
    }

    // Reads [offset, offset + length) into a string; nullopt when the file turned shorter.
    std::optional<std::string> read(std::uint64_t offset, std::size_t length) const {
        std::string out(length, '\0');
        std::size_t done = 0;
        while (done < length) {
            ssize_t n = ::pread(fd_, out.data() + done, length - done, static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            done += static_cast<std::size_t>(n);
        }
        return out;
    }

private:
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd_ = -1;
    struct stat st_ {};
};

struct static_site {
    std::filesystem::path root;   // canonical
    std::string prefix;           // "/static", or "" for the site root
    static_options options;

    // Opens root/relative if it resolves (symlinks followed) to a place inside the root, and,
    // unless dotfiles are allowed, one whose real name has no dot-segment either: a link
    // "public/config.json -> .secrets/config.json" must not publish a hidden file.
    open_file open(std::string_view relative) const {
        std::error_code ec;
        std::filesystem::path joined = relative.empty() ? root : root / std::filesystem::path(relative);
        std::filesystem::path real = std::filesystem::canonical(joined, ec);
        if (ec) return {};
        auto [r, p] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
        if (r != root.end()) return {};
        if (!options.dotfiles)
            for (; p != real.end(); ++p)
                if (p->native().starts_with('.')) return {};
        return open_file(real);
    }
};

inline std::string make_etag(const open_file& f, std::string_view coding_suffix) {
    auto hex = [](std::uint64_t v) {
        char buf[16];
        int n = 0;
        do buf[n++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
        std::string s;
        while (n) s.push_back(buf[--n]);
        return s;
    };
    std::string tag = "\"" + hex(f.size()) + "-" + hex(f.mtime_ns());
    tag.append(coding_suffix).push_back('"');
    return tag;
}

template <class Server>
void serve_static(const static_site& site, request& req, response& res) {
    const static_options& o = site.options;
    auto not_found = [&] { Server::write_error(res, 404, "not found"); };

    normalized_path path = normalize_url_path(req.wildcard(), {.allow_dotfiles = o.dotfiles});
    if (!path) {
        switch (path.error) {
        case path_error::bad_escape:
        case path_error::nul:
        case path_error::backslash:
        case path_error::too_long: return Server::write_error(res, 400, to_string(path.error));
        default: return not_found();
        }
    }

    std::string name = path.relative;   // the logical name: decides type and cacheability
    open_file file = site.open(name);
    if (file.directory()) {
        if (!path.directory) {   // "/static/docs" -> "/static/docs/", so relative links resolve
            std::string location = site.prefix + "/" + encode_url_path(path.relative) + "/";
            if (!req.query_string().empty()) location.append("?").append(req.query_string());
            res.status(301).header("Location", location).html("");
            return;
        }
        if (o.index.empty()) return not_found();
        name = name.empty() ? o.index : name + "/" + o.index;
        file = site.open(name);
    } else if (path.directory) {
        return not_found();   // "app.js/" names no file
    }
    if (!file.regular()) return not_found();

    // Content negotiation over precompressed siblings (RFC 9110 §12.5.3).
    std::string_view coding, etag_suffix;
    bool has_variants = false;
    if (o.precompressed) {
        open_file br = site.open(name + ".br"), gz = site.open(name + ".gz");
        const bool br_ok = br.regular(), gz_ok = gz.regular();
        has_variants = br_ok || gz_ok;
        if (has_variants) {
            switch (choose_coding(parse_accept_encoding(req.header("accept-encoding")), gz_ok, br_ok)) {
            case content_coding::br:
                coding = "br";
                etag_suffix = "-br";
                file = std::move(br);
                break;
            case content_coding::gzip:
                coding = "gzip";
                etag_suffix = "-gz";
                file = std::move(gz);
                break;
            case content_coding::identity: break;
            }
        }
    }

    const std::time_t now = std::time(nullptr);
    const std::string etag = make_etag(file, etag_suffix);
    validators v{etag, std::min(file.mtime(), now), true};
    std::array<char, 32> date_buffer{};
    res.header("ETag", etag)
        .header("Last-Modified", date_cache::format(*v.last_modified, date_buffer))
        .header("Cache-Control", is_content_hashed_name(name) ? o.immutable_cache_control : o.cache_control)
        .header("Accept-Ranges", "bytes");
    if (has_variants) res.header("Vary", "Accept-Encoding");

    auto fields = precondition_fields::from(req);
    switch (evaluate_preconditions(req.method(), fields, v)) {
    case precondition_outcome::not_modified: res.status(304); return;   // validators and caching fields only (§15.4.5)
    case precondition_outcome::precondition_failed: return Server::write_error(res, 412, "precondition failed");
    case precondition_outcome::proceed: break;
    }

    const std::uint64_t size = file.size();
    std::uint64_t first = 0, length = size;
    // Range is defined for GET only (§14.2); HEAD gets the 200 head.
    if (auto range = req.header("range"); range && req.method() == method::get && if_range_allows(fields.if_range, v, now)) {
        range_result r = parse_range(*range, size);
        if (r.status == range_status::unsatisfiable) {
            Server::write_error(res, 416, "range not satisfiable");
            res.header("Content-Range", content_range_unsatisfied(size));
            return;
        }
        if (r.status == range_status::satisfiable && r.ranges.size() == 1) {
            byte_range b = r.ranges.front();
            if (o.max_file_bytes > 0 && b.length() > o.max_file_bytes) b.last = b.first + o.max_file_bytes - 1;
            first = b.first;
            length = b.length();
            res.status(206).header("Content-Range", content_range(b, size));
        }
    }
    // Server errors start from a clean response: no 206 head or Content-Range left behind.
    auto server_error = [&](std::string_view message) {
        res.clear();
        Server::write_error(res, 500, message);
    };
    if (length > o.max_file_bytes) return server_error("file larger than static_options::max_file_bytes");

    res.content_type(mime_type_for(name)).header("X-Content-Type-Options", "nosniff");
    if (!coding.empty()) res.header("Content-Encoding", coding);
    if (req.method() == method::head) {
        // The response type has no way to announce a length without a body, and HEAD must
        // announce the GET's (RFC 9110 §9.3.2); the serializer never sends these bytes.
        res.body(std::string(static_cast<std::size_t>(length), '\0'));
        return;
    }
    auto bytes = file.read(first, static_cast<std::size_t>(length));
    if (!bytes) return server_error("file changed while being read");
    res.body(std::move(*bytes));
}

} // namespace detail

// Serves the files under `root` at `url_prefix` ("/static" serves root/app.js as
// "/static/app.js"; "" or "/" serves the whole site). Registers GET (and so HEAD) on
// "<prefix>/*". Throws std::invalid_argument when root is not a directory, at setup rather
// than on the first request.
template <class Server>
Server& serve_directory(Server& app, std::string_view url_prefix, std::filesystem::path root, static_options options = {}) {
    std::error_code ec;
    auto site = std::make_shared<detail::static_site>();
    site->root = std::filesystem::canonical(root, ec);
    if (ec || !std::filesystem::is_directory(site->root, ec))
        throw std::invalid_argument("tether: serve_directory root is not a directory: " + root.string());
    while (url_prefix.ends_with('/')) url_prefix.remove_suffix(1);
    if (!url_prefix.empty() && url_prefix.front() != '/')
        throw std::invalid_argument("tether: serve_directory prefix must start with '/'");
    site->prefix = std::string(url_prefix);
    site->options = std::move(options);
    app.get(site->prefix + "/*", [site](request& req, response& res) { detail::serve_static<Server>(*site, req, res); });
    return app;
}

} // namespace tether::http
