#include "filemon/meta/deps.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <initializer_list>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/meta/dirdeps.h"
#include "filemon/meta/json_internal.h"
#include "filemon/meta/meta_file.h"
#include "filemon/meta/meta_read.h"
#include "filemon/meta/path_cache.h"

namespace filemon {
namespace meta {
namespace {

using internal::NormalizePath;
using internal::OrderedSet;

// `path` made absolute against the current directory, lexically clean.
std::string Absolute(absl::string_view path) {
  if (!path.empty() && path[0] == '/') return NormalizePath(path);
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof buf) == nullptr) return NormalizePath(absl::StrCat("/", path));
  return NormalizePath(absl::StrCat(buf, "/", path));
}

absl::string_view DirName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == absl::string_view::npos ? "/" : path.substr(0, slash);
}

internal::DirDepsConfig MakeConfig(const DepsOptions& o) {
  internal::DirDepsConfig c;
  for (const std::string& s : o.srctops) c.srctops.push_back(Absolute(s));
  for (const std::string& s : o.objroots) c.objroots.push_back(Absolute(s));
  c.machine = o.machine;
  c.host_target = o.host_target;
  c.target_spec = o.target_spec;
  c.files = o.lists == DepsLists::kAll || o.dp_files;
  return c;
}

// One thread's reader: its caches serve every file it reads.
class Extractor {
 public:
  explicit Extractor(const DepsOptions& options)
      : options_(options), dirdeps_(MakeConfig(options), &cache_) {
    if (!options_.curdir.empty()) options_.curdir = Absolute(options_.curdir);
  }
  absl::StatusOr<Deps> Extract(absl::string_view data, absl::string_view filename);
  absl::StatusOr<Deps> Read(const std::string& path) {
    absl::optional<internal::Mapping> mapped;
    bool missing = false;
    const absl::Status read = internal::ReadMeta(path, &small_, &mapped, &missing);
    if (!read.ok()) return read;
    if (missing) return absl::NotFoundError(absl::StrCat("open(", path, "): no such file"));
    return Extract(mapped ? mapped->data() : absl::string_view(small_), path);
  }

 private:
  friend class FileRun;
  DepsOptions options_;
  internal::PathCache cache_{AT_FDCWD, "/"};
  internal::DirDeps dirdeps_;
  std::string small_;  // the text of a small .meta, reused
};

// The reading of one .meta.
class FileRun {
 public:
  FileRun(Extractor* x, std::string cwd)
      : x_(*x), cwd_(std::move(cwd)), all_(x->options_.lists == DepsLists::kAll) {}
  void OnRecord(const filemon::Record& r);
  Deps Finish();

 private:
  struct Proc {
    std::string cwd, ldir;  // its directory; the last directory it read
  };
  // `path` is the record's own text (a clean absolute name) or `scratch_`: valid until the
  // next Resolve().
  struct Resolved {
    absl::string_view path;
    bool exists = false, is_dir = false;
  };
  Proc& Process(int64_t pid) {
    auto it = procs_.find(pid);
    if (it == procs_.end()) it = procs_.emplace(pid, Proc{cwd_, cwd_}).first;
    return it->second;
  }
  // `p` made absolute: itself, or the first existing of `dirs`/p, else `fallback`/p.
  Resolved Resolve(absl::string_view p, std::initializer_list<const std::string*> dirs,
                   const std::string& fallback);
  Resolved ResolveIn(absl::string_view p, const Proc& proc) {
    return Resolve(p, {&proc.ldir, &proc.cwd}, proc.cwd);
  }
  // R, E and the sources of L and M: listed (if `list`), grouped, a directory remembered.
  void Read(absl::string_view raw, const Resolved& f, Proc* proc, OrderedSet* list);
  void Link(const filemon::Record& r, Proc* proc);

  Extractor& x_;
  const std::string cwd_;
  const bool all_;  // fill the lists of names, not only the directories
  absl::flat_hash_map<int64_t, Proc> procs_;
  absl::flat_hash_map<int64_t, std::string> running_;  // exec'd, no X yet: pid -> program
  std::vector<int64_t> exec_order_;
  OrderedSet read_, exec_, write_, deleted_, probed_;
  std::vector<std::pair<std::string, std::string>> renamed_;
  absl::flat_hash_set<std::pair<std::string, std::string>> renamed_seen_;
  internal::DirDepsResult groups_;
  bool bye_ = false;
  std::string scratch_;
};

