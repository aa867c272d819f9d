#include "filemon/meta/modifiers.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

struct GlobCase {
  const char* text;
  const char* pattern;
  bool match;
};

TEST(GlobMatch, Table) {
  constexpr GlobCase kCases[] = {
      {"foo.c", "*.c", true},
      {"foo.c", "*.h", false},
      {"foo.c", "f?o.c", true},
      {"foo.c", "f[a-z]o.c", true},
      {"foo.c", "f[^o]o.c", false},
      {"foo.c", "f[z-a]o.c", true},
      {"", "*", true},
      {"", "", true},
      {"a", "", false},
      {"a*b", "a\\*b", true},
      {"axb", "a\\*b", false},
      {"abc", "a*c*", true},
      {"abc", "**c", true},
      {"ab", "a[", false},
      {"a", "[^]", true},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*a*c", false},
  };
  for (const GlobCase& c : kCases) {
    SCOPED_TRACE(absl::StrCat(c.text, " ~ ", c.pattern));
    EXPECT_EQ(GlobMatch(c.text, c.pattern), c.match);
  }
}

struct ApplyCase {
  const char* value;
  const char* chain;
  const char* expected;
};

// Expected values are bmake's: each row is also checked against the installed bmake below.
constexpr ApplyCase kApply[] = {
    {"foo/bar.c a.gen", "S/o/0/", "f0o/bar.c a.gen"},
    {"foo/bar.c a.gen", "S/o/0/g", "f00/bar.c a.gen"},
    {"foo/bar.c a.gen", "S/^f/F/", "Foo/bar.c a.gen"},
    {"foo/bar.c a.gen", "S/c$/C/", "foo/bar.C a.gen"},
    {"foo/bar.c a.gen", "S/a/&&/g", "foo/baar.c aa.gen"},
    {"foo/bar.c a.gen", "S/o/\\&/", "f&o/bar.c a.gen"},
    {"foo/bar.c a.gen", "S/o//g", "f/bar.c a.gen"},
    {"foo/bar.c a.gen", "S//y/", "foo/bar.c a.gen"},
    {"foo/bar.c a.gen", "S/$/y/", "foo/bar.cy a.geny"},
    {"foo/bar.c a.gen", "S/^/y/", "yfoo/bar.c ya.gen"},
    {"foo/bar.c a.gen", "S,/,_,g", "foo_bar.c a.gen"},
    {"foo/bar.c a.gen", "S/bar/b\\/r/", "foo/b/r.c a.gen"},
    {"a b  c", "S/a//", "b c"},
    {"a b  c", "S/a/x y/:S/x/Q/", "Q y b c"},
    {"a b  c", "S/a/x/1", "x b c"},
    {"aa aa", "S/a/x/1", "xa aa"},
    {"a b", "S/a b/x/W", "x"},
    {"foo/bar.c a.gen", "C/o+/<&>/", "f<oo>/bar.c a.gen"},
    {"foo/bar.c a.gen", "C/(.)\\.(.)/\\2.\\1/", "foo/bac.r g.aen"},
    {"foo/bar.c a.gen", "C/x*/-/g", "-f-o-o-/-b-a-r-.-c -a-.-g-e-n"},
    {"foo/bar.c a.gen", "C/^/^/g", "^foo/bar.c ^a.gen"},
    {"foo/bar.c a.gen", "C/$/E/g", "foo/bar.cE a.genE"},
    {"foo/bar.c a.gen", "C/o/O/1", "fOo/bar.c a.gen"},
    {"foo/bar.c a.gen", "C/[aeiou]/V/g", "fVV/bVr.c V.gVn"},
    {"a b c", "C/^a|c$/Z/g", "Z b Z"},
    {"a b c", "C/b*/Z/g", "Za Z Zc"},
    {"abcabc", "C/(a|ab)(c|bcd)/[\\1,\\2]/g", "[ab,c][ab,c]"},
    {"foo/bar.c a.gen", "N*.gen", "foo/bar.c"},
    {"foo/bar.c a.gen", "M*.gen", "a.gen"},
    {"foo/bar.c a.gen", "M[a-f]*", "foo/bar.c a.gen"},
    {"foo/bar.c a.gen", "M[^a]*", "foo/bar.c"},
    {"foo/bar.c a.gen", "Mfoo*:S/foo/x/", "x/bar.c"},
    {"a:b c", "M*\\:*", "a:b"},
    {"/obj/x.c /obj/y.gen", "N*.gen:S,/obj/,/o/,", "/o/x.c"},
    // Side-effect-free string modifiers (issue 19), with bmake 20200710's separators: an empty
    // :H/:T/:R result still takes one, :E drops a word without a suffix.
    {"a/b.c d/E.F x", "tl", "a/b.c d/e.f x"},
    {"a/b.c d/E.F x", "tu", "A/B.C D/E.F X"},
    {"A B", "tl:tu", "A B"},
    {"a/b.c d/E.F x", "H", "a d ."},
    {"a/b.c d/E.F x", "T", "b.c E.F x"},
    {"a/b.c d/E.F x", "R", "a/b d/E x"},
    {"a/b.c d/E.F x", "E", "c F"},
    {"/x x/ / .a b. a/b.c/d", "H", " x  . . a/b.c"},
    {"/x x/ / .a b. a/b.c/d", "T", "x   .a b. d"},
    {"/x x/ / .a b. a/b.c/d", "R", "/x x/ /  b a/b"},
    {"/x x/ / .a b. a/b.c/d", "E", "a  c/d"},
    {"a#b=c|d^e(f)g{h}i;j&k<l>m*n?o[p]q`s\\t\"u~v!w@x%y+z'z,", "Q",
     "a\\#b=c\\|d\\^e\\(f\\)g\\{h\\}i\\;j\\&k\\<l\\>m\\*n\\?o\\[p\\]q\\`s\\\\t\\\"u\\~v\\!w@x%y+"
     "z\\'z,"},
    {"a/b.c d/E.F x", "Q", "a/b.c\\ d/E.F\\ x"},
    {"a/b.c d/E.F x", "q", "a/b.c\\ d/E.F\\ x"},
    {"a/b.c d/E.F x", "ts,", "a/b.c,d/E.F,x"},
    {"a/b.c d/E.F x", "ts", "a/b.cd/E.Fx"},
    {"a b c", "ts\\072", "a:b:c"},
    {"a b c", "ts\\x41", "aAbAc"},
    {"a/b c/d", "ts/:T", "d"},
    {"a/b.c d/e.f", "ts,:H", "a/b.c,d"},
    {"b a", "ts,:O", "b,a"},
    {"b a", "O:ts,", "a,b"},
    {"a b", "ts,:S/a/x/", "x,b"},
    {"b a b b c a", "u", "b a b c a"},
    {"b a b b c a", "O", "a a b b b c"},
    {"b a b b c a", "Or", "c b b b a a"},
    {"a b c", "[1]", "a"},
    {"a b c", "[-1]", "c"},
    {"a b c", "[2..3]", "b c"},
    {"a b c", "[2..5]", "b c"},
    {"a b c", "[4]", ""},
    {"a b c", "[-1..1]", "c b a"},
    {"a b c", "[#]", "3"},
    {"a b c", "[*]:[#]", "1"},
    {"a b c", "ts,:[2]", ""},
    {"a/b.c d/E.F x", "[0]:H", "a/b.c d"},
    {"a b", "[*]:S/ /_/", "a_b"},
    {"a b", "tW:S/ /_/", "a_b"},
    {"a b", "tW:tw:S/ /_/g", "a b"},
    {"a b", "[*]:[@]:[#]", "2"},
};

