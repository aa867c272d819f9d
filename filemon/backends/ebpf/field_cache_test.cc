// CachedKernelFields over a cache directory and kernel notes made here: when the cache answers,
// and every case where it must not (another kernel, damage, a file others could have written).
#include "filemon/backends/ebpf/field_cache.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace filemon {
namespace ebpf_internal {
namespace {

// ELF notes as /sys/kernel/notes has them: another note, then a GNU build ID `id` (if any).
std::string Notes(const std::string& id) {
  std::string notes;
  auto note = [&notes](uint32_t type, const std::string& name, const std::string& desc) {
    uint32_t header[3] = {static_cast<uint32_t>(name.size()), static_cast<uint32_t>(desc.size()),
                          type};
    notes.append(reinterpret_cast<const char*>(header), sizeof(header));
    notes += name;
    notes.append((4 - name.size() % 4) % 4, '\0');
    notes += desc;
    notes.append((4 - desc.size() % 4) % 4, '\0');
  };
  note(1, std::string("Xen\0", 4), std::string("\x01\x02\x03", 3));
  if (!id.empty()) note(3, std::string("GNU\0", 4), id);
  return notes;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string Read(const std::string& path) {
  std::stringstream s;
  s << std::ifstream(path, std::ios::binary).rdbuf();
  return s.str();
}

class FieldCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the cache is root's only";
    std::string base =
        absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp", "/field_cache.XXXXXX");
    ASSERT_NE(mkdtemp(&base[0]), nullptr);
    paths_.dir = base + "/cache";  // made by the cache
    paths_.notes = base + "/notes";
    Write(paths_.notes, Notes("\xab\xcd\x01\x02"));
    for (int i = 0; i < FE_FIELDS; ++i) fields_.offset[i] = 100 + i;
  }

  // The offsets, and whether the search ran.
  absl::StatusOr<KernelFields> Get(bool* searched) {
    *searched = false;
    bool hit = false;
    absl::StatusOr<KernelFields> got = CachedKernelFields(
        paths_,
        [&]() -> absl::StatusOr<KernelFields> {
          *searched = true;
          return fields_;
        },
        &hit);
    EXPECT_EQ(hit, !*searched);
    return got;
  }

  std::string file() const { return paths_.dir + "/kernel-fields"; }

  FieldCachePaths paths_;
  KernelFields fields_;
};

TEST_F(FieldCacheTest, SecondLookupOfTheSameKernelIsCached) {
  bool searched = false;
  ASSERT_TRUE(Get(&searched).ok());
  EXPECT_TRUE(searched);
  struct stat st;
  ASSERT_EQ(stat(paths_.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_NE(Read(file()).find("build-id abcd0102\n"), std::string::npos) << Read(file());

  absl::StatusOr<KernelFields> again = Get(&searched);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(searched);
  for (int i = 0; i < FE_FIELDS; ++i) EXPECT_EQ(again->offset[i], 100u + i) << i;
}

TEST_F(FieldCacheTest, AnotherKernelSearchesAgain) {
  bool searched = false;
  ASSERT_TRUE(Get(&searched).ok());
  Write(paths_.notes, Notes("\xab\xcd\x01\x03"));
  fields_.offset[FE_TASK_PID] = 7;
  absl::StatusOr<KernelFields> other = Get(&searched);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(searched);
  EXPECT_EQ(other->offset[FE_TASK_PID], 7u);
  ASSERT_TRUE(Get(&searched).ok());  // that kernel's answer is kept now
  EXPECT_FALSE(searched);
}

TEST_F(FieldCacheTest, NoBuildIdNoCache) {
  Write(paths_.notes, Notes(""));
  bool searched = false;
  ASSERT_TRUE(Get(&searched).ok());
  ASSERT_TRUE(Get(&searched).ok());
  EXPECT_TRUE(searched);
  EXPECT_NE(access(file().c_str(), F_OK), 0);
}

TEST_F(FieldCacheTest, DamagedOrForeignFilesAreMisses) {
  bool searched = false;
  ASSERT_TRUE(Get(&searched).ok());
  const std::string good = Read(file());
  const std::string pid_line = "task_struct pid 4 102\n";
  ASSERT_NE(good.find(pid_line), std::string::npos) << good;
  std::string other_field = good;
  other_field.replace(good.find(pid_line), pid_line.size(), "task_struct pid 8 102\n");
  const std::string damaged[] = {
      "",
      good.substr(0, good.size() - 5),
      good + "x\n",
      other_field,
      std::string(good).replace(good.find(" 102\n"), 5, " -1\n"),
      std::string(good).replace(0, 8, "FILEMON "),
  };
  for (const std::string& text : damaged) {
    Write(file(), text);
    ASSERT_TRUE(Get(&searched).ok());
    EXPECT_TRUE(searched) << text;
    EXPECT_EQ(Read(file()), good);  // the search's answer replaced it
  }
  // A file that others can write is not trusted, whatever it says.
  ASSERT_EQ(chmod(file().c_str(), 0666), 0);
  ASSERT_TRUE(Get(&searched).ok());
  EXPECT_TRUE(searched);
  // Nor is a directory that others can write.
  ASSERT_EQ(chmod(paths_.dir.c_str(), 0777), 0);
  ASSERT_TRUE(Get(&searched).ok());
  EXPECT_TRUE(searched);
  ASSERT_TRUE(Get(&searched).ok());
  EXPECT_TRUE(searched);
}

TEST_F(FieldCacheTest, SearchErrorIsReturnedAndNotCached) {
  bool hit = true;
  absl::StatusOr<KernelFields> got = CachedKernelFields(
      paths_, [] { return absl::StatusOr<KernelFields>(absl::NotFoundError("no struct x")); },
      &hit);
  EXPECT_FALSE(hit);
  EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
  EXPECT_NE(access(file().c_str(), F_OK), 0);
}

}  // namespace
}  // namespace ebpf_internal
}  // namespace filemon