FileRun::Resolved FileRun::Resolve(absl::string_view p,
                                   std::initializer_list<const std::string*> dirs,
                                   const std::string& fallback) {
  Resolved out;
  // The cache entry's tag remembers whether the name is lexically clean (1) or not (0): a
  // name seen before is neither scanned nor copied again.
  const auto try_path = [&](absl::string_view candidate) {
    internal::PathCache::Entry& e = x_.cache_.Find(candidate);
    const internal::StatResult& st = x_.cache_.Stat(candidate, e);
    if (e.tag < 0) e.tag = NormalizePath(candidate) == candidate ? 1 : 0;
    if (e.tag == 1) {
      out.path = candidate;
    } else {
      scratch_ = NormalizePath(candidate);
      out.path = scratch_;
    }
    out.exists = st.error == 0;
    out.is_dir = st.is_dir;
    return out.exists;
  };
  if (!p.empty() && p[0] == '/') {
    try_path(p);
    return out;
  }
  const std::string* last = nullptr;
  for (const std::string* d : dirs) {
    if (last != nullptr && *d == *last) continue;
    last = d;
    scratch_.assign(*d).append("/").append(p.data(), p.size());
    if (try_path(scratch_)) return out;
  }
  scratch_ = NormalizePath(absl::StrCat(fallback, "/", p));
  out.path = scratch_;
  out.exists = out.is_dir = false;
  return out;
}

void FileRun::Read(absl::string_view raw, const Resolved& f, Proc* proc, OrderedSet* list) {
  if (list != nullptr && all_) list->Add(f.path);
  if (!f.exists) return;
  if (f.is_dir) {
    proc->ldir.assign(f.path.data(), f.path.size());
    return;
  }
  if (absl::EndsWith(f.path, ".dirdep")) return;
  for (const std::string& e : x_.options_.excludes) {
    if (!e.empty() && (absl::StartsWith(raw, e) || absl::StartsWith(f.path, e))) return;
  }
  const absl::string_view dir = DirName(f.path);
  if (dir == cwd_ || dir == x_.options_.curdir) return;
  x_.dirdeps_.Add(dir, f.path.substr(dir.size() == 1 ? 1 : dir.size() + 1), &groups_);
}

// L: link(2) or symlink(2). For a symbolic link the first name is its contents, relative to
// the link's directory; for a hard link it is a name the process used.
void FileRun::Link(const filemon::Record& r, Proc* proc) {
  const std::string to(ResolveIn(r.path2, *proc).path);
  if (all_) write_.Add(to);
  const std::string link_dir(DirName(to));
  const bool symlink = x_.cache_.Lstat(to).is_link;
  const Resolved from = symlink ? Resolve(r.path, {&link_dir, &proc->ldir, &proc->cwd}, link_dir)
                                : Resolve(r.path, {&proc->ldir, &proc->cwd, &link_dir},
                                          absl::StartsWith(r.path, "../") ? link_dir : proc->cwd);
  Read(r.path, from, proc, &read_);
}

void FileRun::OnRecord(const filemon::Record& r) {
  switch (r.kind) {
    case RecordKind::kByeBye:
      bye_ = true;
      return;
    case RecordKind::kFork: {
      const std::string dir = Process(r.pid).cwd;
      procs_[r.child_pid] = Proc{dir, dir};
      return;
    }
    case RecordKind::kExit:
      procs_.erase(r.pid);
      running_.erase(r.pid);
      return;
    case RecordKind::kChdir: {
      Proc& p = Process(r.pid);
      p.cwd = NormalizePath(!r.path.empty() && r.path[0] == '/' ? std::string(r.path)
                                                                : absl::StrCat(p.cwd, "/", r.path));
      p.ldir = p.cwd;
      return;
    }
    case RecordKind::kRead:
    case RecordKind::kExec: {
      Proc& p = Process(r.pid);
      const bool exec = r.kind == RecordKind::kExec;
      const Resolved f = ResolveIn(r.path, p);
      if (exec) {
        if (running_.insert_or_assign(r.pid, std::string(f.path)).second) {
          exec_order_.push_back(r.pid);
        }
        if (all_) exec_.Add(f.path);
        if (f.exists && !f.is_dir) Read(r.path, f, &p, nullptr);
      } else {
        Read(r.path, f, &p, &read_);
      }
      return;
    }
    case RecordKind::kWrite:
      if (all_) write_.Add(ResolveIn(r.path, Process(r.pid)).path);
      return;
    case RecordKind::kDelete:
      if (all_) deleted_.Add(ResolveIn(r.path, Process(r.pid)).path);
      return;
    case RecordKind::kNotFound:  // it did not exist: in the process's directory, never ldir
      if (all_ && !r.path.empty()) {
        probed_.Add(NormalizePath(r.path[0] == '/'
                                      ? std::string(r.path)
                                      : absl::StrCat(Process(r.pid).cwd, "/", r.path)));
      }
      return;
    case RecordKind::kLink:
      Link(r, &Process(r.pid));
      return;
    case RecordKind::kMove: {
      Proc& p = Process(r.pid);
      Resolved from = ResolveIn(r.path, p);
      const std::string from_path(from.path);
      from.path = from_path;
      if (all_) {
        std::pair<std::string, std::string> move(from_path, ResolveIn(r.path2, p).path);
        write_.Add(move.second);
        if (renamed_seen_.insert(move).second) renamed_.push_back(std::move(move));
      }
      if (from.exists && !from.is_dir) Read(r.path, from, &p, nullptr);
      return;
    }
    default:
      return;
  }
}

