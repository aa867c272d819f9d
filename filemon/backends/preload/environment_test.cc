// The environment the interposer passes on (environment.h): our variables replaced, LD_PRELOAD
// merged, the bound on the entries it adds, and the scratch size it computes.

#include "filemon/backends/preload/environment.h"

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/safe_string.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

constexpr char kLib[] = "/lib/filemon/libfilemon_preload.so";

// An environment array over strings the test keeps.
class Env {
 public:
  explicit Env(std::vector<std::string> entries) : entries_(std::move(entries)) {
    for (std::string& e : entries_) pointers_.push_back(&e[0]);
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> pointers_;
};

OurVariables Ours() {
  OurVariables ours;
  ours.lib_path = kLib;
  ours.fd = 5;
  ours.pid = 1234;
  return ours;
}

// FixEnvironment with room for exactly kOurEnvEntries more entries and exactly
// EnvScratchSize() bytes; fails the test if it wrote past either.
std::vector<std::string> Fixed(Env& env, const OurVariables& ours, EnvRequest request) {
  request.envp = env.get();
  const size_t room = env.size() + kOurEnvEntries;
  char guard_value = 0;
  std::vector<char*> out(room + 1, &guard_value);
  const size_t scratch_size = EnvScratchSize(request, ours);
  std::string scratch(scratch_size + 1, '\x7f');
  FixEnvironment(request, ours, out.data(), &scratch[0], scratch_size);
  EXPECT_EQ(out[room], &guard_value) << "more entries than kOurEnvEntries allows";
  EXPECT_EQ(scratch[scratch_size], '\x7f') << "past the scratch size";
  std::vector<std::string> result;
  size_t i = 0;
  for (; i < room && out[i] != nullptr; ++i) result.emplace_back(out[i]);
  EXPECT_LT(i, room) << "no terminating null";
  return result;
}

TEST(Environment, OurVariablesAreReplacedAndTheProgramsKeptInOrder) {
  Env env({"HOME=/h", "FILEMON_PRELOAD_FD=99", "PATH=/bin", "FILEMON_PRELOAD_STALE=1", "Z=z"});
  EXPECT_EQ(
      Fixed(env, Ours(), EnvRequest{nullptr}),
      (std::vector<std::string>{"HOME=/h", "PATH=/bin", "Z=z", std::string("LD_PRELOAD=") + kLib,
                                "FILEMON_PRELOAD_FD=5", "FILEMON_PRELOAD_PID=1234"}));
}

// A nested session's child (launch_protocol.h, "Nested traces"): its exec is handed over only
// when the environment names that very process; any other exec strips the name with the rest.
TEST(Environment, OnlyTheNamedProcessIsHandedOverToASession) {
  Env prepared({"PATH=/bin", "FILEMON_PRELOAD_FD=9", "FILEMON_PRELOAD_PIPE=10",
                "FILEMON_PRELOAD_SESSION=4321"});
  EXPECT_TRUE(PreparedForSession(prepared.get(), 4321, /*fd=*/5, /*pipe=*/6));
  // A stale entry: another process.
  EXPECT_FALSE(PreparedForSession(prepared.get(), 4322, 5, 6));
  // The session's own command execs again in the same pid, on the channel it was given.
  EXPECT_FALSE(PreparedForSession(prepared.get(), 4321, 9, 10));
  EXPECT_FALSE(PreparedForSession(prepared.get(), 4321, 5, 10));
  Env plain({"PATH=/bin", "FILEMON_PRELOAD_FD=9", "FILEMON_PRELOAD_PID=4321"});
  EXPECT_FALSE(PreparedForSession(plain.get(), 4321, 5, 6));
  Env garbled({"FILEMON_PRELOAD_FD=9", "FILEMON_PRELOAD_SESSION=4321x"});
  EXPECT_FALSE(PreparedForSession(garbled.get(), 4321, 5, 6));
  EXPECT_FALSE(PreparedForSession(nullptr, 4321, 5, 6));
  EXPECT_EQ(Fixed(prepared, Ours(), EnvRequest{nullptr}),
            (std::vector<std::string>{"PATH=/bin", std::string("LD_PRELOAD=") + kLib,
                                      "FILEMON_PRELOAD_FD=5", "FILEMON_PRELOAD_PID=1234"}));
}

TEST(Environment, LdPreloadPutsThisLibraryFirstOnce) {
  struct Case {
    const char* entry;  // nullptr: no LD_PRELOAD
    std::string expected;
  };
  const std::string lib = kLib;
  const Case kCases[] = {
      {nullptr, "LD_PRELOAD=" + lib},
      {"LD_PRELOAD=", "LD_PRELOAD=" + lib},
      {"LD_PRELOAD=/x/libasan.so", "LD_PRELOAD=" + lib + ":/x/libasan.so"},
      {"LD_PRELOAD=/x/a.so:/lib/filemon/libfilemon_preload.so", "LD_PRELOAD=/x/a.so:" + lib},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.entry == nullptr ? "(none)" : c.entry);
    Env env(c.entry == nullptr ? std::vector<std::string>{} : std::vector<std::string>{c.entry});
    EXPECT_EQ(Fixed(env, Ours(), EnvRequest{nullptr})[0], c.expected);
  }
}

