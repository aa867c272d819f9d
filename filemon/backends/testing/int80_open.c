// A 64-bit program that makes i386 system calls with `int $0x80` (as a 32-bit program would):
// open(argv[1], O_RDONLY) then creat(argv[2]) with the i386 numbers 5 and 8. The tracer must
// decode them with the i386 table (a 64-bit reading would see syscalls 5 = fstat, 8 = lseek).
// The path strings are copied below 4 GiB, since int $0x80 passes 32-bit pointers.
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>

static long Int80(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return ret;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  char* low =
      mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return 3;
  strncpy(low, argv[1], 4095);
  strncpy(low + 4096, argv[2], 4095);
  long fd = Int80(5, (long)low, 0, 0);  // i386 open(path, O_RDONLY)
  if (fd < 0) return 4;
  Int80(6, fd, 0, 0);                          // i386 close
  fd = Int80(8, (long)(low + 4096), 0644, 0);  // i386 creat(path, 0644)
  if (fd < 0) return 5;
  Int80(6, fd, 0, 0);
  return 0;
}
