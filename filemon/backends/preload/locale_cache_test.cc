// The setlocale cache (locale_cache.h): keys, entries, collection by a window, the history,
// and the tree-wide shared copy.

#include "filemon/backends/preload/locale_cache.h"

#include <fcntl.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

std::string Key(const LocaleCache& cache, int category, std::vector<std::string> env) {
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(&e[0]);
  envp.push_back(nullptr);
  char out[1024];
  return std::string(out, LocaleKey(cache, category, envp.data(), out, sizeof(out)));
}

// The paths of `key`'s entry, separated by '|', or "<none>".
std::string Paths(const LocaleCache& cache, const std::string& key) {
  const char* end = nullptr;
  const char* paths = FindLocaleEntry(cache, key.data(), key.size(), &end);
  if (paths == nullptr) return "<none>";
  std::string s(paths, end);
  for (char& c : s) c = c == kLocaleSeparator ? '|' : c;
  return s;
}

// One entry as a window builds it: the key, then the files it opened.
void Collect(LocaleCache& cache, const std::string& key, std::vector<const char*> paths) {
  ASSERT_TRUE(AppendLocaleEntry(cache, key.data(), key.size()));
  cache.collecting = true;
  for (const char* p : paths) CollectLocaleOpen(cache, p, O_RDONLY | O_CLOEXEC);
  cache.collecting = false;
}

TEST(LocaleCache, KeyHoldsHistoryCategoryAndEveryLocaleVariable) {
  LocaleCache cache{};
  const std::string c = Key(cache, 0, {"LANG=C.UTF-8", "HOME=/h"});
  EXPECT_EQ(c, "|0;;;;;;;;;;;;;;C.UTF-8;");
  EXPECT_NE(Key(cache, 0, {"LANG=de_DE.UTF-8"}), c);
  EXPECT_NE(Key(cache, 5, {"LANG=C.UTF-8"}), c);
  EXPECT_EQ(Key(cache, 6, {"LC_ALL=C", "LOCPATH=/l"}), "|6;C;;;;;;;;;;;;;;/l");
  NoteLocaleCall(cache, 0);
  NoteLocaleCall(cache, 5);
  EXPECT_EQ(Key(cache, 6, {"LC_ALL=C"}), "0,5,|6;C;;;;;;;;;;;;;;");
}

TEST(LocaleCache, KeyRefusesSeparatorsAndWhatDoesNotFit) {
  LocaleCache cache{};
  EXPECT_EQ(Key(cache, 0, {std::string("LANG=a") + kLocaleSeparator}), "");
  EXPECT_EQ(Key(cache, 0, {std::string("LANG=a") + kLocaleEntryEnd}), "");
  EXPECT_EQ(Key(cache, 0, {"LANG=" + std::string(2000, 'x')}), "");
}

TEST(LocaleCache, EntriesAreFoundByWholeKey) {
  LocaleCache cache{};
  Collect(cache, "|0;a", {"/usr/lib/locale/a/LC_CTYPE", "/usr/lib/gconv/gconv-modules.cache"});
  Collect(cache, "|0;ab", {"/usr/lib/locale/ab/LC_CTYPE"});
  Collect(cache, "|6;a", {});
  EXPECT_EQ(Paths(cache, "|0;a"), "|/usr/lib/locale/a/LC_CTYPE|/usr/lib/gconv/gconv-modules.cache");
  EXPECT_EQ(Paths(cache, "|0;ab"), "|/usr/lib/locale/ab/LC_CTYPE");
  EXPECT_EQ(Paths(cache, "|6;a"), "");  // a call that opened nothing is cached too
  EXPECT_EQ(Paths(cache, "|0;"), "<none>");
  EXPECT_EQ(Paths(cache, "|0;abc"), "<none>");
}

TEST(LocaleCache, WhatCannotBeReplayedMarksTheEntryBad) {
  LocaleCache cache{};
  cache.collecting = true;
  CollectLocaleOpen(cache, "/written", O_WRONLY);
  EXPECT_TRUE(cache.bad);
  cache = LocaleCache{};
  cache.collecting = true;
  CollectLocaleOpen(cache, (std::string("/a") + kLocaleEntryEnd).c_str(), O_RDONLY);
  EXPECT_TRUE(cache.bad);
  cache = LocaleCache{};
  cache.collecting = true;
  const std::string long_path = "/" + std::string(sizeof(cache.text), 'p');
  CollectLocaleOpen(cache, long_path.c_str(), O_RDONLY);
  EXPECT_TRUE(cache.bad);
  EXPECT_EQ(cache.size, 0u);
}

