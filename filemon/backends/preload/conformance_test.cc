// The issue-10 real-program cases (filemon/backends/testing/backend_conformance.cc), run under
// the preload backend and under auto.

#include "filemon/backends/testing/backend_conformance.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {

INSTANTIATE_TEST_SUITE_P(Preload, BackendConformanceTest, ::testing::Values("preload", "auto"));

}  // namespace testing_internal
}  // namespace filemon
