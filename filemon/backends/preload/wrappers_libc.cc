// The interposed libc functions that open files internally, each run in a libc window
// (libc_window.h); setlocale(CATEGORY, "") replays the setlocale cache (locale_cache.h)
// instead when it can.

#include <dirent.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <iconv.h>
#include <locale.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/libc_window.h"
#include "filemon/backends/preload/locale_cache.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/wire_format.h"

extern "C" char** environ;

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

namespace {

DECLARE_REAL(setlocale, char* (*)(int, const char*));
DECLARE_REAL(newlocale, locale_t (*)(int, const char*, locale_t));
DECLARE_REAL(iconv_open, iconv_t (*)(const char*, const char*));
DECLARE_REAL(tzset, void (*)());
DECLARE_REAL(sysconf, long (*)(int));
FILEMON_COLD_BSS DECLARE_REAL(get_nprocs, int (*)());
FILEMON_COLD_BSS DECLARE_REAL(get_nprocs_conf, int (*)());
FILEMON_COLD_BSS DECLARE_REAL(scandir,
                              int (*)(const char*, struct dirent***, int (*)(const struct dirent*),
                                      int (*)(const struct dirent**, const struct dirent**)));
FILEMON_COLD_BSS DECLARE_REAL(nftw,
                              int (*)(const char*,
                                      int (*)(const char*, const struct stat*, int, struct FTW*),
                                      int, int));
FILEMON_COLD_BSS DECLARE_REAL(glob, int (*)(const char*, int, int (*)(const char*, int), glob_t*));
DECLARE_REAL(localtime, struct tm* (*)(const time_t*));
DECLARE_REAL(localtime_r, struct tm* (*)(const time_t*, struct tm*));
DECLARE_REAL(mktime, time_t (*)(struct tm*));
FILEMON_COLD_BSS DECLARE_REAL(getpwnam, struct passwd* (*)(const char*));
FILEMON_COLD_BSS DECLARE_REAL(getpwuid, struct passwd* (*)(uid_t));
FILEMON_COLD_BSS DECLARE_REAL(getgrnam, struct group* (*)(const char*));
FILEMON_COLD_BSS DECLARE_REAL(getgrgid, struct group* (*)(gid_t));

// The first local-time conversion reads the time zone (/etc/localtime); later ones reuse it
// (glibc reloads only when TZ changes, which goes through tzset again).
std::atomic<bool> g_time_zone_loaded{false};

template <typename Fn>
auto FirstTimeZoneUse(Fn fn) -> decltype(fn()) {
  if (g_time_zone_loaded.load(std::memory_order_relaxed)) return fn();
  auto result = InLibcWindow(fn);
  g_time_zone_loaded.store(true, std::memory_order_relaxed);
  return result;
}

}  // namespace

FILEMON_EXPORT char* setlocale(int category, const char* locale) noexcept {
  if (locale == nullptr) return REAL(setlocale)(category, locale);  // a query opens nothing
  if (locale[0] != '\0' || !Active() || g_locale.dirty) {
    g_locale.dirty = true;
    return InLibcWindow([&] { return REAL(setlocale)(category, locale); });
  }
  char key[1024];
  const size_t key_len = LocaleKey(g_locale, category, environ, key, sizeof(key));
  const char* entry_end = nullptr;
  const char* paths = key_len > 0 ? FindLocaleEntry(g_locale, key, key_len, &entry_end) : nullptr;
  if (paths == nullptr && key_len > 0) {
    const char* text = FindSharedLocaleEntry(LocaleShm(), key, key_len, &entry_end);
    if (text != nullptr) {
      paths = text + key_len;
      AppendLocaleEntry(g_locale, text, static_cast<size_t>(entry_end - text));
    }
  }
  if (paths != nullptr) {
    char* result = REAL(setlocale)(category, locale);
    if (result != nullptr) {
      BatchMessage m;
      int pid = Pid();
      for (const char* p = paths; p < entry_end && *p == kLocaleSeparator;) {
        const char* start = ++p;
        while (p < entry_end && *p != kLocaleSeparator) ++p;
        m.AddLiteral(WireKind::kRead, pid, start, static_cast<size_t>(p - start));
      }
      m.Send();
      NoteLocaleCall(g_locale, category);
    } else {
      g_locale.dirty = true;
    }
    return result;
  }
  // Run it in a window, and remember what it opened for the descendants: a new entry at the
  // end of the cache (dropped again if the window cannot be replayed).
  const size_t entry_start = g_locale.size;
  g_locale.bad = !AppendLocaleEntry(g_locale, key, key_len);
  g_locale.collecting = !g_locale.bad;
  char* result = InLibcWindow([&] { return REAL(setlocale)(category, locale); });
  g_locale.collecting = false;
  if (result == nullptr || g_locale.bad || !InLibcWindowWorks()) {
    DropLocaleEntry(g_locale, entry_start);
  } else {
    const size_t text = entry_start + (entry_start > 0 ? 1 : 0);
    AddSharedLocaleEntry(LocaleShm(), g_locale.text + text, g_locale.size - text);
  }
  if (result != nullptr) {
    NoteLocaleCall(g_locale, category);
  } else {
    g_locale.dirty = true;
  }
  return result;
}

