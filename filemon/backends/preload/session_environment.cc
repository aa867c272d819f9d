#include "filemon/backends/preload/session_environment.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/preload/launch_protocol.h"

extern "C" char** environ;

namespace filemon {
namespace preload_internal {
namespace {

constexpr char kLdPreload[] = "LD_PRELOAD=";

bool StartsWith(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// The length of the name of "NAME=value" (the whole entry if it has no '=').
size_t NameLength(const char* entry) {
  const char* eq = std::strchr(entry, '=');
  return eq != nullptr ? static_cast<size_t>(eq - entry) : std::strlen(entry);
}

// Copies `s` to `*out` (bounded by `end`, NUL excluded); false if it does not fit.
bool Append(char** out, const char* end, const char* s) {
  const size_t n = std::strlen(s);
  if (static_cast<size_t>(end - *out) < n) return false;
  std::memcpy(*out, s, n);
  *out += n;
  return true;
}

// Writes "NAME=PID" to `out` (room for the name, '=', 20 digits and the NUL).
// Async-signal-safe.
void WritePidEntry(char* out, const char* name, unsigned long pid) {
  char digits[24];
  size_t count = 0;
  for (; count == 0 || pid != 0; pid /= 10) digits[count++] = static_cast<char>('0' + pid % 10);
  const size_t name_length = std::strlen(name);
  std::memcpy(out, name, name_length);
  out += name_length;
  *out++ = '=';
  while (count > 0) *out++ = digits[--count];
  *out = '\0';
}

size_t CountEntries(char** v) {
  size_t n = 0;
  while (v != nullptr && v[n] != nullptr) ++n;
  return n;
}

// The room for the caller's entries that `Create` reserves by default.
size_t DefaultMaxEntries() { return 2 * CountEntries(environ) + 256; }

}  // namespace

absl::StatusOr<std::unique_ptr<SessionEnvironment>> SessionEnvironment::Create(Options options) {
  if (options.library.empty()) {
    return absl::InvalidArgumentError("session environment: no interposer library");
  }
  for (const std::string& v : options.variables) {
    if (!absl::StartsWith(v, kEnvPrefix) || v.find('=') == std::string::npos ||
        absl::StartsWith(v, absl::StrCat(kEnvPid, "="))) {
      return absl::InvalidArgumentError(
          absl::StrCat("session environment: not a session variable: ", v));
    }
  }
  if (options.max_entries == 0) options.max_entries = DefaultMaxEntries();
  return std::unique_ptr<SessionEnvironment>(new SessionEnvironment(std::move(options)));
}

bool SessionEnvironment::HasRoomOfNew() const {
  return !entered_ && options_.max_entries >= DefaultMaxEntries();
}

SessionEnvironment::SessionEnvironment(Options options) : options_(std::move(options)) {
  // The caller's entries, the variables, LD_PRELOAD, the pid, the session, the NULL.
  array_.assign(options_.max_entries + options_.variables.size() + 4, nullptr);
  preload_.assign(sizeof(kLdPreload) + options_.library.size() + 1 + options_.max_user_preload,
                  '\0');
  skipped_.assign(options_.max_entries, nullptr);
}

SessionEnvironment::~SessionEnvironment() { Restore(); }

std::string SessionEnvironment::PreloadEntryFor(const char* user) const {
  if (user == nullptr || *user == '\0') return absl::StrCat(kLdPreload, options_.library);
  if (std::strstr(user, options_.library.c_str()) != nullptr) return absl::StrCat(kLdPreload, user);
  return absl::StrCat(kLdPreload, options_.library, ":", user);
}

int SessionEnvironment::Enter(pid_t self) {
  if (entered_) return EBUSY;
  char** const caller = environ;
  const size_t max_entries = options_.max_entries;
  size_t n = 0;
  size_t skipped = 0;
  const char* user = nullptr;
  for (size_t i = 0; caller != nullptr && caller[i] != nullptr; ++i) {
    char* entry = caller[i];
    const bool preload = StartsWith(entry, kLdPreload);
    if (preload || StartsWith(entry, kEnvPrefix)) {
      if (preload) user = entry + sizeof(kLdPreload) - 1;
      if (skipped == max_entries) return E2BIG;
      skipped_[skipped++] = entry;
      continue;
    }
    if (n == max_entries) return E2BIG;
    array_[n++] = entry;
  }
  // LD_PRELOAD: the library first, then the caller's, unless it already names the library.
  char* out = preload_.data();
  const char* const end = preload_.data() + preload_.size() - 1;
  bool fits = Append(&out, end, kLdPreload);
  const bool has_library =
      user != nullptr && *user != '\0' && std::strstr(user, options_.library.c_str()) != nullptr;
  if (!has_library) fits = fits && Append(&out, end, options_.library.c_str());
  if (user != nullptr && *user != '\0') {
    if (!has_library) fits = fits && Append(&out, end, ":");
    fits = fits && Append(&out, end, user);
  }
  if (!fits) return E2BIG;
  *out = '\0';
  array_[n++] = preload_.data();
  // FILEMON_PRELOAD_PID and FILEMON_PRELOAD_SESSION: the child's own pid (the second hands it
  // over from an enclosing preload trace, launch_protocol.h).
  WritePidEntry(pid_entry_, kEnvPid, static_cast<unsigned long>(self));
  array_[n++] = pid_entry_;
  WritePidEntry(session_entry_, kEnvSession, static_cast<unsigned long>(self));
  array_[n++] = session_entry_;
  for (std::string& v : options_.variables) array_[n++] = &v[0];
  array_[n] = nullptr;
  skipped_count_ = skipped;
  saved_environ_ = caller;
  entered_ = true;
  environ = array_.data();
  return 0;
}

bool SessionEnvironment::Ours(const char* entry) const {
  if (entry == preload_.data() || entry == pid_entry_ || entry == session_entry_) return true;
  for (const std::string& v : options_.variables) {
    if (entry == v.data()) return true;
  }
  return false;
}

void SessionEnvironment::PutBack(char** array, size_t* count, char* entry) {
  const size_t name = NameLength(entry);
  for (size_t i = 0; i < *count; ++i) {
    if (NameLength(array[i]) == name && std::strncmp(array[i], entry, name) == 0) return;
  }
  array[(*count)++] = entry;
  array[*count] = nullptr;
}

size_t SessionEnvironment::Room(char* const* envp) const {
  size_t n = 0;
  while (envp != nullptr && envp[n] != nullptr) ++n;
  return n + skipped_count_ + 1;
}

bool SessionEnvironment::Fill(int step, char* const* envp, const char** out) const {
  if (step < 0 || step > 1) return false;
  const bool untraced = step == 1;
  size_t n = 0;
  for (size_t i = 0; envp != nullptr && envp[i] != nullptr; ++i) {
    if (Ours(envp[i]) && (untraced || StartsWith(envp[i], kEnvLocale))) continue;
    out[n++] = envp[i];
  }
  out[n] = nullptr;
  if (untraced) {
    for (size_t i = 0; i < skipped_count_; ++i) {
      PutBack(const_cast<char**>(out), &n, skipped_[i]);
    }
  }
  return true;
}

void SessionEnvironment::Restore() {
  if (!entered_) return;  // never entered here, or entered after fork() in another memory
  entered_ = false;
  char** const current = environ;
  if (current == array_.data() || current == nullptr) {
    // Our array, possibly edited in place, or cleared (clearenv() frees only glibc's own array):
    // the caller's is intact.
    environ = saved_environ_;
    return;
  }
  // The child added a variable: glibc moved `environ` to an array reallocated from the last one
  // it made, possibly the caller's. Keep it, without the session's entries; put the caller's
  // own LD_PRELOAD and FILEMON_PRELOAD_* entries back in the slots they free (an entry beyond
  // them is lost: only a caller itself traced by preload has many).
  size_t kept = 0;
  size_t freed = 0;
  for (size_t i = 0; current[i] != nullptr; ++i) {
    if (Ours(current[i])) {
      ++freed;
    } else {
      current[kept++] = current[i];
    }
  }
  current[kept] = nullptr;
  for (size_t i = 0; i < skipped_count_ && freed > 0; ++i) {
    const size_t before = kept;
    PutBack(current, &kept, skipped_[i]);
    if (kept != before) --freed;
  }
}

}  // namespace preload_internal
}  // namespace filemon
