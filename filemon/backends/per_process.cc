#include "filemon/backends/per_process.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <new>

namespace filemon {
namespace per_process_internal {
// For tests only (declared by the test, in no header): called while the process's first call
// sets the page up, before the page is published.
void (*g_page_setup_hook)() = nullptr;
}  // namespace per_process_internal
namespace {

// kNoPage's address only; constant-initialized (no order to fear in static constructors).
std::atomic<pid_t> g_no_page_marker{0};
constexpr std::atomic<pid_t>* kNoPage = &g_no_page_marker;

// The page holding the pid, once set up; kNoPage where the kernel cannot empty it in a forked
// child. A plain atomic rather than a function-local static: a C++ init guard held by a thread
// while another forks stays held in the child, whose first call would wait on it forever. Here
// a child forked during the set-up finds no page yet and sets up its own; two threads that set
// one up at once keep the first published, and the other unmaps its own.
std::atomic<std::atomic<pid_t>*> g_page{nullptr};

std::atomic<pid_t>* SetUpPage() {
#if defined(__linux__)
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
  const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return kNoPage;
  if (per_process_internal::g_page_setup_hook != nullptr) per_process_internal::g_page_setup_hook();
  std::atomic<pid_t>* page = kNoPage;  // remembered too: the kernel will not wipe a page
  if (madvise(mapped, size, MADV_WIPEONFORK) == 0) page = new (mapped) std::atomic<pid_t>(0);
  std::atomic<pid_t>* published = nullptr;
  if (g_page.compare_exchange_strong(published, page, std::memory_order_acq_rel)) {
    if (page == kNoPage) munmap(mapped, size);
    return page;
  }
  munmap(mapped, size);  // another thread's came first
  return published;
#else
  return kNoPage;
#endif
}

// The page holding the pid; null where the kernel cannot empty it in a forked child.
std::atomic<pid_t>* PidPage() {
  std::atomic<pid_t>* page = g_page.load(std::memory_order_acquire);
  if (page == nullptr) page = SetUpPage();
  return page == kNoPage ? nullptr : page;
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
