#include "filemon/core/test_child.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"

namespace filemon {

pid_t WaitPid(pid_t pid, int* status, int options) {
  pid_t r;
  do {
    r = waitpid(pid, status, options);
  } while (r < 0 && errno == EINTR);
  return r;
}

int ExitCodeOfChild(const std::function<int()>& body) {
  const pid_t child = fork();
  if (child < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return -1;
  }
  if (child == 0) {
    int code = 125;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
  int status = 0;
  if (WaitPid(child, &status) != child) {
    ADD_FAILURE() << "waitpid: " << strerror(errno);
    return -1;
  }
  if (!WIFEXITED(status)) {
    ADD_FAILURE() << "the child died of signal " << WTERMSIG(status);
    return -1;
  }
  return WEXITSTATUS(status);
}

bool LimitAddressSpace(size_t room) {
  size_t pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  struct rlimit limit {};
  if (pages == 0 || getrlimit(RLIMIT_AS, &limit) != 0) return false;
  limit.rlim_cur = pages * static_cast<size_t>(sysconf(_SC_PAGESIZE)) + room;
  return setrlimit(RLIMIT_AS, &limit) == 0;
}

}  // namespace filemon
