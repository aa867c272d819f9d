#include "filemon/meta/meta_read.h"

#include <string>

#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

struct Read {
  absl::Status status;
  std::string small;
  absl::optional<Mapping> mapped;
  bool missing = false;
  std::string text() const { return mapped ? std::string(mapped->data()) : small; }
};

void ReadInto(const std::string& path, Read* r) {
  r->status = ReadMeta(path, &r->small, &r->mapped, &r->missing);
}

TEST(ReadMeta, SmallIsReadLargeIsMapped) {
  TestDir dir("meta_read");
  dir.Write("small.meta", "CMD x\n");
  const std::string big(3 << 20, 'x');
  dir.Write("big.meta", big);
  Read small, large;
  ReadInto(dir / "small.meta", &small);
  ASSERT_TRUE(small.status.ok()) << small.status;
  EXPECT_FALSE(small.mapped.has_value());
  EXPECT_EQ(small.text(), "CMD x\n");
  ReadInto(dir / "big.meta", &large);
  ASSERT_TRUE(large.status.ok()) << large.status;
  EXPECT_TRUE(large.mapped.has_value());
  EXPECT_EQ(large.text(), big);
}

TEST(ReadMeta, MissingIsNotAnErrorADirectoryIs) {
  TestDir dir("meta_read_missing");
  dir.Mkdir("d.meta");
  Read missing, directory;
  ReadInto(dir / "none.meta", &missing);
  EXPECT_TRUE(missing.status.ok());
  EXPECT_TRUE(missing.missing);
  ReadInto(dir / "d.meta", &directory);
  EXPECT_FALSE(directory.status.ok());
  EXPECT_NE(directory.status.message().find("d.meta"), absl::string_view::npos);
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
