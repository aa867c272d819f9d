// What RunAndRecord (filemon/meta/run_and_record.h) costs per command on top of a bare
// Backend::Run() into an in-memory log: the output pipe and its reader thread, the .meta text,
// the atomic write. Paired: each round runs both, in alternating order, and the figure is the
// median of the per-round differences (a busy machine shifts both alike).
//
//   bazel run --config=opt //benchmarks:run_and_record_benchmark --
//       --backend ptrace --rounds 200 /bin/true          (one command line)
//
// Prints, per backend: the median bare Run(), the median RunAndRecord(), the median paired
// difference and its 25th-75th percentiles, in microseconds. `--backend null` runs nothing
// (60 records of a small compile): the call's own cost, without a traced process's noise.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/meta/meta_writer.h"
#include "filemon/meta/run_and_record.h"

namespace {

// "--backend null": runs nothing and adds the records of a small compile (60 opens), so that
// the figure is the call's own cost without a process's noise.
class NullBackend : public filemon::Backend {
 public:
  absl::string_view name() const override { return "null"; }
  absl::StatusOr<filemon::ExitStatus> Run(const filemon::Command&, const filemon::TraceOptions&,
                                          filemon::RecordSink* sink) override {
    sink->Add(filemon::Record::Path(filemon::RecordKind::kExec, 42, "/usr/bin/cc"));
    for (int i = 0; i < 60; ++i) {
      sink->Add(filemon::Record::Path(filemon::RecordKind::kRead, 42,
                                      "/usr/include/x86_64-linux-gnu/bits/some_header.h"));
    }
    return filemon::ExitStatus{};
  }
};

absl::StatusOr<std::unique_ptr<filemon::Backend>> Make(const std::string& name) {
  if (name == "null") return std::unique_ptr<filemon::Backend>(new NullBackend);
  return filemon::MakeBackend(name);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

int Bench(const std::string& backend_name, int rounds, const std::vector<std::string>& argv,
          const std::string& dir) {
  absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = Make(backend_name);
  if (!backend.ok()) {
    std::fprintf(stderr, "%s: %s\n", backend_name.c_str(), backend.status().ToString().c_str());
    return 1;
  }
  filemon::Command command;
  command.argv = argv;
  filemon::meta::RunAndRecordOptions record;
  record.meta_path = dir + "/bench.meta";
  record.target = "bench";
  record.cwd = dir;
  record.commands = {{absl::StrJoin(argv, " "), argv}};
  std::vector<double> bare, recorded, diff;
  for (int i = -5; i < rounds; ++i) {  // 5 warm-up rounds
    double t[2];
    for (int k = 0; k < 2; ++k) {
      const bool do_record = (k == 0) == (i % 2 == 0);
      const absl::Time start = absl::Now();
      bool ok;
      if (do_record) {
        absl::StatusOr<filemon::meta::RunAndRecordResult> r =
            filemon::meta::RunAndRecord(**backend, record);
        ok = r.ok() && !r->failed;
      } else {
        filemon::meta::MetaLogBuffer log;
        absl::StatusOr<filemon::ExitStatus> r = (*backend)->Run(command, {}, &log);
        ok = r.ok() && r->ShellStatus() == 0;
      }
      if (!ok) {
        std::fprintf(stderr, "the command failed under %s\n", backend_name.c_str());
        return 1;
      }
      t[do_record ? 1 : 0] = absl::ToDoubleMicroseconds(absl::Now() - start);
    }
    if (i < 0) continue;
    bare.push_back(t[0]);
    recorded.push_back(t[1]);
    diff.push_back(t[1] - t[0]);
  }
  std::printf(
      "%-8s rounds %d  bare Run() %.0f us  RunAndRecord() %.0f us  paired difference %.0f us "
      "(p25 %.0f, p75 %.0f)\n",
      backend_name.c_str(), rounds, Percentile(bare, 0.5), Percentile(recorded, 0.5),
      Percentile(diff, 0.5), Percentile(diff, 0.25), Percentile(diff, 0.75));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> backends, command;
  int rounds = 200;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--backend") && i + 1 < argc) {
      backends.push_back(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::max(1, atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else {
      command.push_back(argv[i]);
    }
  }
  if (backends.empty()) backends = {"ptrace", "preload"};
  if (command.empty()) command = {"/bin/true"};
  for (const std::string& b : backends) {
    if (Bench(b, rounds, command, dir) != 0) return 1;
  }
  return 0;
}
