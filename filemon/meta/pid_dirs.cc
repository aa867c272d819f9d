#include "filemon/meta/pid_dirs.h"

#include <limits.h>

#include <algorithm>

namespace filemon {
namespace meta {
namespace internal {

int Atoi(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  // Accumulate up to LONG_MAX + 1, saturating (strtol's ERANGE result).
  constexpr unsigned long long kLimit = static_cast<unsigned long long>(LONG_MAX) + 1;
  unsigned long long value = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const unsigned digit = static_cast<unsigned>(s[i] - '0');
    // Saturate before value * 10 can wrap: past kLimit every digit keeps kLimit.
    value = value > (kLimit - digit) / 10 ? kLimit : value * 10 + digit;
  }
  long result;
  if (negative) {
    result = value >= kLimit ? LONG_MIN : -static_cast<long>(value);
  } else {
    result = value >= kLimit ? LONG_MAX : static_cast<long>(value);
  }
  return static_cast<int>(result);
}

uint32_t PidDirs::Intern(absl::string_view dir) {
  auto it = ids_.find(dir);
  if (it != ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(names_.size());
  names_.push_back(std::make_unique<std::string>(dir));
  ids_.emplace(*names_.back(), id);
  return id;
}

void PidDirs::SwitchTo(int pid) {
  if (lastpid_ > 0) saved_[lastpid_] = Saved{lcwd_, latestdir_};
  have_vname_ = true;
  vname_pid_ = pid;
  lastpid_ = pid;
  auto it = saved_.find(pid);
  if (it != saved_.end()) {
    latestdir_ = it->second.ldir;
    lcwd_ = it->second.lcwd;
  }
}

void PidDirs::Exit() {
  if (have_vname_) saved_.erase(vname_pid_);
  lastpid_ = 0;
}

void PidDirs::Fork(int child) {
  if (child > 0) saved_[child] = Saved{lcwd_, latestdir_};
}

void PidDirs::Chdir(absl::string_view dir) {
  constexpr size_t kMaxPathLen = PATH_MAX;  // strlcpy into a MAXPATHLEN buffer
  lcwd_ = latestdir_ = Intern(dir.substr(0, std::min(dir.size(), kMaxPathLen - 1)));
  if (have_vname_) saved_[vname_pid_] = Saved{lcwd_, lcwd_};
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
