// micro_bench: tether's codecs and hub in isolation (Google Benchmark). See benchmarks/README.md.
//   build/bench/benchmarks/micro/micro_bench --benchmark_min_time=0.2
//   build/bench/benchmarks/micro/micro_bench --benchmark_filter=ws_
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
