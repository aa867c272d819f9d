#include "filemon/backends/preload/start_environment.h"

#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/safe_string.h"

namespace filemon {
namespace preload_internal {

StartEnvironment ReadStartEnvironment(char* const* envp) {
  static const char* const kNames[] = {kEnvFd,        kEnvPipe,          kEnvPid,   kEnvSocket,
                                       kEnvOptions,   kEnvHelper,        kEnvExec,  kEnvLocale,
                                       kEnvLocaleShm, "LD_LIBRARY_PATH", kEnvToken, kEnvActions};
  constexpr size_t kCount = sizeof(kNames) / sizeof(kNames[0]);
  const char* v[kCount];
  EnvValues(envp, kNames, kCount, v);
  StartEnvironment env;
  env.fd = v[0];
  env.pipe = v[1];
  env.pid = v[2];
  env.socket = v[3];
  env.options = v[4];
  env.helper = v[5];
  env.exec = v[6];
  env.locale = v[7];
  env.locale_shm = v[8];
  env.library_path = v[9];
  env.token = v[10];
  env.actions = v[11];
  return env;
}

StartFork StartForkOf(const StartEnvironment& env, int pid) {
  StartFork fork;
  long exec_pid = 0;
  if (ParseInt(env.pid, &exec_pid) && exec_pid == pid) return fork;  // an exec, no creation
  long token = 0;
  if (exec_pid > 0 && ParseInt(env.token, &token)) {
    fork.kind = StartFork::Kind::kWithToken;
    fork.parent = static_cast<int>(exec_pid);
    fork.token = static_cast<uint32_t>(token);
    return fork;
  }
  fork.kind = StartFork::Kind::kKernels;
  fork.exec_pid = exec_pid > 0 ? static_cast<int>(exec_pid) : 0;
  return fork;
}

}  // namespace preload_internal
}  // namespace filemon
