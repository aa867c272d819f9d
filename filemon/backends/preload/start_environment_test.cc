// What a traced process's start reads from its environment, and the F it writes
// (start_environment.h).

#include "filemon/backends/preload/start_environment.h"

#include <elf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "filemon/backends/preload/launch_protocol.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// An environment of "NAME=value" entries, as a null-terminated array.
class Env {
 public:
  explicit Env(std::vector<std::string> entries) : entries_(std::move(entries)) {
    for (std::string& e : entries_) pointers_.push_back(e.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> pointers_;
};

std::string Var(const char* name, const char* value) { return std::string(name) + "=" + value; }

TEST(ReadStartEnvironment, FindsEachVariableByItsWholeName) {
  Env env({"PATH=/bin", Var(kEnvFd, "5"), Var(kEnvPipe, "6"), Var(kEnvPid, "100"),
           Var(kEnvSocket, "@s"), Var(kEnvOptions, "3"), Var(kEnvHelper, "/h"),
           Var(kEnvExec, "/prog"), Var(kEnvLocale, "L"), Var(kEnvLocaleShm, "/shm"),
           "LD_LIBRARY_PATH=/lib/x", Var(kEnvToken, "7"), Var(kEnvActions, "R1:a")});
  const StartEnvironment s = ReadStartEnvironment(env.get());
  EXPECT_STREQ(s.fd, "5");
  EXPECT_STREQ(s.pipe, "6");
  EXPECT_STREQ(s.pid, "100");
  EXPECT_STREQ(s.socket, "@s");
  EXPECT_STREQ(s.options, "3");
  EXPECT_STREQ(s.helper, "/h");
  EXPECT_STREQ(s.exec, "/prog");
  EXPECT_STREQ(s.locale, "L");
  EXPECT_STREQ(s.locale_shm, "/shm");
  EXPECT_STREQ(s.library_path, "/lib/x");
  EXPECT_STREQ(s.token, "7");
  EXPECT_STREQ(s.actions, "R1:a");
}

// A process's initial stack: argc, argv, NULL, the environment, `extra_nulls` + 1 NULLs (as
// unsetenv leaves them), then an auxiliary vector of AT_PHNUM 9 and AT_EXECFN 0x1234.
std::vector<uintptr_t> InitialStack(size_t argc, size_t envc, size_t extra_nulls) {
  std::vector<uintptr_t> stack = {argc};
  for (size_t i = 0; i < argc; ++i) stack.push_back(0x1000 + i);
  stack.push_back(0);
  for (size_t i = 0; i < envc; ++i) stack.push_back(0x2000 + i);
  for (size_t i = 0; i <= extra_nulls; ++i) stack.push_back(0);
  for (uintptr_t word : {uintptr_t{AT_PHNUM}, uintptr_t{9}, uintptr_t{AT_EXECFN}, uintptr_t{0x1234},
                         uintptr_t{AT_NULL}, uintptr_t{0}}) {
    stack.push_back(word);
  }
  return stack;
}

TEST(StartAuxValue, FindsTheEntriesPastArgvAndTheEnvironment) {
  for (size_t argc : {0, 1, 3}) {
    for (size_t envc : {0, 1, 5}) {
      SCOPED_TRACE(testing::Message() << "argc " << argc << ", envc " << envc);
      const std::vector<uintptr_t> stack = InitialStack(argc, envc, 0);
      EXPECT_EQ(StartAuxValue(stack.data(), AT_PHNUM), 9u);
      EXPECT_EQ(StartAuxValue(stack.data(), AT_EXECFN), 0x1234u);
      EXPECT_EQ(StartAuxValue(stack.data(), AT_PHDR), 0u);  // absent
    }
  }
}

TEST(StartAuxValue, SkipsTheNullsThatUnsetenvLeft) {
  const std::vector<uintptr_t> stack = InitialStack(2, 4, 2);
  EXPECT_EQ(StartAuxValue(stack.data(), AT_EXECFN), 0x1234u);
  EXPECT_EQ(StartAuxValue(stack.data(), AT_PHNUM), 9u);
}

TEST(ReadStartEnvironment, UnsetAndPrefixedNamesAreNull) {
  Env env({std::string("X") + kEnvFd + "=5", std::string(kEnvPipe) + "X=6", "LD_LIBRARY_PATHS=/x"});
  const StartEnvironment s = ReadStartEnvironment(env.get());
  EXPECT_EQ(s.fd, nullptr);
  EXPECT_EQ(s.pipe, nullptr);
  EXPECT_EQ(s.library_path, nullptr);
  EXPECT_EQ(ReadStartEnvironment(nullptr).fd, nullptr);
}

StartEnvironment WithPidAndToken(const char* pid, const char* token) {
  StartEnvironment env;
  env.pid = pid;
  env.token = token;
  return env;
}

TEST(StartForkOf, AnExecInTheSameProcessWritesNoF) {
  EXPECT_EQ(StartForkOf(WithPidAndToken("42", "9"), 42).kind, StartFork::Kind::kNone);
  EXPECT_EQ(StartForkOf(WithPidAndToken("42", nullptr), 42).kind, StartFork::Kind::kNone);
}

TEST(StartForkOf, AChildCreatedInsideGlibcNamesItsParentAndToken) {
  const StartFork f = StartForkOf(WithPidAndToken("42", "9"), 43);
  EXPECT_EQ(f.kind, StartFork::Kind::kWithToken);
  EXPECT_EQ(f.parent, 42);
  EXPECT_EQ(f.token, 9u);
}

TEST(StartForkOf, WithoutATokenTheKernelsParentIsNamed) {
  StartFork f = StartForkOf(WithPidAndToken("42", nullptr), 43);
  EXPECT_EQ(f.kind, StartFork::Kind::kKernels);
  EXPECT_EQ(f.exec_pid, 42);
  f = StartForkOf(WithPidAndToken("42", "x9"), 43);  // a malformed token is none
  EXPECT_EQ(f.kind, StartFork::Kind::kKernels);
  EXPECT_EQ(f.exec_pid, 42);
  f = StartForkOf(WithPidAndToken(nullptr, "9"), 43);  // no parent: the token is ignored
  EXPECT_EQ(f.kind, StartFork::Kind::kKernels);
  EXPECT_EQ(f.exec_pid, 0);
  f = StartForkOf(WithPidAndToken("0", "9"), 43);
  EXPECT_EQ(f.kind, StartFork::Kind::kKernels);
  EXPECT_EQ(f.exec_pid, 0);
}

TEST(AlternateParent, OnlyAProcessOtherThanTheKernelsParent) {
  EXPECT_EQ(AlternateParent(42, 42), 0);
  EXPECT_EQ(AlternateParent(42, 1), 42);
  EXPECT_EQ(AlternateParent(0, 1), 0);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
