#include "benchmarks/record_mix.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "filemon/core/record.h"
#include "filemon/core/writer.h"

namespace benchmarks {
namespace {

using filemon::Record;
using filemon::RecordKind;

constexpr const char* kDirs[] = {
    "/usr/include/",
    "/usr/lib/x86_64-linux-gnu/",
    "/usr/include/c++/12/bits/",
    "/home/build/src/proj/",
    "/tmp/",
    "/usr/lib/gcc/x86_64-linux-gnu/12/",
    "obj/",
    "/etc/",
    "../../third_party/abseil/",
};
constexpr const char kNameChars[] = "abcdefghijklmnopqrstuvwxyz_0123456789";

}  // namespace

RecordMix::RecordMix(size_t count) {
  std::mt19937_64 rng(42);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  // Path of 20..120 bytes: a directory, then name characters, then an extension.
  auto path = [&]() -> absl::string_view {
    const int length = uniform(20, 120);
    std::string p = kDirs[uniform(0, sizeof kDirs / sizeof kDirs[0] - 1)];
    while (static_cast<int>(p.size()) < length - 2) {
      p.push_back(kNameChars[uniform(0, sizeof kNameChars - 2)]);
      if (uniform(0, 15) == 0 && static_cast<int>(p.size()) < length - 4) p.push_back('/');
    }
    p.resize(static_cast<size_t>(length) - 2);
    p += ".h";
    paths_.push_back(std::move(p));
    return paths_.back();
  };
  // Percent of each kind in the mix (sums to 100).
  struct Share {
    RecordKind kind;
    int percent;
  };
  static constexpr Share kShares[] = {
      {RecordKind::kRead, 60}, {RecordKind::kWrite, 15}, {RecordKind::kExec, 5},
      {RecordKind::kFork, 5},  {RecordKind::kExit, 5},   {RecordKind::kAt, 3},
      {RecordKind::kChdir, 2}, {RecordKind::kDelete, 2}, {RecordKind::kMove, 2},
      {RecordKind::kLink, 1},
  };
  records_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const int64_t pid = uniform(1000, 999999);
    int pick = uniform(0, 99);
    RecordKind kind = RecordKind::kRead;
    for (const Share& share : kShares) {
      if (pick < share.percent) {
        kind = share.kind;
        break;
      }
      pick -= share.percent;
    }
    if (kind == RecordKind::kFork) {
      records_.push_back(Record::Fork(pid, uniform(1000, 999999)));
    } else if (kind == RecordKind::kExit) {
      records_.push_back(Record::Exit(pid, uniform(0, 3) == 0 ? uniform(1, 255) : 0, 0));
    } else if (filemon::HasTwoPaths(kind)) {
      const absl::string_view from = path();
      records_.push_back(Record::TwoPaths(kind, pid, from, path()));
    } else {
      records_.push_back(Record::Path(kind, pid, path()));
    }
  }
}

std::string RecordMix::Log(size_t bytes) const {
  std::string one;
  for (const Record& r : records_) filemon::AppendRecord(r, &one);
  std::string log;
  log.reserve(bytes + one.size());
  while (log.size() < bytes) log += one;
  return log;
}

}  // namespace benchmarks
