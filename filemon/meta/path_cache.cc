#include "filemon/meta/path_cache.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

// Absolute, no empty, "." or ".." component, no trailing '/': realpath can be assembled from
// the parent's realpath and the last component.
bool IsClean(absl::string_view p) {
  if (p.size() < 2 || p[0] != '/' || p.back() == '/') return false;
  size_t start = 1;  // of the current component
  for (size_t i = 1; i <= p.size(); ++i) {
    if (i < p.size() && p[i] != '/') continue;
    const size_t len = i - start;
    if (len == 0) return false;
    if (p[start] == '.' && (len == 1 || (len == 2 && p[start + 1] == '.'))) return false;
    start = i + 1;
  }
  return true;
}

void Split(absl::string_view p, absl::string_view* dir, absl::string_view* base) {
  const size_t slash = p.rfind('/');
  *dir = p.substr(0, slash);  // "" for "/x"
  *base = p.substr(slash + 1);
}

void Join(absl::string_view dir, absl::string_view base, std::string* out) {
  out->assign(dir.data(), dir.size());
  if (out->empty() || out->back() != '/') out->push_back('/');
  out->append(base.data(), base.size());
}

}  // namespace

char* PathCache::Allocate(size_t size) {
  size = (size + 7) & ~size_t{7};
  if (size > arena_left_) {
    const size_t chunk = std::max<size_t>(64 * 1024, size);
    arena_.push_back(std::make_unique<char[]>(chunk));  // new[] aligns for any scalar
    arena_next_ = arena_.back().get();
    arena_left_ = chunk;
  }
  char* at = arena_next_;
  arena_next_ += size;
  arena_left_ -= size;
  return at;
}

absl::string_view PathCache::Keep(absl::string_view s) {
  char* at = Allocate(s.size());
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  return absl::string_view(at, s.size());
}

void PathCache::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.node == nullptr) continue;
    size_t i = PathHash()(absl::string_view(s.node->key(), s.size)) & mask;
    while (slots_[i].node != nullptr) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

PathCache::Entry& PathCache::Insert(absl::string_view path, uint64_t hash, size_t i) {
  if (2 * (used_ + 1) > slots_.size()) {  // at most half full: short probes
    Grow();
    const size_t mask = slots_.size() - 1;
    for (i = hash & mask; slots_[i].node != nullptr; i = (i + 1) & mask) {
    }
  }
  Node* node = new (Allocate(sizeof(Node) + path.size())) Node();
  if (!path.empty()) std::memcpy(const_cast<char*>(node->key()), path.data(), path.size());
  slots_[i] = Slot{node, static_cast<uint32_t>(hash >> 32), static_cast<uint32_t>(path.size())};
  ++used_;
  return node->entry;
}

PathCache::~PathCache() = default;

