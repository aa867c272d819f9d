#include "filemon/backends/per_process.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <new>

namespace filemon {
namespace {

// The page holding the pid; null where the kernel cannot empty it in a forked child.
std::atomic<pid_t>* PidPage() {
#if defined(__linux__)
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
  static std::atomic<pid_t>* const page = []() -> std::atomic<pid_t>* {
    const long size = sysconf(_SC_PAGESIZE);
    void* mapped = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) return nullptr;
    if (madvise(mapped, static_cast<size_t>(size), MADV_WIPEONFORK) != 0) {
      munmap(mapped, static_cast<size_t>(size));
      return nullptr;
    }
    return new (mapped) std::atomic<pid_t>(0);
  }();
  return page;
#else
  return nullptr;
#endif
}

}  // namespace

pid_t ThisProcessId() {
  std::atomic<pid_t>* const page = PidPage();
  if (page == nullptr) return getpid();
  pid_t pid = page->load(std::memory_order_relaxed);
  if (pid == 0) {  // this process's first call, or the first of a forked child
    pid = getpid();
    page->store(pid, std::memory_order_relaxed);
  }
  return pid;
}

}  // namespace filemon
