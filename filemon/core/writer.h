// File: filemon/core/writer.h
//
// Formats records as FreeBSD filemon(4) v5 text, byte for byte (format strings in
// filemon/core/log_format.md), into a buffer flushed to a file descriptor.
//
// Hot path: `Add()` allocates nothing and calls no printf: integers are formatted by hand,
// paths are copied with their known length, and one `write(2)` is issued per buffer flush
// (or per record with `FlushPolicy::kEveryRecord`). Only a record longer than the whole buffer
// (`WriterOptions::buffer_size`) is formatted on the heap.
//
// Paths that cannot be written faithfully (a '\n' in any path; a '\'' in an L/M path) are
// escaped by the rule in log_format.md ("Escaped paths"), which `Parser` reverses.
//
// Example:
//   filemon::Writer w(fd, {});
//   w.WriteHeader(getpid(), absl::Now());
//   w.Add(filemon::Record::Path(filemon::RecordKind::kRead, pid, "/etc/motd"));
//   w.WriteFooter(absl::Now());
//   absl::Status s = w.Close();  // first write error, if any (ENOSPC, EBADF, ...)

#ifndef FILEMON_CORE_WRITER_H_
#define FILEMON_CORE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"

namespace filemon {

// The version the writer produces.
inline constexpr int kFilemonVersion = 5;

// Upper bound of `FormatRecord`'s output for `record` (escaping included).
size_t MaxFormattedSize(const Record& record);

// Formats one record (any kind, comments included) as its log line, newline included, into
// `out`. REQUIRES: `out` has room for `MaxFormattedSize(record)` bytes. Returns the number of
// bytes written. Allocates nothing; async-signal-safe (the preload interposer calls it).
size_t FormatRecord(const Record& record, char* out);

// Appends the formatted record to `*out` (convenience for tests and in-memory logs).
void AppendRecord(const Record& record, std::string* out);

enum class FlushPolicy {
  kWhenFull,     // write(2) when the buffer fills, and on Flush()/Close()
  kEveryRecord,  // write(2) after every record: for a log shared by several writers (O_APPEND)
};

struct WriterOptions {
  FlushPolicy flush = FlushPolicy::kWhenFull;
  size_t buffer_size = 64 * 1024;
  // Close the fd in Close().
  bool own_fd = false;
};

// Not thread-safe. Failure is sticky: the first error is kept, later records are dropped, and
// `Close()` returns it, as filemon's close(2) does.
class Writer : public RecordSink {
 public:
  // `fd` must stay open until `Close()`.
  Writer(int fd, WriterOptions options);
  Writer(const Writer&) = delete;  // owns a buffer and maybe an fd
  Writer& operator=(const Writer&) = delete;
  ~Writer() override;  // Close()s if not closed; the status is lost

  // "# filemon version 5\n# Target pid %d\n# Start %ju.%06ju\nV 5\n".
  void WriteHeader(int64_t target_pid, absl::Time start);
  // "# Stop %ju.%06ju\n# Bye bye\n".
  void WriteFooter(absl::Time stop);

  void Add(const Record& record) override;
  absl::Status Flush() override;
  absl::Status status() const override { return status_; }

  // Flushes, closes the fd if owned, returns the first error. Idempotent.
  absl::Status Close();

 private:
  bool FlushBuffer();
  void Fail(int error_number, absl::string_view operation);

  int fd_;
  OwnedFd owned_;  // `fd_` when WriterOptions::own_fd
  WriterOptions options_;
  std::unique_ptr<char[]> buffer_;
  size_t used_ = 0;
  bool closed_ = false;
  absl::Status status_;
};

}  // namespace filemon

#endif  // FILEMON_CORE_WRITER_H_
