// File: filemon/backends/preload/safe_string.h
//
// The interposer's string helpers: NUL-terminated strings, environment entries and decimal
// numbers, without libc's locale-dependent or allocating functions. Every function here is
// async-signal-safe, allocates nothing and touches nothing but its arguments, so that the
// interposer may call it in a signal handler, in a vfork child and between fork and exec.
//
// Header-only and libc-only (libfilemon_preload.so links no C++ library).
//
// Example:
//   const char* fd = EnvValue(environ, "FILEMON_PRELOAD_FD");
//   long value;
//   if (ParseInt(fd, &value)) ...

#ifndef FILEMON_BACKENDS_PRELOAD_SAFE_STRING_H_
#define FILEMON_BACKENDS_PRELOAD_SAFE_STRING_H_

#include <climits>
#include <cstddef>
#include <cstring>

namespace filemon {
namespace preload_internal {

// strlen(s), without a call into libc.
inline size_t Length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

// strcmp(a, b) == 0, without a call into libc.
inline bool SameString(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

inline bool StartsWith(const char* s, const char* prefix) {
  while (*prefix != '\0') {
    if (*s++ != *prefix++) return false;
  }
  return true;
}

// Fills `values[i]` with the value of `names[i]` in `envp` ("NAME=value"; the first entry of a
// name counts, as for getenv), or nullptr, in one walk of the environment for all the names.
// `envp` may be nullptr (no entries).
inline void EnvValues(char* const* envp, const char* const* names, size_t count,
                      const char** values) {
  for (size_t i = 0; i < count; ++i) values[i] = nullptr;
  for (char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    const char* entry = *e;
    for (size_t i = 0; i < count; ++i) {
      if (values[i] != nullptr || entry[0] != names[i][0] || !StartsWith(entry, names[i])) continue;
      const size_t n = Length(names[i]);
      if (entry[n] == '=') {
        values[i] = entry + n + 1;
        break;
      }
    }
  }
}

// The value of `name` in `envp`, or nullptr.
inline const char* EnvValue(char* const* envp, const char* name) {
  const char* value;
  EnvValues(envp, &name, 1, &value);
  return value;
}

// The entries of a null-terminated array (argv, envp) before its null; 0 for nullptr.
inline size_t CountEntries(char* const* v) {
  size_t n = 0;
  if (v != nullptr) {
    while (v[n] != nullptr) ++n;
  }
  return n;
}

// Writes the decimal digits of `value` to `out` (room for 20) without a NUL; returns how many.
inline size_t FormatUnsigned(unsigned long value, char* out) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  return n;
}

// Parses a non-negative decimal number that is the whole of `s`. False for nullptr, "", any
// other character, or a value above LONG_MAX (`*out` is then unchanged).
inline bool ParseInt(const char* s, long* out) {
  if (s == nullptr || *s == '\0') return false;
  long v = 0;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
    const int digit = *s - '0';
    if (v > (LONG_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

// Copies `s` into `out` (`size` > 0 bytes), cut to fit, always NUL-terminated.
inline void CopyString(const char* s, char* out, size_t size) {
  size_t n = Length(s);
  if (n >= size) n = size - 1;
  std::memcpy(out, s, n);
  out[n] = '\0';
}

// The room FdLinkPath needs: "/proc/self/fd/" and the digits of any int, with the NUL.
inline constexpr size_t kFdLinkSize = 32;

// Writes "/proc/self/fd/FD" (NUL-terminated) to `out` (kFdLinkSize bytes): the link whose
// target names what the descriptor `fd` (>= 0) refers to.
inline void FdLinkPath(int fd, char* out) {
  static constexpr char kPrefix[] = "/proc/self/fd/";
  constexpr size_t kPrefixLength = sizeof(kPrefix) - 1;
  std::memcpy(out, kPrefix, kPrefixLength);
  out[kPrefixLength + FormatUnsigned(static_cast<unsigned>(fd), out + kPrefixLength)] = '\0';
}

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SAFE_STRING_H_
