// libFuzzer target for the .meta reader, the checker (both compat levels) and dependency
// extraction: any bytes must give a decision or a Status, never a crash, hang or sanitizer
// report, and the checker's cooperative reading (several threads) must decide exactly as its
// one-thread reading. The first byte picks the options; the rest is the .meta. Paths in the
// input are stat'ed for real, relative ones under a scratch directory.
//
//   bazel run --config=fuzz //filemon/meta:meta_fuzzer -- -max_total_time=300 \
//       $PWD/filemon/meta/testdata/meta_corpus

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "filemon/meta/checker.h"
#include "filemon/meta/deps.h"
#include "filemon/meta/meta_file.h"
#include "filemon/meta/modifiers.h"

namespace {

const std::string& Scratch() {
  static const std::string* dir = [] {
    char templ[] = "/tmp/meta_fuzzer.XXXXXX";
    const char* made = mkdtemp(templ);
    return new std::string(made != nullptr ? made : "/");
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = bytes[0];
  const absl::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);

  const filemon::meta::MetaFile meta = filemon::meta::ParseMetaFile(data);
  size_t skipped = 0;
  (void)filemon::meta::ForEachFilemonRecord(
      meta, "fuzz.meta", (mode & 1) != 0, [](const filemon::Record&, size_t) {}, &skipped);

  filemon::meta::CheckOptions options;
  options.parallel = {/*min_bytes=*/1, /*chunk_bytes=*/40};  // several threads on small inputs
  options.cwd = Scratch();
  options.compat = (mode & 2) ? filemon::meta::Compat::k20200710 : filemon::meta::Compat::k20260313;
  options.ignore_cmd = (mode & 4) != 0;
  options.no_cmd_compare = (mode & 8) != 0;
  if (mode & 16)
    options.commands =
        std::vector<filemon::meta::CurrentCommand>{{"cc -c x.c", true}, {"a\nb", false}};
  if (mode & 32) options.bailiwick = {"/"};
  if (mode & 64) options.ignore_patterns = {"*.h", "[a-"};
  if (mode & 128) {
    options.ignore_filter = "N*.o S,a,b,g C/x+/y/";
    if (options.compat == filemon::meta::Compat::k20260313) options.cmp_filter = "S/-O2//";
  }
  absl::StatusOr<filemon::meta::Checker> checker = filemon::meta::Checker::Create(options);
  if (checker.ok()) {
    const filemon::meta::Decision d = checker->CheckDataWith(data, "/fuzz.meta", 1600000000, 1);
    if (d.out_of_date == (d.reason == filemon::meta::Reason::kUpToDate)) abort();
    (void)filemon::meta::DecisionJson(d);
    // The cooperative reading (chunks of a few lines, 2 threads) decides exactly the same.
    const filemon::meta::Decision c = checker->CheckDataWith(data, "/fuzz.meta", 1600000000, 2);
    if (c.reason != d.reason || c.line != d.line || c.path != d.path || c.messages != d.messages) {
      abort();
    }
    // A NUL after the data changes nothing for bmake but turns off the quick line reader.
    const filemon::meta::Decision g =
        checker->CheckDataWith(std::string(data) + '\0', "/fuzz.meta", 1600000000, 1);
    if (g.reason != d.reason || g.line != d.line || g.path != d.path || g.messages != d.messages) {
      abort();
    }
  }

  filemon::meta::DepsOptions deps_options;
  deps_options.cwd = Scratch();
  deps_options.srctops = {"/usr"};
  (void)filemon::meta::ExtractDeps(data, "fuzz.meta", deps_options);

  // The first line as a modifier chain, applied to the second.
  const size_t nl = data.find('\n');
  absl::StatusOr<filemon::meta::ModifierChain> chain =
      filemon::meta::ModifierChain::Parse(data.substr(0, std::min<size_t>(nl, 200)));
  if (chain.ok() && nl != absl::string_view::npos) {
    (void)chain->Apply(data.substr(nl + 1, 200));
  }
  if (data.size() > 64) (void)filemon::meta::GlobMatch(data.substr(0, 64), data.substr(64, 64));
  return 0;
}
