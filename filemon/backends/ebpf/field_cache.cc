#include "filemon/backends/ebpf/field_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace ebpf_internal {
namespace {

constexpr absl::string_view kHeader = "filemon kernel fields 1";
constexpr const char* kFile = "kernel-fields";
constexpr size_t kMaxFile = 1 << 16;  // what a damaged or foreign file may make us read

// Up to `max` bytes of the file at `fd`; false on a read error or a longer file.
bool ReadAll(int fd, size_t max, std::string* out) {
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buffer, static_cast<size_t>(n));
    if (out->size() > max) return false;
  }
}

// Reads a little-endian 32-bit word of an ELF note.
uint32_t Word(absl::string_view notes, size_t at) {
  uint32_t v;
  memcpy(&v, notes.data() + at, sizeof(v));
  return v;
}

// The GNU build ID (NT_GNU_BUILD_ID, name "GNU") among the ELF notes at `path`, in hex; empty
// when there is none or the notes cannot be read.
std::string GnuBuildId(const std::string& path) {
  OwnedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string notes;
  if (!fd.valid() || !ReadAll(fd.get(), kMaxFile, &notes)) return "";
  constexpr uint32_t kGnuBuildId = 3;
  auto padded = [](uint64_t n) { return (n + 3) / 4 * 4; };
  for (size_t at = 0; notes.size() - at >= 12;) {
    const uint64_t name_size = Word(notes, at), desc_size = Word(notes, at + 4);
    const uint32_t type = Word(notes, at + 8);
    const uint64_t name_at = at + 12, desc_at = name_at + padded(name_size);
    if (desc_at > notes.size() || padded(desc_size) > notes.size() - desc_at) return "";
    if (type == kGnuBuildId && name_size == 4 && memcmp(&notes[name_at], "GNU", 4) == 0 &&
        desc_size != 0) {
      std::string hex;
      for (uint64_t i = 0; i < desc_size; ++i) {
        absl::StrAppend(&hex, absl::Hex(static_cast<uint8_t>(notes[desc_at + i]), absl::kZeroPad2));
      }
      return hex;
    }
    at = desc_at + padded(desc_size);
  }
  return "";
}

// Whether only root can change the file or directory that `st` describes.
bool OnlyRootWrites(const struct stat& st) { return st.st_uid == 0 && (st.st_mode & 022) == 0; }

// `dir`, made if missing, is a directory that only root can change.
bool TrustedDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return false;
  struct stat st;
  return lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && OnlyRootWrites(st);
}

std::string CacheText(const std::string& build_id, const KernelFields& fields) {
  std::string text = absl::StrCat(kHeader, "\nbuild-id ", build_id, "\n");
  for (int i = 0; i < FE_FIELDS; ++i) {
    absl::StrAppend(&text, DescribeField(static_cast<fe_field>(i)), " ", fields.offset[i], "\n");
  }
  return text;
}

// The offsets in cache file `text`, if it was written for `build_id` and these fields.
bool ParseCache(absl::string_view text, const std::string& build_id, KernelFields* fields) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() != 2 + FE_FIELDS + 1 || !lines.back().empty() || lines[0] != kHeader ||
      lines[1] != absl::StrCat("build-id ", build_id)) {
    return false;
  }
  for (int i = 0; i < FE_FIELDS; ++i) {
    const std::string spec = absl::StrCat(DescribeField(static_cast<fe_field>(i)), " ");
    absl::string_view line = lines[2 + i];
    if (line.substr(0, spec.size()) != spec ||
        !absl::SimpleAtoi(line.substr(spec.size()), &fields->offset[i])) {
      return false;
    }
  }
  return true;
}

bool ReadCache(const std::string& path, const std::string& build_id, KernelFields* fields) {
  OwnedFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  std::string text;
  return fd.valid() && fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && OnlyRootWrites(st) &&
         ReadAll(fd.get(), kMaxFile, &text) && ParseCache(text, build_id, fields);
}

// Replaces the cache file at once (a reader sees the old file or the new one), or leaves it.
void WriteCache(const std::string& dir, const std::string& path, const std::string& text) {
  std::string temp = absl::StrCat(dir, "/", kFile, ".XXXXXX");
  OwnedFd fd(mkostemp(&temp[0], O_CLOEXEC));
  if (!fd.valid()) return;
  bool written = fchmod(fd.get(), 0644) == 0 &&
                 write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fd.reset();
  if (!written || rename(temp.c_str(), path.c_str()) != 0) unlink(temp.c_str());
}

}  // namespace

absl::StatusOr<KernelFields> CachedKernelFields(
    const FieldCachePaths& paths, absl::FunctionRef<absl::StatusOr<KernelFields>()> search,
    bool* hit) {
  *hit = false;
  const std::string build_id = geteuid() == 0 ? GnuBuildId(paths.notes) : "";
  const bool usable = !build_id.empty() && TrustedDir(paths.dir);
  const std::string path = absl::StrCat(paths.dir, "/", kFile);
  KernelFields fields;
  if (usable && ReadCache(path, build_id, &fields)) {
    *hit = true;
    return fields;
  }
  absl::StatusOr<KernelFields> found = search();
  if (usable && found.ok()) WriteCache(paths.dir, path, CacheText(build_id, *found));
  return found;
}

}  // namespace ebpf_internal
}  // namespace filemon
