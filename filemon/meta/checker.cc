#include "filemon/meta/checker.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "filemon/meta/dirdeps.h"
#include "filemon/meta/filemon_fields.h"
#include "filemon/meta/line_reader.h"
#include "filemon/meta/meta_read.h"
#include "filemon/meta/modifiers.h"
#include "filemon/meta/path_cache.h"
#include "filemon/meta/pid_dirs.h"
#include "filemon/meta/probe_set.h"

namespace filemon {
namespace meta {

namespace checker_internal {
struct State;
class Shared;
struct TargetTime;
}  // namespace checker_internal

using internal::Fields;
using internal::LineReader;
using internal::MetaLine;
using internal::QuickLine;

namespace {

constexpr size_t kMaxPathLen = PATH_MAX;  // bmake's MAXPATHLEN buffers (4096 on Linux)

bool HasAnyPrefix(absl::string_view path, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (absl::StartsWith(path, prefix)) return true;
  }
  return false;
}

// `path` equals `prefix` or starts with `prefix` + '/' (bmake's path_starts_with/path_match).
bool PathStartsWith(absl::string_view path, absl::string_view prefix) {
  return absl::StartsWith(path, prefix) &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

// bmake's `:tA`: realpath, or the word unchanged if that fails.
std::string TA(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

// `${LIST:O:u:tA}`.
std::vector<std::string> SortUniqueRealpaths(std::vector<std::string> words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  for (std::string& w : words) w = TA(w);
  return words;
}

}  // namespace

struct checker_internal::State {
  CheckOptions options;
  std::string cwd;  // realpath of options.cwd (bmake's getcwd())
  int cwd_fd = -1;
  std::vector<std::string> ignore_paths;
  std::vector<std::string> bailiwick;
  std::string tmpdir;
  absl::optional<ModifierChain> ignore_filter;
  absl::optional<ModifierChain> cmp_filter;

  ~State() {
    if (cwd_fd >= 0) close(cwd_fd);
  }
};

absl::StatusOr<Checker> Checker::Create(CheckOptions options) {
  auto state = std::make_unique<checker_internal::State>();
  if (options.cwd.empty()) {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof buf) == nullptr) return absl::ErrnoToStatus(errno, "getcwd()");
    options.cwd = buf;
  }
  {
    char buf[PATH_MAX];
    if (realpath(options.cwd.c_str(), buf) == nullptr) {
      return absl::ErrnoToStatus(errno, absl::StrCat("realpath(", options.cwd, ") (--cwd)"));
    }
    state->cwd = buf;
  }
  if (options.curdir.empty()) options.curdir = options.cwd;
  state->cwd_fd = open(state->cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (state->cwd_fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("open(", state->cwd, ") (--cwd)"));
  }
  std::vector<std::string> ignore = options.ignore_paths;
  if (options.default_ignore_paths.has_value()) {
    ignore.insert(ignore.end(), options.default_ignore_paths->begin(),
                  options.default_ignore_paths->end());
  } else {
    for (const char* d : {"/dev", "/etc", "/proc", "/tmp", "/var/run", "/var/tmp"}) {
      ignore.push_back(d);
    }
    for (absl::string_view w :
         absl::StrSplit(options.tmpdir_env, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
      ignore.emplace_back(w);
    }
  }
  state->ignore_paths = SortUniqueRealpaths(std::move(ignore));
  state->bailiwick = SortUniqueRealpaths(options.bailiwick);
  // bmake's getTmpdir(): "${TMPDIR:tA:U/tmp/}/" if that is a directory, else "/tmp/".
  state->tmpdir =
      (options.tmpdir_env.empty() ? std::string("/tmp/") : TA(options.tmpdir_env)) + "/";
  struct stat st;
  if (stat(state->tmpdir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) state->tmpdir = "/tmp/";
  if (!options.ignore_filter.empty()) {
    absl::StatusOr<ModifierChain> chain = ModifierChain::ParseFilter(options.ignore_filter);
    if (!chain.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("IGNORE_FILTER: ", chain.status().message()));
    }
    state->ignore_filter = std::move(*chain);
  }
  if (!options.cmp_filter.empty()) {
    if (options.compat == Compat::k20200710) {
      return absl::InvalidArgumentError(
          "CMP_FILTER needs compat 20260313: bmake 20200710 has no .MAKE.META.CMP_FILTER");
    }
    absl::StatusOr<ModifierChain> chain = ModifierChain::ParseFilter(options.cmp_filter);
    if (!chain.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("CMP_FILTER: ", chain.status().message()));
    }
    state->cmp_filter = std::move(*chain);
  }
  state->options = std::move(options);
  return Checker(std::make_unique<const Impl>(std::move(state)));
}

// What is known of absolute record paths (ignored? stat?), shared by the threads of one check
// (Run::Cooperate) or by all the checks of CheckFiles(), as bmake's own stat cache is shared by
// every target of a run: each distinct path is resolved and stat'ed once overall.
class checker_internal::Shared {
 public:
  bool Get(absl::string_view p, internal::PathCache::Entry* e) {
    Shard& shard = shards_[internal::PathHash()(p) % kShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.map.find(p);
    if (it == shard.map.end()) return false;
    *e = it->second;
    return true;
  }
  void Put(absl::string_view p, const internal::PathCache::Entry& e) {
    Shard& shard = shards_[internal::PathHash()(p) % kShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    auto [it, inserted] = shard.map.emplace(std::string(p), e);
    if (!inserted &&
        ((it->second.tag < 0 && e.tag >= 0) || (!it->second.have_stat && e.have_stat))) {
      it->second = e;  // knows more (a candidate's entry has no ignore decision)
    }
  }

 private:
  static constexpr size_t kShards = 16;
  // PathHash (what the shard was picked with, mixed again) for lookups by string_view.
  struct Hash {
    using is_transparent = void;
    size_t operator()(absl::string_view p) const { return internal::PathHash()(p) >> 4; }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(absl::string_view a, absl::string_view b) const { return a == b; }
  };
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, internal::PathCache::Entry, Hash, Eq> map;
  };
  Shard shards_[kShards];
};

namespace {

// bmake's meta_ignore(): IGNORE_PATHS (absolute paths; [N] raw then realpath, [D] realpath or
// glibc's partial result), IGNORE_PATTERNS, IGNORE_FILTER. A pure function of `p`.
bool IgnorePath(const checker_internal::State& s, absl::string_view p, internal::PathCache* cache,
                std::string* real) {
  const CheckOptions& o = s.options;
  if (!p.empty() && p[0] == '/') {
    if (o.compat == Compat::k20260313 && HasAnyPrefix(p, s.ignore_paths)) return true;
    cache->Realpath(p, real);
    if (HasAnyPrefix(*real, s.ignore_paths)) return true;
  }
  if (!o.ignore_patterns.empty()) {
    // ${IGNORE_PATTERNS:@m@${.p.:M$m}@}: any word of p matching any pattern.
    for (absl::string_view word : absl::StrSplit(p, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
      for (const std::string& pattern : o.ignore_patterns) {
        if (GlobMatch(word, pattern)) return true;
      }
    }
  }
  return s.ignore_filter.has_value() && s.ignore_filter->Apply(p).empty();
}

// The entry of the absolute path `p` (PathHash() `hash`) in `cache`, with its ignore decision
// (`tag`) and, unless ignored, its stat: decided once, by whichever thread of a check meets the
// path first, and shared through `facts` (null: one thread).
internal::PathCache::Entry* KnownEntry(const checker_internal::State& s, absl::string_view p,
                                       uint64_t hash, internal::PathCache* cache,
                                       checker_internal::Shared* facts, std::string* real) {
  internal::PathCache::Entry* e = &cache->Find(p, hash);
  if (e->tag < 0 && facts != nullptr) facts->Get(p, e);  // may know the stat only
  if (e->tag < 0) {
    const bool ignore = IgnorePath(s, p, cache, real);
    e = &cache->Find(p, hash);  // IgnorePath may have added paths (realpath): find it again
    e->tag = ignore ? 1 : 0;
    if (!ignore) cache->Stat(p, *e);  // needed next anyway; shared with the stat
    if (facts != nullptr) facts->Put(p, *e);
  }
  return e;
}

// The target's mtime, and how files are compared with it (CheckOptions::mtime_resolution).
}  // namespace

struct checker_internal::TargetTime {
  int64_t sec = 0;
  int32_t nsec = -1;  // -1: whole seconds, as bmake compares
  bool OlderThan(const internal::StatResult& st) const {
    return st.mtime > sec || (nsec >= 0 && st.mtime == sec && st.mtime_nsec > nsec);
  }
};

namespace {

using checker_internal::TargetTime;

// Whether an absolute R/E/L-source path can change anything: not when it exists, is no
// directory and is not newer than the target, nor when it is ignored (except for E, whose
// latestdir reset an ignored path skips). REQUIRES: `e.tag` known, and `e.stat` unless ignored.
bool Interesting(char key, absl::string_view p, const internal::PathCache::Entry& e,
                 const checker_internal::State& s, const TargetTime& target) {
  if (e.tag == 1) return key == 'E';
  const internal::StatResult& st = e.stat;
  if (st.error == 0) return st.is_dir || target.OlderThan(st);
  return st.error == ENOENT && !absl::StartsWith(p, s.cwd);
}

}  // namespace

namespace {

// One run of meta_oodate() over one .meta.
class Run {
 public:
  Run(const checker_internal::State& s, absl::string_view data, absl::string_view meta_path,
      TargetTime target_time, const absl::optional<std::vector<CurrentCommand>>& commands,
      int threads, checker_internal::Shared* facts, Decision* d)
      : threads_(threads),
        s_(s),
        o_(s.options),
        data_(data),
        meta_path_(meta_path),
        target_time_(target_time),
        commands_(commands),
        d_(d),
        cache_(s.cwd_fd, s.cwd),
        dirs_(s.cwd),
        facts_(facts) {}

