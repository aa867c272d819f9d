// Parsing a 100 MB FreeBSD v5 log with this library's parser, beside splitting the same buffer
// into lines with memchr alone (the floor any line parser pays). See BENCHMARKS.md.
//
//   bazel run --config=opt //benchmarks:parse_benchmark

#include <cstdint>
#include <cstring>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/record_mix.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"

namespace benchmarks {
namespace {

constexpr size_t kLogBytes = 100 << 20;

const std::string& Log() {
  static const std::string* log = [] {
    RecordMix mix(4096);
    return new std::string(mix.Log(kLogBytes));
  }();
  return *log;
}

void BM_ParseLog(benchmark::State& state) {
  const std::string& log = Log();
  size_t records = 0;
  for (auto _ : state) {
    filemon::Parser parser(log, {});
    filemon::Record r;
    int64_t pids = 0;
    while (parser.Next(&r)) pids += r.pid;
    if (!parser.ok()) state.SkipWithError("parse error");
    benchmark::DoNotOptimize(pids);
    records = parser.line();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
  state.counters["lines"] = static_cast<double>(records);
}
BENCHMARK(BM_ParseLog)->Unit(benchmark::kMillisecond);

void BM_SplitLinesMemchr(benchmark::State& state) {
  const std::string& log = Log();
  for (auto _ : state) {
    const char* p = log.data();
    const char* const end = p + log.size();
    size_t lines = 0;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      if (nl == nullptr) break;
      p = nl + 1;
      ++lines;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
}
BENCHMARK(BM_SplitLinesMemchr)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace benchmarks

BENCHMARK_MAIN();