TEST(LocaleCache, OpensOutsideAWindowAreNotCollected) {
  LocaleCache cache{};
  CollectLocaleOpen(cache, "/etc/passwd", O_RDONLY);
  EXPECT_EQ(cache.size, 0u);
  EXPECT_FALSE(cache.bad);
}

TEST(LocaleCache, DroppedEntryLeavesTheOthers) {
  LocaleCache cache{};
  Collect(cache, "|0;a", {"/x"});
  const std::string before(cache.text, cache.size);
  const size_t start = cache.size;
  Collect(cache, "|0;b", {"/y"});
  DropLocaleEntry(cache, start);
  EXPECT_EQ(std::string(cache.text), before);
  EXPECT_EQ(Paths(cache, "|0;b"), "<none>");
  EXPECT_EQ(Paths(cache, "|0;a"), "|/x");
}

TEST(LocaleCache, FullCacheTakesNoNewEntry) {
  LocaleCache cache{};
  const std::string key(sizeof(cache.text), 'k');  // no room for the NUL
  EXPECT_FALSE(AppendLocaleEntry(cache, key.data(), key.size()));
  EXPECT_TRUE(AppendLocaleEntry(cache, key.data(), key.size() - 1));
  EXPECT_FALSE(AppendLocaleEntry(cache, "x", 1));
  EXPECT_FALSE(AppendLocaleEntry(cache, "", 0));
}

TEST(LocaleCache, InheritedTextIsTakenWholeOrNotAtAll) {
  LocaleCache cache{};
  LoadLocaleCache(cache, std::string(sizeof(cache.text), 'x').c_str());
  EXPECT_EQ(cache.size, 0u);
  LoadLocaleCache(cache, nullptr);
  EXPECT_EQ(cache.size, 0u);
  const std::string text = std::string("|0;a") + kLocaleSeparator + "/x";
  LoadLocaleCache(cache, text.c_str());
  EXPECT_EQ(Paths(cache, "|0;a"), "|/x");
}

TEST(LocaleCache, LongHistoryEndsTheCaching) {
  LocaleCache cache{};
  for (int i = 0; i < 100 && !cache.dirty; ++i) NoteLocaleCall(cache, 12);
  EXPECT_TRUE(cache.dirty);
  EXPECT_LT(cache.history_size, sizeof(cache.history));
}

TEST(SharedLocaleCache, EntriesAreSharedInOrder) {
  auto shared = std::make_unique<SharedLocaleCache>();
  const std::string a = std::string("|0;a") + kLocaleSeparator + "/x";
  const std::string ab = std::string("|0;ab") + kLocaleSeparator + "/y";
  AddSharedLocaleEntry(shared.get(), ab.data(), ab.size());
  AddSharedLocaleEntry(shared.get(), a.data(), a.size());
  const char* end = nullptr;
  const char* found = FindSharedLocaleEntry(shared.get(), "|0;a", 4, &end);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(std::string(found, end), a);
  EXPECT_EQ(FindSharedLocaleEntry(shared.get(), "|0;", 3, &end), nullptr);
  EXPECT_EQ(FindSharedLocaleEntry(nullptr, "|0;a", 4, &end), nullptr);
}

TEST(SharedLocaleCache, ReadersStopAtAnEntryNotReady) {
  auto shared = std::make_unique<SharedLocaleCache>();
  const std::string a = "|0;a", b = "|0;b";
  AddSharedLocaleEntry(shared.get(), a.data(), a.size());
  AddSharedLocaleEntry(shared.get(), b.data(), b.size());
  auto* first = reinterpret_cast<SharedLocaleEntry*>(shared->data);
  first->ready.store(0);  // a writer killed half-way
  const char* end = nullptr;
  EXPECT_EQ(FindSharedLocaleEntry(shared.get(), "|0;b", 4, &end), nullptr);
}

TEST(SharedLocaleCache, DamagedOrFullCacheIsHarmless) {
  auto shared = std::make_unique<SharedLocaleCache>();
  const std::string big(sizeof(shared->data) - sizeof(SharedLocaleEntry), 'k');
  AddSharedLocaleEntry(shared.get(), big.data(), big.size());
  AddSharedLocaleEntry(shared.get(), "|0;a", 4);  // full: dropped
  const char* end = nullptr;
  EXPECT_EQ(FindSharedLocaleEntry(shared.get(), "|0;a", 4, &end), nullptr);
  auto* first = reinterpret_cast<SharedLocaleEntry*>(shared->data);
  first->size = 0xffffffff;  // damaged
  EXPECT_EQ(FindSharedLocaleEntry(shared.get(), "k", 1, &end), nullptr);
  shared->end.store(0xfffffff0);
  EXPECT_EQ(FindSharedLocaleEntry(shared.get(), "k", 1, &end), nullptr);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
