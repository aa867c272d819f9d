#include "filemon/meta/modifiers.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "re2/re2.h"

namespace filemon {
namespace meta {

bool GlobMatch(absl::string_view text, absl::string_view pattern) {
  // Iterative form of bmake's recursive Str_Match: on a mismatch, resume after the last '*'
  // with one more text character consumed. Every other pattern element consumes exactly one
  // character, so this gives the same answers as the recursion.
  size_t s = 0, p = 0;
  size_t star_p = absl::string_view::npos, star_s = 0;
  const auto at = [&pattern](size_t i) -> signed char {
    return i < pattern.size() ? static_cast<signed char>(pattern[i]) : 0;
  };
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
      const signed char c = static_cast<signed char>(text[s]);
      if (pattern[p] == '?') {
        ++p;
        ++s;
      } else if (pattern[p] == '[') {
        size_t q = p + 1;
        bool negate = false;
        if (at(q) == '^') {
          negate = true;
          ++q;
        }
        bool matched = false;
        while (true) {
          if (q >= pattern.size() || pattern[q] == ']') {
            if (!negate) ok = false;
            break;
          }
          if (at(q) == c) {
            matched = true;
            break;
          }
          if (at(q + 1) == '-') {
            if (q + 2 >= pattern.size()) {
              ok = false;
              break;
            }
            if ((at(q) <= c && at(q + 2) >= c) || (at(q) >= c && at(q + 2) <= c)) {
              matched = true;
              break;
            }
            q += 2;
          }
          ++q;
        }
        if (ok && negate && matched) ok = false;
        if (ok) {
          while (q < pattern.size() && pattern[q] != ']') ++q;
          p = q < pattern.size() ? q + 1 : q;
          ++s;
        }
      } else {
        size_t q = p;
        if (pattern[q] == '\\') {
          ++q;
          if (q == pattern.size()) return false;
        }
        if (at(q) != c) {
          ok = false;
        } else {
          p = q + 1;
          ++s;
        }
      }
    }
    if (ok) continue;
    if (star_p == absl::string_view::npos || star_s >= text.size()) return false;
    ++star_s;
    s = star_s;
    p = star_p;
  }
}

