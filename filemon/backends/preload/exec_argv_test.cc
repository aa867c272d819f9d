// The argument vectors the exec and spawn wrappers build (exec_argv.h).

#include "filemon/backends/preload/exec_argv.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// `n` arguments "a0".."a<n-1>" and the null, as an exec's argv.
class Argv {
 public:
  explicit Argv(size_t n) {
    for (size_t i = 0; i < n; ++i) strings_.push_back("a" + std::to_string(i));
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// The entries of `argv` up to its null.
std::vector<std::string> Entries(const char* const* argv) {
  std::vector<std::string> out;
  for (size_t i = 0; argv[i] != nullptr; ++i) out.push_back(argv[i]);
  return out;
}

// `argv`'s helper argv, built in room of exactly HelperArgvEntries(argv) entries.
std::vector<std::string> HelperEntries(char* const* argv) {
  ArgvRoom room(HelperArgvEntries(argv));
  EXPECT_NE(room.args(), nullptr);
  BuildHelperArgv("/lib/helper", "/bin/static", argv, room.args());
  EXPECT_EQ(room.args()[HelperArgvEntries(argv) - 1], nullptr);
  return Entries(room.args());
}

// `argv`'s /bin/sh argv, built in room of exactly ShellArgvEntries(argv) entries.
std::vector<std::string> ShellEntries(char* const* argv) {
  ArgvRoom room(ShellArgvEntries(argv));
  EXPECT_NE(room.args(), nullptr);
  BuildShellArgv("./script", argv, room.args());
  EXPECT_EQ(room.args()[ShellArgvEntries(argv) - 1], nullptr);
  return Entries(room.args());
}

TEST(HelperArgv, HelperThenProgramThenItsArguments) {
  Argv argv(3);
  EXPECT_EQ(HelperEntries(argv.get()),
            (std::vector<std::string>{"/lib/helper", "/bin/static", "--", "a0", "a1", "a2"}));
}

TEST(HelperArgv, NullArgvGivesNoArguments) {
  EXPECT_EQ(HelperEntries(nullptr), (std::vector<std::string>{"/lib/helper", "/bin/static", "--"}));
}

// No cap of ours: a helper argv is built for as many arguments as the kernel takes (a session's
// hand-off and the exec wrappers once stopped at 4,096 and 1,024 entries).
TEST(HelperArgv, ManyArgumentsAllReachTheHelper) {
  Argv argv(50000);
  const std::vector<std::string> entries = HelperEntries(argv.get());
  ASSERT_EQ(entries.size(), 50003u);
  EXPECT_EQ(entries.back(), "a49999");
}

TEST(ShellArgv, ShellReplacesArgvZeroAndKeepsTheRest) {
  Argv argv(3);
  EXPECT_EQ(ShellEntries(argv.get()),
            (std::vector<std::string>{"/bin/sh", "./script", "a1", "a2"}));
}

TEST(ShellArgv, EmptyArgvStillNamesTheScript) {
  Argv argv(0);
  EXPECT_EQ(ShellEntries(argv.get()), (std::vector<std::string>{"/bin/sh", "./script"}));
  EXPECT_EQ(ShellEntries(nullptr), (std::vector<std::string>{"/bin/sh", "./script"}));
}

TEST(ShellArgv, ManyArgumentsAllReachTheShell) {
  Argv argv(50000);
  const std::vector<std::string> entries = ShellEntries(argv.get());
  ASSERT_EQ(entries.size(), 50001u);
  EXPECT_EQ(entries.back(), "a49999");
}

bool IsMapped(const void* address) {
  const long page = sysconf(_SC_PAGESIZE);
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(address) & ~(page - 1));
  unsigned char resident;
  return mincore(start, static_cast<size_t>(page), &resident) == 0 || errno != ENOMEM;
}

TEST(ArgvRoom, ShortVectorLivesInTheObject) {
  ArgvRoom list(kArgvOnStack);
  ASSERT_NE(list.args(), nullptr);
  const char* begin = reinterpret_cast<const char*>(&list);
  const char* room = reinterpret_cast<const char*>(list.args());
  EXPECT_GE(room, begin);
  EXPECT_LT(room, begin + sizeof(list));
}

TEST(ArgvRoom, LongVectorGetsPagesOfItsOwnUntilDestroyed) {
  const size_t count = 100000;
  const char** room = nullptr;
  {
    ArgvRoom list(count + 1);
    room = list.args();
    ASSERT_NE(room, nullptr);
    const char* begin = reinterpret_cast<const char*>(&list);
    EXPECT_FALSE(reinterpret_cast<const char*>(room) >= begin &&
                 reinterpret_cast<const char*>(room) < begin + sizeof(list));
    room[0] = "first";
    room[count] = nullptr;  // the last entry is writable
    EXPECT_TRUE(IsMapped(room + count));
  }
  EXPECT_FALSE(IsMapped(room));
}

// A vfork child that maps a long vector and execs leaves the pages in the parent's memory,
// which it borrowed; the parent's ReleaseVforkChildRooms unmaps them, and only them.
TEST(ArgvRoom, AVforkChildsRoomIsReleasedByItsParent) {
  ArgvRoom own(100000);  // the parent's own room, in use across the vfork
  ASSERT_NE(own.args(), nullptr);
  const char** volatile left = nullptr;
  const pid_t pid = vfork();
  if (pid == 0) {
    ArgvRoom room(100000);
    left = room.args();
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_EQ(status, 0);
  ASSERT_NE(left, nullptr);
  EXPECT_TRUE(IsMapped(left));
  ReleaseVforkChildRooms();
  EXPECT_FALSE(IsMapped(left));
  EXPECT_TRUE(IsMapped(own.args()));
}

// An execle-like call: its list as WithListArgv makes it, and the environment after it.
struct ListCall {
  std::vector<std::string> argv;
  char* const* envp = nullptr;
};
ListCall CollectList(const char* first, ...) {
  ListCall call;
  va_list args;
  va_start(args, first);
  WithListArgv(first, args, &call.envp, [&](char* const* argv) {
    for (size_t i = 0; argv[i] != nullptr; ++i) call.argv.push_back(argv[i]);
    return 0;
  });
  va_end(args);
  return call;
}

#define TEN(x) x, x, x, x, x, x, x, x, x, x
#define HUNDRED(x) TEN(x), TEN(x), TEN(x), TEN(x), TEN(x), TEN(x), TEN(x), TEN(x), TEN(x), TEN(x)

// execl's list up to its null, then execle's environment: a short list on the stack, one
// longer than kArgvOnStack in pages of its own.
TEST(WithListArgv, TakesTheListUpToItsNullThenTheEnvironment) {
  char* env[] = {const_cast<char*>("A=1"), nullptr};
  ListCall short_call = CollectList("a", "b", static_cast<char*>(nullptr), env);
  EXPECT_EQ(short_call.argv, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(short_call.envp, env);
  ListCall long_call =
      CollectList("a", HUNDRED("x"), HUNDRED("y"), HUNDRED("z"), static_cast<char*>(nullptr), env);
  ASSERT_EQ(long_call.argv.size(), 301u);
  EXPECT_EQ(long_call.argv[300], "z");
  EXPECT_EQ(long_call.envp, env);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
