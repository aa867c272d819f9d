// filemon-meta: read bmake .meta files; decide whether a target is out of date, as bmake's meta
// mode does, and extract dependencies. See `filemon-meta --help`.

#include <cstdio>
#include <cstring>

namespace {

constexpr char kUsage[] =
    "usage: filemon-meta check [options] FILE.meta...\n"
    "       filemon-meta deps [options] FILE.meta...\n"
    "       filemon-meta run --meta FILE.meta --target NAME [--backend B] -- COMMAND...\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fputs(kUsage, stderr);
  std::fprintf(stderr, "filemon-meta: not built yet (issue 11)\n");
  return 2;
}