  void Go();

 private:
  std::string Prefix(size_t line) const {
    return o_.compat == Compat::k20200710 ? absl::StrCat(meta_path_, ": ", line, ": ")
                                          : absl::StrCat(meta_path_, ":", line, ": ");
  }
  void Message(std::string m) { d_->messages.push_back(std::move(m)); }
  void OutOfDate(Reason reason) {
    if (oodate_) return;
    oodate_ = true;
    d_->out_of_date = true;
    d_->reason = reason;
    d_->line = lineno_;
  }
  void Malformed() {
    Message(absl::StrCat(Prefix(lineno_), "malformed"));
    OutOfDate(Reason::kMalformed);
  }

  // CheckOptions::probes: `p` of an N, W or M/L destination, absolute in the pid's cwd.
  std::string ProbePath(absl::string_view p) const {
    return internal::NormalizePath(p[0] == '/' ? p : absl::StrCat(dirs_.lcwd(), "/", p));
  }
  void Wrote(absl::string_view p) {
    if (o_.probes && !p.empty() && !probes_.empty()) probes_.Wrote(ProbePath(p));
  }
  // After bmake's rules: the first unexplained probe whose path exists now.
  void CheckProbes();
  void Cmd(const MetaLine& line, bool has_p, absl::string_view p, LineReader* reader);
  void Cwd(bool has_p, absl::string_view p);
  void Filemon(absl::string_view line);
  void ProcessFilemon(const Fields& f);
  // An R or E record of `p` (the pid switch done).
  void ReadRecord(char key, absl::string_view p);
  void FilemonLine(const MetaLine& line);
  void FilemonLines(LineReader* reader, size_t end);
  // reader->Next(), and bmake's messages of the line reader.
  bool NextLine(LineReader* reader, MetaLine* line);
  // A line without its '\n': bmake's message, and the decision. False for a complete line.
  bool Truncated(const MetaLine& line) { return !line.complete && ReportTruncated(line); }
  bool ReportTruncated(const MetaLine& line);
  // How a written path is looked at: a link's new name itself (lstat), else through symlinks.
  enum class Follow { kSymlinks, kNoSymlinks };
  void CheckWrite(absl::string_view p, Follow follow);
  // R/E/L-source; returns false where bmake `continue`s (skipping the E latestdir reset).
  bool CheckRead(absl::string_view p);
  // `*entry` (if not null) receives the cache entry of an absolute `p`.
  bool Ignore(absl::string_view p, internal::PathCache::Entry** entry = nullptr);
  bool ComputeIgnore(absl::string_view p);
  void AddMissing(absl::string_view p);
  // The cooperative reading of a large filemon section starting at `reader`'s position.
  struct Chunk;
  void Cooperate(LineReader* reader);
  void ClassifyChunk(Chunk* chunk, internal::PathCache* cache, std::string* real);

