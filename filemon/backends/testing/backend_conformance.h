// File: filemon/backends/testing/backend_conformance.h
//
// The behaviour every backend must show on real programs (shell file operations, gcc, make, a
// static binary, threads, posix_spawn/vfork, find -exec, the *at calls, signals, exit status,
// 1000 children, agreement with `strace -f`, and the kernel's order of F and X on process trees
// that race: tree_order_conformance.cc), as a value-parameterized test suite over
// backend names. A backend's test instantiates it with its name:
//
//   INSTANTIATE_TEST_SUITE_P(Ptrace, BackendConformanceTest, ::testing::Values("ptrace"));
//
// and lists "//filemon/backends/testing:test_programs" in its `data`.

#ifndef FILEMON_BACKENDS_TESTING_BACKEND_CONFORMANCE_H_
#define FILEMON_BACKENDS_TESTING_BACKEND_CONFORMANCE_H_

#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {

class BackendConformanceTest : public ::testing::TestWithParam<std::string> {};

}  // namespace testing_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_TESTING_BACKEND_CONFORMANCE_H_
