#include "filemon/meta/dirdeps.h"

#include <algorithm>
#include <atomic>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

// meta2deps's add_trims(): the forms of a machine name an object root may end with.
void AddTrims(absl::string_view x, std::vector<std::string>* out) {
  for (std::string t :
       {absl::StrCat("/", x, "/"), absl::StrCat("/", x), absl::StrCat(x, "/"), std::string(x)}) {
    out->push_back(std::move(t));
  }
}

// Python's str.strip('# \n').
absl::string_view StripDirdep(absl::string_view s) {
  const auto strip = [](char c) { return c == '#' || c == ' ' || c == '\n'; };
  while (!s.empty() && strip(s.front())) s.remove_prefix(1);
  while (!s.empty() && strip(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

uint64_t DirDepsResult::NextId() {
  static std::atomic<uint64_t> next{0};
  return ++next;
}

std::string NormalizePath(absl::string_view path) {
  // Already clean (the common case): absolute, no "//", "/./", "/../", no trailing '/'.
  bool clean = !path.empty() && path[0] == '/' && (path.size() == 1 || path.back() != '/');
  for (size_t i = 0; clean && i + 1 < path.size(); ++i) {
    if (path[i] != '/') continue;
    const absl::string_view rest = path.substr(i + 1);
    clean = !absl::StartsWith(rest, "/") && rest != "." && !absl::StartsWith(rest, "./") &&
            rest != ".." && !absl::StartsWith(rest, "../");
  }
  if (clean) return std::string(path);
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

DirDeps::DirDeps(const DirDepsConfig& config, PathCache* cache) : config_(config), cache_(cache) {
  for (const std::string& s : config_.srctops) AddRoot(s, /*src=*/true);
  // An empty machine trims nothing (meta2deps needs one; with none its trims would empty
  // every root).
  std::vector<std::string> trims;
  if (!config_.machine.empty()) AddTrims(config_.machine, &trims);
  if (config_.machine == "host" && !config_.host_target.empty()) {
    AddTrims(config_.host_target, &trims);
  }
  if (!config_.target_spec.empty()) AddTrims(config_.target_spec, &trims);
  for (std::string o : config_.objroots) {
    for (const std::string& t : trims) {
      if (absl::EndsWith(o, t)) o.resize(o.size() - t.size());
    }
    AddRoot(o, /*src=*/false);
  }
  // Longest first; for equal roots the source one (added first) stays first.
  std::stable_sort(roots_.begin(), roots_.end(),
                   [](const Root& a, const Root& b) { return a.prefix.size() > b.prefix.size(); });
}

void DirDeps::AddRoot(const std::string& root, bool src) {
  if (root.empty()) return;
  const std::string clean = NormalizePath(root);
  std::string real;
  const bool have_real = cache_->Realpath(clean, &real);
  for (const std::string* r : {&clean, static_cast<const std::string*>(&real)}) {
    if (r == &real && !have_real) break;
    const std::string prefix = *r == "/" ? "/" : *r + "/";
    const bool dup = std::any_of(roots_.begin(), roots_.end(),
                                 [&](const Root& x) { return x.prefix == prefix && x.src == src; });
    if (!dup) roots_.push_back({prefix, src});
  }
}

std::vector<std::string> DirDeps::RootsForTest() const {
  std::vector<std::string> out;
  for (const Root& r : roots_) out.push_back(absl::StrCat(r.src ? "src:" : "obj:", r.prefix));
  return out;
}

const DirDeps::Root* DirDeps::Match(absl::string_view dir) const {
  for (const Root& r : roots_) {
    const absl::string_view p(r.prefix.data(), r.prefix.size() - 1);  // without the '/'
    if (absl::StartsWith(dir, p) && (dir.size() == p.size() || dir[p.size()] == '/' || p.empty())) {
      return &r;
    }
  }
  return nullptr;
}

DirDeps::DirInfo& DirDeps::Info(absl::string_view dir) {
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) return it->second;
  DirInfo info;
  info.root = Match(dir);
  std::string real;
  if (cache_->Realpath(dir, &real) && real != dir) {
    info.real_root = Match(real);
    info.real = std::move(real);
  }
  return dirs_.emplace(dir, std::move(info)).first->second;
}

std::string DirDeps::ReadDirdep(const std::string& file) {
  if (cache_->Stat(file).error != 0) return "";
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  std::string dep(StripDirdep(line));
  const std::string& m = config_.machine;
  if (!m.empty() && m != "none" && absl::EndsWith(dep, m) && dep.size() > m.size()) {
    dep.resize(dep.size() - m.size() - 1);
  } else if (!config_.target_spec.empty() && absl::EndsWith(dep, config_.target_spec) &&
             dep.size() > config_.target_spec.size()) {
    dep.resize(dep.size() - config_.target_spec.size() - 1);
  }
  return dep;
}

std::string DirDeps::ObjName(const Root& root, absl::string_view dir, absl::string_view file) {
  std::string dep = ReadDirdep(absl::StrCat(file, ".dirdep"));
  if (dep.empty()) dep = ReadDirdep(absl::StrCat(dir, "/.dirdep"));
  if (!dep.empty()) return dep;
  const absl::string_view rel =
      dir.size() > root.prefix.size() ? dir.substr(root.prefix.size()) : "";
  if (config_.machine.empty() || config_.machine == "none") return std::string(rel);
  // meta2deps: `([^/]+)/(.+)` on the directory below the root: MACHINE/RELDIR.
  const size_t slash = rel.find('/');
  if (slash == 0 || slash == absl::string_view::npos || slash + 1 == rel.size()) return "";
  const absl::string_view dmachine = rel.substr(0, slash);
  std::string name(rel.substr(slash + 1));
  if (dmachine != config_.machine &&
      !(config_.machine == "host" && dmachine == config_.host_target)) {
    absl::StrAppend(&name, ".", dmachine);
  }
  return name;
}

void DirDeps::Add(absl::string_view dir, absl::string_view base, DirDepsResult* out) {
  DirInfo& info = Info(dir);
  if (info.added_to == out->id && !config_.files && info.real_root == nullptr &&
      (info.root == nullptr || info.root->src)) {
    return;  // the same answer as the last file of this directory
  }
  info.added_to = out->id;
  const absl::string_view named[2] = {dir, info.real};
  const Root* roots[2] = {info.root, info.real.empty() ? nullptr : info.real_root};
  // A source directory: the directory as named, else its realpath. Without a different
  // realpath that is all (meta2deps: an object root is looked at only through a link).
  for (int i = 0; i < 2; ++i) {
    if (roots[i] == nullptr || !roots[i]->src) continue;
    const Root& r = *roots[i];
    const absl::string_view rel =
        named[i].size() > r.prefix.size() ? named[i].substr(r.prefix.size()) : ".";
    out->src.Add(rel);
    if (config_.files) {
      out->files.Add(rel == "." ? std::string(base) : absl::StrCat(rel, "/", base));
    }
    if (info.real.empty()) return;
    break;
  }
  for (int i = 0; i < 2; ++i) {
    if (roots[i] == nullptr || roots[i]->src) continue;
    const Root& r = *roots[i];
    const std::string file = absl::StrCat(named[i], "/", base);
    const std::string name = ObjName(r, named[i], file);
    if (name.empty()) return;
    out->obj.Add(name);
    if (config_.files && absl::EndsWith(r.prefix, "/stage/")) {
      // A staged file: its path below OBJROOT/MACHINE/.
      absl::string_view below = absl::string_view(file).substr(r.prefix.size());
      const size_t slash = below.find('/');
      if (slash != absl::string_view::npos) out->files.Add(below.substr(slash + 1));
    }
    return;
  }
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
