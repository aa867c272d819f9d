// The loader's directories (directory_list.h): system library directories and LD_LIBRARY_PATH.

#include "filemon/backends/preload/directory_list.h"

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

TEST(DirectoryList, SystemLibraryDirectories) {
  EXPECT_TRUE(IsSystemLibraryDir("/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(IsSystemLibraryDir("/lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(IsSystemLibraryDir("/usr/lib/libfoo.so"));
  EXPECT_TRUE(IsSystemLibraryDir("/usr/lib64/libfoo.so"));
  EXPECT_TRUE(IsSystemLibraryDir("/usr/local/lib/libfoo.so"));
  EXPECT_FALSE(IsSystemLibraryDir("/opt/lib/libfoo.so"));
  EXPECT_FALSE(IsSystemLibraryDir("/library/libfoo.so"));
  EXPECT_FALSE(IsSystemLibraryDir("lib/libfoo.so"));
}

TEST(DirectoryList, PathDirectlyInAListedDirectory) {
  struct Case {
    const char* path;
    const char* list;
    bool in;
  };
  const Case kCases[] = {
      {"/opt/a/libx.so", "/opt/a", true},    {"/opt/a/libx.so", "/opt/b:/opt/a", true},
      {"/opt/a/libx.so", "/opt/a/", true},   {"/opt/a/libx.so", "/opt/a//:", true},
      {"/opt/a/libx.so", "/opt", false},      // not directly
      {"/opt/a/b/libx.so", "/opt/a", false},  // below, not in
      {"/opt/ab/libx.so", "/opt/a", false},   // a prefix of the name only
      {"/opt/a/libx.so", "", false},         {"/opt/a/libx.so", "::", false},
      {"/opt/a/libx.so", nullptr, false},    {"/libx.so", "/", false},  // the root: "" vs "/"
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(c.path) + " in " + (c.list == nullptr ? "(null)" : c.list));
    EXPECT_EQ(InDirectoryList(c.path, c.list), c.in);
  }
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
