#include "filemon/meta/modifiers.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "filemon/meta/modifiers_internal.h"
#include "re2/re2.h"

namespace filemon {
namespace meta {

using modifiers_internal::AddSeparator;
using modifiers_internal::AddWord;
using modifiers_internal::ApplyState;
using modifiers_internal::ChainError;
using modifiers_internal::EndsAt;
using modifiers_internal::Join;
using modifiers_internal::ParseSeparator;
using modifiers_internal::Quote;
using modifiers_internal::Words;

struct ModifierChain::Modifier {
  // Modifiers other than S, C, M, N (`letter`), each free of side effects.
  enum class Op : uint8_t {
    kLetter,     // S C M N
    kHead,       // :H  dirname of each word ("." without a '/')
    kTail,       // :T  basename of each word
    kRoot,       // :R  each word without its last ".suffix"
    kSuffix,     // :E  each word's last suffix (words without one drop out)
    kLower,      // :tl the whole value
    kUpper,      // :tu
    kQuote,      // :Q  (:q also quotes '$')
    kSeparator,  // :ts the separator of the following word results; words rejoined
    kUniq,       // :u  adjacent duplicate words removed
    kSort,       // :O  words sorted (:Or reversed)
    kCount,      // :[#] the number of words
    kSelect,     // :[N] :[N..M] words selected (negative: from the end)
    kOneWord,    // :[*] :[0] :tW the value is one word from here on
    kManyWords,  // :[@] :tw      words again
  };
  Op op = Op::kLetter;
  char sep = 0;                 // kSeparator
  bool reverse = false;         // kSort: :Or
  bool dollar = false;          // kQuote: :q
  int64_t first = 0, last = 0;  // kSelect
  char letter = 0;              // 'S', 'C', 'M', 'N'
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

// `:[...]`: "#", "*", "0", "@", N or N..M (non-zero, negative from the end).
absl::Status ParseSelect(absl::string_view chain, size_t* i, ModifierChain::Modifier* m) {
  using Op = ModifierChain::Modifier::Op;
  const size_t close = chain.find(']', *i);
  if (close == absl::string_view::npos || !EndsAt(chain, close + 1)) {
    return ChainError(chain, *i, "':[' needs its ']' at the end of the modifier");
  }
  const absl::string_view inside = chain.substr(*i + 1, close - *i - 1);
  *i = close + 1;
  if (inside == "#") {
    m->op = Op::kCount;
  } else if (inside == "*" || inside == "0") {
    m->op = Op::kOneWord;
  } else if (inside == "@") {
    m->op = Op::kManyWords;
  } else {
    m->op = Op::kSelect;
    const size_t dots = inside.find("..");
    const absl::string_view a = inside.substr(0, dots);
    const absl::string_view b = dots == absl::string_view::npos ? a : inside.substr(dots + 2);
    if (!absl::SimpleAtoi(a, &m->first) || !absl::SimpleAtoi(b, &m->last) || m->first == 0 ||
        m->last == 0) {
      return ChainError(
          chain, *i,
          absl::StrCat("bad word selection ':[", inside, "]' (expected #, *, @, 0, N or N..M)"));
    }
  }
  return absl::OkStatus();
}

// Every modifier but S, C, M, N that is free of side effects and needs no makefile; anything
// else (`:!cmd!`, `:sh`, `:_`, `:?`, `:::=`, `:D`, `:U`, `:tA`, `:Ox`, ...) is refused.
absl::Status ParseOther(absl::string_view chain, size_t* i, ModifierChain::Modifier* m) {
  using Op = ModifierChain::Modifier::Op;
  const size_t at = *i;
  const char c = chain[at];
  const auto one = [&](Op op, size_t length) {
    if (!EndsAt(chain, at + length)) return false;
    m->op = op;
    *i = at + length;
    return true;
  };
  const absl::string_view rest = chain.substr(at);
  bool ok = false;
  if (c == 'H' || c == 'T' || c == 'R' || c == 'E') {
    ok = one(c == 'H' ? Op::kHead : c == 'T' ? Op::kTail : c == 'R' ? Op::kRoot : Op::kSuffix, 1);
  } else if (c == 'Q' || c == 'q') {
    m->dollar = c == 'q';
    ok = one(Op::kQuote, 1);
  } else if (c == 'u') {
    ok = one(Op::kUniq, 1);
  } else if (c == 'O') {
    m->reverse = absl::StartsWith(rest, "Or");
    ok = one(Op::kSort, m->reverse ? 2 : 1);
  } else if (absl::StartsWith(rest, "tl") || absl::StartsWith(rest, "tu")) {
    ok = one(rest[1] == 'l' ? Op::kLower : Op::kUpper, 2);
  } else if (absl::StartsWith(rest, "tW") || absl::StartsWith(rest, "tw")) {
    ok = one(rest[1] == 'W' ? Op::kOneWord : Op::kManyWords, 2);
  } else if (absl::StartsWith(rest, "ts")) {
    m->op = Op::kSeparator;
    *i = at + 2;
    return ParseSeparator(chain, i, &m->sep);
  } else if (c == '[') {
    if (rest.find('$') != absl::string_view::npos) {
      return ChainError(chain, at, "'$' expressions cannot be expanded here (no variables)");
    }
    return ParseSelect(chain, i, m);
  }
  if (ok) return absl::OkStatus();
  size_t end = chain.find(':', at);
  if (end == absl::string_view::npos) end = chain.size();
  return ChainError(chain, at,
                    absl::StrCat("unsupported modifier ':", chain.substr(at, end - at),
                                 "' (supported: S C M N H T R E Q q tl tu ts tW tw u O Or [...]; "
                                 "never those with side effects or that need a makefile)"));
}

}  // namespace

absl::StatusOr<ModifierChain> ModifierChain::ParseFilter(absl::string_view filter) {
  return Parse(absl::StrJoin(Words(filter), ":"));
}

namespace {

// The g, 1 and W flags after :S/lhs/rhs/ or :C/re/replacement/, up to the next ':'.
absl::Status ParseSubstituteFlags(absl::string_view chain, size_t* i, ModifierChain::Modifier* m) {
  for (; *i < chain.size() && chain[*i] != ':'; ++*i) {
    switch (chain[*i]) {
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
        return ChainError(
            chain, *i,
            absl::StrCat("unknown flag '", std::string(1, chain[*i]), "' (bmake accepts g, 1, W)"));
    }
  }
  return absl::OkStatus();
}

// :C's regular expression (POSIX, leftmost-longest), and its replacement's \N references,
// each of which must name a group. `start` is where the modifier starts, for errors.
absl::Status CompileRegex(absl::string_view chain, size_t start, ModifierChain::Modifier* m) {
  RE2::Options options;
  options.set_posix_syntax(true);
  options.set_longest_match(true);
  options.set_log_errors(false);
  m->re = std::make_unique<RE2>(m->lhs, options);
  if (!m->re->ok()) {
    return ChainError(chain, start,
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
  return absl::OkStatus();
}

// :S/lhs/rhs/flags or :C/re/replacement/flags at chain[*i] (the letter).
absl::Status ParseSubstitute(absl::string_view chain, size_t* i, ModifierChain::Modifier* m) {
  const size_t start = *i;
  const bool s = m->letter == 'S';
  if (*i + 1 >= chain.size()) return ChainError(chain, *i, "missing delimiter after ':S'/':C'");
  const char delim = chain[*i + 1];
  if (delim == '\\' || delim == ':') {
    return ChainError(chain, *i + 1, "the delimiter cannot be '\\' or ':'");
  }
  *i += 2;
  if (s && *i < chain.size() && chain[*i] == '^') {
    m->anchor_start = true;
    ++*i;
  }
  absl::Status status = ParsePart(chain, i, delim, nullptr, s ? &m->anchor_end : nullptr, &m->lhs);
  if (!status.ok()) return status;
  status =
      ParsePart(chain, i, delim, s ? &m->lhs : nullptr, nullptr, s ? &m->rhs : &m->replacement);
  if (!status.ok()) return status;
  status = ParseSubstituteFlags(chain, i, m);
  if (!status.ok() || s) return status;
  return CompileRegex(chain, start, m);
}

// :Mpattern or :Npattern at chain[*i] (the letter), up to the next unescaped ':'.
absl::Status ParseMatch(absl::string_view chain, size_t* i, ModifierChain::Modifier* m) {
  for (++*i; *i < chain.size() && chain[*i] != ':';) {
    const char c = chain[*i];
    if (c == '\\' && *i + 1 < chain.size() &&
        (chain[*i + 1] == ':' || chain[*i + 1] == '}' || chain[*i + 1] == '{')) {
      m->lhs.push_back(chain[*i + 1]);
      *i += 2;
      continue;
    }
    if (c == '$' || c == '{' || c == '}' || c == '(' || c == ')') {
      return ChainError(chain, *i,
                        absl::StrCat("'", std::string(1, c),
                                     "' in a :M/:N pattern needs bmake's expression parser "
                                     "(not supported here)"));
    }
    m->lhs.push_back(c);
    ++*i;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModifierChain> ModifierChain::Parse(absl::string_view chain) {
  ModifierChain result;
  size_t i = 0;
  while (i < chain.size()) {
    auto m = std::make_unique<Modifier>();
    m->letter = chain[i];
    absl::Status parsed;
    if (m->letter == 'S' || m->letter == 'C') {
      parsed = ParseSubstitute(chain, &i, m.get());
    } else if (m->letter == 'M' || m->letter == 'N') {
      parsed = ParseMatch(chain, &i, m.get());
    } else {
      parsed = ParseOther(chain, &i, m.get());
    }
    if (!parsed.ok()) return parsed;
    result.modifiers_.push_back(std::move(m));
    if (i < chain.size()) {
      // chain[i] == ':'
      ++i;
      if (i == chain.size()) return ChainError(chain, i, "empty modifier after ':'");
    }
  }
  return result;
}

namespace {

// The words a word modifier works on: the whole value when it is one big word.
std::vector<absl::string_view> WordsOf(absl::string_view value, bool one_big_word) {
  if (one_big_word) return {value};
  return Words(value);
}

// :H :T :R :E of one word, with bmake 20200710's separators: H, T and R always produce a word
// (an empty one still takes a separator), E only for a word with a '.'.
void PathPart(ModifierChain::Modifier::Op op, absl::string_view word, char sep, std::string* out,
              bool* add_space) {
  using Op = ModifierChain::Modifier::Op;
  const size_t slash = word.rfind('/');
  const size_t dot = word.rfind('.');
  absl::string_view part;
  switch (op) {
    case Op::kHead:
      part = slash == absl::string_view::npos ? "." : word.substr(0, slash);
      break;
    case Op::kTail:
      part = slash == absl::string_view::npos ? word : word.substr(slash + 1);
      break;
    case Op::kRoot:
      part = word.substr(0, dot);
      break;
    default:  // kSuffix
      if (dot == absl::string_view::npos) return;
      part = word.substr(dot + 1);
      break;
  }
  if (*add_space) AddSeparator(sep, out);
  out->append(part.data(), part.size());
  *add_space = true;
}

// :u (adjacent duplicates dropped), :O or :Or of `words`.
std::vector<absl::string_view> SortOrUniq(const ModifierChain::Modifier& m,
                                          std::vector<absl::string_view> words) {
  using Op = ModifierChain::Modifier::Op;
  if (m.op == Op::kUniq) {
    words.erase(std::unique(words.begin(), words.end()), words.end());
  } else if (m.reverse) {
    std::sort(words.begin(), words.end(), std::greater<absl::string_view>());
  } else {
    std::sort(words.begin(), words.end());
  }
  return words;
}

// :[first..last] of `words`: 1-based, negative counting from the end, backwards when
// first > last; indices outside 1..n select nothing.
std::vector<absl::string_view> SelectWords(const std::vector<absl::string_view>& words,
                                           int64_t from, int64_t to) {
  const int64_t n = static_cast<int64_t>(words.size());
  const int64_t first = from < 0 ? n + from + 1 : from;
  const int64_t last = to < 0 ? n + to + 1 : to;
  std::vector<absl::string_view> chosen;
  if (first <= last) {
    for (int64_t i = std::max<int64_t>(first, 1); i <= std::min(last, n); ++i) {
      chosen.push_back(words[static_cast<size_t>(i - 1)]);
    }
  } else {
    for (int64_t i = std::min(first, n); i >= std::max<int64_t>(last, 1); --i) {
      chosen.push_back(words[static_cast<size_t>(i - 1)]);
    }
  }
  return chosen;
}

// Applies one modifier to the whole value, as bmake does, into `*out`.
void ApplyOne(const ModifierChain::Modifier& m, const std::string& value, ApplyState* state,
              std::string* out) {
  using Op = ModifierChain::Modifier::Op;
  ApplyState& st = *state;
  switch (m.op) {
    case Op::kLetter: {
      bool need_sep = false, matched = false;
      std::string word_out;
      for (absl::string_view word : WordsOf(value, m.whole || st.one_big_word)) {
        word_out.clear();
        m.ModifyWord(word, &word_out, &matched);
        AddWord(word_out, st.sep, out, &need_sep);
        need_sep = !out->empty();
      }
      return;
    }
    case Op::kHead:
    case Op::kTail:
    case Op::kRoot:
    case Op::kSuffix: {
      bool add_space = false;
      for (absl::string_view word : WordsOf(value, st.one_big_word)) {
        PathPart(m.op, word, st.sep, out, &add_space);
      }
      return;
    }
    case Op::kLower:
    case Op::kUpper:
      for (const char c : value) {
        out->push_back(m.op == Op::kLower ? absl::ascii_tolower(c) : absl::ascii_toupper(c));
      }
      return;
    case Op::kQuote:
      Quote(value, m.dollar, out);
      return;
    case Op::kSeparator:
      st.sep = m.sep;
      Join(WordsOf(value, st.one_big_word), st.sep, out);
      return;
    case Op::kUniq:
    case Op::kSort:
      Join(SortOrUniq(m, Words(value)), ' ', out);
      return;
    case Op::kCount: {
      const size_t n = st.one_big_word ? 1 : Words(value).size();
      absl::StrAppend(out, n == 0 ? 1 : n);  // bmake counts an empty value as one word
      return;
    }
    case Op::kSelect:
      Join(SelectWords(WordsOf(value, st.one_big_word), m.first, m.last), st.sep, out);
      return;
    case Op::kOneWord:
    case Op::kManyWords:
      st.one_big_word = m.op == Op::kOneWord;
      out->append(value);
      return;
  }
}

}  // namespace

std::string ModifierChain::Apply(absl::string_view value) const {
  std::string current(value.data(), value.size());
  std::string next;
  ApplyState state;
  for (const auto& m : modifiers_) {
    next.clear();
    ApplyOne(*m, current, &state, &next);
    current.swap(next);
  }
  return current;
}

}  // namespace meta
}  // namespace filemon
