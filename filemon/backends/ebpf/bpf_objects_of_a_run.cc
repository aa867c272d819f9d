// A test program: traces `/bin/true` once with the ebpf backend, then prints the ids of the BPF
// objects this process holds ("prog ID", "link ID", "map ID", one a line) and exits without
// closing them, as a tool does. ebpf_backend_test checks that the kernel frees every one once
// this process has gone. Exit status 0, or 1 with the reason on standard error.
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/ebpf/ebpf_backend.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"

namespace {

// Prints "KIND ID" for each BPF object among this process's descriptors.
void PrintObjectIds() {
  DIR* dir = opendir("/proc/self/fdinfo");
  if (dir == nullptr) return;
  while (dirent* entry = readdir(dir)) {
    std::ifstream info(absl::StrCat("/proc/self/fdinfo/", entry->d_name));
    std::string line;
    while (std::getline(info, line)) {
      for (const char* kind : {"prog", "link", "map"}) {
        unsigned id = 0;
        if (sscanf(line.c_str(), absl::StrCat(kind, "_id: %u").c_str(), &id) == 1) {
          printf("%s %u\n", kind, id);
        }
      }
    }
  }
  closedir(dir);
}

}  // namespace

int main() {
  absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakeEbpfBackend({});
  if (!backend.ok()) {
    fprintf(stderr, "%s\n", backend.status().ToString().c_str());
    return 1;
  }
  filemon::Command command;
  command.argv = {"/bin/true"};
  filemon::testing_internal::CollectingSink sink;
  absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &sink);
  if (!exit.ok()) {
    fprintf(stderr, "%s\n", exit.status().ToString().c_str());
    return 1;
  }
  PrintObjectIds();
  fflush(stdout);
  return 0;
}
