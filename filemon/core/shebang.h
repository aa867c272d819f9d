// File: filemon/core/shebang.h
//
// The interpreter a `#!` script names, read as Linux's binfmt_script reads it, for every place
// that must know what a script's exec runs: the preload interposer's exec probe
// (backends/preload/exec_probe.h) before an exec, and DescribeFailedExec (find_program.h)
// after one failed. One rule, so that they agree with each other and with the kernel.
//
// libc-only, header-only, allocates nothing, async-signal-safe: the interposer includes it.
//
// Example:
//   char head[kShebangBufferSize];
//   const ssize_t n = read(fd, head, sizeof(head));
//   const char* name;
//   size_t length;
//   if (n > 0 && ShebangInterpreter(head, n, &name, &length))
//     ... std::string(name, length) is the interpreter

#ifndef FILEMON_CORE_SHEBANG_H_
#define FILEMON_CORE_SHEBANG_H_

#include <cstddef>
#include <cstring>

namespace filemon {

// How many bytes of a file the kernel reads for its `#!` line (BINPRM_BUF_SIZE).
inline constexpr size_t kShebangBufferSize = 256;

// Whether the kernel runs a file that begins with `head` (its first `size` bytes) as a `#!`
// script, and of which interpreter: true sets `*name` to the interpreter's first byte within
// `head` and `*length` to its length. Bytes past kShebangBufferSize are not looked at, and a
// shorter file is padded with NULs, as the kernel's buffer is. The line ends at its newline, or
// at the buffer's last byte when it has none; blanks (space, tab) before the name are skipped,
// and the name ends at a blank, a NUL or the line's end. False: no "#!", nothing but blanks on
// the line, or a line with no newline in the buffer whose name runs to the buffer's end (the
// kernel takes it as cut off). The name is empty when a NUL follows the blanks: the exec then
// fails, with an error that depends on the kernel's version (EACCES on Linux 6.18).
inline bool ShebangInterpreter(const char* head, size_t size, const char** name, size_t* length) {
  if (size > kShebangBufferSize) size = kShebangBufferSize;
  if (size < 2 || head[0] != '#' || head[1] != '!') return false;
  // The kernel's buffer: `head`, then NULs up to its last byte `last`.
  auto at = [&](size_t i) { return i < size ? head[i] : '\0'; };
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  constexpr size_t last = kShebangBufferSize - 1;
  const void* newline = std::memchr(head, '\n', size);
  // One past the line: its newline, or else the buffer's last byte.
  const size_t end =
      newline != nullptr ? static_cast<size_t>(static_cast<const char*>(newline) - head) : last;
  size_t first = 2;
  while (first < end && blank(at(first))) ++first;
  if (first == end) return false;  // nothing but blanks
  size_t stop = first;
  while (stop < end && !blank(at(stop)) && at(stop) != '\0') ++stop;
  // Without a newline, a name that fills the buffer to its last byte may go on past it.
  if (newline == nullptr && stop == last && !blank(at(last)) && at(last) != '\0') return false;
  *name = head + first;
  *length = stop - first;
  return true;
}

}  // namespace filemon

#endif  // FILEMON_CORE_SHEBANG_H_
