#include "filemon/backends/preload/exec_argv.h"

#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstddef>

#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/safe_string.h"

namespace filemon {
namespace preload_internal {
namespace {

// The rooms mapped and not yet unmapped on this thread, with the pid that mapped each: a vfork
// child's pid differs from its parent's. Four suffice (a wrapper nests at most three: execl's
// list, the shell's argv, the helper's); a fifth is not noted, and leaks only if mapped in a
// vfork child that execs.
struct MappedRoom {
  long address;  // 0: a free slot
  long size;
  long pid;
};
constexpr size_t kNotedRooms = 4;
__thread MappedRoom t_rooms[kNotedRooms];

void Note(long address, long size) {
  for (MappedRoom& room : t_rooms) {
    if (room.address == 0) {
      room = {address, size, RawSyscall0(SYS_getpid)};
      return;
    }
  }
}

void Forget(long address) {
  for (MappedRoom& room : t_rooms) {
    if (room.address == address) room.address = 0;
  }
}

}  // namespace

void ReleaseVforkChildRooms() {
  long self = 0;
  for (MappedRoom& room : t_rooms) {
    if (room.address == 0) continue;
    if (self == 0) self = RawSyscall0(SYS_getpid);
    if (room.pid == self) continue;  // this thread's own, still in use
    RawSyscall2(SYS_munmap, room.address, room.size);
    room.address = 0;
  }
}

size_t HelperArgvEntries(char* const argv[]) { return CountEntries(argv) + 4; }

void BuildHelperArgv(const char* helper, const char* path, char* const argv[], const char** out) {
  const size_t argc = CountEntries(argv);
  size_t n = 0;
  out[n++] = helper;
  out[n++] = path;
  out[n++] = "--";
  for (size_t i = 0; i < argc; ++i) out[n++] = argv[i];
  out[n] = nullptr;
}

size_t ShellArgvEntries(char* const argv[]) {
  const size_t argc = CountEntries(argv);
  return argc == 0 ? 3 : argc + 2;
}

void BuildShellArgv(const char* path, char* const argv[], const char** out) {
  const size_t argc = CountEntries(argv);
  out[0] = "/bin/sh";
  out[1] = path;
  for (size_t i = 1; i <= argc; ++i) out[i + 1] = argv[i];  // argv[argc] is the null
  if (argc == 0) out[2] = nullptr;
}

ArgvRoom::ArgvRoom(size_t entries) : size_(entries * sizeof(const char*)) {
  if (entries <= kArgvOnStack) {
    args_ = stack_;
    return;
  }
  const long map = RawSyscall6(SYS_mmap, 0, static_cast<long>(size_), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map < 0 && map > -4096) return;  // args() is null
  args_ = reinterpret_cast<const char**>(map);
  mapped_ = true;
  Note(map, static_cast<long>(size_));
}

ArgvRoom::~ArgvRoom() {
  if (!mapped_) return;
  Forget(reinterpret_cast<long>(args_));
  RawSyscall2(SYS_munmap, reinterpret_cast<long>(args_), static_cast<long>(size_));
}

}  // namespace preload_internal
}  // namespace filemon
