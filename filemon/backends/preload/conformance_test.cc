// The issue-10 real-program cases (filemon/backends/testing/backend_conformance.cc), run under
// the preload backend and under auto as it is where ebpf cannot run (preload, with ptrace for
// what the interposer cannot enter).

#include "filemon/backends/testing/backend_conformance.h"
#include "filemon/backends/testing/trace_harness.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {

INSTANTIATE_TEST_SUITE_P(Preload, BackendConformanceTest,
                         ::testing::Values("preload", kAutoWithoutEbpf));

}  // namespace testing_internal
}  // namespace filemon
