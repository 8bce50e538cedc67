#pragma once
// The Date field (RFC 9110 §6.6.1) in IMF-fixdate form, formatted at most once per second per
// thread: every response carries it, and formatting a date costs more than serializing the
// rest of a small response.
#include <array>
#include <cstdio>
#include <ctime>
#include <string_view>

namespace tether::http {

class date_cache {
public:
    // "Sun, 06 Nov 1994 08:49:37 GMT" for the current second.
    std::string_view now() noexcept {
        std::time_t t = std::time(nullptr);
        if (t != formatted_at_) format(t);
        return {text_.data(), length};
    }

    static std::string_view format(std::time_t t, std::array<char, 32>& out) noexcept {
        static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::snprintf(out.data(), out.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                      months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        return {out.data(), length};
    }

    static date_cache& for_this_thread() noexcept {
        thread_local date_cache cache;
        return cache;
    }

    static constexpr std::size_t length = 29;

private:
    void format(std::time_t t) noexcept {
        format(t, text_);
        formatted_at_ = t;
    }

    std::array<char, 32> text_{};
    std::time_t formatted_at_ = -1;
};

} // namespace tether::http
