#pragma once
// A latency histogram for load generators: log-linear buckets (exact below 128, then 128 sub-buckets per power
// of two, so any recorded value is within 1 % of its bucket's bound), fixed size (~59 KiB), no allocation, O(1)
// record. The same idea as HdrHistogram, cut down to what a benchmark report needs: quantiles and the maximum.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace tether_bench {

class histogram {
public:
    void record(std::uint64_t ns) {
        ++counts_[index(ns)];
        ++total_;
        max_ = std::max(max_, ns);
    }
    [[nodiscard]] std::uint64_t total() const { return total_; }
    [[nodiscard]] std::uint64_t max() const { return max_; }
    void clear() { *this = histogram{}; }
    // The upper bound of the bucket holding the q-quantile.
    [[nodiscard]] std::uint64_t quantile(double q) const {
        if (total_ == 0) return 0;
        const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(upper(i), max_);
        }
        return max_;
    }

private:
    static constexpr unsigned sub_bits = 7;
    static std::size_t index(std::uint64_t v) {
        if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
        const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
        const unsigned shift = msb - sub_bits;
        return ((shift + 1) << sub_bits) + static_cast<std::size_t>((v >> shift) & ((1u << sub_bits) - 1));
    }
    static std::uint64_t upper(std::size_t i) {
        if (i < (1u << sub_bits)) return i;
        const std::size_t shift = (i >> sub_bits) - 1;
        const std::uint64_t sub = i & ((1u << sub_bits) - 1);
        return (((std::uint64_t{1} << sub_bits) | sub) + 1) << shift;
    }
    std::array<std::uint64_t, (64 - sub_bits + 1) << sub_bits> counts_{};
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};


}  // namespace tether_bench
