// File: filemon/core/test_child.h (testonly)
//
// For tests that run a part of themselves in a child process, so that what that part does to
// its process (a lower resource limit, a seccomp filter, an exec) stays out of the test's.
//
// Example:
//   EXPECT_EQ(ExitCodeOfChild([] {
//     if (!LimitAddressSpace(size_t{64} << 20)) return 11;
//     return AllocateUntilRefused() ? 0 : 12;
//   }), 0);

#ifndef FILEMON_CORE_TEST_CHILD_H_
#define FILEMON_CORE_TEST_CHILD_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>

namespace filemon {

// waitpid(2), retried while a signal interrupts it: its result (`*status` set when it is `pid`).
pid_t WaitPid(pid_t pid, int* status, int options = 0);

// Forks a child that runs `body` and exits with the code it returns (125 when an exception
// escapes it). Returns that code; -1 after adding a test failure that says why when the fork
// failed or the child died of a signal.
int ExitCodeOfChild(const std::function<int()>& body);

// Limits this process's address space (RLIMIT_AS) to what it maps now plus `room` bytes, so
// that an allocation beyond that fails. False if the limit cannot be read or set.
bool LimitAddressSpace(size_t room);

}  // namespace filemon

#endif  // FILEMON_CORE_TEST_CHILD_H_
