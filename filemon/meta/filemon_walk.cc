#include "filemon/meta/filemon_walk.h"

#include "absl/strings/str_cat.h"
#include "filemon/meta/dirdeps.h"

namespace filemon {
namespace meta {
namespace internal {

// As bmake reads them: most lines through ReadQuick(), the others split by FieldsFromLine().
void FilemonWalk::Lines(LineReader* reader, size_t end) {
  const bool quick = !reader->has_nul();
  const absl::string_view data = reader->data();
  MetaLine line;
  QuickLine q;
  while (!verdict_->out_of_date() && reader->pos() < end) {
    if (quick && ReadQuick(data.data(), reader->pos(), end, &q)) {
      verdict_->set_line(verdict_->line() + 1);
      reader->Seek(q.next);
      dirs_.Switch(q.pid);
      ReadRecord(q.key, q.path);
      continue;
    }
    if (!verdict_->ReadLine(reader, &line)) return;
    if (verdict_->Truncated(line)) return;
    Line(line);
  }
}

void FilemonWalk::Line(const MetaLine& line) {
  Fields f;
  FieldsFromLine(line.text, &f);
  Record(f);
}

void FilemonWalk::Record(const Fields& f) {
  if (f.key != '#' && f.key != 'V') {
    if (!f.has_after_key || f.after_key.empty()) {
      verdict_->Malformed();
      return;
    }
    dirs_.Switch(f.pid);
  }
  if (!f.has_arg || f.arg.empty()) {
    verdict_->Malformed();
    return;
  }
  const absl::string_view p = f.arg;
  switch (f.key) {
    case 'X':
      dirs_.Exit();
      return;
    case 'F':
      dirs_.Fork(Atoi(p));
      return;
    case 'C':
      dirs_.Chdir(p);
      return;
    case 'M':
    case 'L':
      MoveOrLink(f);
      return;
    case 'D':
      missing_.ClearUnder(p);
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
      if (s_.options.probes) probes_.Probe(ProbePath(p), verdict_->line());
      return;
    default:
      return;
  }
}

void FilemonWalk::MoveOrLink(const Fields& f) {
  absl::string_view src, dst;
  if (!SplitTwoPaths(f, &src, &dst)) {
    verdict_->Malformed();
    return;
  }
  Wrote(dst);
  if (f.key == 'M') {
    missing_.ClearUnder(src);  // the source of a rename only clears, like D
    CheckWrite(dst, Follow::kSymlinks);
    return;
  }
  CheckWrite(dst, Follow::kNoSymlinks);
  if (!verdict_->out_of_date()) CheckRead(src);
}

void FilemonWalk::ReadRecord(char key, absl::string_view p) {
  if (p[0] == '/') {
    // Most records end here, with one lookup: a path already known to be ignored (as in
    // CheckRead: no latestdir reset) or to exist, be no directory and not be newer.
    const PathCache::Entry& e = cache_.Find(p);
    if (e.tag == 1) return;
    if (e.tag == 0 && e.have_stat && e.stat.error == 0 && !e.stat.is_dir &&
        !target_time_.OlderThan(e.stat)) {
      if (key == 'E') dirs_.ResetLatestdir();
      return;
    }
  }
  if (CheckRead(p) && key == 'E') dirs_.ResetLatestdir();
}

bool FilemonWalk::CheckRead(absl::string_view p) {
  PathCache::Entry* entry = nullptr;
  if (Ignore(p, &entry)) return false;  // bmake: `break`, which also skips E's latestdir reset
  if (p == ".") return false;           // bmake: `continue`
  candidates_.Build(p, dirs_.latestdir(), dirs_.lcwd(), s_.cwd, s_.options.compat);
  int error = 0;
  for (int i = 0; i < candidates_.size(); ++i) {
    const absl::string_view c = candidates_[i];
    // An absolute `p` has its entry from Ignore(); a candidate's stat is shared as a fact.
    PathCache::Entry& ce = entry != nullptr ? *entry : cache_.Find(c);
    if (!ce.have_stat && entry == nullptr &&
        !(facts_ != nullptr && facts_->Get(c, &ce) && ce.have_stat)) {
      cache_.Stat(c, ce);
      if (facts_ != nullptr) facts_->Put(c, ce);
    }
    const StatResult& st = cache_.Stat(c, ce);
    if (st.error != 0) {
      error = st.error;
      continue;
    }
    if (st.is_dir) {
      cache_.Realpath(c, &real_);
      dirs_.SetLatestdir(real_);
    } else if (target_time_.OlderThan(st)) {
      verdict_->Newer(c);
    }
    return true;
  }
  if (ReadIsMissing(s_, p, error)) missing_.Add(p);
  return true;
}

void FilemonWalk::CheckWrite(absl::string_view p, Follow follow) {
  if (!WriteMayBeMissing(s_, p)) return;
  const StatResult& st = follow == Follow::kNoSymlinks ? cache_.Lstat(p) : cache_.Stat(p);
  if (st.error != 0 && !Ignore(p)) missing_.Add(p);
}

bool FilemonWalk::Ignore(absl::string_view p, PathCache::Entry** entry) {
  if (!p.empty() && p[0] == '/') {
    // One lookup serves the ignore decision and the stat that follows it.
    PathCache::Entry* e = KnownEntry(s_, p, PathHash()(p), &cache_, facts_, &real_);
    if (entry != nullptr) *entry = e;
    return e->tag == 1;
  }
  auto it = relative_ignore_.find(p);
  if (it != relative_ignore_.end()) return it->second;
  const bool ignore = IgnorePath(s_, p, &cache_, &real_);
  relative_ignore_.emplace(p, ignore);  // `p` is a view the caller keeps valid
  return ignore;
}

std::string FilemonWalk::ProbePath(absl::string_view p) const {
  return NormalizePath(p[0] == '/' ? p : absl::StrCat(dirs_.lcwd(), "/", p));
}

void FilemonWalk::Wrote(absl::string_view p) {
  if (s_.options.probes && !p.empty() && !probes_.empty()) probes_.Wrote(ProbePath(p));
}

void FilemonWalk::Finish() {
  if (!missing_.empty()) verdict_->MissingFiles(missing_.paths().front());
  if (!verdict_->out_of_date() && s_.options.probes) CheckProbes();
}

// After bmake's rules: the first unexplained probe whose path exists now.
void FilemonWalk::CheckProbes() {
  for (const ProbeSet::Probed& probe : probes_.Unexplained()) {
    if (Ignore(probe.path)) continue;
    if (cache_.Stat(probe.path).error != 0) continue;
    verdict_->Appeared(probe.line, probe.path);
    return;
  }
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