Deps FileRun::Finish() {
  Deps deps;
  deps.read = read_.Take();
  deps.exec = exec_.Take();
  deps.write = write_.Take();
  deps.deleted = deleted_.Take();
  deps.probed = probed_.Take();
  deps.renamed = std::move(renamed_);
  deps.src_dirs = groups_.src.Take();
  deps.obj_dirs = groups_.obj.Take();
  deps.dp_files = groups_.files.Take();
  deps.truncated = !bye_;
  for (int64_t pid : exec_order_) {
    auto it = running_.find(pid);
    if (it != running_.end()) deps.missing_exits.push_back(absl::StrCat(pid, " ", it->second));
  }
  return deps;
}

absl::StatusOr<Deps> Extractor::Extract(absl::string_view data, absl::string_view filename) {
  const MetaFile meta = ParseMetaFile(data);
  if (!meta.has_filemon) {
    return absl::FailedPreconditionError(
        absl::StrCat(filename, ": no filemon section (no '-- filemon acquired metadata --' line)"));
  }
  std::string cwd = options_.cwd;
  if (cwd.empty()) cwd = std::string(meta.cwd.text);
  if (cwd.empty()) cwd = std::string(DirName(Absolute(filename)));
  FileRun run(this, Absolute(cwd));
  size_t malformed = 0;
  const absl::Status parsed = ForEachFilemonRecord(
      meta, filename, /*strict=*/false, [&](const Record& r, size_t) { run.OnRecord(r); },
      &malformed);
  if (!parsed.ok()) return parsed;
  Deps deps = run.Finish();
  deps.malformed_lines = malformed;
  if (!meta.filemon.text.empty() && meta.filemon.text.back() != '\n') deps.truncated = true;
  return deps;
}

}  // namespace

absl::StatusOr<Deps> ExtractDeps(absl::string_view data, absl::string_view filename,
                                 const DepsOptions& options) {
  return Extractor(options).Extract(data, filename);
}

absl::StatusOr<Deps> ReadDeps(const std::string& path, const DepsOptions& options) {
  return Extractor(options).Read(path);
}

std::vector<absl::StatusOr<Deps>> ReadDepsFiles(const std::vector<std::string>& paths,
                                                const DepsOptions& options, int jobs) {
  std::vector<absl::StatusOr<Deps>> results(paths.size(), absl::UnknownError("not read"));
  if (jobs <= 0) jobs = static_cast<int>(std::thread::hardware_concurrency());
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(paths.size())));
  std::atomic<size_t> next{0};
  const auto work = [&] {
    Extractor x(options);
    for (size_t i; (i = next.fetch_add(1)) < paths.size();) results[i] = x.Read(paths[i]);
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < jobs; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  return results;
}

std::string DepsJson(const Deps& deps) {
  std::string out = "{";
  internal::AppendJsonList("read", deps.read, &out);
  out.push_back(',');
  internal::AppendJsonList("exec", deps.exec, &out);
  out.push_back(',');
  internal::AppendJsonList("write", deps.write, &out);
  out.push_back(',');
  internal::AppendJsonList("deleted", deps.deleted, &out);
  out.append(",\"renamed\":[");
  for (size_t i = 0; i < deps.renamed.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('[');
    internal::AppendJsonString(deps.renamed[i].first, &out);
    out.push_back(',');
    internal::AppendJsonString(deps.renamed[i].second, &out);
    out.push_back(']');
  }
  out.append("],");
  internal::AppendJsonList("probed", deps.probed, &out);
  out.push_back(',');
  for (auto [name, list] :
       {std::make_pair("src_dirs", &deps.src_dirs), std::make_pair("obj_dirs", &deps.obj_dirs)}) {
    std::vector<std::string> sorted = *list;
    std::sort(sorted.begin(), sorted.end());
    internal::AppendJsonList(name, sorted, &out);
    out.push_back(',');
  }
  absl::StrAppend(&out, "\"malformed_lines\":", deps.malformed_lines,
                  ",\"truncated\":", deps.truncated ? "true," : "false,");
  internal::AppendJsonList("missing_exits", deps.missing_exits, &out);
  out.push_back('}');
  return out;
}

Deps MergeAllDeps(const std::vector<const Deps*>& parts) {
  Deps all;
  const auto merge = [&](auto field) {
    OrderedSet list;
    for (const Deps* d : parts) {
      for (const auto& s : d->*field) list.Add(s);
    }
    all.*field = list.Take();
  };
  for (auto field : {&Deps::read, &Deps::exec, &Deps::write, &Deps::deleted, &Deps::probed,
                     &Deps::src_dirs, &Deps::obj_dirs, &Deps::dp_files}) {
    merge(field);
  }
  absl::flat_hash_set<std::pair<std::string, std::string>> renamed;
  for (const Deps* d : parts) {
    for (const auto& m : d->renamed) {
      if (renamed.insert(m).second) all.renamed.push_back(m);
    }
    all.malformed_lines += d->malformed_lines;
    all.truncated = all.truncated || d->truncated;
    all.missing_exits.insert(all.missing_exits.end(), d->missing_exits.begin(),
                             d->missing_exits.end());
  }
  return all;
}

void MergeDeps(const Deps& from, Deps* into) { *into = MergeAllDeps({into, &from}); }

}  // namespace meta
}  // namespace filemon
