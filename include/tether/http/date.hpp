#pragma once
// The Date field (RFC 9110 §6.6.1) in IMF-fixdate form, formatted at most once per second per
// thread: every response carries it, and formatting a date costs more than serializing the
// rest of a small response. parse_http_date() reads the three HTTP-date forms back, for the
// conditional request fields (If-Modified-Since and friends).
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
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

    // The date now() last formatted, without reading the clock (now() when it never did): for the answers of a
    // batch of requests after now() at its start.
    std::string_view recent() noexcept {
        if (formatted_at_ < 0) [[unlikely]]
            return now();
        return {text_.data(), length};
    }

    // The second now() last formatted (-1 before the first call): what a response's Date names, for memos
    // of heads that hold it (head_memo.hpp).
    std::time_t second() const noexcept { return formatted_at_; }

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

namespace detail {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): pure
// arithmetic, so parsing depends neither on the TZ environment nor on timegm().
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr bool is_leap_year(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
    constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

// A small cursor over the field value; each read consumes exactly what the grammar says.
struct date_reader {
    std::string_view in;

    bool literal(std::string_view s) noexcept {
        if (!in.starts_with(s)) return false;
        in.remove_prefix(s.size());
        return true;
    }
    // Exactly n digits.
    bool digits(std::size_t n, unsigned& out) noexcept {
        if (in.size() < n) return false;
        out = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (in[i] < '0' || in[i] > '9') return false;
            out = out * 10 + static_cast<unsigned>(in[i] - '0');
        }
        in.remove_prefix(n);
        return true;
    }
    // One of `names` (case-sensitive, as the grammar's %s"..." strings are); its index.
    template <std::size_t N>
    bool one_of(const std::array<std::string_view, N>& names, unsigned& index) noexcept {
        for (std::size_t i = 0; i < N; ++i)
            if (literal(names[i])) {
                index = static_cast<unsigned>(i);
                return true;
            }
        return false;
    }
    bool time_of_day(unsigned& h, unsigned& m, unsigned& s) noexcept {
        return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, s);
    }
};

inline constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
inline constexpr std::array<std::string_view, 7> day_names = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
// rfc850's full names; parse_http_date tries them before day_names, which prefix them.
inline constexpr std::array<std::string_view, 7> day_names_long = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                                                   "Friday", "Saturday", "Sunday"};

} // namespace detail

// Parses an HTTP-date (RFC 9110 §5.6.7) in any of its three forms:
//   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"   (the one senders generate)
//   rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"  (obsolete; recipients MUST accept it)
//   asctime-date "Sun Nov  6 08:49:37 1994"         (obsolete; recipients MUST accept it)
// Returns seconds since the epoch, or nullopt for anything else, including out-of-range fields
// ("31 Feb") and trailing bytes: the conditional fields say to ignore a date that is not valid,
// and a lenient parse would turn garbage into a date that silently matches. The day name is
// checked for form, not against the date, as most recipients do. `now` is only used for
// rfc850's two-digit year: a year more than 50 years in the future means the most recent past
// year with the same last two digits (§5.6.7).
inline std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now = std::time(nullptr)) noexcept {
    detail::date_reader r{text};
    unsigned day_index = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
    std::int64_t full_year = 0;
    bool rfc850 = false;
    if (r.one_of(detail::day_names_long, day_index)) {   // rfc850-date
        if (!(r.literal(", ") && r.digits(2, day) && r.literal("-") && r.one_of(detail::month_names, month) &&
              r.literal("-") && r.digits(2, year) && r.literal(" ") && r.time_of_day(hour, minute, second) &&
              r.literal(" GMT")))
            return std::nullopt;
        std::tm tm_now{};
        gmtime_r(&now, &tm_now);
        const std::int64_t this_year = tm_now.tm_year + 1900;
        full_year = this_year - this_year % 100 + year;
        rfc850 = true;
    } else if (r.one_of(detail::day_names, day_index)) {
        if (r.literal(", ")) {   // IMF-fixdate
            if (!(r.digits(2, day) && r.literal(" ") && r.one_of(detail::month_names, month) && r.literal(" ") &&
                  r.digits(4, year) && r.literal(" ") && r.time_of_day(hour, minute, second) && r.literal(" GMT")))
                return std::nullopt;
        } else {   // asctime-date: the day is two digits or a space and one digit
            if (!(r.literal(" ") && r.one_of(detail::month_names, month) && r.literal(" "))) return std::nullopt;
            if (r.literal(" ")) {
                if (!r.digits(1, day)) return std::nullopt;
            } else if (!r.digits(2, day)) {
                return std::nullopt;
            }
            if (!(r.literal(" ") && r.time_of_day(hour, minute, second) && r.literal(" ") && r.digits(4, year)))
                return std::nullopt;
        }
        full_year = year;
    } else {
        return std::nullopt;
    }
    if (!r.in.empty()) return std::nullopt;
    ++month;   // index to 1..12
    // second 60: a leap second, which the grammar (via RFC 5322) allows.
    if (day < 1 || day > detail::days_in_month(full_year, month) || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    auto to_time = [&] {
        return static_cast<std::time_t>(detail::days_from_civil(full_year, month, day) * 86400 + hour * 3600 +
                                        minute * 60 + second);
    };
    if (rfc850 && to_time() > now + std::time_t{1577847600}) {   // 50 Gregorian years of seconds
        full_year -= 100;
        if (day > detail::days_in_month(full_year, month)) return std::nullopt;   // 29 Feb of a non-leap year
    }
    return to_time();
}

} // namespace tether::http