int PathCache::DirFd(absl::string_view dir) {
  // Below this many stats in one directory, opening it costs more than it saves (many small
  // checks each see a directory a few times).
  constexpr int kOpenAt = 8;
  auto it = dir_fds_.find(dir);
  if (it == dir_fds_.end()) it = dir_fds_.emplace(Keep(dir), DirSlot()).first;
  DirSlot& slot = it->second;
  if (slot.uses < kOpenAt && ++slot.uses == kOpenAt) {
    scratch_.assign(dir.data(), dir.size());
    int fd;
    do {
      fd = open(scratch_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    slot.fd.reset(fd);  // -1 on failure: stat the full name, which reports the error
  }
  return slot.fd.get();
}

void PathCache::DoStat(absl::string_view path, bool follow, StatResult* out) {
  // A clean absolute name is stat'ed relative to its directory's descriptor: the kernel walks
  // one component instead of every one (the same answer: the directory is what the full name
  // resolves to, and a missing or unsearchable directory falls back to the full name).
  int at = dir_fd_;
  const char* name;
  const size_t slash = path.rfind('/');
  const int dfd = slash != absl::string_view::npos && slash > 0 && path[0] == '/' &&
                          path.size() > slash + 1 && IsClean(path)
                      ? DirFd(path.substr(0, slash))
                      : -1;
  scratch_.assign(path.data(), path.size());
  name = scratch_.c_str();
  if (dfd >= 0) {
    at = dfd;
    name += slash + 1;
  }
  struct stat st;
  ++stat_calls_;
  if (fstatat(at, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
    out->error = errno;
    return;
  }
  out->error = 0;
  out->is_dir = S_ISDIR(st.st_mode);
  out->is_link = S_ISLNK(st.st_mode);
  out->mtime = static_cast<int64_t>(st.st_mtime);
  out->mtime_nsec = static_cast<int32_t>(st.st_mtim.tv_nsec);
}

const StatResult& PathCache::Lstat(absl::string_view path) {
  Entry& e = Find(path);
  if (!e.have_lstat) {
    DoStat(path, /*follow=*/false, &e.lstat);
    e.have_lstat = true;
  }
  return e.lstat;
}

const StatResult& PathCache::Stat(absl::string_view path) { return Stat(path, Find(path)); }

const StatResult& PathCache::Stat(absl::string_view path, Entry& e) {
  if (!e.have_stat) {
    if (!e.have_lstat && IsClean(path)) {
      DoStat(path, /*follow=*/false, &e.lstat);
      e.have_lstat = true;
    }
    if (e.have_lstat && !e.lstat.is_link && (e.lstat.error == 0 || e.lstat.error == ENOENT)) {
      e.stat = e.lstat;  // not a symlink (or absent): stat says the same
    } else {
      DoStat(path, /*follow=*/true, &e.stat);
    }
    e.have_stat = true;
  }
  return e.stat;
}

bool PathCache::SlowRealpath(absl::string_view path, std::string* out) {
  std::string full = path[0] == '/' ? std::string(path) : absl::StrCat(dir_, "/", path);
  char buf[PATH_MAX];
  if (realpath(full.c_str(), buf) != nullptr) {
    out->assign(buf);
    return true;
  }
  if (errno != ENOENT && errno != EACCES) {
    out->assign(full);  // glibc leaves the caller's buffer as it was: unknowable; keep the name
    return false;
  }
  // glibc's partial result: the resolved prefix and the component that failed.
  std::string resolved;
  std::string candidate;
  for (absl::string_view rest = full; !rest.empty();) {
    const size_t slash = rest.find('/');
    const absl::string_view c = rest.substr(0, slash);
    rest = slash == absl::string_view::npos ? absl::string_view() : rest.substr(slash + 1);
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      const size_t up = resolved.rfind('/');
      resolved.resize(up == std::string::npos ? 0 : up);
      continue;
    }
    Join(resolved, c, &candidate);
    struct stat st;
    if (lstat(candidate.c_str(), &st) != 0) {
      out->assign(candidate);
      return false;
    }
    if (S_ISLNK(st.st_mode)) {
      if (realpath(candidate.c_str(), buf) == nullptr) {
        out->assign(candidate);
        return false;
      }
      resolved.assign(buf);
      if (resolved == "/") resolved.clear();
    } else {
      resolved = candidate;
    }
  }
  out->assign(resolved.empty() ? "/" : resolved);
  return false;
}

bool PathCache::RealDir(absl::string_view dir, std::string* out) {
  if (dir.empty()) {
    out->assign("/");
    return true;
  }
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) {
    *out = it->second.second;
    return it->second.first;
  }
  bool ok;
  std::string result;
  if (!IsClean(dir)) {
    ok = SlowRealpath(dir, &result);
  } else {
    const StatResult l = Lstat(dir);
    absl::string_view parent, base;
    Split(dir, &parent, &base);
    if (l.error == 0 && !l.is_link) {
      std::string real_parent;
      ok = RealDir(parent, &real_parent);
      if (ok) {
        Join(real_parent, base, &result);
      } else {
        ok = SlowRealpath(dir, &result);
      }
    } else if (l.error == ENOENT) {
      std::string real_parent;
      ok = false;
      if (RealDir(parent, &real_parent)) {
        Join(real_parent, base, &result);
      } else {
        result = std::move(real_parent);  // the parent's own partial result
      }
    } else {
      ok = SlowRealpath(dir, &result);
    }
  }
  *out = result;
  dirs_.emplace(Keep(dir), std::make_pair(ok, std::move(result)));
  return ok;
}

bool PathCache::Realpath(absl::string_view path, std::string* out) {
  if (path.empty()) {
    out->clear();
    errno = ENOENT;
    return false;
  }
  if (!IsClean(path)) return SlowRealpath(path, out);
  const StatResult l = Lstat(path);
  if (l.is_link || (l.error != 0 && l.error != ENOENT)) return SlowRealpath(path, out);
  absl::string_view dir, base;
  Split(path, &dir, &base);
  std::string real_dir;
  if (!RealDir(dir, &real_dir)) {
    *out = std::move(real_dir);
    return false;
  }
  Join(real_dir, base, out);
  return l.error == 0;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
