// File: filemon/meta/meta_read.h (internal to //filemon/meta)
//
// Reading a .meta file for the checker and dependency extraction: a small one with one
// read(2) into a reused buffer, a large one mapped. Mapping a small file costs more than
// reading it: a page fault, and a munmap(2) that must reach every thread's TLB. A .meta that is
// not a regular file (a pipe, a FIFO, a device) is read up to a bound.

#ifndef FILEMON_META_META_READ_H_
#define FILEMON_META_META_READ_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace filemon {
namespace meta {
namespace internal {

// A large .meta mapped read-only with every page populated up front (MAP_POPULATE): one
// mmap(2) instead of a page fault per few pages as the reader walks the file.
class Mapping {
 public:
  Mapping(const char* data, size_t size) : data_(data), size_(size) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();
  absl::string_view data() const { return absl::string_view(data_, size_); }

 private:
  const char* data_;
  size_t size_;
};

// Reads `path` into `*small` or maps it into `*mapped`. `*missing`: ENOENT, which is not an
// error here (bmake: fopen() failed); the caller decides.
absl::Status ReadMeta(const std::string& path, std::string* small, absl::optional<Mapping>* mapped,
                      bool* missing);

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_META_READ_H_
