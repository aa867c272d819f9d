// File: filemon/backends/preload/probe_set.h
//
// The interposer's half of "one N per (pid, path)" (TraceOptions::probes): a set of the probe
// records a process image has already sent, so that a program looking for the same absent
// file again and again (a compiler's include search, a shell's `test -f`) costs one pipe write
// per path, not one per lookup. The supervisor keeps the exact rule (a pid's probes across
// its execs, a set that filled up; preload_backend.cc): this set only saves the sends, and
// when in doubt it says "new".
//
// Keys are 64-bit hashes of a record's bytes (its pid and its path as written), kept in a
// fixed table the caller provides: no allocation, no lock (a slot is claimed with one
// compare-and-swap), async-signal-safe. Two different records with the same hash would lose
// the second one's N: with 64-bit hashes and the table's few thousand entries the chance is
// about one in 10^12 per process.
//
// Example:
//   static uint64_t slots[ProbeSet::kMinSlots];
//   ProbeSet set(slots, ProbeSet::kMinSlots);
//   if (set.FirstTime(ProbeSet::Hash(bytes, size))) Send(bytes, size);

#ifndef FILEMON_BACKENDS_PRELOAD_PROBE_SET_H_
#define FILEMON_BACKENDS_PRELOAD_PROBE_SET_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace filemon {
namespace preload_internal {

class ProbeSet {
 public:
  // The smallest table; a table's size must be a power of two.
  static constexpr size_t kMinSlots = 64;

  // `slots`: `count` zeroed words that outlive the set (count a power of two, >= kMinSlots).
  ProbeSet(std::atomic<uint64_t>* slots, size_t count) : slots_(slots), mask_(count - 1) {}
  ProbeSet(const ProbeSet&) = delete;
  ProbeSet& operator=(const ProbeSet&) = delete;

  // A well-mixed 64-bit hash of `size` bytes, never 0 (0 marks a free slot).
  static uint64_t Hash(const void* data, size_t size);

  // True if `hash` was not in the set (it is now), or if the set is too full to tell: the
  // caller sends then. False if it was there already.
  bool FirstTime(uint64_t hash);

 private:
  std::atomic<uint64_t>* const slots_;
  const size_t mask_;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PROBE_SET_H_
