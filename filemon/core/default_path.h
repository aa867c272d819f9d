// File: filemon/core/default_path.h
//
// The search path execvp(3) and posix_spawnp(3) use when the environment has no PATH:
// glibc's default (confstr(_CS_PATH)). One constant for every backend, the interposer
// included, so that they find the same program. libc-only, header-only.

#ifndef FILEMON_CORE_DEFAULT_PATH_H_
#define FILEMON_CORE_DEFAULT_PATH_H_

namespace filemon {

inline constexpr char kDefaultSearchPath[] = "/bin:/usr/bin";

}  // namespace filemon

#endif  // FILEMON_CORE_DEFAULT_PATH_H_
