#include "filemon/backends/preload/session_environment.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern "C" char** environ;

namespace filemon {
namespace preload_internal {
namespace {

using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::Not;

// Real libraries, so that the loader of the exec'd `env` loads them without a complaint.
constexpr char kLibrary[] = "/lib/x86_64-linux-gnu/libm.so.6";
constexpr char kUserPreload[] = "/lib/x86_64-linux-gnu/libdl.so.2";

std::vector<std::string> Entries(char** v) {
  std::vector<std::string> out;
  for (size_t i = 0; v != nullptr && v[i] != nullptr; ++i) out.push_back(v[i]);
  return out;
}

class SessionEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kLibrary, R_OK) != 0 || access(kUserPreload, R_OK) != 0) {
      GTEST_SKIP() << "no " << kLibrary << " or " << kUserPreload;
    }
    setenv("SESSION_TEST_KEPT", "1", 1);
    setenv("LD_PRELOAD", kUserPreload, 1);
    // As in a caller that is itself traced by preload: never passed to the session's child.
    setenv("FILEMON_PRELOAD_FD", "77", 1);
    unsetenv("SESSION_TEST_ADDED");
    SessionEnvironment::Options options;
    options.library = kLibrary;
    options.variables = {"FILEMON_PRELOAD_FD=1001", "FILEMON_PRELOAD_PIPE=1002"};
    auto env = SessionEnvironment::Create(options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  void TearDown() override {
    unsetenv("LD_PRELOAD");
    unsetenv("FILEMON_PRELOAD_FD");
    unsetenv("SESSION_TEST_KEPT");
    unsetenv("SESSION_TEST_ADDED");
  }

  // Starts /usr/bin/env in a child made by `vfork` (or fork), which calls `before_exec` after
  // Enter; restores in the parent as SetChild does; returns the child's environment and pid.
  template <typename Fn>
  std::vector<std::string> RunEnv(bool use_vfork, Fn before_exec, pid_t* child = nullptr) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_t pid = use_vfork ? vfork() : fork();
    if (pid == 0) {
      if (env_->Enter(getpid()) != 0) _exit(126);
      before_exec();
      dup2(out[1], 1);
      char* const argv[] = {const_cast<char*>("env"), nullptr};
      execv("/usr/bin/env", argv);
      _exit(127);
    }
    env_->Restore();
    close(out[1]);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    if (child != nullptr) *child = pid;
    return absl::StrSplit(text, '\n', absl::SkipEmpty());
  }

  std::unique_ptr<SessionEnvironment> env_;
};

TEST_F(SessionEnvironmentTest, TheCommandGetsTheSessionsVariablesAndTheCallersOthers) {
  pid_t pid = 0;
  std::vector<std::string> seen = RunEnv(/*use_vfork=*/false, [] {}, &pid);
  EXPECT_THAT(seen, Contains("SESSION_TEST_KEPT=1"));
  EXPECT_THAT(seen, Contains(absl::StrCat("LD_PRELOAD=", kLibrary, ":", kUserPreload)));
  EXPECT_THAT(seen, Contains(absl::StrCat("FILEMON_PRELOAD_PID=", pid)));
  // Names the child for an enclosing preload trace, which hands it over at its exec.
  EXPECT_THAT(seen, Contains(absl::StrCat("FILEMON_PRELOAD_SESSION=", pid)));
  EXPECT_THAT(seen, Contains("FILEMON_PRELOAD_FD=1001"));
  EXPECT_THAT(seen, Contains("FILEMON_PRELOAD_PIPE=1002"));
  EXPECT_THAT(seen, Not(Contains("FILEMON_PRELOAD_FD=77")));
}

TEST_F(SessionEnvironmentTest, AfterVforkTheCallerFindsItsEnvironmentAsItWas) {
  char** const before = environ;
  const std::vector<std::string> entries = Entries(environ);
  pid_t pid = 0;
  std::vector<std::string> seen = RunEnv(/*use_vfork=*/true, [] {}, &pid);
  EXPECT_THAT(seen, Contains(absl::StrCat("FILEMON_PRELOAD_PID=", pid)));
  EXPECT_THAT(seen, Contains("FILEMON_PRELOAD_FD=1001"));
  EXPECT_EQ(environ, before);
  EXPECT_THAT(Entries(environ), ElementsAreArray(entries));
  EXPECT_STREQ(getenv("LD_PRELOAD"), kUserPreload);
}

TEST_F(SessionEnvironmentTest, AVariableTheVforkedChildChangesStaysTheCallers) {
  const std::vector<std::string> entries = Entries(environ);
  std::vector<std::string> seen =
      RunEnv(/*use_vfork=*/true, [] { setenv("SESSION_TEST_KEPT", "2", 1); });
  EXPECT_THAT(seen, Contains("SESSION_TEST_KEPT=2"));
  EXPECT_THAT(Entries(environ), ElementsAreArray(entries));
}

