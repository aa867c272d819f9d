// File: filemon/backends/ebpf/loader_testing.h
//
// For tests only: the loader's knobs that production code never turns.

#ifndef FILEMON_BACKENDS_EBPF_LOADER_TESTING_H_
#define FILEMON_BACKENDS_EBPF_LOADER_TESTING_H_

#include <cstdint>

namespace filemon {
namespace ebpf_internal {

// The entries of the kernel's map of traced processes (loader.cc, kTracedProcesses), so that a
// test can fill it with a few processes. Takes effect at the process's first load of the
// program (which is then shared, loader.h): call it before anything traces with ebpf.
void SetTracedProcessesForTesting(uint32_t entries);

}  // namespace ebpf_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_LOADER_TESTING_H_
