#pragma once
// Writes Prometheus's text exposition format, version 0.0.4 (the format every Prometheus server
// and agent scrapes; "Exposition formats" in the Prometheus documentation), with no I/O inside:
// the caller gives a string, and serves it with `content_type`.
//
//   # HELP tether_http_requests_total HTTP requests answered, by route pattern, method and status class.
//   # TYPE tether_http_requests_total counter
//   tether_http_requests_total{route="/items/:id",method="GET",status="2xx"} 42
//
// The rules it keeps, from that specification:
// - a family is a `# HELP` line, a `# TYPE` line, then all its samples, contiguous; one TYPE per name;
// - in HELP text a backslash is written `\\` and a line feed `\n`; in a label value also a double
//   quote is written `\"` (nothing else is escaped: values are UTF-8);
// - values are Go float literals: integers as digits, other numbers as Go's FormatFloat writes
//   them (append_value), and `+Inf`, `-Inf`, `NaN`;
// - a histogram is cumulative `_bucket` samples with an `le` label, ascending and ending with
//   `le="+Inf"`, which equals `_count`, then `_sum` and `_count`;
// - every line, the last one included, ends with a line feed.
// Metric and label names are the writer's own constants, checked in debug builds
// (is_metric_name, is_label_name). Why not OpenMetrics: Prometheus asks for it only when the
// scraper negotiates it, and 0.0.4 is what every scraper reads.
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <tether/metrics/per_thread.hpp>

namespace tether::metrics {

inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

enum class metric_type : unsigned char { counter, gauge, histogram };

struct label {
    std::string_view name;
    std::string_view value;
};

// [a-zA-Z_:][a-zA-Z0-9_:]*
constexpr bool is_metric_name(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus's own labels).
constexpr bool is_label_name(std::string_view s) noexcept {
    if (s.empty() || s.substr(0, 2) == "__") return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

// HELP text: `\` and line feed escaped.
inline void append_escaped_help(std::string& out, std::string_view text) {
    for (char c : text) {
        if (c == '\\') out.append("\\\\");
        else if (c == '\n') out.append("\\n");
        else out.push_back(c);
    }
}

// A label value: `\`, `"` and line feed escaped.
inline void append_escaped_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\') out.append("\\\\");
        else if (c == '"') out.append("\\\"");
        else if (c == '\n') out.append("\\n");
        else out.push_back(c);
    }
}

inline void append_value(std::string& out, std::uint64_t v) {
    char text[24];
    out.append(text, std::to_chars(text, text + sizeof text, v).ptr);
}
inline void append_value(std::string& out, std::int64_t v) {
    char text[24];
    out.append(text, std::to_chars(text, text + sizeof text, v).ptr);
}
// Floats as Go's strconv.FormatFloat(v, 'g', -1, 64) writes them, which is what Prometheus's own
// client libraries write: the shortest digits that read back as `v`, in exponent form when the
// exponent is below -4 or at least 6 ("1e-05", "0.0001", "250000", "1e+06"). It matters for `le`:
// a label value is a string, and a query that names a bucket names it as Go prints it.
inline void append_value(std::string& out, double v) {
    if (std::isnan(v)) return void(out.append("NaN"));
    if (std::isinf(v)) return void(out.append(v > 0 ? "+Inf" : "-Inf"));
    char text[40];
    char* end = std::to_chars(text, text + sizeof text, v, std::chars_format::scientific).ptr;
    std::string_view scientific(text, static_cast<std::size_t>(end - text));
    int exponent = 0;
    auto e = scientific.find('e');
    std::from_chars(scientific.data() + e + (scientific[e + 1] == '+' ? 2 : 1), end, exponent);
    if (exponent < -4 || exponent >= 6) return void(out.append(scientific));
    out.append(text, std::to_chars(text, text + sizeof text, v, std::chars_format::fixed).ptr);
}

class text_writer {
public:
    explicit text_writer(std::string& out) noexcept : out_(out) {}

    // Starts a family: its HELP and TYPE lines. Its samples follow, before the next family.
    text_writer& family(std::string_view name, metric_type type, std::string_view help) {
        assert(is_metric_name(name));
        out_.append("# HELP ").append(name).push_back(' ');
        append_escaped_help(out_, help);
        out_.append("\n# TYPE ").append(name).push_back(' ');
        out_.append(type == metric_type::counter ? "counter" : type == metric_type::gauge ? "gauge" : "histogram");
        out_.push_back('\n');
        return *this;
    }

    template <class Value>
    text_writer& sample(std::string_view name, std::initializer_list<label> labels, Value value) {
        return sample_with(name, labels, {}, value);
    }
    template <class Value>
    text_writer& sample(std::string_view name, Value value) {
        return sample_with(name, {}, {}, value);
    }

    // One histogram's samples (the family was started with metric_type::histogram): cumulative
    // `_bucket`s for each bound of Buckets (nanoseconds, written in seconds) and +Inf, then `_sum`
    // (seconds) and `_count`.
    template <class Buckets>
    text_writer& histogram(std::string_view name, std::initializer_list<label> labels,
                           const histogram_snapshot<Buckets::upper_ns.size()>& s) {
        std::string& bucket = scratch_name(name, "_bucket");
        std::uint64_t cumulative = 0;
        std::string le;
        for (std::size_t i = 0; i < Buckets::upper_ns.size(); ++i) {
            cumulative += s.buckets[i];
            le.clear();
            append_value(le, static_cast<double>(Buckets::upper_ns[i]) / 1e9);
            sample_with(bucket, labels, {"le", le}, cumulative);
        }
        cumulative += s.buckets.back();
        sample_with(bucket, labels, {"le", "+Inf"}, cumulative);
        sample_with(scratch_name(name, "_sum"), labels, {}, static_cast<double>(s.sum_ns) / 1e9);
        sample_with(scratch_name(name, "_count"), labels, {}, cumulative);
        return *this;
    }

private:
    template <class Value>
    text_writer& sample_with(std::string_view name, std::initializer_list<label> labels, label extra, Value value) {
        assert(is_metric_name(name));
        out_.append(name);
        bool first = true;
        auto put = [&](const label& l) {
            assert(is_label_name(l.name));
            out_.push_back(first ? '{' : ',');
            first = false;
            out_.append(l.name).append("=\"");
            append_escaped_label_value(out_, l.value);
            out_.push_back('"');
        };
        for (const auto& l : labels) put(l);
        if (!extra.name.empty()) put(extra);
        if (!first) out_.push_back('}');
        out_.push_back(' ');
        append_value(out_, value);
        out_.push_back('\n');
        return *this;
    }

    std::string& scratch_name(std::string_view base, std::string_view suffix) {
        name_.assign(base).append(suffix);
        return name_;
    }

    std::string& out_;
    std::string name_;
};

} // namespace tether::metrics
