// File: filemon/backends/preload/exec_probe.h
//
// Tells, before an exec, whether the dynamic loader will load an `LD_PRELOAD` library into the
// new program: not for a statically linked program (no `PT_INTERP`), a program of another ELF
// class or machine (a 32-bit program on x86-64), or a set-user-ID/set-group-ID program that
// changes the credentials (the loader then runs in secure mode and drops `LD_PRELOAD`).
// `#!` scripts are judged by their interpreter. A Go program (a "Go" ELF note) makes its system
// calls itself even when dynamically linked, so the interposer would see nothing.
//
// Uses raw system calls only and allocates nothing: the interposer calls it in `vfork`
// children and between `fork` and `exec`.
//
// Example:
//   ExecProbe probe = ProbeExecutable("/usr/bin/gcc");
//   if (probe.kind == ExecKind::kStatic) ... "statically linked"

#ifndef FILEMON_BACKENDS_PRELOAD_EXEC_PROBE_H_
#define FILEMON_BACKENDS_PRELOAD_EXEC_PROBE_H_

namespace filemon {
namespace preload_internal {

enum class ExecKind {
  kPreloadable,  // a dynamically linked program of our ELF class and machine
  kStatic,       // no PT_INTERP: the interposer is never loaded
  kForeign,      // another ELF class or machine: the loader ignores our library
  kSecure,       // set-user-ID / set-group-ID: the loader drops LD_PRELOAD
  kRawSyscalls,  // dynamically linked but makes its own system calls (a Go program)
  kUnknown,      // cannot be read or is not a program: exec will fail or the kernel decides
};

struct ExecProbe {
  ExecKind kind = ExecKind::kUnknown;
  // The file judged: `path`, or the interpreter of a `#!` script (NUL-terminated).
  char judged[256] = {};
  // `judged` does not exist (its open failed with ENOENT or ENOTDIR): an exec of `path` fails
  // with that error, also when `path` itself exists but is a script of a missing interpreter.
  bool absent = false;
};

// A short human reason for `kind` ("statically linked", ...).
const char* ExecKindReason(ExecKind kind);

// What the log lacks when a program of `kind` runs under the interposer, for the comment that
// says so (a set-ID program loses LD_PRELOAD for its whole subtree).
const char* ExecKindLoss(ExecKind kind);

// REQUIRES: `path` NUL-terminated. Relative paths are resolved against the current directory.
ExecProbe ProbeExecutable(const char* path);

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_EXEC_PROBE_H_
