#include "filemon/meta/checker.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "filemon/meta/check_state.h"
#include "filemon/meta/command_check.h"
#include "filemon/meta/cooperate.h"
#include "filemon/meta/filemon_walk.h"
#include "filemon/meta/line_reader.h"
#include "filemon/meta/meta_read.h"
#include "filemon/meta/path_facts.h"
#include "filemon/meta/verdict.h"

namespace filemon {
namespace meta {
namespace {

using internal::CheckState;
using internal::PathFacts;
using internal::TargetTime;

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof buf) == nullptr) return path;
  absl::string_view rest = path;
  while (absl::ConsumePrefix(&rest, "./")) {
  }
  return absl::StrCat(buf, "/", rest);
}

// The TARGET record, read from the header only.
absl::string_view TargetRecord(absl::string_view data) {
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    if (absl::StartsWith(line, "TARGET ")) return line.substr(7);
    if (absl::StartsWith(line, "-- ")) break;
  }
  return absl::string_view();
}

// The target: the caller's, else the TARGET record of an existing .meta, else the .meta's
// file name without ".meta".
std::string TargetName(const TargetSpec& spec, absl::string_view meta_path, bool meta_missing,
                       absl::string_view data) {
  std::string target = spec.target;
  if (target.empty() && !meta_missing) target = std::string(TargetRecord(data));
  if (target.empty()) {
    absl::string_view base = meta_path;
    const size_t slash = base.rfind('/');
    if (slash != absl::string_view::npos) base.remove_prefix(slash + 1);
    absl::ConsumeSuffix(&base, ".meta");
    target = std::string(base);
  }
  return target;
}

// bmake without the .meta of an existing target: up to date unless missing-meta, and "if
// target is in .CURDIR we do not need a meta file" (a prefix test on the target's directory;
// a name without '/' is never exempt).
void DecideWithoutMeta(const CheckOptions& o, const std::string& target, Decision* d) {
  if (!o.missing_meta) return;
  const size_t slash = target.rfind('/');
  const bool exempt =
      slash != std::string::npos && slash > 0 && o.curdir.compare(0, slash, target, 0, slash) == 0;
  if (exempt) return;
  d->out_of_date = true;
  d->reason = Reason::kMissingMeta;
  d->messages.push_back(absl::StrCat(d->meta_path, ": required but missing"));
}

// One run of bmake's meta_oodate() over the .meta `data`, into `*d` (its `meta_path` set):
// the lines before the filemon section (CMD, CWD; everything else is skipped), then the
// section, then what is decided after the loop. `facts`: shared path facts, or null.
void RunCheck(const CheckState& s, absl::string_view data, const TargetTime& target_time,
              const absl::optional<std::vector<CurrentCommand>>& commands, int threads,
              PathFacts* facts, Decision* d) {
  internal::Verdict verdict(d, d->meta_path, s.options.compat);
  internal::LineReader reader(data);
  PathFacts own_facts;  // for the threads of this check, when it has none from the caller
  internal::FilemonWalk walk(s, target_time, facts, &verdict);
  internal::CommandCheck command_check(s, commands);
  bool have_filemon = false;
  internal::MetaLine line;
  while (!verdict.out_of_date() && verdict.ReadLine(&reader, &line)) {
    if (verdict.Truncated(line)) break;
    const absl::string_view text = line.text;
    if (absl::StartsWith(text, "-- filemon") || absl::StartsWith(text, "# buildmon")) {
      // Every line from here on is a filemon line.
      have_filemon = true;
      if (threads > 1 && !reader.has_nul() &&
          data.size() - reader.pos() >= s.options.parallel.min_bytes) {
        internal::WalkCooperatively(&reader, threads, s.options.parallel.chunk_bytes, &own_facts,
                                    &walk, &verdict);
      } else {
        walk.Lines(&reader, data.size());
      }
      break;
    }
    const size_t sp = text.find(' ');
    const absl::string_view key = text.substr(0, sp);
    const bool has_text = sp != absl::string_view::npos;
    const absl::string_view rest = has_text ? text.substr(sp + 1) : absl::string_view();
    if (key == "CMD") {
      command_check.Cmd(line, has_text, rest, &reader, &verdict);
    } else if (key == "CWD") {
      command_check.Cwd(has_text, rest, &verdict);
    }
  }
  walk.Finish();
  if (!verdict.out_of_date() && !have_filemon && s.options.missing_filemon) {
    verdict.MissingFilemon();
  }
}

}  // namespace

// The prepared options, and what every public Check* does with them.
class Checker::Impl {
 public:
  explicit Impl(std::unique_ptr<const CheckState> state) : state_(std::move(state)) {}

