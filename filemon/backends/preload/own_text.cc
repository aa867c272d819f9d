#include "filemon/backends/preload/own_text.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/start_text.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14's value, for older headers
#endif

// The ELF header of the object being linked, mapped with its first segment.
extern "C" const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

namespace filemon {
namespace preload_internal {

FILEMON_START_TEXT TextRange OwnTextRange() {
  const uintptr_t header = reinterpret_cast<uintptr_t>(&__ehdr_start);
  const auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(header + __ehdr_start.e_phoff);
  // The load bias: where the segment that maps the file's first byte (the header) was placed,
  // less its link-time address.
  uintptr_t bias = 0;
  bool found_header = false;
  for (int i = 0; i < __ehdr_start.e_phnum; ++i) {
    if (phdr[i].p_type == PT_LOAD && phdr[i].p_offset == 0) {
      bias = header - phdr[i].p_vaddr;
      found_header = true;
      break;
    }
  }
  TextRange range;
  if (!found_header) return range;
  const uintptr_t page = getauxval(AT_PAGESZ) != 0 ? getauxval(AT_PAGESZ) : 4096;
  for (int i = 0; i < __ehdr_start.e_phnum; ++i) {
    const ElfW(Phdr)& p = phdr[i];
    if (p.p_type != PT_LOAD || (p.p_flags & PF_X) == 0) continue;
    const uintptr_t start = (bias + p.p_vaddr) & ~(page - 1);
    const uintptr_t end = (bias + p.p_vaddr + p.p_memsz + page - 1) & ~(page - 1);
    range.start = start;
    range.size = end - start;
    break;
  }
  return range;
}

FILEMON_START_TEXT long PrefaultOwnText() {
  const TextRange range = OwnTextRange();
  if (range.size == 0) return -ENOEXEC;
  return RawSyscall3(SYS_madvise, static_cast<long>(range.start), static_cast<long>(range.size),
                     MADV_POPULATE_READ);
}

}  // namespace preload_internal
}  // namespace filemon