TEST(Environment, WithoutPreloadOnlyTheProgramsLibrariesStay) {
  struct Case {
    const char* entry;
    const char* expected;  // nullptr: no LD_PRELOAD at all
  };
  const Case kCases[] = {
      {nullptr, nullptr},
      {"LD_PRELOAD=/lib/filemon/libfilemon_preload.so", nullptr},
      {"LD_PRELOAD=/lib/filemon/libfilemon_preload.so:/x/a.so /y/b.so",
       "LD_PRELOAD=/x/a.so:/y/b.so"},
      {"LD_PRELOAD=/x/a.so::", "LD_PRELOAD=/x/a.so"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.entry == nullptr ? "(none)" : c.entry);
    Env env(c.entry == nullptr ? std::vector<std::string>{} : std::vector<std::string>{c.entry});
    EnvRequest request{nullptr};
    request.preload = false;
    const std::vector<std::string> got = Fixed(env, Ours(), request);
    ASSERT_FALSE(got.empty());
    if (c.expected == nullptr) {
      EXPECT_EQ(got[0].rfind("LD_PRELOAD=", 0), std::string::npos) << got[0];
    } else {
      EXPECT_EQ(got[0], c.expected);
    }
  }
}

// Every variable present, with the longest numbers: exactly kOurEnvEntries - 1 entries added,
// and EnvScratchSize() bytes hold them all.
TEST(Environment, EveryVariableFitsTheRoomComputed) {
  OurVariables ours;
  ours.lib_path = kLib;
  ours.fd = INT_MAX;
  ours.pipe = INT_MAX;
  ours.pid = INT_MAX;
  ours.socket_name = "filemon-preload-1-2-abcdef";
  ours.options = "3";
  ours.helper = "/lib/filemon/filemon_preload_helper";
  ours.locale_shm = "/proc/77/fd/9";
  const std::string locale = std::string("|0;C") + '\x1d' + "/usr/lib/locale/C.utf8/LC_CTYPE";
  ours.locale = locale.c_str();
  ours.locale_size = locale.size();
  const ChildStart child{UINT32_MAX, "R4:/x/yC1:/"};
  EnvRequest request{nullptr};
  request.exec_path = "/dev/fd/3/prog";
  request.child = &child;
  Env env({"A=1", "LD_PRELOAD=/x/a.so"});
  const std::vector<std::string> got = Fixed(env, ours, request);
  ASSERT_EQ(got.size(), 1 + kOurEnvEntries - 1);
  const std::string max = std::to_string(INT_MAX);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "A=1",
                     std::string("LD_PRELOAD=") + kLib + ":/x/a.so",
                     "FILEMON_PRELOAD_FD=" + max,
                     "FILEMON_PRELOAD_PIPE=" + max,
                     "FILEMON_PRELOAD_PID=" + max,
                     "FILEMON_PRELOAD_SOCKET=filemon-preload-1-2-abcdef",
                     "FILEMON_PRELOAD_OPTIONS=3",
                     "FILEMON_PRELOAD_HELPER=/lib/filemon/filemon_preload_helper",
                     "FILEMON_PRELOAD_EXEC=/dev/fd/3/prog",
                     "FILEMON_PRELOAD_TOKEN=" + std::to_string(UINT32_MAX),
                     "FILEMON_PRELOAD_ACTIONS=R4:/x/yC1:/",
                     "FILEMON_PRELOAD_LOCALE_SHM=/proc/77/fd/9",
                     "FILEMON_PRELOAD_LOCALE=" + locale,
                 }));
}

// The variables of a run with the setlocale cache, and of a process created inside glibc.
OurVariables OursWithCaches() {
  OurVariables ours = Ours();
  ours.options = "2";
  ours.locale_shm = "/proc/77/fd/9";
  ours.locale = "|0;C";
  ours.locale_size = 4;
  return ours;
}

