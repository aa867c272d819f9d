// File: filemon/meta/test_dir.h (test-only)
//
// A fresh directory under TEST_TMPDIR with helpers to create files with set mtimes, for the
// meta tests. TEST_TMPDIR is under Bazel's output base, not /tmp (which bmake's rules ignore).
//
// Example:
//   filemon::meta::TestDir dir("newer");
//   dir.Write("d/src.c", "x", /*mtime=*/kT0 + 11);

#ifndef FILEMON_META_TEST_DIR_H_
#define FILEMON_META_TEST_DIR_H_

#include <time.h>

#include <string>

#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {

class TestDir {
 public:
  // Creates (emptying first) $TEST_TMPDIR/<name>, realpath'ed.
  explicit TestDir(absl::string_view name);
  const std::string& path() const { return path_; }
  std::string operator/(absl::string_view rel) const;

  // Creates parent directories as needed. `mtime` 0 leaves the current time.
  void Write(absl::string_view rel, absl::string_view text, time_t mtime = 0) const;
  void Mkdir(absl::string_view rel, time_t mtime = 0) const;
  void Symlink(absl::string_view rel, const std::string& to) const;
  void SetMtime(absl::string_view rel, time_t mtime) const;

 private:
  std::string path_;
};

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_TEST_DIR_H_