  int threads_;
  const checker_internal::State& s_;
  const CheckOptions& o_;
  absl::string_view data_;
  absl::string_view meta_path_;
  TargetTime target_time_;
  const absl::optional<std::vector<CurrentCommand>>& commands_;  // this target's (per call)
  Decision* d_;
  internal::PathCache cache_;

  bool oodate_ = false;
  size_t lineno_ = 0;
  bool have_filemon_ = false;
  size_t cmd_index_ = 0;
  std::vector<std::string> missing_;

  internal::PidDirs dirs_;

  // What the threads of one check know of paths; CheckFiles() passes one for all its checks.
  checker_internal::Shared own_facts_;
  // CheckFiles()' shared one, `own_facts_` once Cooperate() starts helpers, or null (one
  // thread: its cache knows it all).
  checker_internal::Shared* facts_;

  std::string candidate_, real_;
  absl::flat_hash_map<absl::string_view, bool> relative_ignore_;
  internal::ProbeSet probes_;  // CheckOptions::probes
};

bool Run::NextLine(LineReader* reader, MetaLine* line) {
  const bool more = reader->Next(line);
  if (reader->has_nul()) {
    for (std::string& note : reader->TakeNotes()) Message(std::move(note));
  }
  return more;
}

void Run::Go() {
  LineReader reader(data_);
  MetaLine line;
  while (!oodate_ && NextLine(&reader, &line)) {
    ++lineno_;
    if (Truncated(line)) break;
    const absl::string_view text = line.text;
    if (absl::StartsWith(text, "-- filemon") || absl::StartsWith(text, "# buildmon")) {
      // Every line from here on is a filemon line.
      have_filemon_ = true;
      if (threads_ > 1 && !reader.has_nul() &&
          data_.size() - reader.pos() >= s_.options.parallel.min_bytes) {
        if (facts_ == nullptr) facts_ = &own_facts_;
        Cooperate(&reader);
      } else {
        FilemonLines(&reader, data_.size());
      }
      break;
    }
    const size_t sp = text.find(' ');
    const absl::string_view key = text.substr(0, sp);
    const bool has_p = sp != absl::string_view::npos;
    const absl::string_view p = has_p ? text.substr(sp + 1) : absl::string_view();
    if (key == "CMD") {
      Cmd(line, has_p, p, &reader);
    } else if (key == "CWD") {
      Cwd(has_p, p);
    }
  }
  if (!missing_.empty()) {
    Message(absl::StrCat(meta_path_, ": missing files: ", missing_.front(), "..."));
    if (!oodate_) {
      d_->path = missing_.front();
      d_->line = 0;
    }
    OutOfDate(Reason::kMissingFiles);
    if (d_->reason == Reason::kMissingFiles) d_->line = 0;
  }
  if (!oodate_ && o_.probes) CheckProbes();
  if (!oodate_ && !have_filemon_ && o_.missing_filemon) {
    Message(absl::StrCat(meta_path_, ": missing filemon data"));
    OutOfDate(Reason::kMissingFilemon);
    d_->line = 0;
  }
}

void Run::Cmd(const MetaLine& line, bool has_p, absl::string_view p, LineReader* reader) {
  if (!commands_.has_value()) return;  // commands not compared at all
  const std::vector<CurrentCommand>& commands = *commands_;
  if (cmd_index_ >= commands.size()) {
    Message(absl::StrCat(Prefix(lineno_),
                         "there were more build commands in the meta data file than there are "
                         "now..."));
    OutOfDate(Reason::kCmdMoreInMeta);
    return;
  }
  const CurrentCommand& cmd = commands[cmd_index_];
  const bool has_oodate = !cmd.compare;
  if (has_oodate) Message(absl::StrCat(Prefix(lineno_), "cannot compare command using .OODATE"));
  // A current command whose expansion holds '\n' was written as several lines: read one more
  // line per '\n', each joined to the text so far by its '\n' (bmake reads it into its
  // buffer after the line before). The lines are joined, not cut from the data: a line
  // holding a NUL has a text of its own (LineReader).
  size_t newlines = std::count(cmd.text.begin(), cmd.text.end(), '\n');
  std::string joined;
  if (newlines > 0) {
    joined = std::string(p);
    size_t x = line.read_length;
    MetaLine next;
    while (newlines-- > 0) {
      if (!NextLine(reader, &next)) break;
      ++lineno_;
      x += next.read_length;
      absl::StrAppend(&joined, "\n", next.text);
      if (!next.complete) {
        Message(absl::StrCat(Prefix(lineno_), "line truncated at ", x));
        break;
      }
    }
    p = joined;
  }
  if (has_p && !has_oodate && !o_.no_cmd_compare) {
    bool differ = p != cmd.text;
    if (differ && s_.cmp_filter.has_value()) {
      differ = s_.cmp_filter->Apply(p) != s_.cmp_filter->Apply(cmd.text);
    }
    if (differ) {
      // bmake reports the line of the command's last physical line.
      Message(
          absl::StrCat(Prefix(lineno_), "a build command has changed\n", p, "\nvs\n", cmd.text));
      if (!o_.ignore_cmd) {
        if (!oodate_) {
          d_->old_command = std::string(p);
          d_->new_command = cmd.text;
        }
        OutOfDate(Reason::kCmdChanged);
      }
    }
  }
  ++cmd_index_;
}

void Run::Cwd(bool has_p, absl::string_view p) {
  if (!oodate_ && commands_.has_value() && cmd_index_ < commands_->size()) {
    Message(absl::StrCat(Prefix(lineno_),
                         "there are extra build commands now that weren't in the meta data "
                         "file"));
    OutOfDate(Reason::kCmdExtraNow);
  }
  if (!has_p || p.empty()) {
    Malformed();
    return;
  }
  if (p != s_.cwd) {
    Message(absl::StrCat(Prefix(lineno_), "the current working directory has changed from '", p,
                         "' to '", o_.curdir, "'"));
    OutOfDate(Reason::kCwdChanged);
  }
}

void Run::ProcessFilemon(const Fields& f) {
  if (f.key != '#' && f.key != 'V') {
    if (!f.has_after_key || f.after_key.empty()) {
      Malformed();
      return;
    }
    dirs_.Switch(f.pid);
  }
  if (!f.has_arg || f.arg.empty()) {
    Malformed();
    return;
  }
  absl::string_view p = f.arg;
  switch (f.key) {
    case 'X':
      dirs_.Exit();
      return;
    case 'F':
      dirs_.Fork(internal::Atoi(p));
      return;
    case 'C':
      dirs_.Chdir(p);
      return;
    case 'M':
    case 'L': {
      absl::string_view src, dst;
      if (!internal::SplitTwoPaths(f, &src, &dst)) {
        Malformed();
        return;
      }
      Wrote(dst);
      if (f.key == 'M') {
        // The source of a rename only clears missing files, like D.
        if (!src.empty() && src[0] == '/') {
          missing_.erase(
              std::remove_if(missing_.begin(), missing_.end(),
                             [src](const std::string& m) { return PathStartsWith(m, src); }),
              missing_.end());
        }
        CheckWrite(dst, Follow::kSymlinks);
        return;
      }
      CheckWrite(dst, Follow::kNoSymlinks);
      if (!oodate_) CheckRead(src);
      return;
    }
    case 'D':
      if (p[0] == '/') {
        missing_.erase(std::remove_if(missing_.begin(), missing_.end(),
                                      [p](const std::string& m) { return PathStartsWith(m, p); }),
                       missing_.end());
      }
      return;
    case 'W':
      Wrote(p);
      CheckWrite(p, Follow::kSymlinks);
      return;
    case 'R':
    case 'E':
      ReadRecord(f.key, p);
      return;
    case 'N':  // filemon's extension: bmake skips it (the default below)
      if (o_.probes) probes_.Probe(ProbePath(p), lineno_);
      return;
    default:
      return;
  }
}

void Run::CheckProbes() {
  for (const internal::ProbeSet::Probed& probe : probes_.Unexplained()) {
    if (Ignore(probe.path)) continue;
    if (cache_.Stat(probe.path).error != 0) continue;
    Message(absl::StrCat(Prefix(probe.line), "file '", probe.path,
                         "' did not exist when the target was built, and now does"));
    d_->path = probe.path;
    OutOfDate(Reason::kAppeared);
    d_->line = probe.line;
    return;
  }
}

void Run::ReadRecord(char key, absl::string_view p) {
  if (p[0] == '/') {
    // Most records end here, with one lookup: a path already known to be ignored (as in
    // CheckRead: no latestdir reset) or to exist, be no directory and not be newer.
    const internal::PathCache::Entry& e = cache_.Find(p);
    if (e.tag == 1) return;
    if (e.tag == 0 && e.have_stat && e.stat.error == 0 && !e.stat.is_dir &&
        !target_time_.OlderThan(e.stat)) {
      if (key == 'E') dirs_.ResetLatestdir();
      return;
    }
  }
  if (CheckRead(p) && key == 'E') dirs_.ResetLatestdir();
}

void Run::AddMissing(absl::string_view p) {
  for (const std::string& m : missing_) {
    if (m == p) return;
  }
  missing_.emplace_back(p);
}

void Run::CheckWrite(absl::string_view p, Follow follow) {
  if (p.empty() || p[0] != '/') return;
  if (s_.bailiwick.empty()) return;
  if (absl::StartsWith(p, s_.cwd)) return;
  if (!HasAnyPrefix(p, s_.bailiwick)) return;
  if (absl::StartsWith(p, s_.tmpdir)) return;
  if (absl::string_view("tmp").find(p) != absl::string_view::npos) return;  // strstr("tmp", p)
  const internal::StatResult& st = follow == Follow::kNoSymlinks ? cache_.Lstat(p) : cache_.Stat(p);
  if (st.error != 0 && !Ignore(p)) AddMissing(p);
}

bool Run::Ignore(absl::string_view p, internal::PathCache::Entry** entry) {
  if (!p.empty() && p[0] == '/') {
    // One lookup serves the ignore decision and the stat that follows it.
    internal::PathCache::Entry* e =
        KnownEntry(s_, p, internal::PathHash()(p), &cache_, facts_, &real_);
    if (entry != nullptr) *entry = e;
    return e->tag == 1;
  }
  auto it = relative_ignore_.find(p);
  if (it != relative_ignore_.end()) return it->second;
  const bool ignore = ComputeIgnore(p);
  relative_ignore_.emplace(p, ignore);  // `p` points into the .meta data, which outlives the run
  return ignore;
}

void Run::FilemonLine(const MetaLine& line) {
  Fields f;
  internal::FieldsFromLine(line.text, &f);
  ProcessFilemon(f);
}

bool Run::ReportTruncated(const MetaLine& line) {
  Message(absl::StrCat(Prefix(lineno_), "line truncated at ", line.read_length));
  OutOfDate(Reason::kTruncated);
  return true;
}

// Filemon lines from `reader` to `end`, as bmake reads them: most through ReadQuick(), the
// others split by FieldsFromLine().
void Run::FilemonLines(LineReader* reader, size_t end) {
  const bool quick = !reader->has_nul();
  MetaLine line;
  QuickLine q;
  while (!oodate_ && reader->pos() < end) {
    if (quick && internal::ReadQuick(data_.data(), reader->pos(), end, &q)) {
      ++lineno_;
      reader->Seek(q.next);
      dirs_.Switch(q.pid);
      ReadRecord(q.key, q.path);
      continue;
    }
    if (!NextLine(reader, &line)) return;
    ++lineno_;
    if (Truncated(line)) return;
    FilemonLine(line);
  }
}

// A chunk of the filemon section: whole lines [begin, end).
struct Run::Chunk {
  enum State { kFree, kMain, kHelper, kClassified };
  // A line the main thread must process; every other line of a classified chunk is an R of an
  // absolute, boring path by the pid of the record before it (bmake's handling: nothing).
  struct Listed {
    size_t offset;
    uint32_t line;  // within the chunk, from 0
    // > 0: the line is a boring R whose only effect is the switch to this pid.
    int switch_to;
  };
  size_t begin = 0, end = 0;
  std::atomic<int> state{kFree};
  // Set by the helper that classified the chunk, before `state` becomes kClassified.
  uint32_t lines = 0;
  std::vector<Listed> listed;
};

// A helper's reading of a chunk, independent of the per-process state: each absolute R path is
// looked up (resolved, ignored or not, stat'ed: once per distinct path, shared through
// `facts_`), and the lines that can change anything are listed. What is "boring" (Interesting()
// is false) depends on the path alone; a boring R changes nothing but the current pid, which
// the list keeps where it changes.
void Run::ClassifyChunk(Chunk* chunk, internal::PathCache* cache, std::string* real) {
  LineReader reader(data_, LineReader::Nul::kNone);  // Go cooperates only without a NUL
  reader.Seek(chunk->begin);
  int lastpid = 0;  // as PidDirs sees it after the previous line; 0: not known here
  uint32_t line = 0;
  MetaLine bline;
  Fields f;
  QuickLine q;
  for (; reader.pos() < chunk->end; ++line) {
    const size_t start = reader.pos();
    if (internal::ReadQuick(data_.data(), start, chunk->end, &q)) {
      reader.Seek(q.next);
      if (q.key == 'R') {
        const internal::PathCache::Entry* e =
            KnownEntry(s_, q.path, internal::PathHash()(q.path), cache, facts_, real);
        if (!Interesting('R', q.path, *e, s_, target_time_)) {
          if (q.pid > 0 && q.pid != lastpid) {
            chunk->listed.push_back({start, line, q.pid});
            lastpid = q.pid;
          }
          continue;
        }
      }
      chunk->listed.push_back({start, line, 0});
      if (q.pid > 0) lastpid = q.pid;
      continue;
    }
    if (!reader.Next(&bline)) break;  // never: no NUL in the data
    chunk->listed.push_back({start, line, 0});
    internal::FieldsFromLine(bline.text, &f);
    if (f.key != '#' && f.key != 'V' && f.has_after_key && !f.after_key.empty()) {
      if (f.key == 'X') {
        lastpid = 0;  // PidDirs::Exit() forgets the pid: its next record switches again
      } else if (f.pid > 0) {
        lastpid = f.pid;
      }
    }
  }
  chunk->lines = line;
}

// The filemon section read by the main thread and `threads_ - 1` helpers together. The section
// is cut into chunks of whole lines. The main thread reads the chunks in order, as the
// sequential loop does; helpers take chunks from the end backwards and classify them
// (ClassifyChunk). A chunk goes to whoever claims it first: the main thread reads a chunk it
// claimed line by line, and of a classified one only the listed lines (waiting for a helper
// still at it). The decision is therefore the sequential one, and a machine too busy to run
// the helpers costs only their start.
void Run::Cooperate(LineReader* reader) {
  const size_t begin = reader->pos();
  std::vector<size_t> bounds = {begin};
  while (bounds.back() < data_.size()) {
    size_t at = bounds.back() + s_.options.parallel.chunk_bytes;
    if (at >= data_.size()) {
      at = data_.size();
    } else {
      const void* nl = std::memchr(data_.data() + at, '\n', data_.size() - at);
      at = nl ? static_cast<const char*>(nl) - data_.data() + 1 : data_.size();
    }
    bounds.push_back(at);
  }
  const size_t n = bounds.size() - 1;
  std::unique_ptr<Chunk[]> chunks(new Chunk[n]);
  for (size_t i = 0; i < n; ++i) {
    chunks[i].begin = bounds[i];
    chunks[i].end = bounds[i + 1];
  }
  std::atomic<ptrdiff_t> back{static_cast<ptrdiff_t>(n)};
  std::atomic<bool> stop{false};
  const auto helper = [&] {
    internal::PathCache cache(s_.cwd_fd, s_.cwd);
    std::string real;
    while (!stop.load(std::memory_order_relaxed)) {
      const ptrdiff_t k = back.fetch_sub(1) - 1;
      if (k < 0) return;
      Chunk& c = chunks[k];
      int expected = Chunk::kFree;
      if (!c.state.compare_exchange_strong(expected, Chunk::kHelper)) return;  // main is here
      ClassifyChunk(&c, &cache, &real);
      c.state.store(Chunk::kClassified, std::memory_order_release);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads_ && static_cast<size_t>(t) < n; ++t) pool.emplace_back(helper);
  MetaLine line;
  for (size_t i = 0; i < n && !oodate_; ++i) {
    Chunk& c = chunks[i];
    int expected = Chunk::kFree;
    if (c.state.compare_exchange_strong(expected, Chunk::kMain)) {
      FilemonLines(reader, c.end);
      continue;
    }
    while (c.state.load(std::memory_order_acquire) != Chunk::kClassified) sched_yield();
    const size_t base = lineno_;
    for (const Chunk::Listed& l : c.listed) {
      if (oodate_) break;
      lineno_ = base + l.line + 1;
      if (l.switch_to > 0) {
        dirs_.Switch(l.switch_to);
        continue;
      }
      reader->Seek(l.offset);
      reader->Next(&line);  // never false: no NUL in the data, and the line is in the chunk
      if (Truncated(line)) break;
      FilemonLine(line);
    }
    if (oodate_) break;
    lineno_ = base + c.lines;
    reader->Seek(c.end);
  }
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : pool) t.join();
}

bool Run::ComputeIgnore(absl::string_view p) { return IgnorePath(s_, p, &cache_, &real_); }

bool Run::CheckRead(absl::string_view p) {
  internal::PathCache::Entry* entry = nullptr;
  if (Ignore(p, &entry)) return false;  // bmake: `break`, which also skips E's latestdir reset
  absl::string_view candidates[3];
  int n = 0;
  if (!p.empty() && p[0] == '/') {
    candidates[n++] = p;
  } else {
    if (p == ".") return false;  // bmake: `continue`
    // latestdir/p, lcwd/p, cwd/p, built in one buffer reserved up front so that the views
    // stay valid.
    candidate_.clear();
    const std::string& latestdir = dirs_.latestdir();
    const std::string& lcwd = dirs_.lcwd();
    candidate_.reserve(latestdir.size() + lcwd.size() + s_.cwd.size() + 3 * (p.size() + 1));
    const auto add = [&](const std::string& dir) {
      const size_t start = candidate_.size();
      absl::StrAppend(&candidate_, dir, "/", p);
      size_t len = candidate_.size() - start;
      if (len >= kMaxPathLen) {
        if (o_.compat == Compat::k20260313) {  // [N] skips a candidate that does not fit
          candidate_.resize(start);
          return;
        }
        len = kMaxPathLen - 1;  // [D] snprintf truncates
        candidate_.resize(start + len);
      }
      candidates[n++] = absl::string_view(candidate_.data() + start, len);
    };
    add(latestdir);
    if (latestdir != lcwd) add(lcwd);
    if (lcwd != s_.cwd) add(s_.cwd);
  }
  int error = 0;
  for (int i = 0; i < n; ++i) {
    internal::PathCache::Entry& ce = entry != nullptr ? *entry : cache_.Find(candidates[i]);
    if (!ce.have_stat && entry == nullptr &&
        !(facts_ != nullptr && facts_->Get(candidates[i], &ce) && ce.have_stat)) {
      cache_.Stat(candidates[i], ce);
      if (facts_ != nullptr) facts_->Put(candidates[i], ce);
    }
    const internal::StatResult& st = cache_.Stat(candidates[i], ce);
    if (st.error != 0) {
      error = st.error;
      continue;
    }
    if (!st.is_dir) {
      if (target_time_.OlderThan(st)) {
        Message(absl::StrCat(Prefix(lineno_), "file '", candidates[i],
                             "' is newer than the target..."));
        if (!oodate_) d_->path = std::string(candidates[i]);
        OutOfDate(Reason::kNewer);
      }
    } else {
      cache_.Realpath(candidates[i], &real_);
      dirs_.SetLatestdir(real_);
    }
    return true;
  }
  if (error == ENOENT && !p.empty() && p[0] == '/' && !absl::StartsWith(p, s_.cwd)) {
    AddMissing(p);
  }
  return true;
}

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

}  // namespace

namespace {

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace

// The prepared options, and what every public Check* does with them.
class Checker::Impl {
 public:
  explicit Impl(std::unique_ptr<checker_internal::State> state) : state_(std::move(state)) {}

