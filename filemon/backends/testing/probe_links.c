// Lookups through dangling symbolic links, for the probes (`N`) of TraceOptions::probes: a
// lookup that follows the link fails with ENOENT (a probe of the link's path), one that does not
// follow it finds the link (no probe). In directory argv[1], which holds the dangling links
// f1..f6 and n1..n6 (to "nowhere") and nothing else:
//   stat f1, access f2, fstatat f3, statx f4, faccessat f5 (glibc: faccessat2) -> N f1..f5
//   the faccessat system call itself on f6, which has no flags               -> N f6
//   lstat n1, readlink n2, fstatat n3 and statx n4 with AT_SYMLINK_NOFOLLOW,
//   readlinkat n5, faccessat n6 with AT_SYMLINK_NOFOLLOW                      -> nothing
// f6's call bypasses libc: an interposer cannot see it. Exits 0 when every call gave that
// result.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2 || chdir(argv[1]) != 0) return 2;
  struct stat st;
  struct statx stx;
  char buf[64];
  if (stat("f1", &st) == 0 || access("f2", F_OK) == 0) return 3;
  if (fstatat(AT_FDCWD, "f3", &st, 0) == 0 || statx(AT_FDCWD, "f4", 0, STATX_TYPE, &stx) == 0) {
    return 4;
  }
  if (faccessat(AT_FDCWD, "f5", F_OK, 0) == 0 ||
      syscall(SYS_faccessat, AT_FDCWD, "f6", F_OK) == 0) {
    return 5;
  }
  if (lstat("n1", &st) != 0 || readlink("n2", buf, sizeof buf) <= 0) return 6;
  if (fstatat(AT_FDCWD, "n3", &st, AT_SYMLINK_NOFOLLOW) != 0) return 7;
  if (statx(AT_FDCWD, "n4", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) != 0) return 8;
  if (readlinkat(AT_FDCWD, "n5", buf, sizeof buf) <= 0) return 9;
  if (faccessat(AT_FDCWD, "n6", F_OK, AT_SYMLINK_NOFOLLOW) != 0) return 10;
  return 0;
}
