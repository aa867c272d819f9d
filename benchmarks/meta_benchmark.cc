// Checks a generated .meta of 1,000,000 filemon records (benchmarks/meta_gen.h), as
// `filemon-meta check` does: read, parse with core's parser, resolve and stat each distinct
// path once. Run: bazel run --config=opt //benchmarks:meta_benchmark
// The files go under $FILEMON_BENCH_DIR (default $HOME/.cache/filemon-bench), not /tmp.

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/meta_gen.h"
#include "filemon/core/parser.h"
#include "filemon/meta/checker.h"

namespace {

std::string BenchRoot(absl::string_view name) {
  const char* dir = std::getenv("FILEMON_BENCH_DIR");
  const char* home = std::getenv("HOME");
  return absl::StrCat(
      dir != nullptr ? dir : absl::StrCat(home ? home : ".", "/.cache/filemon-bench"), "/", name);
}

const filemon_bench::GeneratedMeta& Generated() {
  static const filemon_bench::GeneratedMeta* g = [] {
    absl::StatusOr<filemon_bench::GeneratedMeta> r =
        filemon_bench::GenerateMeta(BenchRoot("meta_benchmark"), 1000000, 20000, 5000, false);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      std::abort();
    }
    return new filemon_bench::GeneratedMeta(*r);
  }();
  return *g;
}

filemon::meta::Checker MakeChecker(const filemon_bench::GeneratedMeta& g) {
  filemon::meta::CheckOptions options;
  options.cwd = g.objdir;
  options.target = g.target;
  options.commands = std::vector<filemon::meta::CurrentCommand>{{g.command, true}};
  absl::StatusOr<filemon::meta::Checker> checker = filemon::meta::Checker::Create(options);
  if (!checker.ok()) std::abort();
  return std::move(*checker);
}

// The whole check of the file: read, parse, stat, decide; with 1 thread, and with 2 (the
// parallel classification pass). Real time: the second thread's work is not in CPU time.
void BM_CheckFile(benchmark::State& state) {
  const filemon_bench::GeneratedMeta& g = Generated();
  const filemon::meta::Checker checker = MakeChecker(g);
  for (auto _ : state) {
    absl::StatusOr<filemon::meta::Decision> d =
        checker.CheckFileWith(g.meta_path, static_cast<int>(state.range(0)));
    if (!d.ok() || d->out_of_date) state.SkipWithError("expected up to date");
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations() * g.records);
  state.SetBytesProcessed(state.iterations() * g.bytes);
}
BENCHMARK(BM_CheckFile)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// For scale: the core parser alone over the same bytes.
void BM_CoreParserOnly(benchmark::State& state) {
  const filemon_bench::GeneratedMeta& g = Generated();
  absl::StatusOr<filemon::MappedFile> file = filemon::MappedFile::Open(g.meta_path);
  if (!file.ok()) std::abort();
  for (auto _ : state) {
    filemon::Parser parser(file->data(), {false, "bench"});
    filemon::Record r;
    size_t n = 0;
    while (parser.Next(&r)) ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * g.records);
  state.SetBytesProcessed(state.iterations() * g.bytes);
}
BENCHMARK(BM_CoreParserOnly)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
