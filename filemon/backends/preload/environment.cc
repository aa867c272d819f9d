#include "filemon/backends/preload/environment.h"

#include <cstring>
#include <initializer_list>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/locale_cache.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {
namespace {

constexpr char kEnvLdPreload[] = "LD_PRELOAD";
constexpr size_t kNumber = 24;  // the digits of a descriptor, pid or token, and the NUL

// Appends entries to `out` and their strings to `scratch`; once a string did not fit, it and
// every later one are left out.
class EnvWriter {
 public:
  EnvWriter(char** out, char* scratch, size_t scratch_size)
      : out_(out), s_(scratch, scratch_size) {}

  void Keep(char* entry) { out_[n_++] = entry; }
  // NAME=V1V2V3.
  void Add(const char* name, const char* v1, const char* v2 = "", const char* v3 = "") {
    const size_t start = s_.size();
    for (const char* piece : {name, "=", v1, v2, v3}) s_.Append(piece, Length(piece));
    s_.Append("", 1);
    if (!s_.overflow()) out_[n_++] = s_.data() + start;
  }
  void AddNumber(const char* name, unsigned long value) {
    char number[kNumber];
    number[FormatUnsigned(value, number)] = '\0';
    Add(name, number);
  }
  void AddBytes(const char* name, const char* value, size_t size) {
    const size_t start = s_.size();
    s_.Append(name, Length(name));
    s_.Append("=", 1);
    s_.Append(value, size);
    s_.Append("", 1);
    if (!s_.overflow()) out_[n_++] = s_.data() + start;
  }
  // LD_PRELOAD with the entries of `list` (':' or ' ' separated) other than `drop`; none if
  // nothing is left.
  void AddPreloadWithout(const char* list, const char* drop) {
    const size_t start = s_.size();
    s_.Append("LD_PRELOAD=", sizeof(kEnvLdPreload));
    const size_t values = s_.size();
    const size_t drop_len = Length(drop);
    for (const char* p = list; *p != '\0';) {
      const char* end = p;
      while (*end != '\0' && *end != ':' && *end != ' ') ++end;
      const size_t len = static_cast<size_t>(end - p);
      if (len > 0 && !(len == drop_len && memcmp(p, drop, len) == 0)) {
        if (s_.size() > values) s_.Append(":", 1);
        s_.Append(p, len);
      }
      p = *end != '\0' ? end + 1 : end;
    }
    s_.Append("", 1);
    if (!s_.overflow() && s_.size() > values + 1) out_[n_++] = s_.data() + start;
  }
  void End() { out_[n_] = nullptr; }

 private:
  char** out_;
  ByteAppender s_;
  size_t n_ = 0;
};

// LD_PRELOAD: this library first (once), the program's own entries after it.
void AddPreload(EnvWriter& w, const char* user, const OurVariables& ours, bool preload) {
  if (!preload) {
    if (user != nullptr) w.AddPreloadWithout(user, ours.lib_path);
  } else if (user == nullptr || user[0] == '\0') {
    w.Add(kEnvLdPreload, ours.lib_path);
  } else if (strstr(user, ours.lib_path) != nullptr) {
    w.Add(kEnvLdPreload, user);
  } else {
    w.Add(kEnvLdPreload, ours.lib_path, ":", user);
  }
}

}  // namespace

void SayEnvironmentUnchanged(const char* what, size_t entries) {
  char number[kNumber];
  number[FormatUnsigned(entries, number)] = '\0';
  Message m;
  m.AddComment("an environment of ", number,
               " entries is passed on unchanged (more than the interposer's room); ",
               what != nullptr ? what : "the programs started with it",
               " may run with stale FILEMON_PRELOAD_ variables or none");
  m.Send();
}

OurVariables CurrentVariables() {
  OurVariables ours;
  ours.lib_path = g_lib_path;
  ours.fd = g_fd.load(std::memory_order_relaxed);
  ours.pipe = g_pipe.load(std::memory_order_relaxed);
  ours.pid = Pid();
  ours.socket_name = g_socket_name;
  ours.options = g_options;
  ours.helper = g_helper;
  ours.locale_shm = g_locale_shm_path;
  // Another thread's setlocale may grow the cache meanwhile: its size now is what is passed.
  ours.locale = g_locale.text;
  ours.locale_size = g_locale.size;
  return ours;
}

