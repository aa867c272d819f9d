// A small incremental builder on filemon, the way bmake's meta mode decides: three C files and
// a link. Each target's .meta is checked (one Checker for the build, the commands per call);
// the stale objects are compiled by a small pool of threads, each command run and recorded in
// one call; then the link, if stale. Prints "built T" or "FAILED T" per target run.
// Usage: builder SRCDIR OBJDIR [CFLAG...]
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "filemon/backends/backend_factory.h"
#include "filemon/meta/checker.h"
#include "filemon/meta/run_and_record.h"

namespace meta = filemon::meta;
struct Target {
  std::string name, command;
};

int main(int argc, char** argv) {
  if (argc < 3) return std::fprintf(stderr, "usage: builder SRCDIR OBJDIR [CFLAG...]\n"), 2;
  const std::string src = argv[1], obj = argv[2];
  std::string flags;
  for (int i = 3; i < argc; ++i) flags += std::string(" ") + argv[i];
  std::vector<Target> objects;
  for (std::string base : {"a", "b", "main"}) {
    objects.push_back(
        {base + ".o", "cc" + flags + " -c " + src + "/" + base + ".c -o " + base + ".o"});
  }
  const Target link{"prog", "cc -o prog a.o b.o main.o"};
  mkdir(obj.c_str(), 0777);

  meta::CheckOptions build;  // what every target shares
  build.cwd = obj;
  build.mtime_resolution = meta::MtimeResolution::kFull;  // objects rebuilt in the link's second
  build.default_ignore_paths = std::vector<std::string>{"/dev", "/proc"};  // sources in /tmp count
  absl::StatusOr<meta::Checker> checker = meta::Checker::Create(build);
  if (!checker.ok()) return std::fprintf(stderr, "%s\n", checker.status().ToString().c_str()), 2;
  const auto stale = [&](const Target& t) {
    const meta::TargetSpec spec{t.name, std::vector<meta::CurrentCommand>{{t.command, true}}};
    absl::StatusOr<meta::Decision> d = checker->Check(obj + "/" + t.name + ".meta", spec);
    return !d.ok() || d->out_of_date;
  };
  std::mutex print;
  const auto run = [&](const Target& t) {
    absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakeBackend("auto");
    meta::RunAndRecordOptions job;
    job.meta_path = obj + "/" + t.name + ".meta";
    job.target = t.name;
    job.cwd = obj;
    job.commands = {{t.command, {}}};
    job.passthrough_fd = 2;  // the compiler's messages, as make shows them
    absl::StatusOr<meta::RunAndRecordResult> r =
        backend.ok() ? meta::RunAndRecord(**backend, job) : backend.status();
    const std::lock_guard<std::mutex> lock(print);
    if (!r.ok()) std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::printf("%s %s\n", r.ok() && !r->failed ? "built" : "FAILED", t.name.c_str());
    return r.ok() && !r->failed;
  };

  std::vector<const Target*> todo;
  for (const Target& t : objects)
    if (stale(t)) todo.push_back(&t);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (unsigned j = 0; j < std::max(2u, std::thread::hardware_concurrency()); ++j) {
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < todo.size();) failed = !run(*todo[i]) || failed;
    });
  }
  for (std::thread& t : pool) t.join();
  if (failed) return 1;
  return stale(link) && !run(link) ? 1 : 0;
}
