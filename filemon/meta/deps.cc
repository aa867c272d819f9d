#include "filemon/meta/deps.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/meta/json_internal.h"
#include "filemon/meta/meta_file.h"
#include "filemon/meta/path_cache.h"
#include "filemon/meta/pid_dirs.h"

namespace filemon {
namespace meta {
namespace {

// Lexical normalisation of an absolute path: no empty, "." or ".." components.
std::string Normalize(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view c : absl::StrSplit(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(c);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

std::string Join(absl::string_view dir, absl::string_view name) {
  return absl::StrCat(dir, "/", name);
}

// A list kept in first-seen order without duplicates.
class UniqueList {
 public:
  explicit UniqueList(std::vector<std::string>* out) : out_(out) {
    for (const std::string& s : *out) seen_.insert(s);
  }
  void Add(std::string s) {
    if (seen_.insert(s).second) out_->push_back(std::move(s));
  }

 private:
  std::vector<std::string>* out_;
  absl::flat_hash_set<std::string> seen_;
};

// `dir` relative to the first root it is under ("." for the root itself).
bool UnderRoot(const std::string& dir, const std::vector<std::string>& roots, std::string* rel) {
  for (const std::string& raw : roots) {
    const std::string root = Normalize(raw);
    if (dir == root) {
      *rel = ".";
      return true;
    }
    const std::string prefix = root == "/" ? root : root + "/";
    if (absl::StartsWith(dir, prefix)) {
      *rel = dir.substr(prefix.size());
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<Deps> ExtractDeps(absl::string_view data, absl::string_view filename,
                                 const DepsOptions& options) {
  const MetaFile meta = ParseMetaFile(data);
  if (!meta.has_filemon) {
    return absl::FailedPreconditionError(
        absl::StrCat(filename, ": no filemon section (no '-- filemon acquired metadata --' line)"));
  }
  std::string cwd = options.cwd;
  if (cwd.empty()) cwd = std::string(meta.cwd.text);
  if (cwd.empty()) {
    const size_t slash = filename.rfind('/');
    cwd = slash == absl::string_view::npos ? "." : std::string(filename.substr(0, slash));
  }
  if (cwd[0] != '/') {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof buf) != nullptr) cwd = Join(buf, cwd);
  }
  cwd = Normalize(cwd);
  const int dir_fd = open(cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  internal::PathCache cache(dir_fd >= 0 ? dir_fd : AT_FDCWD, cwd);
  internal::PidDirs dirs(cwd);

  Deps deps;
  UniqueList read(&deps.read), exec(&deps.exec), write(&deps.write), deleted(&deps.deleted);
  absl::flat_hash_set<std::pair<std::string, std::string>> renamed;
  std::set<std::string> src_dirs, obj_dirs;

  // An absolute name for `p`: itself if absolute; else the first of latestdir/p, lcwd/p,
  // cwd/p that exists; else lcwd/p (the process's own cwd). `*is_dir` for existing dirs.
  const auto resolve = [&](absl::string_view p, bool* is_dir) {
    *is_dir = false;
    std::vector<std::string> candidates;
    if (!p.empty() && p[0] == '/') {
      candidates.emplace_back(p);
    } else {
      candidates.push_back(Join(dirs.latestdir(), p));
      if (dirs.latestdir() != dirs.lcwd()) candidates.push_back(Join(dirs.lcwd(), p));
      if (dirs.lcwd() != cwd) candidates.push_back(Join(cwd, p));
    }
    for (const std::string& c : candidates) {
      const internal::StatResult& st = cache.Stat(c);
      if (st.error == 0) {
        *is_dir = st.is_dir;
        return Normalize(c[0] == '/' ? c : Join(cwd, c));
      }
    }
    const std::string& fallback = candidates.size() > 1 ? candidates[1] : candidates[0];
    return Normalize(fallback[0] == '/' ? fallback : Join(cwd, fallback));
  };
  const auto group = [&](const std::string& file) {
    const std::string dir = file.substr(0, std::max<size_t>(1, file.rfind('/')));
    if (dir == cwd) return;
    std::string rel;
    if (UnderRoot(dir, options.srctops, &rel)) {
      src_dirs.insert(rel);
    } else if (UnderRoot(dir, options.objroots, &rel)) {
      obj_dirs.insert(rel);
    }
  };
  const auto add_read = [&](absl::string_view p, UniqueList* list) {
    bool is_dir;
    std::string path = resolve(p, &is_dir);
    if (is_dir) {
      std::string real;
      cache.Realpath(path, &real);
      dirs.SetLatestdir(real);
    } else {
      group(path);
    }
    list->Add(std::move(path));
  };

  const absl::Status parsed = ForEachFilemonRecord(
      meta, filename, /*strict=*/false,
      [&](const Record& r, size_t /*line*/) {
        if (r.pid > 0 &&
            (HasPath(r.kind) || r.kind == RecordKind::kFork || r.kind == RecordKind::kExit)) {
          dirs.Switch(static_cast<int>(r.pid));
        }
        bool is_dir;
        switch (r.kind) {
          case RecordKind::kExit:
            dirs.Exit();
            break;
          case RecordKind::kFork:
            dirs.Fork(static_cast<int>(r.child_pid));
            break;
          case RecordKind::kChdir:
            dirs.Chdir(r.path);
            break;
          case RecordKind::kRead:
            add_read(r.path, &read);
            break;
          case RecordKind::kExec:
            add_read(r.path, &exec);
            dirs.ResetLatestdir();
            break;
          case RecordKind::kWrite:
            write.Add(resolve(r.path, &is_dir));
            break;
          case RecordKind::kDelete:
            deleted.Add(resolve(r.path, &is_dir));
            break;
          case RecordKind::kLink:
            add_read(r.path, &read);
            write.Add(resolve(r.path2, &is_dir));
            break;
          case RecordKind::kMove: {
            std::pair<std::string, std::string> move(resolve(r.path, &is_dir),
                                                     resolve(r.path2, &is_dir));
            write.Add(move.second);
            if (renamed.insert(move).second) deps.renamed.push_back(std::move(move));
            break;
          }
          default:
            break;
        }
      },
      &deps.malformed_lines);
  if (dir_fd >= 0) close(dir_fd);
  if (!parsed.ok()) return parsed;
  deps.src_dirs.assign(src_dirs.begin(), src_dirs.end());
  deps.obj_dirs.assign(obj_dirs.begin(), obj_dirs.end());
  return deps;
}

absl::StatusOr<Deps> ReadDeps(const std::string& path, const DepsOptions& options) {
  absl::StatusOr<MappedFile> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  return ExtractDeps(file->data(), path, options);
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
  internal::AppendJsonList("src_dirs", deps.src_dirs, &out);
  out.push_back(',');
  internal::AppendJsonList("obj_dirs", deps.obj_dirs, &out);
  absl::StrAppend(&out, ",\"malformed_lines\":", deps.malformed_lines, "}");
  return out;
}

void MergeDeps(const Deps& from, Deps* into) {
  for (auto [src, dst] :
       {std::make_pair(&from.read, &into->read), std::make_pair(&from.exec, &into->exec),
        std::make_pair(&from.write, &into->write), std::make_pair(&from.deleted, &into->deleted)}) {
    UniqueList list(dst);
    for (const std::string& s : *src) list.Add(s);
  }
  for (const auto& m : from.renamed) {
    if (std::find(into->renamed.begin(), into->renamed.end(), m) == into->renamed.end()) {
      into->renamed.push_back(m);
    }
  }
  for (auto [src, dst] : {std::make_pair(&from.src_dirs, &into->src_dirs),
                          std::make_pair(&from.obj_dirs, &into->obj_dirs)}) {
    std::set<std::string> all(dst->begin(), dst->end());
    all.insert(src->begin(), src->end());
    dst->assign(all.begin(), all.end());
  }
  into->malformed_lines += from.malformed_lines;
}

}  // namespace meta
}  // namespace filemon
