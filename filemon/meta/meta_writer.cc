#include "filemon/meta/meta_writer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "filemon/core/writer.h"

namespace filemon {
namespace meta {

std::string FormatMeta(const MetaHeader& header, absl::string_view output,
                       const absl::optional<MetaError>& error, const std::string* filemon_log) {
  std::string out = absl::StrCat("# Meta data file ", header.meta_path, "\n");
  for (const std::string& cmd : header.commands) absl::StrAppend(&out, "CMD ", cmd, "\n");
  absl::StrAppend(&out, "CWD ", header.cwd, "\nTARGET ", header.target, "\n");
  if (!header.oodate.empty()) absl::StrAppend(&out, "OODATE ", header.oodate, "\n");
  for (const std::string& env : header.env) absl::StrAppend(&out, "ENV ", env, "\n");
  absl::StrAppend(&out, "-- command output --\n", output);
  if (error.has_value()) {
    absl::StrAppend(&out, "\n*** Error code ", error->code, error->ignored ? "(ignored)" : "",
                    "\n");
  }
  if (filemon_log != nullptr) {
    absl::StrAppend(&out, "\n-- filemon acquired metadata --\n", *filemon_log);
  } else {
    out.push_back('\n');  // meta_cmd_finish(): "ensure end with newline"
  }
  return out;
}

absl::Status WriteMetaFile(const std::string& path, absl::string_view text) {
  std::string temp = path + ".XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("mkstemp(", temp, ")"));
  const auto fail = [&](absl::string_view call) {
    const int e = errno;
    close(fd);
    unlink(temp.c_str());
    return absl::ErrnoToStatus(e, absl::StrCat(call, "(", temp, ")"));
  };
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd, 0644) != 0) return fail("fchmod");
  if (close(fd) != 0) {
    const int e = errno;
    unlink(temp.c_str());
    return absl::ErrnoToStatus(e, absl::StrCat("close(", temp, ")"));
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    unlink(temp.c_str());
    return absl::ErrnoToStatus(e, absl::StrCat("rename(", temp, ", ", path, ")"));
  }
  return absl::OkStatus();
}

void MetaLogBuffer::Add(const Record& record) { AppendRecord(record, &text_); }

}  // namespace meta
}  // namespace filemon
