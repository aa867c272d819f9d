#include "filemon/backends/preload/locale_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstring>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {

// Written at a start only when the process inherits a cache (interposer_state.h).
FILEMON_COLD_BSS LocaleCache g_locale = {};
char g_locale_shm_path[128];

namespace {

SharedLocaleCache* g_locale_shm = nullptr;
bool g_locale_shm_tried = false;

size_t Padded(size_t size) { return (size + 7) & ~size_t{7}; }

bool HasSeparator(const char* s, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (s[i] == kLocaleSeparator || s[i] == kLocaleEntryEnd) return true;
  }
  return false;
}

}  // namespace

FILEMON_START_TEXT void LoadLocaleCache(LocaleCache& cache, const char* inherited) {
  if (inherited == nullptr || Length(inherited) >= sizeof(cache.text)) return;  // never cut
  CopyString(inherited, cache.text, sizeof(cache.text));
  cache.size = Length(cache.text);
}

namespace {

// What LocaleKey reads, beside the names of the real functions (start_text.h): most programs
// call setlocale at their start, and string literals would put a page of .rodata in its way.
FILEMON_NAME_RODATA constexpr char kLcAll[] = "LC_ALL";
FILEMON_NAME_RODATA constexpr char kLcCtype[] = "LC_CTYPE";
FILEMON_NAME_RODATA constexpr char kLcNumeric[] = "LC_NUMERIC";
FILEMON_NAME_RODATA constexpr char kLcTime[] = "LC_TIME";
FILEMON_NAME_RODATA constexpr char kLcCollate[] = "LC_COLLATE";
FILEMON_NAME_RODATA constexpr char kLcMonetary[] = "LC_MONETARY";
FILEMON_NAME_RODATA constexpr char kLcMessages[] = "LC_MESSAGES";
FILEMON_NAME_RODATA constexpr char kLcPaper[] = "LC_PAPER";
FILEMON_NAME_RODATA constexpr char kLcName[] = "LC_NAME";
FILEMON_NAME_RODATA constexpr char kLcAddress[] = "LC_ADDRESS";
FILEMON_NAME_RODATA constexpr char kLcTelephone[] = "LC_TELEPHONE";
FILEMON_NAME_RODATA constexpr char kLcMeasurement[] = "LC_MEASUREMENT";
FILEMON_NAME_RODATA constexpr char kLcIdentification[] = "LC_IDENTIFICATION";
FILEMON_NAME_RODATA constexpr char kLang[] = "LANG";
FILEMON_NAME_RODATA constexpr char kLocPath[] = "LOCPATH";
FILEMON_NAME_RODATA constexpr char kKeyCategory[] = "|";
FILEMON_NAME_RODATA constexpr char kKeyValue[] = ";";

}  // namespace

size_t LocaleKey(const LocaleCache& cache, int category, char* const* envp, char* out,
                 size_t size) {
  static const char* const kVars[] = {
      kLcAll,       kLcCtype,       kLcNumeric,        kLcTime, kLcCollate,
      kLcMonetary,  kLcMessages,    kLcPaper,          kLcName, kLcAddress,
      kLcTelephone, kLcMeasurement, kLcIdentification, kLang,   kLocPath};
  constexpr size_t kCount = sizeof(kVars) / sizeof(kVars[0]);
  const char* values[kCount];
  EnvValues(envp, kVars, kCount, values);
  ByteAppender key(out, size);
  key.Append(cache.history, cache.history_size < sizeof(cache.history) ? cache.history_size
                                                                       : sizeof(cache.history));
  key.Append(kKeyCategory, 1);
  char number[24];
  key.Append(number, FormatUnsigned(static_cast<unsigned>(category), number));
  for (const char* value : values) {
    key.Append(kKeyValue, 1);
    if (value != nullptr) {
      const size_t len = Length(value);
      if (HasSeparator(value, len)) return 0;
      key.Append(value, len);
    }
  }
  if (key.overflow()) return 0;
  return key.size();
}

const char* FindLocaleEntry(const LocaleCache& cache, const char* key, size_t key_len,
                            const char** end) {
  const char* p = cache.text;
  const char* const cache_end = cache.text + cache.size;
  while (p < cache_end) {
    const void* e = memchr(p, kLocaleEntryEnd, static_cast<size_t>(cache_end - p));
    const char* entry_end = e != nullptr ? static_cast<const char*>(e) : cache_end;
    if (static_cast<size_t>(entry_end - p) >= key_len && memcmp(p, key, key_len) == 0 &&
        (p + key_len == entry_end || p[key_len] == kLocaleSeparator)) {
      *end = entry_end;
      return p + key_len;
    }
    p = entry_end + 1;
  }
  return nullptr;
}

