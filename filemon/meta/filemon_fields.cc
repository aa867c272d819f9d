#include "filemon/meta/filemon_fields.h"

namespace filemon {
namespace meta {
namespace internal {

absl::string_view Dequote(absl::string_view p) {
  if (p.empty() || p[0] != '\'') return p;
  p.remove_prefix(1);
  const size_t q = p.find('\'');
  return q == absl::string_view::npos ? p : p.substr(0, q);
}

bool SplitTwoPaths(const Fields& f, absl::string_view* src, absl::string_view* dst) {
  const size_t sp = f.arg.find(' ');
  if (sp == absl::string_view::npos || sp + 1 == f.arg.size()) return false;
  *src = Dequote(f.arg.substr(0, sp));
  *dst = Dequote(f.arg.substr(sp + 1));
  return true;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
