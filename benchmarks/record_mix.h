// File: benchmarks/record_mix.h
//
// A realistic, deterministic mix of filemon records for the core benchmarks: what a compiler
// job logs (mostly R of headers and libraries, some W, E, F, X, a few A C D L M), with paths of
// 20 to 120 bytes and 4- to 6-digit pids.
//
// Example:
//   benchmarks::RecordMix mix(4096);
//   for (const filemon::Record& r : mix.records()) ...

#ifndef BENCHMARKS_RECORD_MIX_H_
#define BENCHMARKS_RECORD_MIX_H_

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "filemon/core/record.h"

namespace benchmarks {

class RecordMix {
 public:
  // `count` records from a fixed seed.
  explicit RecordMix(size_t count);
  RecordMix(const RecordMix&) = delete;  // records point into paths_
  RecordMix& operator=(const RecordMix&) = delete;

  const std::vector<filemon::Record>& records() const { return records_; }

  // The records' FreeBSD text repeated until it holds at least `bytes` bytes (whole lines).
  std::string Log(size_t bytes) const;

 private:
  std::deque<std::string> paths_;
  std::vector<filemon::Record> records_;
};

}  // namespace benchmarks

#endif  // BENCHMARKS_RECORD_MIX_H_