void NoteLocaleCall(LocaleCache& cache, int category) {
  char number[24];
  size_t n = FormatUnsigned(static_cast<unsigned>(category), number);
  if (cache.history_size + n + 1 >= sizeof(cache.history)) {
    cache.dirty = true;
    return;
  }
  memcpy(cache.history + cache.history_size, number, n);
  cache.history_size += n;
  cache.history[cache.history_size++] = ',';
}

bool AppendLocaleEntry(LocaleCache& cache, const char* text, size_t size) {
  const size_t need = size + (cache.size > 0 ? 1 : 0);
  if (size == 0 || need + 1 > sizeof(cache.text) - cache.size) return false;
  if (cache.size > 0) cache.text[cache.size++] = kLocaleEntryEnd;
  memcpy(cache.text + cache.size, text, size);
  cache.size += size;
  cache.text[cache.size] = '\0';
  return true;
}

void CollectLocaleOpen(LocaleCache& cache, const char* path, int flags) {
  if (!cache.collecting) return;
  size_t len = Length(path);
  // Room for the separator, the path and the terminating NUL.
  if ((flags & O_ACCMODE) != O_RDONLY || len + 2 > sizeof(cache.text) - cache.size) {
    cache.bad = true;
    return;
  }
  if (HasSeparator(path, len)) cache.bad = true;
  cache.text[cache.size++] = kLocaleSeparator;
  memcpy(cache.text + cache.size, path, len);
  cache.size += len;
  cache.text[cache.size] = '\0';
}

void DropLocaleEntry(LocaleCache& cache, size_t start) {
  cache.size = start;
  cache.text[start] = '\0';
}

const char* FindSharedLocaleEntry(SharedLocaleCache* shared, const char* key, size_t key_len,
                                  const char** end) {
  if (shared == nullptr) return nullptr;
  const size_t reserved = shared->end.load(std::memory_order_acquire);
  const size_t limit = reserved < sizeof(shared->data) ? reserved : sizeof(shared->data);
  size_t pos = 0;
  while (pos + sizeof(SharedLocaleEntry) <= limit) {
    auto* e = reinterpret_cast<SharedLocaleEntry*>(shared->data + pos);
    if (e->ready.load(std::memory_order_acquire) != 1) return nullptr;
    const size_t size = e->size;
    const char* text = shared->data + pos + sizeof(SharedLocaleEntry);
    if (size > limit - pos - sizeof(SharedLocaleEntry)) return nullptr;  // damaged
    if (size >= key_len && memcmp(text, key, key_len) == 0 &&
        (size == key_len || text[key_len] == kLocaleSeparator)) {
      *end = text + size;
      return text;
    }
    pos += sizeof(SharedLocaleEntry) + Padded(size);
  }
  return nullptr;
}

void AddSharedLocaleEntry(SharedLocaleCache* shared, const char* text, size_t size) {
  if (shared == nullptr || size == 0 || size > sizeof(shared->data)) return;
  const uint32_t need = static_cast<uint32_t>(sizeof(SharedLocaleEntry) + Padded(size));
  const uint32_t pos = shared->end.fetch_add(need, std::memory_order_relaxed);
  if (pos > sizeof(shared->data) || need > sizeof(shared->data) - pos) return;  // full
  auto* e = reinterpret_cast<SharedLocaleEntry*>(shared->data + pos);
  e->size = static_cast<uint32_t>(size);
  memcpy(shared->data + pos + sizeof(SharedLocaleEntry), text, size);
  e->ready.store(1, std::memory_order_release);
}

SharedLocaleCache* LocaleShm() {
  if (g_locale_shm_tried) return g_locale_shm;
  g_locale_shm_tried = true;
  if (g_locale_shm_path[0] == '\0') return nullptr;
  long fd = RawSyscall3(SYS_open, reinterpret_cast<long>(g_locale_shm_path), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  long map = RawSyscall6(SYS_mmap, 0, kLocaleShmBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  RawSyscall1(SYS_close, fd);
  if (map < 0 && map > -4096) return nullptr;
  g_locale_shm = reinterpret_cast<SharedLocaleCache*>(map);
  return g_locale_shm;
}

}  // namespace preload_internal
}  // namespace filemon
