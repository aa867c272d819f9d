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
  records_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const int64_t pid = uniform(1000, 999999);
    const int pick = uniform(0, 99);
    if (pick < 60) {
      records_.push_back(Record::Path(RecordKind::kRead, pid, path()));
    } else if (pick < 75) {
      records_.push_back(Record::Path(RecordKind::kWrite, pid, path()));
    } else if (pick < 80) {
      records_.push_back(Record::Path(RecordKind::kExec, pid, path()));
    } else if (pick < 85) {
      records_.push_back(Record::Fork(pid, uniform(1000, 999999)));
    } else if (pick < 90) {
      records_.push_back(Record::Exit(pid, uniform(0, 3) == 0 ? uniform(1, 255) : 0, 0));
    } else if (pick < 93) {
      records_.push_back(Record::Path(RecordKind::kAt, pid, path()));
    } else if (pick < 95) {
      records_.push_back(Record::Path(RecordKind::kChdir, pid, path()));
    } else if (pick < 97) {
      records_.push_back(Record::Path(RecordKind::kDelete, pid, path()));
    } else if (pick < 99) {
      const absl::string_view from = path();
      records_.push_back(Record::TwoPaths(RecordKind::kMove, pid, from, path()));
    } else {
      const absl::string_view from = path();
      records_.push_back(Record::TwoPaths(RecordKind::kLink, pid, from, path()));
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