FILEMON_EXPORT locale_t newlocale(int mask, const char* locale, locale_t base) noexcept {
  g_locale.dirty = true;
  return InLibcWindow([&] { return REAL(newlocale)(mask, locale, base); });
}

FILEMON_EXPORT iconv_t iconv_open(const char* to, const char* from) {
  g_locale.dirty = true;
  return InLibcWindow([&] { return REAL(iconv_open)(to, from); });
}

FILEMON_EXPORT void tzset() noexcept {
  InLibcWindow([&] {
    REAL(tzset)();
    return 0;
  });
}

FILEMON_EXPORT struct passwd* getpwnam(const char* name) {
  return InLibcWindow([&] { return REAL(getpwnam)(name); });
}

FILEMON_EXPORT struct passwd* getpwuid(uid_t uid) {
  return InLibcWindow([&] { return REAL(getpwuid)(uid); });
}

FILEMON_EXPORT struct group* getgrnam(const char* name) {
  return InLibcWindow([&] { return REAL(getgrnam)(name); });
}

FILEMON_EXPORT struct group* getgrgid(gid_t gid) {
  return InLibcWindow([&] { return REAL(getgrgid)(gid); });
}

FILEMON_EXPORT struct tm* localtime(const time_t* t) noexcept {
  return FirstTimeZoneUse([&] { return REAL(localtime)(t); });
}

FILEMON_EXPORT struct tm* localtime_r(const time_t* t, struct tm* out) noexcept {
  return FirstTimeZoneUse([&] { return REAL(localtime_r)(t, out); });
}

FILEMON_EXPORT time_t mktime(struct tm* tm) noexcept {
  return FirstTimeZoneUse([&] { return REAL(mktime)(tm); });
}

// sysconf opens /sys files only for the processor counts; the other names stay unwindowed.
FILEMON_EXPORT long sysconf(int name) noexcept {
  if (name != _SC_NPROCESSORS_ONLN && name != _SC_NPROCESSORS_CONF) return REAL(sysconf)(name);
  return InLibcWindow([&] { return REAL(sysconf)(name); });
}

FILEMON_EXPORT int get_nprocs() noexcept {
  return InLibcWindow([&] { return REAL(get_nprocs)(); });
}

FILEMON_EXPORT int get_nprocs_conf() noexcept {
  return InLibcWindow([&] { return REAL(get_nprocs_conf)(); });
}

// Directory walkers that open directories through libc's internal opendir.
FILEMON_EXPORT int scandir(const char* dir, struct dirent*** list,
                           int (*filter)(const struct dirent*),
                           int (*compare)(const struct dirent**, const struct dirent**)) {
  return InLibcWindow([&] { return REAL(scandir)(dir, list, filter, compare); });
}

FILEMON_EXPORT int nftw(const char* dir,
                        int (*fn)(const char*, const struct stat*, int, struct FTW*), int fds,
                        int flags) {
  return InLibcWindow([&] { return REAL(nftw)(dir, fn, fds, flags); });
}

FILEMON_EXPORT int glob(const char* pattern, int flags, int (*errfunc)(const char*, int),
                        glob_t* out) noexcept {
  return InLibcWindow([&] { return REAL(glob)(pattern, flags, errfunc, out); });
}