void FixEnvironment(const EnvRequest& request, const OurVariables& ours, char** out, char* scratch,
                    size_t scratch_size) {
  EnvWriter w(out, scratch, scratch_size);
  const char* user_preload = nullptr;
  for (char* const* e = request.envp; e != nullptr && *e != nullptr; ++e) {
    if (StartsWith(*e, kEnvPrefix)) continue;
    if (StartsWith(*e, "LD_PRELOAD=")) {
      user_preload = *e + sizeof(kEnvLdPreload);
      continue;
    }
    w.Keep(*e);
  }
  if (request.level == EnvLevel::kUntraced) {
    AddPreload(w, user_preload, ours, /*preload=*/false);
    return w.End();
  }
  AddPreload(w, user_preload, ours, request.preload);
  w.AddNumber(kEnvFd, static_cast<unsigned>(ours.fd));
  if (ours.pipe >= 0) w.AddNumber(kEnvPipe, static_cast<unsigned>(ours.pipe));
  w.AddNumber(kEnvPid, static_cast<unsigned>(ours.pid));
  if (ours.socket_name[0] != '\0') w.Add(kEnvSocket, ours.socket_name);
  if (ours.options[0] != '\0') w.Add(kEnvOptions, ours.options);
  if (ours.helper[0] != '\0') w.Add(kEnvHelper, ours.helper);
  if (request.exec_path != nullptr) w.Add(kEnvExec, request.exec_path);
  if (request.child != nullptr) {
    w.AddNumber(kEnvToken, request.child->token);
    const char* actions = request.child->actions;
    if (actions != nullptr && actions[0] != '\0') w.Add(kEnvActions, actions);
  }
  if (request.level == EnvLevel::kFull) {
    if (ours.locale_shm[0] != '\0') w.Add(kEnvLocaleShm, ours.locale_shm);
    if (ours.locale_size > 0) w.AddBytes(kEnvLocale, ours.locale, ours.locale_size);
  }
  w.End();
}

bool PreparedForSession(char* const* envp, long pid, int fd, int pipe) {
  long named, env_fd, env_pipe = -1;
  if (!ParseInt(EnvValue(envp, kEnvSession), &named) || named != pid) return false;
  if (!ParseInt(EnvValue(envp, kEnvFd), &env_fd)) return false;
  const char* pipe_value = EnvValue(envp, kEnvPipe);
  if (pipe_value != nullptr && !ParseInt(pipe_value, &env_pipe)) return false;
  return env_fd != fd && env_pipe != pipe;
}

// Each "NAME=value" with its NUL: sizeof a name counts its NUL, which stands for the '='.
size_t EnvScratchSize(const EnvRequest& request, const OurVariables& ours) {
  const char* user = EnvValue(request.envp, kEnvLdPreload);
  const ChildStart* child = request.child;
  const size_t child_size = child == nullptr
                                ? 0
                                : sizeof(kEnvToken) + kNumber + sizeof(kEnvActions) +
                                      (child->actions != nullptr ? Length(child->actions) : 0) + 1;
  const char* exec_path = request.exec_path;
  return child_size + sizeof(kEnvLdPreload) + Length(ours.lib_path) + 1 +
         (user != nullptr ? Length(user) : 0) + 1 + sizeof(kEnvFd) + sizeof(kEnvPipe) +
         sizeof(kEnvPid) + 3 * kNumber + sizeof(kEnvSocket) + Length(ours.socket_name) + 1 +
         sizeof(kEnvOptions) + Length(ours.options) + 1 + sizeof(kEnvHelper) + Length(ours.helper) +
         1 + sizeof(kEnvExec) + (exec_path != nullptr ? Length(exec_path) : 0) + 1 +
         sizeof(kEnvLocaleShm) + Length(ours.locale_shm) + 1 + sizeof(kEnvLocale) +
         ours.locale_size + 1;
}

}  // namespace preload_internal
}  // namespace filemon
