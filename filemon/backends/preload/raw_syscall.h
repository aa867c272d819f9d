// File: filemon/backends/preload/raw_syscall.h
//
// System calls without libc: they neither set `errno` nor pass through any interposed symbol,
// and they are async-signal-safe. The interposer uses them for its own work (writing a frame,
// reading a dirfd's path) so that a traced program sees exactly the calls and `errno` it would
// see untraced. Each returns the kernel's result: a value >= 0, or -errno.
//
// Example:
//   long n = RawSyscall3(SYS_write, fd, reinterpret_cast<long>(buf), size);
//   if (n == -EINTR) ...

#ifndef FILEMON_BACKENDS_PRELOAD_RAW_SYSCALL_H_
#define FILEMON_BACKENDS_PRELOAD_RAW_SYSCALL_H_

#include <sys/syscall.h>

namespace filemon {
namespace preload_internal {

#if defined(__x86_64__)

inline long RawSyscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

#elif defined(__aarch64__)

inline long RawSyscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a1;
  register long x1 __asm__("x1") = a2;
  register long x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4;
  register long x4 __asm__("x4") = a5;
  register long x5 __asm__("x5") = a6;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}

#else
#error "filemon preload: add the raw system call sequence for this architecture"
#endif

inline long RawSyscall0(long nr) { return RawSyscall6(nr, 0, 0, 0, 0, 0, 0); }
inline long RawSyscall1(long nr, long a1) { return RawSyscall6(nr, a1, 0, 0, 0, 0, 0); }
inline long RawSyscall2(long nr, long a1, long a2) { return RawSyscall6(nr, a1, a2, 0, 0, 0, 0); }
inline long RawSyscall3(long nr, long a1, long a2, long a3) {
  return RawSyscall6(nr, a1, a2, a3, 0, 0, 0);
}
inline long RawSyscall4(long nr, long a1, long a2, long a3, long a4) {
  return RawSyscall6(nr, a1, a2, a3, a4, 0, 0);
}

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_RAW_SYSCALL_H_
