// File: filemon/meta/modifiers.h
//
// The subset of bmake's variable modifiers that people put in `.MAKE.META.IGNORE_FILTER` and
// `.MAKE.META.CMP_FILTER`: `:S/old/new/[g1W]`, `:C/regex/new/[g1W]` (POSIX extended regular
// expressions, run by RE2 with leftmost-longest semantics), `:M` and `:N` glob patterns, and
// the string modifiers free of side effects: `:H :T :R :E` (path parts), `:tl :tu` (case),
// `:Q :q` (shell quoting), `:ts<c>` (separator), `:tW :tw`, `:u` (adjacent duplicates),
// `:O :Or` (sorting), `:[N] :[N..M] :[#] :[*] :[@] :[0]` (word selection), each as Debian's
// bmake 20200710 does it. bmake applies such a list as `${value:L:${FILTER:ts:}}`: the
// filter's words joined by ':' form one modifier chain, applied to `value`. Any other modifier
// (those with side effects or that need a makefile: `:!cmd!`, `:sh`, `:_`, `:?`, `:::=`, `:D`,
// `:U`, `:tA`, `:Ox`, ...), and any `$` expression inside one (we have no variables to expand),
// is refused with an error that names it, rather than guessed at.
//
// Example:
//   absl::StatusOr<filemon::meta::ModifierChain> filter =
//       filemon::meta::ModifierChain::ParseFilter("N*.gen S,/obj/,/o/,");
//   filter->Apply("/obj/x.c");    // "/o/x.c"
//   filter->Apply("/obj/y.gen");  // "" (bmake: ignore the path)

#ifndef FILEMON_META_MODIFIERS_H_
#define FILEMON_META_MODIFIERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {

// bmake's `Str_Match`: `*`, `?`, `[set]` (`[^set]` negated, `a-z` ranges in either order) and
// `\c` for a literal `c`. Runs in O(len(text) * len(pattern)) time (no exponential
// backtracking), with the same answers as bmake's recursive matcher.
bool GlobMatch(absl::string_view text, absl::string_view pattern);

// A parsed modifier chain. Immutable after parsing; `Apply` is thread-safe.
class ModifierChain {
 public:
  // Parses a filter variable's value: its blank-separated words are joined with ':' (bmake's
  // `:ts:`) and parsed as a chain of modifiers. An empty value gives an empty chain (identity).
  // Errors: "modifier chain 'N*.o:tA', column 6: unsupported modifier ':tA' (supported: ...)".
  static absl::StatusOr<ModifierChain> ParseFilter(absl::string_view filter);

  // Parses a chain written as after the first ':' of `${VAR:...}`, e.g. "S/a/b/g:N*.o".
  static absl::StatusOr<ModifierChain> Parse(absl::string_view chain);

  ModifierChain(ModifierChain&&) noexcept;
  ModifierChain& operator=(ModifierChain&&) noexcept;
  ~ModifierChain();

  // `${value:L:chain}`: applies each modifier to the words of the value (split at blanks),
  // joining the non-empty results with single spaces.
  std::string Apply(absl::string_view value) const;

  bool empty() const;

  struct Modifier;  // internal

 private:
  ModifierChain();
  std::vector<std::unique_ptr<Modifier>> modifiers_;
};

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_MODIFIERS_H_
