// File: filemon/core/open_rule.h
//
// FreeBSD filemon(4)'s records for an open(2)/openat(2) that succeeded, by its flags, for every
// backend that sees the flags (the ptrace decoder, the preload interposer): `R` when the access
// mode includes O_RDWR, then `W` for any write access (O_WRONLY or O_RDWR), else `R`. So
// O_RDONLY gives `R`, O_WRONLY `W`, O_RDWR `R` then `W`. Only the access mode counts: O_CREAT,
// O_TRUNC, O_APPEND, O_EXCL and the other flags add nothing (an O_RDONLY|O_TRUNC open is an
// `R`, an O_WRONLY|O_CREAT one a `W`). See log_format.md, "R/W".
//
// libc-only, header-only, async-signal-safe: the interposer includes it.
//
// Example:
//   ForEachOpenRecord(flags, [&](OpenRecord r) { Add(r == OpenRecord::kRead ? 'R' : 'W'); });

#ifndef FILEMON_CORE_OPEN_RULE_H_
#define FILEMON_CORE_OPEN_RULE_H_

#include <fcntl.h>

#include <cstdint>

namespace filemon {

enum class OpenRecord { kRead, kWrite };

// The records of an open with `flags`, in the log's order.
struct OpenRecords {
  int count;  // 1 or 2
  OpenRecord kinds[2];
};
constexpr OpenRecords OpenRecordsOf(uint64_t flags) {
  const OpenRecord last = (flags & O_ACCMODE) != 0 ? OpenRecord::kWrite : OpenRecord::kRead;
  if (flags & O_RDWR) return OpenRecords{2, {OpenRecord::kRead, last}};
  return OpenRecords{1, {last, last}};
}

// Calls `fn(OpenRecord)` once per record of an open with `flags`, in the log's order.
template <typename Fn>
inline void ForEachOpenRecord(uint64_t flags, Fn fn) {
  const OpenRecords records = OpenRecordsOf(flags);
  if (records.count == 2) fn(records.kinds[0]);
  fn(records.kinds[records.count - 1]);
}

}  // namespace filemon

#endif  // FILEMON_CORE_OPEN_RULE_H_