  const checker_internal::State& state() const { return *state_; }
  // The options' target and commands.
  TargetSpec DefaultSpec() const {
    return TargetSpec{state_->options.target, state_->options.commands};
  }

  // `facts`: what CheckFiles() shares between its checks; null for one check.
  absl::StatusOr<Decision> CheckFile(const std::string& meta_path, int threads,
                                     checker_internal::Shared* facts, const TargetSpec& spec) const;
  Decision CheckData(absl::string_view data, absl::string_view meta_path,
                     const TargetTime& target_time, int threads, checker_internal::Shared* facts,
                     const TargetSpec& spec) const {
    Decision d;
    d.meta_path = std::string(meta_path);
    Run(*state_, data, meta_path, target_time, spec.commands, threads, facts, &d).Go();
    return d;
  }

 private:
  std::unique_ptr<checker_internal::State> state_;
};

absl::StatusOr<Decision> Checker::Impl::CheckFile(const std::string& meta_path, int threads,
                                                  checker_internal::Shared* facts,
                                                  const TargetSpec& spec) const {
  const std::string name = AbsolutePath(meta_path);
  std::string small;
  absl::optional<internal::Mapping> mapped;
  bool missing = false;
  const absl::Status read = internal::ReadMeta(meta_path, &small, &mapped, &missing);
  if (!read.ok()) return read;
  const absl::string_view data = mapped.has_value() ? mapped->data() : absl::string_view(small);
  const CheckOptions& o = state_->options;
  std::string target = spec.target;
  if (target.empty() && !missing) target = std::string(TargetRecord(data));
  if (target.empty()) {
    absl::string_view base = meta_path;
    const size_t slash = base.rfind('/');
    if (slash != absl::string_view::npos) base.remove_prefix(slash + 1);
    absl::ConsumeSuffix(&base, ".meta");
    target = std::string(base);
  }
  Decision d;
  d.meta_path = name;
  d.meta_missing = missing;
  struct stat st;
  if (fstatat(state_->cwd_fd, target.c_str(), &st, 0) != 0) {
    d.out_of_date = true;
    d.reason = Reason::kTargetMissing;
    d.path = target;
    return d;
  }
  if (missing) {
    if (o.missing_meta) {
      // bmake: "if target is in .CURDIR we do not need a meta file" (a prefix test on the
      // target's directory; a name without '/' is never exempt).
      const size_t slash = target.rfind('/');
      const bool exempt = slash != std::string::npos && slash > 0 &&
                          o.curdir.compare(0, slash, target, 0, slash) == 0;
      if (!exempt) {
        d.out_of_date = true;
        d.reason = Reason::kMissingMeta;
        d.messages.push_back(absl::StrCat(name, ": required but missing"));
      }
    }
    return d;
  }
  TargetTime target_time{static_cast<int64_t>(st.st_mtime), -1};
  if (o.mtime_resolution == MtimeResolution::kFull) {
    target_time.nsec = static_cast<int32_t>(st.st_mtim.tv_nsec);
  }
  return CheckData(data, name, target_time, threads, facts, spec);
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
  checker_internal::Shared shared;
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
