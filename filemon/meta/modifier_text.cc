// bmake's glob matching (modifiers.h) and the text helpers of modifiers_internal.h.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/modifiers.h"
#include "filemon/meta/modifiers_internal.h"

namespace filemon {
namespace meta {

namespace {

// What one pattern element other than '*' does with one text character.
enum class Step {
  kMatch,     // it matches; the pattern goes on after it
  kMismatch,  // it does not: try the last '*' one character further
  kNever,     // no match at all (a '\' that ends the pattern)
};

// The element at pattern[p] ('?', a class "[...]", or a literal, '\'-escaped or not)
// against `c`; on kMatch, `*next` is the pattern position after it.
Step MatchElement(absl::string_view pattern, size_t p, signed char c, size_t* next) {
  const auto at = [&pattern](size_t i) -> signed char {
    return i < pattern.size() ? static_cast<signed char>(pattern[i]) : 0;
  };
  if (pattern[p] == '?') {
    *next = p + 1;
    return Step::kMatch;
  }
  if (pattern[p] != '[') {
    size_t q = p;
    if (pattern[q] == '\\' && ++q == pattern.size()) return Step::kNever;
    *next = q + 1;
    return at(q) == c ? Step::kMatch : Step::kMismatch;
  }
  size_t q = p + 1;
  const bool negate = at(q) == '^';
  if (negate) ++q;
  bool matched = false;
  while (true) {
    if (q >= pattern.size() || pattern[q] == ']') {
      if (!negate) return Step::kMismatch;
      break;
    }
    if (at(q) == c) {
      matched = true;
      break;
    }
    if (at(q + 1) == '-') {
      if (q + 2 >= pattern.size()) return Step::kMismatch;
      if ((at(q) <= c && at(q + 2) >= c) || (at(q) >= c && at(q + 2) <= c)) {
        matched = true;
        break;
      }
      q += 2;
    }
    ++q;
  }
  if (negate && matched) return Step::kMismatch;
  while (q < pattern.size() && pattern[q] != ']') ++q;
  *next = q < pattern.size() ? q + 1 : q;
  return Step::kMatch;
}

}  // namespace

bool GlobMatch(absl::string_view text, absl::string_view pattern) {
  // Iterative form of bmake's recursive Str_Match: on a mismatch, resume after the last '*'
  // with one more text character consumed. Every other pattern element consumes exactly one
  // character, so this gives the same answers as the recursion.
  size_t s = 0, p = 0;
  size_t star_p = absl::string_view::npos, star_s = 0;
  while (true) {
    bool ok = true;
    if (p == pattern.size()) {
      if (s == text.size()) return true;
      ok = false;
    } else if (pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;
      star_p = p;
      star_s = s;
      continue;
    } else if (s == text.size()) {
      return false;  // bmake: text exhausted and the pattern is not '*': no suffix can match
    } else {
      size_t next = p;
      const Step step = MatchElement(pattern, p, static_cast<signed char>(text[s]), &next);
      if (step == Step::kNever) return false;
      ok = step == Step::kMatch;
      if (ok) {
        p = next;
        ++s;
      }
    }
    if (ok) continue;
    if (star_p == absl::string_view::npos || star_s >= text.size()) return false;
    ++star_s;
    s = star_s;
    p = star_p;
  }
}

namespace modifiers_internal {

std::vector<absl::string_view> Words(absl::string_view value) {
  return absl::StrSplit(value, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

void AddSeparator(char sep, std::string* out) {
  if (sep != '\0') out->push_back(sep);
}

void AddWord(absl::string_view word, char sep, std::string* out, bool* need_sep) {
  if (word.empty()) return;
  if (*need_sep) AddSeparator(sep, out);
  out->append(word.data(), word.size());
  *need_sep = false;
}

void Join(const std::vector<absl::string_view>& words, char sep, std::string* out) {
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) AddSeparator(sep, out);
    out->append(words[i].data(), words[i].size());
  }
}

void Quote(absl::string_view value, bool dollar, std::string* out) {
  constexpr absl::string_view kSpecial = " \t\n#|^(){};&<>*?[]`\\\"~!'$";
  for (const char c : value) {
    if (c == '\n') {
      out->append("\\\n");
      continue;
    }
    if (kSpecial.find(c) != absl::string_view::npos) out->push_back('\\');
    out->push_back(c);
    if (dollar && c == '$') out->append("\\$");
  }
}

absl::Status ChainError(absl::string_view chain, size_t at, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("modifier chain '", chain, "', column ", at + 1, ": ", why));
}

bool EndsAt(absl::string_view chain, size_t at) { return at >= chain.size() || chain[at] == ':'; }

absl::Status ParseSeparator(absl::string_view chain, size_t* i, char* sep) {
  const size_t at = *i;
  if (at < chain.size() && EndsAt(chain, at + 1)) {
    *sep = chain[at];
    *i = at + 1;
    return absl::OkStatus();
  }
  if (EndsAt(chain, at)) {
    *sep = '\0';
    return absl::OkStatus();
  }
  if (chain[at] == '\\' && at + 1 < chain.size()) {
    const char c = chain[at + 1];
    size_t j = at + 2;
    if (c == 'n' || c == 't') {
      *sep = c == 'n' ? '\n' : '\t';
    } else {
      const int base = c == 'x' ? 16 : 8;
      if (c != 'x') j = at + 1;
      unsigned value = 0;
      const size_t digits = j;
      for (; j < chain.size() && absl::ascii_isxdigit(chain[j]); ++j) {
        const int d = absl::ascii_isdigit(chain[j]) ? chain[j] - '0'
                                                    : absl::ascii_tolower(chain[j]) - 'a' + 10;
        if (d >= base) break;
        value = value * base + d;
      }
      if (j == digits) return ChainError(chain, at, "bad separator after ':ts'");
      *sep = static_cast<char>(value);
    }
    if (EndsAt(chain, j)) {
      *i = j;
      return absl::OkStatus();
    }
  }
  return ChainError(chain, at, "bad separator after ':ts'");
}

}  // namespace modifiers_internal
}  // namespace meta
}  // namespace filemon
