// File: filemon/meta/pid_dirs.h (internal to //filemon/meta)
//
// bmake's per-process directory tracking while it reads a filemon section (meta.c,
// meta_oodate(); bmake_meta.md §2.2), for the checker (dependency extraction,
// deps.h, is not bound by bmake's quirks and tracks processes itself). For each record bmake keeps
// two directories, `lcwd` (the process's cwd) and `latestdir` (the last directory it read, where a
// relative name is looked up first), saved per pid in variables `.meta.<pid>.lcwd/.ldir`:
//   - a record of a new pid (> 0) saves the previous pid's pair and loads the new pid's pair
//     *if it has one*; otherwise the previous pid's directories stay (bmake's quirk: a pid
//     never seen in an F record inherits them, not CWD);
//   - F copies the pair to the child; C sets both (verbatim, cut at MAXPATHLEN - 1);
//   - X forgets the saved pair of the pid last switched to but leaves the current directories
//     as they are (a later record of the same pid keeps the stale cwd).

#ifndef FILEMON_META_PID_DIRS_H_
#define FILEMON_META_PID_DIRS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {
namespace internal {

// glibc's atoi(): (int)strtol(s, NULL, 10), as bmake reads pids.
int Atoi(absl::string_view s);

class PidDirs {
 public:
  explicit PidDirs(const std::string& cwd) { lcwd_ = latestdir_ = Intern(cwd); }

  // The pid handling every record but '#' and 'V' gets.
  void Switch(int pid) {
    if (pid > 0 && pid != lastpid_) SwitchTo(pid);
  }
  void Exit();
  void Fork(int child);
  void Chdir(absl::string_view dir);
  // E: "previous latestdir is no longer relevant".
  void ResetLatestdir() { latestdir_ = lcwd_; }
  void SetLatestdir(absl::string_view dir) { latestdir_ = Intern(dir); }

  // Valid as long as this object.
  const std::string& lcwd() const { return *names_[lcwd_]; }
  const std::string& latestdir() const { return *names_[latestdir_]; }

 private:
  // Directory names are interned: a switch or fork copies two numbers, not two strings.
  uint32_t Intern(absl::string_view dir);
  void SwitchTo(int pid);

  struct Saved {
    uint32_t lcwd, ldir;
  };
  absl::flat_hash_map<int, Saved> saved_;
  int lastpid_ = 0;
  bool have_vname_ = false;  // bmake's lcwd_vname has been set; it names `vname_pid_`
  int vname_pid_ = 0;
  uint32_t lcwd_ = 0, latestdir_ = 0;
  std::vector<std::unique_ptr<std::string>> names_;  // stable addresses: the map's keys
  absl::flat_hash_map<absl::string_view, uint32_t> ids_;
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_PID_DIRS_H_
