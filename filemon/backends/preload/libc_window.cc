#include "filemon/backends/preload/libc_window.h"

#include <fcntl.h>
#include <ucontext.h>

#include "filemon/backends/preload/locale_cache.h"
#include "filemon/backends/preload/records.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {

#if defined(__x86_64__)

uintptr_t g_text_start = 0;
size_t g_text_size = 0;
std::atomic<bool> g_dispatch_failed{false};
__thread char t_selector = 0;
__thread bool t_dispatch_on = false;
__thread bool t_in_window = false;

__asm__(
    ".text\n"
    ".globl filemon_preload_restorer\n"
    ".hidden filemon_preload_restorer\n"
    ".type filemon_preload_restorer,@function\n"
    "filemon_preload_restorer:\n"
    "  mov $15, %eax\n"  // rt_sigreturn, issued from our text so that it is never trapped
    "  syscall\n"
    ".size filemon_preload_restorer,.-filemon_preload_restorer\n");

namespace {

void RecordTrappedOpen(long nr, long a1, long a2, long a3) {
  switch (nr) {
    case SYS_open:
      RecordOpen(AT_FDCWD, reinterpret_cast<const char*>(a1), static_cast<int>(a2), false, true);
      CollectLocaleOpen(g_locale, reinterpret_cast<const char*>(a1), static_cast<int>(a2));
      break;
    case SYS_openat:
      RecordOpen(static_cast<int>(a1), reinterpret_cast<const char*>(a2), static_cast<int>(a3),
                 true, true);
      // Paths relative to a dirfd cannot be replayed; setlocale's are absolute.
      if (static_cast<int>(a1) == AT_FDCWD || reinterpret_cast<const char*>(a2)[0] == '/') {
        CollectLocaleOpen(g_locale, reinterpret_cast<const char*>(a2), static_cast<int>(a3));
      } else {
        g_locale.bad = true;
      }
      break;
    default:
      break;
  }
}

}  // namespace

void OnTrappedSyscall(int, siginfo_t* info, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  greg_t* r = uc->uc_mcontext.gregs;
  long nr = info->si_syscall;
  long result =
      RawSyscall6(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
  r[REG_RAX] = result;
  if (result >= 0) RecordTrappedOpen(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX]);
}

// This library's executable segment, found by the start's walk of the link map.
FILEMON_START_TEXT void NoteOwnText(uintptr_t start, size_t size) {
  g_text_start = start;
  g_text_size = size;
}

bool InLibcWindowWorks() { return g_text_size != 0 && !g_dispatch_failed.load() && t_dispatch_on; }
bool LibcWindowAvailable() { return g_text_size != 0 && !g_dispatch_failed.load(); }
void ResetSyscallWindowAfterFork() { t_dispatch_on = false; }

#else

bool InLibcWindowWorks() { return false; }
bool LibcWindowAvailable() { return false; }
void NoteOwnText(uintptr_t, size_t) {}
void ResetSyscallWindowAfterFork() {}

#endif

}  // namespace preload_internal
}  // namespace filemon
