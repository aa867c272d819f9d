// File: filemon/meta/modifiers_internal.h
//
// Text helpers shared by the modifier parser and applier (modifiers.cc): bmake's word
// splitting and joining, its shell quoting, the chain's state, and parse errors.

#ifndef FILEMON_META_MODIFIERS_INTERNAL_H_
#define FILEMON_META_MODIFIERS_INTERNAL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {
namespace modifiers_internal {

// bmake's brk_string for a filter: the words of `value`, split at blanks and newlines.
std::vector<absl::string_view> Words(absl::string_view value);

// bmake's word separator between results (`:ts`): ' ' by default, none when '\0'.
void AddSeparator(char sep, std::string* out);

// Words joined by `sep`, empty words leaving no trace (bmake's S/C/M/N results).
void AddWord(absl::string_view word, char sep, std::string* out, bool* need_sep);

// Joins `words` with `sep` (none when '\0').
void Join(const std::vector<absl::string_view>& words, char sep, std::string* out);

// The state a chain carries from modifier to modifier (bmake 20200710's Var_Parse_State).
struct ApplyState {
  char sep = ' ';             // `:ts`
  bool one_big_word = false;  // `:[*]`, `:[0]`, `:tW` (until `:[@]`, `:tw`)
};

// bmake's shell quoting (`:Q`; `:q` also quotes '$'): a backslash before blanks and the
// shell's special characters, a newline as backslash-newline.
void Quote(absl::string_view value, bool dollar, std::string* out);

// "modifier chain 'CHAIN', column N: WHY".
absl::Status ChainError(absl::string_view chain, size_t at, absl::string_view why);

// Whether a modifier ends at `at` (the end of the chain or the next ':').
bool EndsAt(absl::string_view chain, size_t at);

// `:ts`'s separator at chain[*i] (just after "ts"), as bmake 20200710 reads it: nothing (no
// separator), one character, or "\\n", "\\t", "\\NNN" (octal), "\\xNN" (hex). Advances *i
// past it.
absl::Status ParseSeparator(absl::string_view chain, size_t* i, char* sep);

}  // namespace modifiers_internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_MODIFIERS_INTERNAL_H_
