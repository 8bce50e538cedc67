// The Prometheus text format writer (metrics/text_format.hpp) and the per-thread values it reads
// (metrics/per_thread.hpp, metrics/thread_metrics.hpp): escaping, Go's float spelling, cumulative
// histogram buckets, status classes and close-code slots. The integration test (metrics_test.cpp)
// runs promtool on a real scrape; these pin the details promtool does not look at.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>

#include <tether/metrics/text_format.hpp>
#include <tether/metrics/thread_metrics.hpp>

using namespace tether::metrics;

namespace {
std::string metrics_float_text(double v) {
    std::string out;
    append_value(out, v);
    return out;
}
struct metrics_three_bounds {
    static constexpr std::array<std::uint64_t, 3> upper_ns{1'000'000, 10'000'000, 100'000'000};
};
} // namespace

TEST_CASE("metrics text: HELP and label values are escaped as the 0.0.4 format says") {
    std::string out;
    text_writer w(out);
    w.family("t_total", metric_type::counter, "back\\slash and\nnew line \"quotes\" stay")
        .sample("t_total", {{"path", "a\\b\"c\nd"}}, std::uint64_t{3});
    CHECK(out == "# HELP t_total back\\\\slash and\\nnew line \"quotes\" stay\n"
                 "# TYPE t_total counter\n"
                 "t_total{path=\"a\\\\b\\\"c\\nd\"} 3\n");
}

TEST_CASE("metrics text: floats are spelled as Go's FormatFloat(v, 'g', -1, 64)") {
    CHECK(metrics_float_text(0.0001) == "0.0001");
    CHECK(metrics_float_text(0.00001) == "1e-05");
    CHECK(metrics_float_text(0.25) == "0.25");
    CHECK(metrics_float_text(2.5) == "2.5");
    CHECK(metrics_float_text(10) == "10");
    CHECK(metrics_float_text(250000) == "250000");
    CHECK(metrics_float_text(1e6) == "1e+06");
    CHECK(metrics_float_text(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(metrics_float_text(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(metrics_float_text(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    std::string gauge;
    append_value(gauge, std::int64_t{-3});
    CHECK(gauge == "-3");
}

TEST_CASE("metrics text: a histogram's buckets are cumulative, end with +Inf equal to _count, sum in seconds") {
    histogram<metrics_three_bounds> h;
    h.observe(1'000'000);     // on a bound: that bucket (le is "less than or equal")
    h.observe(5'000'000);
    h.observe(5'000'000);
    h.observe(2'000'000'000);   // over every bound: +Inf only
    histogram<metrics_three_bounds>::snapshot s;
    h.add_to(s);
    CHECK(s.count() == 4);
    std::string out;
    text_writer w(out);
    w.family("d_seconds", metric_type::histogram, "d").histogram<metrics_three_bounds>("d_seconds", {{"route", "/x"}}, s);
    CHECK(out == "# HELP d_seconds d\n# TYPE d_seconds histogram\n"
                 "d_seconds_bucket{route=\"/x\",le=\"0.001\"} 1\n"
                 "d_seconds_bucket{route=\"/x\",le=\"0.01\"} 3\n"
                 "d_seconds_bucket{route=\"/x\",le=\"0.1\"} 3\n"
                 "d_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                 "d_seconds_sum{route=\"/x\"} 2.011\n"
                 "d_seconds_count{route=\"/x\"} 4\n");
}

TEST_CASE("metrics: names, status classes, close-code slots") {
    CHECK(is_metric_name("tether_http_requests_total"));
    CHECK(is_metric_name("a:b"));
    CHECK_FALSE(is_metric_name("1abc"));
    CHECK_FALSE(is_metric_name("a-b"));
    CHECK(is_label_name("route"));
    CHECK_FALSE(is_label_name("__name__"));
    CHECK_FALSE(is_label_name("a:b"));

    CHECK(request_table::status_class(101) == 0);
    CHECK(request_table::status_class(204) == 1);
    CHECK(request_table::status_class(304) == 2);
    CHECK(request_table::status_class(404) == 3);
    CHECK(request_table::status_class(503) == 4);

    CHECK(close_code_label(close_code_slot(1000)) == "1000");
    CHECK(close_code_label(close_code_slot(1015)) == "1015");
    CHECK(close_code_label(close_code_slot(3001)) == "3000-3999");
    CHECK(close_code_label(close_code_slot(4999)) == "4000-4999");
    CHECK(close_code_label(close_code_slot(1016)) == "other");
    CHECK(close_code_label(close_code_slot(2000)) == "other");
}

TEST_CASE("metrics: a request table counts by route, method and status class; routes it has no row for are row 0") {
    request_table t;
    CHECK_FALSE(t.enabled());
    t.size_for(2);
    REQUIRE(t.size() == 3);
    t.observe(1, tether::http::method::get, 200, 1000);
    t.observe(1, tether::http::method::get, 201, 1000);
    t.observe(2, tether::http::method::post, 500, 1000);
    t.observe(7, tether::http::method::get, 404, 1000);   // registered after the server started
    auto at = [&](std::size_t route, tether::http::method m, std::size_t cls) {
        return t.row(route).answered[static_cast<std::size_t>(m) * request_table::classes + cls].value();
    };
    CHECK(at(1, tether::http::method::get, 1) == 2);
    CHECK(at(2, tether::http::method::post, 4) == 1);
    CHECK(at(0, tether::http::method::get, 3) == 1);
    histogram<latency_buckets>::snapshot s;
    t.row(1).duration.add_to(s);
    CHECK(s.count() == 2);
    CHECK(s.sum_ns == 2000);
}