TEST(Environment, WithoutCachesOnlyTheLocaleCacheIsLeftOut) {
  Env env({"A=1"});
  EnvRequest request{nullptr};
  request.level = EnvLevel::kWithoutCaches;
  EXPECT_EQ(
      Fixed(env, OursWithCaches(), request),
      (std::vector<std::string>{"A=1", std::string("LD_PRELOAD=") + kLib, "FILEMON_PRELOAD_FD=5",
                                "FILEMON_PRELOAD_PID=1234", "FILEMON_PRELOAD_OPTIONS=2"}));
}

// Untraced, a program gets the environment it would have without filemon: the one it passed,
// without our variables and without this library in LD_PRELOAD, and nothing added.
TEST(Environment, UntracedIsTheProgramsOwnEnvironment) {
  Env env({"HOME=/h", "FILEMON_PRELOAD_FD=9",
           "LD_PRELOAD=/lib/filemon/libfilemon_preload.so:/x/a.so", "FILEMON_PRELOAD_LOCALE=x"});
  const ChildStart child{7, "C1:/"};
  EnvRequest request{nullptr};
  request.exec_path = "/dev/fd/3/prog";
  request.child = &child;
  request.level = EnvLevel::kUntraced;
  EXPECT_EQ(Fixed(env, OursWithCaches(), request),
            (std::vector<std::string>{"HOME=/h", "LD_PRELOAD=/x/a.so"}));
  Env alone({"HOME=/h", "LD_PRELOAD=/lib/filemon/libfilemon_preload.so"});
  EXPECT_EQ(Fixed(alone, OursWithCaches(), request), (std::vector<std::string>{"HOME=/h"}));
}

TEST(Environment, ScratchTooSmallLeavesStringsOutButStaysInside) {
  Env env({"A=1"});
  const OurVariables ours = Ours();
  std::vector<char*> out(env.size() + kOurEnvEntries, nullptr);
  char scratch[40];
  FixEnvironment(EnvRequest{env.get()}, ours, out.data(), scratch, sizeof(scratch));
  // LD_PRELOAD (46 bytes) does not fit: it and every string after it are left out.
  EXPECT_STREQ(out[0], "A=1");
  EXPECT_EQ(out[1], nullptr);
}

TEST(Environment, NullEnvironmentGetsOursOnly) {
  std::vector<char*> out(kOurEnvEntries, nullptr);
  const OurVariables ours = Ours();
  std::vector<char> scratch(EnvScratchSize(EnvRequest{nullptr}, ours));
  FixEnvironment(EnvRequest{nullptr}, ours, out.data(), scratch.data(), scratch.size());
  EXPECT_EQ(std::string(out[0]), std::string("LD_PRELOAD=") + kLib);
  EXPECT_STREQ(out[1], "FILEMON_PRELOAD_FD=5");
  EXPECT_STREQ(out[2], "FILEMON_PRELOAD_PID=1234");
  EXPECT_EQ(out[3], nullptr);
}

// The environment WithExecEnvironment passes, and whether it is the program's own.
struct Passed {
  bool unchanged;
  size_t entries;
};
Passed PassedFor(Env& env) {
  return WithExecEnvironment(EnvRequest{env.get()}, [&](char** got) {
    return Passed{got == env.get(), CountEntries(got)};
  });
}

TEST(WithExecEnvironment, UsualAndLargeEnvironmentsAreFixed) {
  for (size_t n : {size_t{3}, kUsualEnvEntries, kMaxEnvEntries - kOurEnvEntries}) {
    SCOPED_TRACE(n);
    std::vector<std::string> entries;
    for (size_t i = 0; i < n; ++i) entries.push_back("V" + std::to_string(i) + "=x");
    Env env(entries);
    const Passed passed = PassedFor(env);
    EXPECT_FALSE(passed.unchanged);
    EXPECT_GT(passed.entries, n);  // LD_PRELOAD and our variables added
  }
}

TEST(WithExecEnvironment, TooManyEntriesArePassedUnchanged) {
  std::vector<std::string> many;
  for (size_t i = 0; i + kOurEnvEntries <= kMaxEnvEntries; ++i) {
    many.push_back("V=" + std::to_string(i));
  }
  Env env(many);
  EXPECT_TRUE(PassedFor(env).unchanged);
}

TEST(WithExecEnvironment, TooLongStringsArePassedUnchanged) {
  Env env({"LD_PRELOAD=/" + std::string(kEnvScratch, 'x')});
  EXPECT_TRUE(PassedFor(env).unchanged);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
