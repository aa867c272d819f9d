// Formatting records as FreeBSD v5 text: this library's writer against snprintf with the
// kernel's own format strings (how filemon(4) does it) and against a plain memcpy +
// naive-integer loop, on the same mix of records. See BENCHMARKS.md.
//
//   bazel run --config=opt //benchmarks:format_benchmark

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "benchmark/benchmark.h"
#include "benchmarks/record_mix.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"

namespace benchmarks {
namespace {

using filemon::Record;
using filemon::RecordKind;

constexpr size_t kRecords = 4096;
constexpr size_t kBufferSize = 1 << 20;
constexpr size_t kMaxLine = 1024;  // longer than any line of the mix

const RecordMix& Mix() {
  static const RecordMix* mix = new RecordMix(kRecords);
  return *mix;
}

// Runs `format(record, out) -> bytes` over the mix into a 1 MiB buffer, as a writer would.
template <typename Format>
void Run(benchmark::State& state, Format format) {
  const std::vector<Record>& records = Mix().records();
  std::unique_ptr<char[]> buffer(new char[kBufferSize]);
  size_t used = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const Record& r : records) {
      if (kBufferSize - used < kMaxLine) {
        bytes += static_cast<int64_t>(used);
        used = 0;
      }
      used += format(r, buffer.get() + used);
    }
    benchmark::DoNotOptimize(buffer.get());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
  state.SetBytesProcessed(bytes + static_cast<int64_t>(used));
}

void BM_FormatRecords(benchmark::State& state) {
  Run(state, [](const Record& r, char* out) { return filemon::FormatRecord(r, out); });
}
BENCHMARK(BM_FormatRecords);

// The kernel's way: one snprintf per record with filemon_wrapper.c's format strings.
size_t FormatSnprintf(const Record& r, char* out) {
  const int pid = static_cast<int>(r.pid);
  int n = 0;
  switch (r.kind) {
    case RecordKind::kFork:
      n = snprintf(out, kMaxLine, "F %d %d\n", pid, static_cast<int>(r.child_pid));
      break;
    case RecordKind::kExit:
      n = snprintf(out, kMaxLine, "X %d %d %d\n", pid, static_cast<int>(r.status),
                   static_cast<int>(r.signal));
      break;
    case RecordKind::kLink:
    case RecordKind::kMove:
      n = snprintf(out, kMaxLine, "%c %d '%.*s' '%.*s'\n", filemon::RecordLetter(r.kind), pid,
                   static_cast<int>(r.path.size()), r.path.data(), static_cast<int>(r.path2.size()),
                   r.path2.data());
      break;
    case RecordKind::kRead:
    case RecordKind::kWrite:
      n = snprintf(out, kMaxLine, "%c %d %s%s%.*s\n", filemon::RecordLetter(r.kind), pid, "", "",
                   static_cast<int>(r.path.size()), r.path.data());
      break;
    default:
      n = snprintf(out, kMaxLine, "%c %d %.*s\n", filemon::RecordLetter(r.kind), pid,
                   static_cast<int>(r.path.size()), r.path.data());
      break;
  }
  return static_cast<size_t>(n);
}

void BM_FormatRecordsSnprintf(benchmark::State& state) { Run(state, FormatSnprintf); }
BENCHMARK(BM_FormatRecordsSnprintf);

// A plain loop: memcpy of the path and a digit-at-a-time integer, with no escape check.
char* NaiveInt(int64_t v, char* p) {
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

size_t FormatNaive(const Record& r, char* out) {
  char* p = out;
  *p++ = filemon::RecordLetter(r.kind);
  *p++ = ' ';
  p = NaiveInt(r.pid, p);
  *p++ = ' ';
  switch (r.kind) {
    case RecordKind::kFork:
      p = NaiveInt(r.child_pid, p);
      break;
    case RecordKind::kExit:
      p = NaiveInt(r.status, p);
      *p++ = ' ';
      p = NaiveInt(r.signal, p);
      break;
    case RecordKind::kLink:
    case RecordKind::kMove:
      *p++ = '\'';
      std::memcpy(p, r.path.data(), r.path.size());
      p += r.path.size();
      *p++ = '\'';
      *p++ = ' ';
      *p++ = '\'';
      std::memcpy(p, r.path2.data(), r.path2.size());
      p += r.path2.size();
      *p++ = '\'';
      break;
    default:
      std::memcpy(p, r.path.data(), r.path.size());
      p += r.path.size();
      break;
  }
  *p++ = '\n';
  return static_cast<size_t>(p - out);
}

void BM_FormatRecordsMemcpyNaive(benchmark::State& state) { Run(state, FormatNaive); }
BENCHMARK(BM_FormatRecordsMemcpyNaive);

// The same output from the three (checked once, outside the timing).
[[maybe_unused]] const bool kSameOutput = [] {
  char a[kMaxLine], b[kMaxLine], c[kMaxLine];
  for (const Record& r : Mix().records()) {
    const size_t na = filemon::FormatRecord(r, a), nb = FormatSnprintf(r, b),
                 nc = FormatNaive(r, c);
    if (na != nb || na != nc || std::memcmp(a, b, na) != 0 || std::memcmp(a, c, na) != 0) {
      std::fprintf(stderr, "format_benchmark: formatters disagree on %.*s\n", static_cast<int>(na),
                   a);
      std::abort();
    }
  }
  return true;
}();

}  // namespace
}  // namespace benchmarks

BENCHMARK_MAIN();
