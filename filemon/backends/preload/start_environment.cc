#include "filemon/backends/preload/start_environment.h"

#include <elf.h>

#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {
namespace {

// A copy of a name, made by the compiler: launch_protocol.h's constants are `inline`, which
// gcc cannot place in a section of their own (FILEMON_START_RODATA) once per library.
template <size_t N>
struct Name {
  char text[N];
};
template <size_t N>
constexpr Name<N> CopyOf(const char (&name)[N]) {
  Name<N> copy{};
  for (size_t i = 0; i < N; ++i) copy.text[i] = name[i];
  return copy;
}

FILEMON_START_RODATA constexpr auto kFd = CopyOf(kEnvFd);
FILEMON_START_RODATA constexpr auto kPipe = CopyOf(kEnvPipe);
FILEMON_START_RODATA constexpr auto kPid = CopyOf(kEnvPid);
FILEMON_START_RODATA constexpr auto kSocket = CopyOf(kEnvSocket);
FILEMON_START_RODATA constexpr auto kOptions = CopyOf(kEnvOptions);
FILEMON_START_RODATA constexpr auto kHelper = CopyOf(kEnvHelper);
FILEMON_START_RODATA constexpr auto kExec = CopyOf(kEnvExec);
FILEMON_START_RODATA constexpr auto kLocale = CopyOf(kEnvLocale);
FILEMON_START_RODATA constexpr auto kLocaleShm = CopyOf(kEnvLocaleShm);
FILEMON_START_RODATA constexpr auto kLibraryPath = CopyOf("LD_LIBRARY_PATH");
FILEMON_START_RODATA constexpr auto kToken = CopyOf(kEnvToken);
FILEMON_START_RODATA constexpr auto kActions = CopyOf(kEnvActions);

}  // namespace

FILEMON_START_TEXT uintptr_t StartAuxValue(const uintptr_t* stack, uintptr_t type) {
  const uintptr_t* p = stack + 1 + stack[0] + 1;  // the environment, past argc and argv
  while (*p != 0) ++p;
  while (*p == 0) ++p;  // the environment's NULL, and those unsetenv left
  for (; p[0] != AT_NULL; p += 2) {
    if (p[0] == type) return p[1];
  }
  return 0;
}

const char* const kStartVariables[kStartVariableCount] = {
    kFd.text,   kPipe.text,   kPid.text,       kSocket.text,      kOptions.text, kHelper.text,
    kExec.text, kLocale.text, kLocaleShm.text, kLibraryPath.text, kToken.text,   kActions.text};

}  // namespace preload_internal
}  // namespace filemon
