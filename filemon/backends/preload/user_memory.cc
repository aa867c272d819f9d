#include "filemon/backends/preload/user_memory.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "filemon/backends/preload/raw_syscall.h"

namespace filemon {
namespace preload_internal {
namespace {

constexpr uintptr_t kPage = 4096;  // the smallest page: a larger one only checks more often

// process_vm_readv of this process: the bytes copied, or -errno.
long ReadSelf(long pid, void* out, const void* from, size_t size) {
  struct iovec ours = {out, size};
  struct iovec theirs = {const_cast<void*>(from), size};
  return RawSyscall6(SYS_process_vm_readv, pid, reinterpret_cast<long>(&ours), 1,
                     reinterpret_cast<long>(&theirs), 1, 0);
}

// Whether a failed process_vm_readv (`rc` < 0, or 0 bytes) was the kernel's refusal of the
// address. Any other failure (the call itself refused or absent) reads as before the check.
bool Refused(long rc) { return rc == -EFAULT || rc == 0; }

enum class ArrayCheck { kPointers, kStrings };

// Answers for the pages of one walk over a string or an array: each page is asked about once
// (a walk usually stays in a few pages: a process's initial environment lies in one block).
class PageChecker {
 public:
  PageChecker() : pid_(RawSyscall0(SYS_getpid)) {}

  // Whether the page holding `p` is readable.
  bool Page(const void* p) {
    const uintptr_t page = reinterpret_cast<uintptr_t>(p) & ~(kPage - 1);
    if (page == 0) return false;  // the null page: never mapped for a program's data
    for (size_t i = 0; i < kRemembered; ++i) {
      if (known_[i] == page) return true;
    }
    char byte;
    if (Refused(ReadSelf(pid_, &byte, p, 1))) return false;
    known_[next_++ % kRemembered] = page;
    return true;
  }

  // Whether the bytes [p, p + size) are readable.
  bool Bytes(const void* p, size_t size) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(p);
    if (first + size < first) return false;  // past the end of the address space
    for (uintptr_t at = first; at < first + size; at = (at & ~(kPage - 1)) + kPage) {
      if (!Page(reinterpret_cast<const void*>(at))) return false;
    }
    return true;
  }

  // Whether the string `s` is readable to its NUL.
  bool String(const char* s) {
    for (;;) {
      if (!Page(s)) return false;
      const char* page_end =
          reinterpret_cast<const char*>((reinterpret_cast<uintptr_t>(s) & ~(kPage - 1)) + kPage);
      for (; s < page_end; ++s) {
        if (*s == '\0') return true;
      }
    }
  }

  // Whether the array `v` is readable to its null (kStrings: each string too).
  bool Array(char* const* v, ArrayCheck check) {
    for (char* const* e = v;; ++e) {
      if (!Bytes(e, sizeof(*e))) return false;
      if (*e == nullptr) return true;
      if (check == ArrayCheck::kStrings && !String(*e)) return false;
    }
  }

 private:
  static constexpr size_t kRemembered = 8;
  const long pid_;
  uintptr_t known_[kRemembered] = {};
  size_t next_ = 0;
};

}  // namespace

bool CopyReadable(void* out, const void* from, size_t size) {
  const long rc = ReadSelf(RawSyscall0(SYS_getpid), out, from, size);
  if (rc == static_cast<long>(size)) return true;
  if (rc > 0 || Refused(rc)) return false;  // a part, or none, of it is readable
  memcpy(out, from, size);
  return true;
}

bool ReadableString(const char* s) { return s != nullptr && PageChecker().String(s); }

bool ReadableStrings(char* const* v) {
  return v == nullptr || PageChecker().Array(v, ArrayCheck::kStrings);
}

bool ReadableArray(char* const* v) {
  return v == nullptr || PageChecker().Array(v, ArrayCheck::kPointers);
}

}  // namespace preload_internal
}  // namespace filemon
