#include "filemon/backends/ptrace/lookup_precheck.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "filemon/backends/path_rules.h"

namespace filemon {
namespace ptrace_internal {
namespace {

// "/proc/<tid>/fd/<fd>/" at most.
constexpr size_t kProcPrefixCapacity = 64;

// Whether the first component of absolute `path` is "proc" or "dev".
bool UnderProcOrDev(absl::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const absl::string_view first = path.substr(0, path.find('/'));
  return first == "proc" || first == "dev";
}

}  // namespace

bool FoundNow(pid_t tid, int dirfd, absl::string_view path, FinalLink final_link) {
  if (path.empty()) return false;
  const bool absolute = path_rules::IsAbsolute(path);
  if (absolute && UnderProcOrDev(path)) return false;
  char buffer[kProcPrefixCapacity + PATH_MAX + 1];
  path_rules::Text full(buffer, sizeof(buffer));
  if (!absolute) {
    full.Append("/proc/").AppendInt(tid);
    if (dirfd == AT_FDCWD) {
      full.Append("/cwd/");
    } else {
      full.Append("/fd/").AppendInt(dirfd).Append("/");
    }
  }
  full.Append(path);
  if (full.overflow()) return false;
  struct stat st;
  const int flags = final_link == FinalLink::kNoFollow ? AT_SYMLINK_NOFOLLOW : 0;
  return fstatat(AT_FDCWD, full.c_str(), &st, flags) == 0;
}

bool RootComparer::Id(const char* path, FileId* out) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  return true;
}

RootComparer::RootComparer() {
  valid_ = Id("/", &root_) && Id("/proc/thread-self/ns/mnt", &mount_ns_);
}

bool RootComparer::SameAs(pid_t tid) const {
  if (!valid_) return false;
  char buffer[kProcPrefixCapacity];
  path_rules::Text p(buffer, sizeof(buffer));
  p.Append("/proc/").AppendInt(tid).Append("/root");
  FileId id;
  if (!Id(p.c_str(), &id) || !(id == root_)) return false;
  p.Clear();
  p.Append("/proc/").AppendInt(tid).Append("/ns/mnt");
  return Id(p.c_str(), &id) && id == mount_ns_;
}

}  // namespace ptrace_internal
}  // namespace filemon