  const CheckState& state() const { return *state_; }
  // The options' target and commands.
  TargetSpec DefaultSpec() const {
    return TargetSpec{state_->options.target, state_->options.commands};
  }

  // `facts`: what CheckFiles() shares between its checks; null for one check.
  absl::StatusOr<Decision> CheckFile(const std::string& meta_path, int threads, PathFacts* facts,
                                     const TargetSpec& spec) const;
  Decision CheckData(absl::string_view data, absl::string_view meta_path,
                     const TargetTime& target_time, int threads, PathFacts* facts,
                     const TargetSpec& spec) const {
    Decision d;
    d.meta_path = std::string(meta_path);
    RunCheck(*state_, data, target_time, spec.commands, threads, facts, &d);
    return d;
  }

 private:
  std::unique_ptr<const CheckState> state_;
};

absl::StatusOr<Decision> Checker::Impl::CheckFile(const std::string& meta_path, int threads,
                                                  PathFacts* facts, const TargetSpec& spec) const {
  std::string small;
  absl::optional<internal::Mapping> mapped;
  bool missing = false;
  const absl::Status read = internal::ReadMeta(meta_path, &small, &mapped, &missing);
  if (!read.ok()) return read;
  const absl::string_view data = mapped.has_value() ? mapped->data() : absl::string_view(small);
  const CheckOptions& o = state_->options;
  const std::string target = TargetName(spec, meta_path, missing, data);
  Decision d;
  d.meta_path = AbsolutePath(meta_path);
  d.meta_missing = missing;
  struct stat st;
  if (fstatat(state_->cwd_fd.get(), target.c_str(), &st, 0) != 0) {
    d.out_of_date = true;
    d.reason = Reason::kTargetMissing;
    d.path = target;
    return d;
  }
  if (missing) {
    DecideWithoutMeta(o, target, &d);
    return d;
  }
  TargetTime target_time{static_cast<int64_t>(st.st_mtime), -1};
  if (o.mtime_resolution == MtimeResolution::kFull) {
    target_time.nsec = static_cast<int32_t>(st.st_mtim.tv_nsec);
  }
  RunCheck(*state_, data, target_time, spec.commands, threads, facts, &d);
  return d;
}

absl::StatusOr<Checker> Checker::Create(CheckOptions options) {
  absl::StatusOr<std::unique_ptr<const CheckState>> state =
      internal::PrepareCheckState(std::move(options));
  if (!state.ok()) return state.status();
  return Checker(std::make_unique<const Impl>(std::move(*state)));
}

Checker::Checker(std::unique_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Checker::Checker(Checker&&) noexcept = default;
Checker& Checker::operator=(Checker&&) noexcept = default;
Checker::~Checker() = default;

const CheckOptions& Checker::options() const { return impl_->state().options; }

Decision Checker::CheckData(absl::string_view data, absl::string_view meta_path,
                            int64_t target_mtime) const {
  return CheckDataWith(data, meta_path, target_mtime, 1);
}

Decision Checker::CheckDataWith(absl::string_view data, absl::string_view meta_path,
                                int64_t target_mtime, int threads) const {
  return impl_->CheckData(data, meta_path, TargetTime{target_mtime, -1}, threads, nullptr,
                          impl_->DefaultSpec());
}

absl::StatusOr<Decision> Checker::CheckFile(const std::string& meta_path) const {
  return CheckFileWith(meta_path, 1);
}

absl::StatusOr<Decision> Checker::CheckFileWith(const std::string& meta_path, int threads) const {
  return impl_->CheckFile(meta_path, threads, nullptr, impl_->DefaultSpec());
}

absl::StatusOr<Decision> Checker::Check(const std::string& meta_path, const TargetSpec& target,
                                        int threads) const {
  return impl_->CheckFile(meta_path, threads, nullptr, target);
}

std::vector<absl::StatusOr<Decision>> Checker::CheckFiles(
    const std::vector<std::string>& meta_paths, int threads) const {
  std::vector<absl::StatusOr<Decision>> results(meta_paths.size(),
                                                absl::UnknownError("not checked"));
  if (threads <= 0) threads = Cores();
  threads = static_cast<int>(std::min<size_t>(threads, std::max<size_t>(1, meta_paths.size())));
  PathFacts shared;
  const TargetSpec spec = impl_->DefaultSpec();
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < meta_paths.size();) {
      // The files are the parallelism; their paths' facts are shared (bmake's stat cache is
      // shared by all targets of a run, too).
      results[i] = impl_->CheckFile(meta_paths[i], 1, &shared, spec);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return results;
}

}  // namespace meta
}  // namespace filemon
