#pragma once
// A server's connections are descriptors, and the soft limit a process starts with (often 1024)
// is far below what it may use (the hard limit, often 2^20 or a container's cap). Raising the soft
// limit to the hard one needs no privilege (setrlimit(2)), so the server does it at listen() and
// sizes its connection budget (net/admission.hpp) from the result rather than failing at accept.
#include <sys/resource.h>

#include <cstddef>
#include <string>

namespace tether::net {

// Raises RLIMIT_NOFILE's soft limit to the hard one, telling `note` when it did, and returns the
// limit in force afterwards (1024 when it cannot be read; 2^20 standing for "unlimited").
template <class Note>
std::size_t raise_descriptor_limit(Note&& note) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            note("raised the descriptor limit from " + std::to_string(limit.rlim_cur) + " to " + std::to_string(raised.rlim_cur));
            limit = raised;
        }
    }
    return limit.rlim_cur == RLIM_INFINITY ? std::size_t{1} << 20 : static_cast<std::size_t>(limit.rlim_cur);
}

} // namespace tether::net