namespace {

std::vector<absl::string_view> Words(absl::string_view value) {
  return absl::StrSplit(value, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

// bmake's SepBuf: words joined by one space, empty words leaving no trace.
void AddWord(absl::string_view word, std::string* out, bool* need_sep) {
  if (word.empty()) return;
  if (*need_sep) out->push_back(' ');
  out->append(word.data(), word.size());
  *need_sep = false;
}

}  // namespace

struct ModifierChain::Modifier {
  char letter = 0;  // 'S', 'C', 'M', 'N'
  // S: lhs/rhs literal (rhs with '&' already replaced by lhs). M/N: the pattern.
  std::string lhs, rhs;
  bool anchor_start = false, anchor_end = false;
  bool global = false, once = false, whole = false;
  std::unique_ptr<RE2> re;
  // C: the replacement as parsed; groups referenced as "\N".
  std::string replacement;

  // Appends the modified `word` to `out` (without separator handling). `*matched` implements
  // the '1' flag across the words of one value.
  void ModifyWord(absl::string_view word, std::string* out, bool* matched) const {
    switch (letter) {
      case 'S':
        SubstWord(word, out, matched);
        return;
      case 'C':
        RegexWord(word, out, matched);
        return;
      case 'M':
        if (GlobMatch(word, lhs)) out->append(word.data(), word.size());
        return;
      case 'N':
        if (!GlobMatch(word, lhs)) out->append(word.data(), word.size());
        return;
    }
  }

  void SubstWord(absl::string_view word, std::string* out, bool* matched) const {
    if (once && *matched) {
      out->append(word.data(), word.size());
      return;
    }
    if (anchor_start) {
      if (!absl::StartsWith(word, lhs) || (anchor_end && word.size() != lhs.size())) {
        out->append(word.data(), word.size());
        return;
      }
      *matched = true;
      absl::StrAppend(out, rhs, word.substr(lhs.size()));
      return;
    }
    if (anchor_end) {
      if (!absl::EndsWith(word, lhs)) {
        out->append(word.data(), word.size());
        return;
      }
      *matched = true;
      absl::StrAppend(out, word.substr(0, word.size() - lhs.size()), rhs);
      return;
    }
    if (lhs.empty()) {
      out->append(word.data(), word.size());
      return;
    }
    while (true) {
      size_t at = word.find(lhs);
      if (at == absl::string_view::npos) break;
      *matched = true;
      absl::StrAppend(out, word.substr(0, at), rhs);
      word.remove_prefix(at + lhs.size());
      if (word.empty() || !global) break;
    }
    out->append(word.data(), word.size());
  }

  void RegexWord(absl::string_view word, std::string* out, bool* matched) const {
    if (once && *matched) {
      out->append(word.data(), word.size());
      return;
    }
    constexpr int kMaxGroups = 10;  // bmake's regmatch_t m[10]
    const int ngroups = std::min(re->NumberOfCapturingGroups() + 1, kMaxGroups);
    re2::StringPiece groups[kMaxGroups];
    const re2::StringPiece text(word.data(), word.size());
    size_t pos = 0;  // bmake's `wp`; the first search may match '^', later ones may not
    while (true) {
      if (!re->Match(text, pos, text.size(), RE2::UNANCHORED, groups, ngroups)) break;
      *matched = true;
      const size_t so = groups[0].data() - text.data();
      const size_t eo = so + groups[0].size();
      out->append(word.data() + pos, so - pos);
      for (size_t i = 0; i < replacement.size(); ++i) {
        const char c = replacement[i];
        if (c == '\\' && i + 1 < replacement.size() &&
            (replacement[i + 1] == '&' || replacement[i + 1] == '\\')) {
          out->push_back(replacement[++i]);
        } else if (c == '&') {
          out->append(groups[0].data(), groups[0].size());
        } else if (c == '\\' && i + 1 < replacement.size() && replacement[i + 1] >= '0' &&
                   replacement[i + 1] <= '9') {
          const int n = replacement[++i] - '0';
          // Checked at parse time: n < ngroups. An unmatched group adds nothing (bmake prints
          // "No match for subexpression" and adds nothing).
          if (n < ngroups && groups[n].data() != nullptr) {
            out->append(groups[n].data(), groups[n].size());
          }
        } else {
          out->push_back(c);
        }
      }
      const bool empty_at_start = so == pos && eo == pos;
      pos = eo;
      if (!global) break;
      if (empty_at_start) {
        if (pos < word.size()) out->push_back(word[pos]);
        ++pos;
      }
      if (pos >= word.size()) break;
    }
    if (pos < word.size()) out->append(word.data() + pos, word.size() - pos);
  }
};

ModifierChain::ModifierChain() = default;
ModifierChain::ModifierChain(ModifierChain&&) noexcept = default;
ModifierChain& ModifierChain::operator=(ModifierChain&&) noexcept = default;
ModifierChain::~ModifierChain() = default;

bool ModifierChain::empty() const { return modifiers_.empty(); }

namespace {

absl::Status ChainError(absl::string_view chain, size_t at, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("modifier chain '", chain, "', column ", at + 1, ": ", why));
}

// One delimited part of :S or :C, as bmake's ParseModifierPart reads it. `amp` (the :S
// replacement) turns '&' into `lhs`; `anchor_end` (the :S pattern) receives a '$' right before
// the delimiter.
absl::Status ParsePart(absl::string_view chain, size_t* pos, char delim, const std::string* amp,
                       bool* anchor_end, std::string* out) {
  size_t i = *pos;
  while (true) {
    if (i >= chain.size())
      return ChainError(chain, i, absl::StrCat("missing delimiter '", std::string(1, delim), "'"));
    const char c = chain[i];
    if (c == delim) break;
    if (c == '\\' && i + 1 < chain.size() &&
        (chain[i + 1] == delim || chain[i + 1] == '\\' || chain[i + 1] == '$' ||
         (amp != nullptr && chain[i + 1] == '&'))) {
      out->push_back(chain[i + 1]);
      i += 2;
      continue;
    }
    if (c == '$') {
      if (i + 1 < chain.size() && chain[i + 1] == delim) {
        if (anchor_end != nullptr) {
          *anchor_end = true;
        } else {
          out->push_back('$');
        }
        ++i;
        continue;
      }
      return ChainError(chain, i,
                        "'$' expressions cannot be expanded here (no variables); write '\\$' "
                        "for a literal '$'");
    }
    if (amp != nullptr && c == '&') {
      out->append(*amp);
    } else {
      out->push_back(c);
    }
    ++i;
  }
  *pos = i + 1;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModifierChain> ModifierChain::ParseFilter(absl::string_view filter) {
  return Parse(absl::StrJoin(Words(filter), ":"));
}

absl::StatusOr<ModifierChain> ModifierChain::Parse(absl::string_view chain) {
  ModifierChain result;
  size_t i = 0;
  while (i < chain.size()) {
    auto m = std::make_unique<Modifier>();
    m->letter = chain[i];
    const size_t start = i;
    if (m->letter == 'S' || m->letter == 'C') {
      if (i + 1 >= chain.size()) return ChainError(chain, i, "missing delimiter after ':S'/':C'");
      const char delim = chain[i + 1];
      if (delim == '\\' || delim == ':') {
        return ChainError(chain, i + 1, "the delimiter cannot be '\\' or ':'");
      }
      i += 2;
      if (m->letter == 'S' && i < chain.size() && chain[i] == '^') {
        m->anchor_start = true;
        ++i;
      }
      absl::Status s = ParsePart(chain, &i, delim, nullptr,
                                 m->letter == 'S' ? &m->anchor_end : nullptr, &m->lhs);
      if (!s.ok()) return s;
      s = ParsePart(chain, &i, delim, m->letter == 'S' ? &m->lhs : nullptr, nullptr,
                    m->letter == 'S' ? &m->rhs : &m->replacement);
      if (!s.ok()) return s;
      while (i < chain.size() && chain[i] != ':') {
        switch (chain[i]) {
          case 'g':
            m->global = true;
            break;
          case '1':
            m->once = true;
            break;
          case 'W':
            m->whole = true;
            break;
          default:
            return ChainError(chain, i,
                              absl::StrCat("unknown flag '", std::string(1, chain[i]),
                                           "' (bmake accepts g, 1, W)"));
        }
        ++i;
      }
      if (m->letter == 'C') {
        RE2::Options options;
        options.set_posix_syntax(true);
        options.set_longest_match(true);
        options.set_log_errors(false);
        m->re = std::make_unique<RE2>(m->lhs, options);
        if (!m->re->ok()) {
          return ChainError(
              chain, start,
              absl::StrCat("bad regular expression '", m->lhs, "': ", m->re->error()));
        }
        const int groups = m->re->NumberOfCapturingGroups();
        for (size_t k = 0; k + 1 < m->replacement.size(); ++k) {
          if (m->replacement[k] != '\\') continue;
          const char d = m->replacement[k + 1];
          if (d >= '0' && d <= '9' && d - '0' > groups) {
            return ChainError(
                chain, start,
                absl::StrCat("no subexpression \\", std::string(1, d), " in '", m->lhs, "'"));
          }
          ++k;
        }
      }
    } else if (m->letter == 'M' || m->letter == 'N') {
      ++i;
      while (i < chain.size() && chain[i] != ':') {
        const char c = chain[i];
        if (c == '\\' && i + 1 < chain.size() &&
            (chain[i + 1] == ':' || chain[i + 1] == '}' || chain[i + 1] == '{')) {
          m->lhs.push_back(chain[i + 1]);
          i += 2;
          continue;
        }
        if (c == '$' || c == '{' || c == '}' || c == '(' || c == ')') {
          return ChainError(chain, i,
                            absl::StrCat("'", std::string(1, c),
                                         "' in a :M/:N pattern needs bmake's expression parser "
                                         "(not supported here)"));
        }
        m->lhs.push_back(c);
        ++i;
      }
    } else {
      size_t end = chain.find(':', i);
      if (end == absl::string_view::npos) end = chain.size();
      return ChainError(chain, i,
                        absl::StrCat("unsupported modifier ':", chain.substr(i, end - i),
                                     "' (supported: S C M N)"));
    }
    result.modifiers_.push_back(std::move(m));
    if (i < chain.size()) {
      // chain[i] == ':'
      ++i;
      if (i == chain.size()) return ChainError(chain, i, "empty modifier after ':'");
    }
  }
  return result;
}

std::string ModifierChain::Apply(absl::string_view value) const {
  std::string current(value.data(), value.size());
  std::string next, word_out;
  for (const auto& m : modifiers_) {
    next.clear();
    bool need_sep = false;
    bool matched = false;
    if (m->whole) {
      word_out.clear();
      m->ModifyWord(current, &word_out, &matched);
      AddWord(word_out, &next, &need_sep);
    } else {
      for (absl::string_view word : Words(current)) {
        word_out.clear();
        m->ModifyWord(word, &word_out, &matched);
        AddWord(word_out, &next, &need_sep);
        need_sep = !next.empty();
      }
    }
    current.swap(next);
  }
  return current;
}

}  // namespace meta
}  // namespace filemon
