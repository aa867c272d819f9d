#include "filemon/backends/preload/proc_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace preload_internal {
namespace {

// The parent of `pid` from /proc/PID/stat; false if the process is gone.
bool ReadParent(pid_t pid, pid_t* parent) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  OwnedFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char stat[512];
  const ssize_t n = read(fd.get(), stat, sizeof(stat) - 1);
  if (n <= 0) return false;
  stat[n] = '\0';
  return ParentFromStat(stat, parent);
}

}  // namespace

bool ParentFromStat(const char* stat, pid_t* parent) {
  const char* end_of_name = std::strrchr(stat, ')');
  int value = 0;
  if (end_of_name == nullptr || std::sscanf(end_of_name + 1, " %*c %d", &value) != 1) {
    return false;
  }
  *parent = static_cast<pid_t>(value);
  return true;
}

std::vector<pid_t> LineOf(pid_t pid) {
  std::vector<pid_t> line;
  for (int depth = 0; depth < 4096 && pid > 0; ++depth) {
    line.push_back(pid);
    if (!ReadParent(pid, &pid)) break;
  }
  return line;
}

std::vector<pid_t> Descendants(pid_t root) {
  absl::flat_hash_map<pid_t, std::vector<pid_t>> children;
  if (DIR* proc = opendir("/proc")) {
    while (struct dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      pid_t parent = 0;
      if (ReadParent(static_cast<pid_t>(pid), &parent)) {
        children[parent].push_back(static_cast<pid_t>(pid));
      }
    }
    closedir(proc);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> pending = {root};
  while (!pending.empty()) {
    const pid_t parent = pending.back();
    pending.pop_back();
    auto it = children.find(parent);
    if (it == children.end()) continue;
    for (pid_t child : it->second) {
      out.push_back(child);
      pending.push_back(child);
    }
  }
  return out;
}

}  // namespace preload_internal
}  // namespace filemon
