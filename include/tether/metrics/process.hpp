#pragma once
// The process's own figures, under the names every Prometheus client library's process collector
// uses (process_resident_memory_bytes, process_open_fds, ...), so existing dashboards and alerts
// work unchanged: which is why these, alone, do not carry the tether_ prefix.
//
// Read from the kernel on each scrape, on Linux: /proc/self/statm (memory), /proc/self/fd (one
// entry per open descriptor: a scrape costs O(descriptors), a few milliseconds at 10,000
// connections, like the Go client's), /proc/self/stat and /proc/stat (start time), getrlimit and
// getrusage. Elsewhere nothing is written. Nothing here is kept between scrapes.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <tether/metrics/text_format.hpp>

#if defined(__linux__)
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace tether::metrics {

struct process_sample {
    std::optional<std::uint64_t> resident_bytes, virtual_bytes, open_fds, max_fds;
    std::optional<double> cpu_seconds, start_time_seconds;   // start: seconds since the Unix epoch
};

namespace detail {

#if defined(__linux__)
// A small file from /proc, whole ("" when it cannot be read).
inline std::string read_proc_file(const char* path) {
    std::string text;
    if (std::FILE* f = std::fopen(path, "re")) {
        char buffer[4096];
        std::size_t n;
        while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
        std::fclose(f);
    }
    return text;
}

// The unsigned number at the start of `text` (after spaces), advancing past it.
inline std::optional<std::uint64_t> take_number(std::string_view& text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::uint64_t v = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) v = v * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (i == 0) return std::nullopt;
    text.remove_prefix(i);
    return v;
}

// Start time: field 22 of /proc/self/stat (clock ticks after boot) plus btime from /proc/stat
// (boot, in seconds since the epoch). The second field, the command, is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last ')'.
inline std::optional<double> start_time_seconds() {
    std::string stat = read_proc_file("/proc/self/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::string_view rest = std::string_view(stat).substr(close + 1);
    // Field 3 (state) is a letter; fields 4..22 are numbers (some may be negative, never these).
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) return std::nullopt;
    rest.remove_prefix(1);   // the state letter
    std::optional<std::uint64_t> ticks;
    for (int field = 4; field <= 22; ++field) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        if (!rest.empty() && rest.front() == '-') rest.remove_prefix(1);
        ticks = take_number(rest);
        if (!ticks) return std::nullopt;
    }
    std::string boot = read_proc_file("/proc/stat");
    auto at = boot.find("\nbtime ");
    if (at == std::string::npos) return std::nullopt;
    std::string_view btime = std::string_view(boot).substr(at + 7);
    auto boot_seconds = take_number(btime);
    long hz = ::sysconf(_SC_CLK_TCK);
    if (!boot_seconds || hz <= 0) return std::nullopt;
    return static_cast<double>(*boot_seconds) + static_cast<double>(*ticks) / static_cast<double>(hz);
}
#endif

} // namespace detail

inline process_sample sample_process() {
    process_sample s;
#if defined(__linux__)
    std::string statm = detail::read_proc_file("/proc/self/statm");
    std::string_view fields = statm;
    auto size = detail::take_number(fields), resident = detail::take_number(fields);
    long page = ::sysconf(_SC_PAGESIZE);
    if (size && resident && page > 0) {
        s.virtual_bytes = *size * static_cast<std::uint64_t>(page);
        s.resident_bytes = *resident * static_cast<std::uint64_t>(page);
    }
    if (DIR* d = ::opendir("/proc/self/fd")) {
        std::uint64_t n = 0;
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
        s.open_fds = n - 1;   // the directory stream's own descriptor is listed too
    }
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) s.max_fds = limit.rlim_cur;
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) == 0)
        s.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    s.start_time_seconds = detail::start_time_seconds();
#endif
    return s;
}

// The process_* families, each only when it could be read.
inline void write_process_metrics(text_writer& w, const process_sample& s) {
    auto gauge = [&](std::string_view name, std::string_view help, auto value) {
        if (!value) return;
        w.family(name, metric_type::gauge, help).sample(name, *value);
    };
    if (s.cpu_seconds)
        w.family("process_cpu_seconds_total", metric_type::counter, "Total user and system CPU time spent in seconds.")
            .sample("process_cpu_seconds_total", *s.cpu_seconds);
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.", s.resident_bytes);
    gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", s.virtual_bytes);
    gauge("process_open_fds", "Number of open file descriptors.", s.open_fds);
    gauge("process_max_fds", "Maximum number of open file descriptors.", s.max_fds);
    gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", s.start_time_seconds);
}

} // namespace tether::metrics
