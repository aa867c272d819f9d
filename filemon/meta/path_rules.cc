#include "filemon/meta/path_rules.h"

#include <limits.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "filemon/meta/modifiers.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

constexpr size_t kMaxPathLen = PATH_MAX;  // bmake's MAXPATHLEN buffers (4096 on Linux)

}  // namespace

bool HasAnyPrefix(absl::string_view path, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (absl::StartsWith(path, prefix)) return true;
  }
  return false;
}

bool PathStartsWith(absl::string_view path, absl::string_view prefix) {
  return absl::StartsWith(path, prefix) &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

bool IgnorePath(const CheckState& s, absl::string_view p, PathCache* cache, std::string* real) {
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

void ReadCandidates::Build(absl::string_view p, const std::string& latestdir,
                           const std::string& lcwd, const std::string& cwd, Compat compat) {
  n_ = 0;
  if (!p.empty() && p[0] == '/') {
    views_[n_++] = p;
    return;
  }
  buffer_.clear();
  buffer_.reserve(latestdir.size() + lcwd.size() + cwd.size() + 3 * (p.size() + 1));
  Add(latestdir, p, compat);
  if (latestdir != lcwd) Add(lcwd, p, compat);
  if (lcwd != cwd) Add(cwd, p, compat);
}

void ReadCandidates::Add(const std::string& dir, absl::string_view p, Compat compat) {
  const size_t start = buffer_.size();
  absl::StrAppend(&buffer_, dir, "/", p);
  size_t len = buffer_.size() - start;
  if (len >= kMaxPathLen) {
    if (compat == Compat::k20260313) {  // [N] skips a candidate that does not fit
      buffer_.resize(start);
      return;
    }
    len = kMaxPathLen - 1;  // [D] snprintf truncates
    buffer_.resize(start + len);
  }
  views_[n_++] = absl::string_view(buffer_.data() + start, len);
}

bool WriteMayBeMissing(const CheckState& s, absl::string_view p) {
  if (p.empty() || p[0] != '/') return false;
  if (s.bailiwick.empty()) return false;
  if (absl::StartsWith(p, s.cwd)) return false;
  if (!HasAnyPrefix(p, s.bailiwick)) return false;
  if (absl::StartsWith(p, s.tmpdir)) return false;
  return absl::string_view("tmp").find(p) == absl::string_view::npos;  // strstr("tmp", p)
}

bool ReadIsMissing(const CheckState& s, absl::string_view p, int error) {
  return error == ENOENT && !p.empty() && p[0] == '/' && !absl::StartsWith(p, s.cwd);
}

void MissingList::Add(absl::string_view path) {
  if (listed_.insert(std::string(path)).second) paths_.emplace_back(path);
}

void MissingList::ClearUnder(absl::string_view dir) {
  if (dir.empty() || dir[0] != '/') return;
  const auto under = [dir](const std::string& m) { return PathStartsWith(m, dir); };
  for (const std::string& m : paths_) {
    if (under(m)) listed_.erase(m);
  }
  paths_.erase(std::remove_if(paths_.begin(), paths_.end(), under), paths_.end());
}

bool Interesting(char key, absl::string_view p, const PathCache::Entry& e, const CheckState& s,
                 const TargetTime& target) {
  if (e.tag == 1) return key == 'E';
  const StatResult& st = e.stat;
  if (st.error == 0) return st.is_dir || target.OlderThan(st);
  return ReadIsMissing(s, p, st.error);
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
