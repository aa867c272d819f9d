// ProbeSet: the interposer's per-process memory of the probes (N) it has sent.

#include "filemon/backends/preload/probe_set.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

uint64_t HashOf(const std::string& s) { return ProbeSet::Hash(s.data(), s.size()); }

TEST(ProbeSet, AKeyIsNewOnceThenSeen) {
  std::vector<std::atomic<uint64_t>> slots(ProbeSet::kMinSlots);
  ProbeSet set(slots.data(), slots.size());
  EXPECT_TRUE(set.FirstTime(HashOf("123 /usr/local/include/stdio.h")));
  EXPECT_FALSE(set.FirstTime(HashOf("123 /usr/local/include/stdio.h")));
  EXPECT_TRUE(set.FirstTime(HashOf("124 /usr/local/include/stdio.h")));  // another pid
  EXPECT_TRUE(set.FirstTime(HashOf("123 /usr/local/include/stdlib.h")));
  EXPECT_FALSE(set.FirstTime(HashOf("124 /usr/local/include/stdio.h")));
}

TEST(ProbeSet, HashesDifferAndAreNeverZero) {
  EXPECT_NE(HashOf("a"), HashOf("b"));
  EXPECT_NE(HashOf(std::string("a\0b", 3)), HashOf(std::string("a\0c", 3)));
  EXPECT_NE(ProbeSet::Hash("", 0), 0u);
}

// Colliding slot indexes are probed past; a table too full to answer says "new" (the caller
// sends, the supervisor decides) rather than "seen" (a lost N).
TEST(ProbeSet, AFullTableSaysNewNeverSeen) {
  std::vector<std::atomic<uint64_t>> slots(ProbeSet::kMinSlots);
  ProbeSet set(slots.data(), slots.size());
  // Keys in the same slot: equal low bits.
  for (uint64_t i = 1; i <= ProbeSet::kMinSlots / 4; ++i) {
    EXPECT_TRUE(set.FirstTime(i << 8)) << i;
  }
  for (uint64_t i = 1; i <= ProbeSet::kMinSlots / 4; ++i) {
    EXPECT_FALSE(set.FirstTime(i << 8)) << i;
  }
  const uint64_t overflow = (ProbeSet::kMinSlots / 4 + 1) << 8;
  EXPECT_TRUE(set.FirstTime(overflow));
  EXPECT_TRUE(set.FirstTime(overflow));
}

TEST(ProbeSet, ThreadsRacingOnOneKeySeeItNewOnce) {
  std::vector<std::atomic<uint64_t>> slots(1024);
  ProbeSet set(slots.data(), slots.size());
  std::atomic<int> news{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) news += set.FirstTime(HashOf("7 key" + std::to_string(i)));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(news.load(), 100);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
