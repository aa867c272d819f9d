// The real functions found without dlsym (next_symbol.h) are dlsym's.

#include "filemon/backends/preload/next_symbol.h"

#include <dlfcn.h>
#include <link.h>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// Functions the wrappers look up, some with more than one version in glibc (realpath,
// posix_spawn, fopen), some defined in no library (nullptr both ways).
constexpr const char* kNames[] = {
    "open",  "openat",    "stat",   "lstat64", "fopen",  "realpath", "posix_spawn", "execve",
    "_exit", "setlocale", "dlopen", "waitpid", "rename", "getpwnam", "glob",        "syscall"};

// From this test program, the first object of the loader's list, as from the interposer.
TEST(FindNextFunction, GivesWhatDlsymNextGives) {
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    void* found = FindNextFunction(_r_debug.r_map, _DYNAMIC, name);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found, dlsym(RTLD_NEXT, name));
  }
}

TEST(FindNextFunction, LeavesToDlsymWhatItCannotFind) {
  EXPECT_EQ(FindNextFunction(_r_debug.r_map, _DYNAMIC, "filemon_no_such_function"), nullptr);
  EXPECT_EQ(ResolveNext("filemon_no_such_function"), nullptr);
  int not_in_the_list = 0;
  EXPECT_EQ(FindNextFunction(_r_debug.r_map, &not_in_the_list, "open"), nullptr);
  EXPECT_EQ(FindNextFunction(nullptr, _DYNAMIC, "open"), nullptr);
}

TEST(ResolveNext, GivesWhatDlsymNextGives) {
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ResolveNext(name), dlsym(RTLD_NEXT, name));
  }
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
