// meta_gen ROOT RECORDS PROCESSES FILES [newer]: writes ROOT/obj/target.meta (see meta_gen.h)
// and prints "META OBJDIR TARGET NEWER_FILE RECORDS" for benchmarks/meta_vs_bmake.sh.

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "benchmarks/meta_gen.h"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: meta_gen ROOT RECORDS PROCESSES FILES [newer]\n");
    return 2;
  }
  absl::StatusOr<filemon_bench::GeneratedMeta> g = filemon_bench::GenerateMeta(
      argv[1], std::strtoul(argv[2], nullptr, 10), std::strtoul(argv[3], nullptr, 10),
      std::strtoul(argv[4], nullptr, 10), argc > 5 && std::strcmp(argv[5], "newer") == 0);
  if (!g.ok()) {
    std::fprintf(stderr, "meta_gen: %s\n", std::string(g.status().message()).c_str());
    return 1;
  }
  std::printf("%s %s %s %s %zu\n", g->meta_path.c_str(), g->objdir.c_str(), g->target.c_str(),
              g->newer_file.c_str(), g->records);
  return 0;
}