TEST(ModifierChain, AppliesLikeBmake) {
  for (const ApplyCase& c : kApply) {
    SCOPED_TRACE(absl::StrCat("${", c.value, ":L:", c.chain, "}"));
    absl::StatusOr<ModifierChain> chain = ModifierChain::Parse(c.chain);
    ASSERT_TRUE(chain.ok()) << chain.status();
    EXPECT_EQ(chain->Apply(c.value), c.expected);
  }
}

// The table's expectations come from bmake itself: re-derive them where bmake is installed.
TEST(ModifierChain, TableMatchesInstalledBmake) {
  if (system("command -v bmake >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "bmake is not installed (Debian package bmake)";
  }
  for (const ApplyCase& c : kApply) {
    // bmake reads the variable name up to ':' — values with ':' need another spelling.
    if (std::string(c.value).find(':') != std::string::npos) continue;
    const std::string expr = absl::StrCat("${", c.value, ":L:", c.chain, "}");
    const std::string command = absl::StrCat("bmake -r -f /dev/null -V '",
                                             absl::StrReplaceAll(expr, {{"'", "'\\''"}}), "'");
    FILE* p = popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[256];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    EXPECT_EQ(out, c.expected) << expr;
  }
}

TEST(ModifierChain, ParseFilterJoinsWordsWithColons) {
  absl::StatusOr<ModifierChain> chain = ModifierChain::ParseFilter("N*.gen  S,/obj/,/o/,");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->Apply("/obj/x.c"), "/o/x.c");
  EXPECT_EQ(chain->Apply("/obj/y.gen"), "");
  absl::StatusOr<ModifierChain> empty = ModifierChain::ParseFilter("  ");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->Apply("x"), "x");
}

TEST(ModifierChain, RefusesWhatItCannotDo) {
  constexpr const char* kBad[][2] = {
      {"tA", "unsupported modifier ':tA'"},
      {"N*.o:sh", "unsupported modifier ':sh'"},
      {"!ls!", "unsupported modifier ':!ls!'"},
      {"_", "unsupported modifier ':_'"},
      {"?a:b", "unsupported modifier ':?a'"},
      {"::=x", "unsupported modifier ':'"},
      {"Ux", "unsupported modifier ':Ux'"},
      {"Ox", "unsupported modifier ':Ox'"},
      {"Hx", "unsupported modifier ':Hx'"},
      {"[0..1]", "bad word selection"},
      {"[x]", "bad word selection"},
      {"[${N}]", "'$' expressions"},
      {"ts\\z", "bad separator"},
      {"S/a/b", "missing delimiter"},
      {"S/a/b/x", "unknown flag 'x'"},
      {"S/${X}/b/", "'$' expressions"},
      {"M${X}", "'$' in a :M/:N pattern"},
      {"C/(/x/", "bad regular expression"},
      {"C/(a)/\\2/", "no subexpression \\2"},
      {"C/(a)\\1/x/", "bad regular expression"},
      {"N*.o:", "empty modifier"},
  };
  for (const auto& bad : kBad) {
    SCOPED_TRACE(bad[0]);
    absl::StatusOr<ModifierChain> chain = ModifierChain::Parse(bad[0]);
    ASSERT_FALSE(chain.ok());
    EXPECT_NE(chain.status().message().find(bad[1]), absl::string_view::npos)
        << chain.status().message();
  }
}

}  // namespace
}  // namespace meta
}  // namespace filemon
