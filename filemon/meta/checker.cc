#include "filemon/meta/checker.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
#include "filemon/meta/json_internal.h"
#include "filemon/meta/meta_read.h"
#include "filemon/meta/modifiers.h"
#include "filemon/meta/path_cache.h"
#include "filemon/meta/pid_dirs.h"
#include "filemon/meta/probe_set.h"

namespace filemon {
namespace meta {

absl::string_view CompatName(Compat compat) {
  return compat == Compat::k20200710 ? "20200710" : "20260313";
}

bool ParseCompat(absl::string_view text, Compat* compat) {
  if (text == "20200710") {
    *compat = Compat::k20200710;
  } else if (text == "20260313") {
    *compat = Compat::k20260313;
  } else {
    return false;
  }
  return true;
}

absl::string_view ReasonCode(Reason reason) {
  switch (reason) {
    case Reason::kUpToDate:
      return "up-to-date";
    case Reason::kNewer:
      return "newer";
    case Reason::kCmdChanged:
      return "cmd_changed";
    case Reason::kCmdMoreInMeta:
      return "cmd_more_in_meta";
    case Reason::kCmdExtraNow:
      return "cmd_extra_now";
    case Reason::kCwdChanged:
      return "cwd_changed";
    case Reason::kMissingFiles:
      return "missing_files";
    case Reason::kMissingFilemon:
      return "missing_filemon";
    case Reason::kMissingMeta:
      return "missing_meta";
    case Reason::kMalformed:
      return "malformed";
    case Reason::kTruncated:
      return "truncated";
    case Reason::kAppeared:
      return "appeared";
    case Reason::kTargetMissing:
      return "target_missing";
  }
  return "unknown";
}

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

// bmake's DEQUOTE: drop a leading quote and cut at the next one.
absl::string_view Dequote(absl::string_view p) {
  if (p.empty() || p[0] != '\'') return p;
  p.remove_prefix(1);
  const size_t q = p.find('\'');
  return q == absl::string_view::npos ? p : p.substr(0, q);
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

// One physical line as bmake's fgetLine() + strlen() see it.
struct BLine {
  absl::string_view text;  // without the '\n'; cut at a NUL byte (bmake's strings end there)
  size_t x = 0;            // bmake's `x`: bytes up to the NUL or through the '\n'
  bool complete = false;   // ended with '\n' (bmake: buf[x - 1] == '\n')
  size_t start = 0;        // offset of the line in the data
};

// The first '\n' in [p, end), or null. Inline, 16 bytes a step: a filemon line is short, and a
// call to memchr costs as much as its search.
inline const char* FindNewline(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  for (; end - p >= 16; p += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, nl)));
    if (mask != 0) return p + __builtin_ctz(mask);
  }
#endif
  return static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
}

class LineReader {
 public:
  // Whether the data holds a NUL byte (bmake's strings end there), when the caller knows.
  enum class Nul { kUnknown, kNone };
  explicit LineReader(absl::string_view data, Nul nul = Nul::kUnknown)
      : data_(data),
        has_nul_(nul == Nul::kUnknown && std::memchr(data.data(), 0, data.size()) != nullptr) {}

  // False at the end, and (as bmake's `fgetLine(...) > 0` test) when bmake's `x` is 0.
  bool Next(BLine* line) {
    if (pos_ >= data_.size()) return false;
    const char* start = data_.data() + pos_;
    const size_t left = data_.size() - pos_;
    const char* nl = FindNewline(start, start + left);
    const size_t len = nl ? static_cast<size_t>(nl - start) : left;
    line->start = pos_;
    if (has_nul_ && std::memchr(start, 0, len) != nullptr) return NextWithNul(line);
    pos_ += len + (nl ? 1 : 0);
    line->text = absl::string_view(start, len);
    line->x = len + (nl ? 1 : 0);
    line->complete = nl != nullptr;
    return true;
  }
  size_t pos() const { return pos_; }
  void Seek(size_t pos) { pos_ = pos; }
  // bmake's -dM messages of the lines read since the last call ("growing buffer A -> B").
  std::vector<std::string> TakeNotes() { return std::exchange(notes_, {}); }
  bool has_nul() const { return has_nul_; }

