#pragma once
// A server's CPU time and memory, read from /proc, for load generators that sample the process they drive
// at the exact edges of a measured window (rather than a script polling on the side).
//   cpu_seconds:        utime + stime of the whole process, all threads (/proc/PID/stat fields 14 and 15, proc(5)),
//                       clock-tick resolution (usually 10 ms)
//   rss_kib:            VmRSS from /proc/PID/status
//   private_dirty_kib:  Private_Dirty from /proc/PID/smaps_rollup (memory only this process has written)
// A field that cannot be read is -1.

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace tether_bench {

struct proc_sample {
    double cpu_seconds = -1;  // utime + stime, all threads
    long rss_kib = -1;        // VmRSS
    long private_dirty_kib = -1;
};

inline long field_kib(const std::string& path, std::string_view name) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(name)) return std::strtol(line.c_str() + name.size(), nullptr, 10);
    return -1;
}

inline proc_sample sample_process(int pid) {
    proc_sample s;
    if (pid <= 0) return s;
    const std::string dir = "/proc/" + std::to_string(pid);
    std::ifstream stat(dir + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (const auto paren = text.rfind(')'); paren != std::string::npos) {
        // Fields after "(comm)": state is field 3, utime 14, stime 15 (proc(5)).
        std::vector<std::string_view> fields;
        std::string_view rest(text.c_str() + paren + 2);
        while (!rest.empty()) {
            const auto sp = rest.find(' ');
            fields.push_back(rest.substr(0, sp));
            rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        }
        if (fields.size() > 12) {
            const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
            s.cpu_seconds = (std::strtod(std::string(fields[11]).c_str(), nullptr) +
                             std::strtod(std::string(fields[12]).c_str(), nullptr)) / hz;
        }
    }
    s.rss_kib = field_kib(dir + "/status", "VmRSS:");
    s.private_dirty_kib = field_kib(dir + "/smaps_rollup", "Private_Dirty:");
    return s;
}


}  // namespace tether_bench
