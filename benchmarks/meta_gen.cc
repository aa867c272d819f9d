#include "benchmarks/meta_gen.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace filemon_bench {
namespace {

constexpr time_t kSourceTime = 1600000000;
constexpr time_t kTargetTime = 1600000100;

absl::Status MkdirP(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    if (mkdir(path.substr(0, i).c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir(", path.substr(0, i), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Touch(const std::string& path, time_t t, bool create) {
  if (create) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open(", path, ")"));
    close(fd);
  }
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  if (utimensat(AT_FDCWD, path.c_str(), ts, 0) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("utimensat(", path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GeneratedMeta> GenerateMeta(const std::string& root, size_t records,
                                           size_t processes, size_t files, bool newer_last) {
  GeneratedMeta g;
  g.objdir = root + "/obj";
  g.target = "target";
  g.meta_path = g.objdir + "/target.meta";
  g.command = "sh build.sh";
  constexpr size_t kPerDir = 100;
  const size_t ndirs = (files + kPerDir - 1) / kPerDir;
  std::vector<std::string> dirs, names;
  for (size_t d = 0; d < ndirs; ++d) {
    dirs.push_back(absl::StrCat(root, "/src/lib", d));
    absl::Status s = MkdirP(dirs.back());
    if (!s.ok()) return s;
  }
  for (size_t f = 0; f < files; ++f) {
    names.push_back(absl::StrCat("file", f % kPerDir, ".h"));
    const std::string path = absl::StrCat(dirs[f / kPerDir], "/", names.back());
    absl::Status s = Touch(path, kSourceTime, /*create=*/true);
    if (!s.ok()) return s;
  }
  absl::Status s = MkdirP(g.objdir);
  if (!s.ok()) return s;
  s = Touch(g.objdir + "/target", kTargetTime, true);
  if (!s.ok()) return s;
  const std::string cc = root + "/src/cc";
  s = Touch(cc, kSourceTime, true);
  if (!s.ok()) return s;

  std::string out =
      absl::StrCat("# Meta data file ", g.meta_path, "\nCMD ", g.command, "\nCWD ", g.objdir,
                   "\nTARGET ", g.target,
                   "\n-- command output --\n\n-- filemon acquired metadata --\n"
                   "# filemon version 5\n# Target pid 1000\n# Start 1600000100.000000\n"
                   "V 5\n");
  uint64_t rng = 88172645463325252ull;
  const auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const size_t per_process = std::max<size_t>(8, records / std::max<size_t>(1, processes));
  const int shell = 1000;
  size_t n = 0;
  std::string last_read;
  for (size_t p = 0; p < processes && n < records; ++p) {
    const int pid = shell + 1 + static_cast<int>(p);
    absl::StrAppend(&out, "F ", shell, " ", pid, "\n", "E ", pid, " ", cc, "\n", "R ", pid,
                    " /etc/ld.so.cache\n");
    n += 3;
    const size_t d = next() % ndirs;
    const bool chdir = p % 4 == 0;
    if (chdir) {
      absl::StrAppend(&out, "C ", pid, " ", dirs[d], "\n");
      ++n;
    }
    for (size_t k = 0; k + 6 < per_process && n + 3 < records; ++k) {
      const size_t f = next() % files;
      if (chdir && f / kPerDir == d) {
        absl::StrAppend(&out, "R ", pid, " ", names[f], "\n");
      } else {
        absl::StrAppend(&out, "R ", pid, " ", dirs[f / kPerDir], "/", names[f], "\n");
      }
      ++n;
    }
    absl::StrAppend(&out, "W ", pid, " ", g.objdir, "/t", p, ".o\n", "D ", pid, " ", g.objdir, "/t",
                    p, ".o\n", "X ", pid, " 0 0\n");
    n += 3;
  }
  // The last record reads a source read nowhere else: the one made newer on request.
  last_read = root + "/src/last.h";
  s = Touch(last_read, kSourceTime, /*create=*/true);
  if (!s.ok()) return s;
  absl::StrAppend(&out, "R ", shell, " ", last_read, "\n# Stop 1600000101.000000\n# Bye bye\n");
  n += 1;
  g.newer_file = last_read;
  g.records = n;
  g.bytes = out.size();
  s = Touch(last_read, newer_last ? kTargetTime + 1 : kSourceTime, false);
  if (!s.ok()) return s;
  std::ofstream file(g.meta_path, std::ios::binary | std::ios::trunc);
  file << out;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", g.meta_path));
  return g;
}

}  // namespace filemon_bench
