// libFuzzer target for the parser: any input must parse (strict and lenient) without crashing,
// and in lenient mode what it yields must survive write -> parse unchanged.
//
//   bazel run --config=fuzz //filemon/core:parser_fuzzer -- -max_total_time=600 \
//       $PWD/filemon/core/testdata/parser_corpus

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"

namespace filemon {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

// Parses `text` and returns copies of the records (escaped paths live in the parser's
// scratch only until the next call).
std::vector<Record> ParseCopies(absl::string_view text, bool strict, std::deque<std::string>* keep,
                                size_t* skipped) {
  ParserOptions options;
  options.strict = strict;
  Parser parser(text, options);
  std::vector<Record> records;
  Record r;
  while (parser.Next(&r)) {
    Check(parser.line() >= 1);
    Check(parser.offset() < text.size());
    keep->emplace_back(r.path.data(), r.path.size());
    r.path = keep->back();
    keep->emplace_back(r.path2.data(), r.path2.size());
    r.path2 = keep->back();
    records.push_back(r);
  }
  Check(strict || parser.ok());
  if (!parser.ok()) Check(!parser.status().message().empty());
  (void)parser.variant();
  *skipped = parser.skipped_lines();
  return records;
}

}  // namespace
}  // namespace filemon

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using filemon::Record;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::deque<std::string> keep;
  size_t skipped = 0;
  filemon::ParseCopies(text, /*strict=*/true, &keep, &skipped);
  const std::vector<Record> records = filemon::ParseCopies(text, /*strict=*/false, &keep, &skipped);

  std::string log;
  for (const Record& r : records) {
    const size_t before = log.size();
    filemon::AppendRecord(r, &log);
    filemon::Check(log.size() - before <= filemon::MaxFormattedSize(r));
  }
  size_t reskipped = 0;
  const std::vector<Record> again = filemon::ParseCopies(log, /*strict=*/true, &keep, &reskipped);
  filemon::Check(reskipped == 0);
  filemon::Check(again.size() == records.size());
  for (size_t i = 0; i < records.size(); ++i) filemon::Check(again[i] == records[i]);
  return 0;
}
