#include "filemon/meta/meta_read.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "filemon/core/log_reader.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

// The most read from a .meta that is not a regular file (a pipe, a FIFO, a device), whose
// size is not known beforehand: memory stays bounded whatever comes through.
constexpr size_t kMaxStreamedMeta = size_t{64} << 20;

}  // namespace

Mapping::~Mapping() { munmap(const_cast<char*>(data_), size_); }

absl::Status ReadMeta(const std::string& path, std::string* small, absl::optional<Mapping>* mapped,
                      bool* missing) {
  constexpr off_t kMapAbove = 1 << 20;
  OwnedFd fd;
  do {
    fd.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  } while (!fd.valid() && errno == EINTR);
  if (!fd.valid()) {
    if (errno == ENOENT) {
      *missing = true;
      return absl::OkStatus();
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("open(", path, ")"));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fstat(", path, ")"));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::ErrnoToStatus(EISDIR, absl::StrCat("read(", path, ")"));
  }
  if (st.st_size > kMapAbove && S_ISREG(st.st_mode)) {
    const size_t size = static_cast<size_t>(st.st_size);
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
    if (map == MAP_FAILED) return absl::ErrnoToStatus(errno, absl::StrCat("mmap(", path, ")"));
    mapped->emplace(static_cast<const char*>(map), size);
    return absl::OkStatus();
  }
  if (!S_ISREG(st.st_mode)) {
    // A pipe, a FIFO, a device (/dev/zero): bounded, with the line limit of a streamed log.
    return ReadWholeStream(fd.get(), path, kMaxStreamedMeta, small);
  }
  // Small regular files, and /proc files whose size stat(2) does not know: read to the end.
  small->resize(std::max<size_t>(static_cast<size_t>(std::max<off_t>(st.st_size, 0)), 4096));
  size_t done = 0;
  while (true) {
    if (done == small->size()) small->resize(done * 2);  // the file grew, or its size is unknown
    const ssize_t n = read(fd.get(), &(*small)[done], small->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read(", path, ")"));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  small->resize(done);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