// bmake's job mode: Var_ExportVars() calls setenv() in the vforked child after
// filemon_setpid_child(). glibc then moves `environ` to an array it reallocates, possibly
// from the caller's own.
TEST_F(SessionEnvironmentTest, AVariableTheVforkedChildAddsReachesBothWithoutTheSessions) {
  pid_t pid = 0;
  std::vector<std::string> seen =
      RunEnv(/*use_vfork=*/true, [] { setenv("SESSION_TEST_ADDED", "yes", 1); }, &pid);
  EXPECT_THAT(seen, Contains("SESSION_TEST_ADDED=yes"));
  EXPECT_THAT(seen, Contains("FILEMON_PRELOAD_FD=1001"));
  EXPECT_THAT(seen, Contains(absl::StrCat("LD_PRELOAD=", kLibrary, ":", kUserPreload)));
  // The caller: the added variable (as after any vfork child's setenv), its own values back,
  // none of the session's.
  EXPECT_STREQ(getenv("SESSION_TEST_ADDED"), "yes");
  EXPECT_STREQ(getenv("SESSION_TEST_KEPT"), "1");
  EXPECT_STREQ(getenv("LD_PRELOAD"), kUserPreload);
  EXPECT_STREQ(getenv("FILEMON_PRELOAD_FD"), "77");
  EXPECT_EQ(getenv("FILEMON_PRELOAD_PIPE"), nullptr);
  EXPECT_EQ(getenv("FILEMON_PRELOAD_PID"), nullptr);
  // And the environment still works as glibc's own.
  ASSERT_EQ(setenv("SESSION_TEST_ADDED", "again", 1), 0);
  ASSERT_EQ(setenv("SESSION_TEST_ANOTHER", "x", 1), 0);
  EXPECT_STREQ(getenv("SESSION_TEST_ADDED"), "again");
  unsetenv("SESSION_TEST_ANOTHER");
}

TEST_F(SessionEnvironmentTest, AfterForkTheParentsEnvironmentIsUntouched) {
  char** const before = environ;
  RunEnv(/*use_vfork=*/false, [] { setenv("SESSION_TEST_ADDED", "child only", 1); });
  EXPECT_EQ(environ, before);
  EXPECT_EQ(getenv("SESSION_TEST_ADDED"), nullptr);
}

TEST_F(SessionEnvironmentTest, TheCallersPreloadNamingTheLibraryIsKeptAsIs) {
  EXPECT_EQ(env_->PreloadEntryFor(nullptr), absl::StrCat("LD_PRELOAD=", kLibrary));
  EXPECT_EQ(env_->PreloadEntryFor(kLibrary), absl::StrCat("LD_PRELOAD=", kLibrary));
  setenv("LD_PRELOAD", absl::StrCat(kUserPreload, " ", kLibrary).c_str(), 1);
  std::vector<std::string> seen = RunEnv(/*use_vfork=*/false, [] {});
  EXPECT_THAT(seen, Contains(absl::StrCat("LD_PRELOAD=", kUserPreload, " ", kLibrary)));
}

TEST_F(SessionEnvironmentTest, AnEnvironmentLargerThanItsRoomIsRefused) {
  SessionEnvironment::Options options;
  options.library = kLibrary;
  options.max_entries = 2;
  auto small = SessionEnvironment::Create(options);
  ASSERT_TRUE(small.ok());
  char** const before = environ;
  EXPECT_EQ((*small)->Enter(getpid()), E2BIG);
  EXPECT_EQ(environ, before);
  (*small)->Restore();
  EXPECT_EQ(environ, before);
}

// For an exec the kernel refused with E2BIG (session_exec_handoff.h): without the setlocale
// cache, then the environment the caller's exec would have had without the session.
TEST_F(SessionEnvironmentTest, FallbacksDropTheCacheThenEverySessionVariable) {
  SessionEnvironment::Options options;
  options.library = kLibrary;
  options.variables = {"FILEMON_PRELOAD_FD=1001", "FILEMON_PRELOAD_LOCALE_SHM=/shm"};
  auto env = SessionEnvironment::Create(options);
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_EQ((*env)->Enter(getpid()), 0);
  char** const session = environ;
  std::vector<const char*> out((*env)->Room(session), nullptr);
  ASSERT_TRUE((*env)->Fill(0, session, out.data()));
  const std::vector<std::string> without_cache = Entries(const_cast<char**>(out.data()));
  ASSERT_TRUE((*env)->Fill(1, session, out.data()));
  const std::vector<std::string> untraced = Entries(const_cast<char**>(out.data()));
  const bool third = (*env)->Fill(2, session, out.data());
  (*env)->Restore();
  EXPECT_FALSE(third);
  EXPECT_THAT(without_cache, Contains("FILEMON_PRELOAD_FD=1001"));
  EXPECT_THAT(without_cache, Contains(absl::StrCat("LD_PRELOAD=", kLibrary, ":", kUserPreload)));
  EXPECT_THAT(without_cache, Not(Contains("FILEMON_PRELOAD_LOCALE_SHM=/shm")));
  EXPECT_EQ(without_cache.size(), Entries(session).size() - 1);
  EXPECT_THAT(untraced, Contains("SESSION_TEST_KEPT=1"));
  EXPECT_THAT(untraced, Contains(absl::StrCat("LD_PRELOAD=", kUserPreload)));
  EXPECT_THAT(untraced, Contains("FILEMON_PRELOAD_FD=77"));  // the caller's own
  for (const std::string& entry : untraced) {
    EXPECT_EQ(entry.find("1001"), std::string::npos) << entry;
    EXPECT_EQ(entry.find("FILEMON_PRELOAD_PID"), std::string::npos) << entry;
  }
  std::vector<std::string> caller = Entries(environ);
  std::vector<std::string> sorted = untraced;
  std::sort(caller.begin(), caller.end());
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, caller);
}

TEST_F(SessionEnvironmentTest, OnlyTheSessionsVariablesAreAccepted) {
  SessionEnvironment::Options options;
  options.library = kLibrary;
  options.variables = {"PATH=/bin"};
  EXPECT_FALSE(SessionEnvironment::Create(options).ok());
  options.variables = {"FILEMON_PRELOAD_PID=1"};  // Enter writes the child's own
  EXPECT_FALSE(SessionEnvironment::Create(options).ok());
  options.variables = {};
  options.library = "";
  EXPECT_FALSE(SessionEnvironment::Create(options).ok());
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
