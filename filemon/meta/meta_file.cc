#include "filemon/meta/meta_file.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "filemon/core/log_reader.h"
#include "filemon/core/parser.h"

namespace filemon {
namespace meta {
namespace {

// Walks lines ending in '\n' (the last one may lack it). `line` excludes the '\n'.
class Lines {
 public:
  explicit Lines(absl::string_view data) : data_(data) {}
  bool Next(absl::string_view* line) {
    if (pos_ >= data_.size()) return false;
    const char* start = data_.data() + pos_;
    const void* nl = std::memchr(start, '\n', data_.size() - pos_);
    const size_t len = nl ? static_cast<const char*>(nl) - start : data_.size() - pos_;
    *line = absl::string_view(start, len);
    start_ = pos_;
    pos_ += len + (nl ? 1 : 0);
    ++number_;
    return true;
  }
  size_t number() const { return number_; }
  size_t start() const { return start_; }
  size_t end() const { return pos_; }

 private:
  absl::string_view data_;
  size_t pos_ = 0, start_ = 0, number_ = 0;
};

bool Key(absl::string_view line, absl::string_view key, absl::string_view* value) {
  if (line.size() <= key.size() || line[key.size()] != ' ' || !absl::StartsWith(line, key)) {
    return false;
  }
  *value = line.substr(key.size() + 1);
  return true;
}

bool IsFilemonMarker(absl::string_view line) {
  return absl::StartsWith(line, "-- filemon") || absl::StartsWith(line, "# buildmon");
}

}  // namespace

MetaFile ParseMetaFile(absl::string_view data) {
  MetaFile meta;
  meta.data = data;
  Lines lines(data);
  absl::string_view line, value;
  enum { kHeader, kOutput } section = kHeader;
  MetaLine* last_cmd = nullptr;
  size_t cmd_start = 0;  // offset of the text of the last CMD
  size_t output_start = 0;
  const auto finish_output = [&](size_t end) {
    if (section == kOutput) {
      meta.output.text = data.substr(output_start, end - output_start);
    }
  };
  while (lines.Next(&line)) {
    if (IsFilemonMarker(line)) {
      finish_output(lines.start());
      meta.has_filemon = true;
      const bool buildmon = line[0] == '#';
      const size_t from = buildmon ? lines.start() : lines.end();
      meta.filemon.text = data.substr(from);
      meta.filemon.line = lines.number() + (buildmon ? 0 : 1);
      return meta;
    }
    if (section == kOutput) {
      if (absl::StartsWith(line, "*** Error code ")) {
        absl::string_view code = line.substr(15);
        meta.error_ignored = absl::ConsumeSuffix(&code, "(ignored)");
        int n;
        if (absl::SimpleAtoi(code, &n)) meta.error_code = n;
      }
      continue;
    }
    if (line == "-- command output --") {
      section = kOutput;
      last_cmd = nullptr;
      output_start = lines.end();
      meta.output.line = lines.number() + 1;
      continue;
    }
    if (Key(line, "CMD", &value) || line == "CMD") {
      meta.commands.push_back({value, lines.number()});
      if (line == "CMD") meta.commands.back().text = absl::string_view();
      last_cmd = &meta.commands.back();
      cmd_start = lines.start() + 4;
      continue;
    }
    MetaLine* field = nullptr;
    if (Key(line, "CWD", &value)) {
      field = &meta.cwd;
    } else if (Key(line, "TARGET", &value)) {
      field = &meta.target;
    } else if (Key(line, "OODATE", &value)) {
      field = &meta.oodate;
    } else if (Key(line, "ENV", &value)) {
      meta.env.push_back({value, lines.number()});
      last_cmd = nullptr;
      continue;
    } else if (absl::StartsWith(line, "# Meta data file ")) {
      field = &meta.meta_name;
      value = line.substr(17);
    }
    if (field != nullptr) {
      *field = {value, lines.number()};
      last_cmd = nullptr;
      continue;
    }
    // Anything else in the header continues a multi-line command (bmake writes a command
    // whose expansion holds '\n' as several lines), or is ignored.
    if (last_cmd != nullptr) {
      const size_t end = lines.start() + line.size();
      last_cmd->text = data.substr(cmd_start, end - cmd_start);
    }
  }
  finish_output(data.size());
  return meta;
}

absl::Status ForEachFilemonRecord(const MetaFile& meta, absl::string_view filename, bool strict,
                                  absl::FunctionRef<void(const Record&, size_t)> fn,
                                  size_t* skipped) {
  if (skipped != nullptr) *skipped = 0;
  if (!meta.has_filemon) return absl::OkStatus();
  Parser parser(meta.filemon.text, {/*strict=*/false, filename, UnterminatedLine::kRecord});
  Record record;
  const size_t base = meta.filemon.line - 1;
  while (parser.Next(&record)) {
    // No file has a name longer than a line may be: such a record is bad input, as it is in a
    // pipe (LogReader), not a name to copy and resolve.
    if (record.path.size() + record.path2.size() > kMaxLineBytes) {
      return LineTooLongError(filename, base + parser.line(), kMaxLineBytes);
    }
    fn(record, base + parser.line());
  }
  if (skipped != nullptr) *skipped = parser.skipped_lines();
  if (strict && parser.skipped_lines() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ": ", parser.skipped_lines(),
                     " malformed filemon line(s) in the section starting at line ",
                     meta.filemon.line, "; first: ", parser.first_skipped_error().message()));
  }
  return absl::OkStatus();
}

}  // namespace meta
}  // namespace filemon
