#include "filemon/backends/preload/launch_environment.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/preload/launch_protocol.h"

namespace filemon {
namespace preload_internal {
namespace {

// FILEMON_PRELOAD_PID with ten digits, filled in by the command's process with its own pid.
constexpr char kPidPlaceholder[] = "FILEMON_PRELOAD_PID=0000000000";
constexpr size_t kPidDigits = 10;
static_assert(sizeof(kPidPlaceholder) == sizeof(kEnvPid) + 1 + kPidDigits,
              "kPidPlaceholder is kEnvPid, '=' and ten digits");
constexpr absl::string_view kLdPreload = "LD_PRELOAD=";

}  // namespace

std::vector<std::string> BuildLaunchEnvironment(std::vector<std::string> env,
                                                const LaunchSettings& settings) {
  std::vector<std::string> out;
  out.reserve(env.size() + 8);
  std::string user_preload;
  for (std::string& entry : env) {
    if (absl::StartsWith(entry, kEnvPrefix)) continue;
    if (absl::StartsWith(entry, kLdPreload)) {
      user_preload = entry.substr(kLdPreload.size());
      continue;
    }
    out.push_back(std::move(entry));
  }
  out.push_back(
      absl::StrCat(kLdPreload, settings.library, user_preload.empty() ? "" : ":", user_preload));
  out.push_back(absl::StrCat(kEnvFd, "=", settings.socket_fd));
  if (!settings.locale_shm_path.empty()) {
    out.push_back(absl::StrCat(kEnvLocaleShm, "=", settings.locale_shm_path));
  }
  if (settings.pipe_fd >= 0) out.push_back(absl::StrCat(kEnvPipe, "=", settings.pipe_fd));
  // Only a name this run holds: a process that lost its descriptor must never reach another
  // listener (without the name it records nothing more, and its records are not sent away).
  if (!settings.socket_name.empty()) {
    out.push_back(absl::StrCat(kEnvSocket, "=", settings.socket_name));
  }
  if (settings.options != 0) out.push_back(absl::StrCat(kEnvOptions, "=", settings.options));
  if (!settings.helper.empty()) out.push_back(absl::StrCat(kEnvHelper, "=", settings.helper));
  out.push_back(kPidPlaceholder);
  return out;
}

OwnedFd CreateLocaleShm(std::string* path) {
  OwnedFd shm(static_cast<int>(syscall(SYS_memfd_create, "filemon-locale", MFD_CLOEXEC)));
  path->clear();
  if (!shm.valid() || ftruncate(shm.get(), kLocaleShmBytes) != 0) return shm;
  *path = absl::StrCat("/proc/", getpid(), "/fd/", shm.get());
  return shm;
}

ExecArrays::ExecArrays(std::vector<std::string> argv, std::vector<std::string> env)
    : argv_storage_(std::move(argv)), env_storage_(std::move(env)) {
  for (std::string& a : argv_storage_) argv_.push_back(&a[0]);
  argv_.push_back(nullptr);
  for (std::string& e : env_storage_) envp_.push_back(&e[0]);
  envp_.push_back(nullptr);
  if (!env_storage_.empty() && absl::StartsWith(env_storage_.back(), kEnvPid) &&
      env_storage_.back().size() == sizeof(kPidPlaceholder) - 1) {
    pid_digits_ = &env_storage_.back()[sizeof(kPidPlaceholder) - 1 - kPidDigits];
  }
}

void ExecArrays::SetPid(pid_t pid) {
  if (pid_digits_ == nullptr) return;
  for (size_t i = kPidDigits; i-- > 0; pid /= 10) {
    pid_digits_[i] = static_cast<char>('0' + pid % 10);
  }
}

}  // namespace preload_internal
}  // namespace filemon