 private:
  // bmake's fgets() of at most `room` - 1 bytes at pos_: through the next '\n', appended to
  // `*buf`. False at the end of the data (fgets() returns NULL).
  bool Fgets(size_t room, std::string* buf) {
    if (pos_ >= data_.size() || room <= 1) return false;
    const size_t max = std::min(room - 1, data_.size() - pos_);
    const void* nl = std::memchr(data_.data() + pos_, '\n', max);
    const size_t n =
        nl ? static_cast<size_t>(static_cast<const char*>(nl) - data_.data()) - pos_ + 1 : max;
    buf->append(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  // A line holding a NUL, as bmake's fgetLine() reads it: strlen() stops at the NUL, the line
  // seems to lack its '\n', and bmake grows its buffer (from 64 KiB to half the file size,
  // then the whole size, rounded up to BUFSIZ) and reads on at the NUL, so the next line is
  // glued onto the text before the NUL. A file too small to grow the buffer for gives the
  // text before the NUL, without its '\n' (a truncated line). The buffer size carries over
  // from line to line, as bmake's static buffer does.
  bool NextWithNul(BLine* line) {
    constexpr size_t kBufSiz = 8192;  // glibc's BUFSIZ, bmake's unit
    const auto round_up = [](size_t n) { return (n + kBufSiz - 1) / kBufSiz * kBufSiz; };
    std::string buf;
    Fgets(bufsz_, &buf);
    size_t x;
    for (;;) {
      const size_t nul = buf.find('\0');
      x = nul == std::string::npos ? buf.size() : nul;
      buf.resize(x);
      if (x > 0 && buf[x - 1] == '\n') break;
      size_t grown = round_up(data_.size() / 2);
      if (grown <= bufsz_) grown = round_up(data_.size());
      if (grown <= bufsz_) break;  // truncated
      notes_.push_back(absl::StrCat("growing buffer ", bufsz_, " -> ", grown));
      bufsz_ = grown;
      if (!Fgets(bufsz_ - x, &buf)) break;  // truncated
    }
    line->x = x;
    line->complete = x > 0 && buf[x - 1] == '\n';
    if (line->complete) buf.pop_back();
    glued_.push_back(std::move(buf));
    line->text = glued_.back();
    return x > 0;
  }

  absl::string_view data_;
  bool has_nul_;
  size_t pos_ = 0;
  size_t bufsz_ = 8 * 8192;        // bmake's first buffer: 8 * BUFSIZ
  std::deque<std::string> glued_;  // texts of lines with a NUL (stable while the reader lives)
  std::vector<std::string> notes_;
};

// A filemon line as bmake's meta_oodate() splits it.
struct Fields {
  char key = 0;  // buf[0]
  bool has_p1 = false;
  absl::string_view p1;  // after the first ' ' (the pid and the rest)
  int pid = 0;
  bool has_p = false;
  absl::string_view p;  // what is left after the pid (for '#'/'V': p1)
};

// bmake's split: the key is the first byte, `p1` follows the first ' ', the pid is atoi(p1) and
// `p` follows the next ' '. The usual shape, "K 1234 path", is read without a search or atoi().
inline void FieldsFromLine(absl::string_view line, Fields* f) {
  f->key = line.empty() ? '\0' : line[0];
  const size_t sp = line.size() >= 2 && line[1] == ' ' ? 1 : line.find(' ');
  f->has_p1 = sp != absl::string_view::npos;
  f->p1 = f->has_p1 ? line.substr(sp + 1) : absl::string_view();
  f->pid = 0;
  if (f->key == '#' || f->key == 'V') {
    f->has_p = f->has_p1;
    f->p = f->p1;
    return;
  }
  f->has_p = false;
  f->p = absl::string_view();
  if (!f->has_p1 || f->p1.empty()) return;  // malformed; reported by the caller
  const char* const begin = f->p1.data();
  const char* const end = begin + f->p1.size();
  const char* d = begin;
  int value = 0;
  while (d < end && d - begin < 9 && static_cast<unsigned char>(*d - '0') < 10) {
    value = value * 10 + (*d++ - '0');
  }
  if (d > begin && d < end && *d == ' ') {  // 1-9 digits, then the ' ': atoi() says `value`
    f->pid = value;
    f->has_p = true;
    f->p = absl::string_view(d + 1, static_cast<size_t>(end - d - 1));
    return;
  }
  f->pid = internal::Atoi(f->p1);
  const size_t sp2 = f->p1.find(' ');
  f->has_p = sp2 != absl::string_view::npos;
  f->p = f->has_p ? f->p1.substr(sp2 + 1) : absl::string_view();
}

// The source and target of an L or M record, as bmake splits and unquotes them. False:
// malformed.
bool SplitTwoPaths(const Fields& f, absl::string_view* src, absl::string_view* dst) {
  const size_t sp = f.p.find(' ');
  if (sp == absl::string_view::npos || sp + 1 == f.p.size()) return false;
  *src = Dequote(f.p.substr(0, sp));
  *dst = Dequote(f.p.substr(sp + 1));
  return true;
}

// The shape of most filemon lines, "R 1234 /path\n" (or E): the key, one ' ', 1-9 digits, one
// ' ', an absolute path, a '\n'. bmake's split of such a line gives pid 1234 and p "/path", as
// FieldsFromLine() would; reading it needs no BLine, no Fields and no atoi().
struct QuickLine {
  char key;
  int pid;
  absl::string_view path;
  size_t next;  // offset of the next line
};

// Whether the line at `data + pos` (ending before `data + end`) has that shape; if so, `*out`.
// REQUIRES: the data holds no NUL (bmake would cut a line there).
inline bool ReadQuick(const char* data, size_t pos, size_t end, QuickLine* out) {
  const char* const q = data + pos;
  const char* const limit = data + end;
  if (limit - q < 6 || (q[0] != 'R' && q[0] != 'E') || q[1] != ' ') return false;
  const char* const nl = FindNewline(q + 2, limit);
  if (nl == nullptr) return false;  // the last line, truncated: the general path reports it
  const char* const digits = q + 2;
  const char* d = digits;
  uint64_t value = 0;  // unsigned: a long run of digits wraps (and is refused) instead of UB
  while (static_cast<unsigned char>(*d - '0') < 10)
    value = value * 10 + (*d++ - '0');  // '\n' stops it
  if (d == digits || d - digits > 9 || *d != ' ' || nl - d < 2 || d[1] != '/') return false;
  out->key = q[0];
  out->pid = static_cast<int>(value);
  out->path = absl::string_view(d + 1, static_cast<size_t>(nl - d - 1));
  out->next = static_cast<size_t>(nl + 1 - data);
  return true;
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

Checker::Checker(std::unique_ptr<State> state) : state_(std::move(state)) {}
Checker::Checker(Checker&&) noexcept = default;
Checker& Checker::operator=(Checker&&) noexcept = default;
Checker::~Checker() = default;

const CheckOptions& Checker::options() const { return state_->options; }

absl::StatusOr<Checker> Checker::Create(CheckOptions options) {
  auto state = std::make_unique<State>();
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
  return Checker(std::move(state));
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
  void Cmd(const BLine& line, bool has_p, absl::string_view p, LineReader* reader);
  void Cwd(bool has_p, absl::string_view p);
  void Filemon(absl::string_view line);
  void ProcessFilemon(const Fields& f);
  // An R or E record of `p` (the pid switch done).
  void ReadRecord(char key, absl::string_view p);
  void FilemonLine(const BLine& line);
  void FilemonLines(LineReader* reader, size_t end);
  // reader->Next(), and bmake's messages of the line reader.
  bool NextLine(LineReader* reader, BLine* line);
  // A line without its '\n': bmake's message, and the decision. False for a complete line.
  bool Truncated(const BLine& line) { return !line.complete && ReportTruncated(line); }
  bool ReportTruncated(const BLine& line);
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

bool Run::NextLine(LineReader* reader, BLine* line) {
  const bool more = reader->Next(line);
  if (reader->has_nul()) {
    for (std::string& note : reader->TakeNotes()) Message(std::move(note));
  }
  return more;
}

void Run::Go() {
  LineReader reader(data_);
  BLine line;
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

void Run::Cmd(const BLine& line, bool has_p, absl::string_view p, LineReader* reader) {
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
  // line per '\n'.
  size_t newlines = std::count(cmd.text.begin(), cmd.text.end(), '\n');
  if (newlines > 0) {
    size_t end = line.start + line.text.size();  // where p ends, before its '\n'
    size_t x = line.x;
    BLine next;
    while (newlines-- > 0) {
      if (!NextLine(reader, &next)) break;
      ++lineno_;
      x += next.x;
      end = next.start + next.text.size();
      if (!next.complete) {
        Message(absl::StrCat(Prefix(lineno_), "line truncated at ", x));
        break;
      }
    }
    if (has_p) {
      const size_t p_start = p.data() - data_.data();
      p = data_.substr(p_start, end - p_start);
    }
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
    if (!f.has_p1 || f.p1.empty()) {
      Malformed();
      return;
    }
    dirs_.Switch(f.pid);
  }
  if (!f.has_p || f.p.empty()) {
    Malformed();
    return;
  }
  absl::string_view p = f.p;
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
      if (!SplitTwoPaths(f, &src, &dst)) {
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

void Run::FilemonLine(const BLine& line) {
  Fields f;
  FieldsFromLine(line.text, &f);
  ProcessFilemon(f);
}

bool Run::ReportTruncated(const BLine& line) {
  Message(absl::StrCat(Prefix(lineno_), "line truncated at ", line.x));
  OutOfDate(Reason::kTruncated);
  return true;
}

// Filemon lines from `reader` to `end`, as bmake reads them: most through ReadQuick(), the
// others split by FieldsFromLine().
void Run::FilemonLines(LineReader* reader, size_t end) {
  const bool quick = !reader->has_nul();
  BLine line;
  QuickLine q;
  while (!oodate_ && reader->pos() < end) {
    if (quick && ReadQuick(data_.data(), reader->pos(), end, &q)) {
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
  BLine bline;
  Fields f;
  QuickLine q;
  for (; reader.pos() < chunk->end; ++line) {
    const size_t start = reader.pos();
    if (ReadQuick(data_.data(), start, chunk->end, &q)) {
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
    FieldsFromLine(bline.text, &f);
    if (f.key != '#' && f.key != 'V' && f.has_p1 && !f.p1.empty()) {
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
  BLine line;
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

Decision Checker::CheckData(absl::string_view data, absl::string_view meta_path,
                            int64_t target_mtime) const {
  return CheckDataWith(data, meta_path, target_mtime, 1);
}

Decision Checker::CheckDataWith(absl::string_view data, absl::string_view meta_path,
                                int64_t target_mtime, int threads) const {
  const TargetSpec spec{state_->options.target, state_->options.commands};
  return CheckDataImpl(data, meta_path, TargetTime{target_mtime, -1}, threads, nullptr, spec);
}

Decision Checker::CheckDataImpl(absl::string_view data, absl::string_view meta_path,
                                const TargetTime& target_time, int threads, Shared* facts,
                                const TargetSpec& spec) const {
  Decision d;
  d.meta_path = std::string(meta_path);
  Run(*state_, data, meta_path, target_time, spec.commands, threads, facts, &d).Go();
  return d;
}

absl::StatusOr<Decision> Checker::CheckFile(const std::string& meta_path) const {
  return CheckFileWith(meta_path, 1);
}

absl::StatusOr<Decision> Checker::CheckFileWith(const std::string& meta_path, int threads) const {
  return CheckFileImpl(meta_path, threads, nullptr, nullptr);
}

absl::StatusOr<Decision> Checker::Check(const std::string& meta_path, const TargetSpec& target,
                                        int threads) const {
  return CheckFileImpl(meta_path, threads, nullptr, &target);
}

absl::StatusOr<Decision> Checker::CheckFileImpl(const std::string& meta_path, int threads,
                                                Shared* facts, const TargetSpec* spec) const {
  const std::string name = AbsolutePath(meta_path);
  std::string small;
  absl::optional<internal::Mapping> mapped;
  bool missing = false;
  const absl::Status read = internal::ReadMeta(meta_path, &small, &mapped, &missing);
  if (!read.ok()) return read;
  const absl::string_view data = mapped.has_value() ? mapped->data() : absl::string_view(small);
  const CheckOptions& o = state_->options;
  absl::optional<TargetSpec> from_options;
  if (spec == nullptr) spec = &from_options.emplace(TargetSpec{o.target, o.commands});
  std::string target = spec->target;
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
  return CheckDataImpl(data, name, target_time, threads, facts, *spec);
}

std::vector<absl::StatusOr<Decision>> Checker::CheckFiles(
    const std::vector<std::string>& meta_paths, int threads) const {
  std::vector<absl::StatusOr<Decision>> results(meta_paths.size(),
                                                absl::UnknownError("not checked"));
  if (threads <= 0) threads = Cores();
  threads = static_cast<int>(std::min<size_t>(threads, std::max<size_t>(1, meta_paths.size())));
  Shared shared;
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < meta_paths.size();) {
      // The files are the parallelism; their paths' facts are shared (bmake's stat cache is
      // shared by all targets of a run, too).
      results[i] = CheckFileImpl(meta_paths[i], 1, &shared, nullptr);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return results;
}

std::string DecisionJson(const Decision& d) {
  std::string out = "{\"meta\":";
  internal::AppendJsonString(d.meta_path, &out);
  absl::StrAppend(&out, ",\"out_of_date\":", d.out_of_date ? "true" : "false", ",\"reason\":\"",
                  ReasonCode(d.reason), "\",\"line\":", d.line, ",\"path\":");
  internal::AppendJsonString(d.path, &out);
  out.append(",\"old_command\":");
  internal::AppendJsonString(d.old_command, &out);
  out.append(",\"new_command\":");
  internal::AppendJsonString(d.new_command, &out);
  out.append(",\"messages\":[");
  for (size_t i = 0; i < d.messages.size(); ++i) {
    if (i > 0) out.push_back(',');
    internal::AppendJsonString(d.messages[i], &out);
  }
  out.append("]}");
  return out;
}

}  // namespace meta
}  // namespace filemon
