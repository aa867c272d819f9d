// What every traced process pays for the interposer before it records anything, read from the
// library's ELF file: its start must write no page beyond those the loader writes anyway, and
// run no code but the library's own constructor. A page first written costs a page fault (tens
// of microseconds on a virtual machine), once in every process of a build.

#include <elf.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"

namespace {

std::string LibraryPath() {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return std::string(srcdir != nullptr ? srcdir : ".") + "/" +
         (workspace != nullptr ? workspace : "filemon") +
         "/filemon/backends/preload/libfilemon_preload.so";
}

// The library's bytes; the tests read its headers in place (checked against its size).
class InterposerLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(LibraryPath(), std::ios::binary);
    ASSERT_TRUE(in) << LibraryPath();
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_GE(bytes_.size(), sizeof(Elf64_Ehdr));
    memcpy(&header_, bytes_.data(), sizeof(header_));
    ASSERT_EQ(header_.e_ident[EI_CLASS], ELFCLASS64);
    ASSERT_LE(header_.e_shoff + header_.e_shnum * sizeof(Elf64_Shdr), bytes_.size());
    ASSERT_LE(header_.e_phoff + header_.e_phnum * sizeof(Elf64_Phdr), bytes_.size());
  }

  Elf64_Phdr Segment(size_t i) const {
    Elf64_Phdr p;
    memcpy(&p, bytes_.data() + header_.e_phoff + i * sizeof(p), sizeof(p));
    return p;
  }
  Elf64_Shdr Section(size_t i) const {
    Elf64_Shdr s;
    memcpy(&s, bytes_.data() + header_.e_shoff + i * sizeof(s), sizeof(s));
    return s;
  }
  // The section named `name`; false if there is none.
  bool FindSection(const char* name, Elf64_Shdr* out) const {
    const Elf64_Shdr names = Section(header_.e_shstrndx);
    for (size_t i = 0; i < header_.e_shnum; ++i) {
      *out = Section(i);
      if (names.sh_offset + out->sh_name < bytes_.size() &&
          strcmp(bytes_.data() + names.sh_offset + out->sh_name, name) == 0) {
        return true;
      }
    }
    return false;
  }

  // The writable PT_LOAD segment; fails the test if there is none.
  Elf64_Phdr WritableSegment() const {
    for (size_t i = 0; i < header_.e_phnum; ++i) {
      const Elf64_Phdr p = Segment(i);
      if (p.p_type == PT_LOAD && (p.p_flags & PF_W) != 0) return p;
    }
    ADD_FAILURE() << "no writable segment";
    return Elf64_Phdr{};
  }

  std::string bytes_;
  Elf64_Ehdr header_;
};

// RELRO ends on a page boundary of its own: the writable data would start a page later, and the
// loader reads .dynamic in the RELRO page before it writes it (two faults on that page, one
// more on the data's), then mprotects it, splitting the mapping. Every traced process pays
// that at the library's load (BUILD.bazel links it with -z norelro).
TEST_F(InterposerLayoutTest, NoRelro) {
  for (size_t i = 0; i < header_.e_phnum; ++i) {
    EXPECT_NE(Segment(i).p_type, static_cast<uint32_t>(PT_GNU_RELRO))
        << "the interposer has a RELRO segment: one page fault and one mprotect more per "
           "traced process";
  }
}

// The loader maps the writable segment's file bytes and zeroes the rest of their last page
// before it reads anything there: if those bytes (.dynamic, the GOT, .data) lie in one page,
// that write is the page's only fault, and .bss, if it ends in the same page, adds none.
// .bss past that page is fresh memory that every start writes: one fault more per traced
// process. Rarely written data goes in FILEMON_COLD_BSS (interposer_state.h), after .bss.
TEST_F(InterposerLayoutTest, WritableDataInOnePage) {
  const Elf64_Phdr data = WritableSegment();
  ASSERT_GT(data.p_filesz, 0u);
  const uint64_t first_page = data.p_vaddr & ~uint64_t{4095};
  const uint64_t file_end = data.p_vaddr + data.p_filesz;
  EXPECT_EQ((file_end - 1) & ~uint64_t{4095}, first_page)
      << "the writable segment's file bytes cross a page boundary: the loader reads the first "
         "page before it writes it, one more fault per traced process";
  EXPECT_GT(data.p_memsz, data.p_filesz) << "no .bss: the loader zeroes no page first";
#if defined(__x86_64__)
  Elf64_Shdr bss;
  ASSERT_TRUE(FindSection(".bss", &bss));
  EXPECT_LE(bss.sh_addr + bss.sh_size, first_page + 4096)
      << ".bss ends " << bss.sh_addr + bss.sh_size - (first_page + 4096)
      << " bytes past the page where the file's data ends: every traced process takes one "
         "more page fault at its start. Shrink it, or move rarely written data to "
         "FILEMON_COLD_BSS.";
#endif
}

// The writable segment starts on a page, whatever the size of the text before it: left to
// itself, gold starts it mid-page when that spans no more pages, and .bss may then cross into
// the next page (interposer_state.cc's aligner prevents it).
TEST_F(InterposerLayoutTest, WritableSegmentStartsOnAPage) {
#if defined(__x86_64__)
  EXPECT_EQ(WritableSegment().p_vaddr % 4096, 0u);
#endif
}

// A global with a dynamic initializer (a `_GLOBAL__sub_I_` function) writes its pages at every
// process's start: globals must be constant-initialized (e.g. `T array[N] = {};`).
TEST_F(InterposerLayoutTest, NoDynamicInitializers) {
  Elf64_Shdr symtab, strtab;
  if (!FindSection(".symtab", &symtab) || !FindSection(".strtab", &strtab)) {
    GTEST_SKIP() << "the library is stripped";
  }
  ASSERT_LE(symtab.sh_offset + symtab.sh_size, bytes_.size());
  for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= symtab.sh_size; off += sizeof(Elf64_Sym)) {
    Elf64_Sym sym;
    memcpy(&sym, bytes_.data() + symtab.sh_offset + off, sizeof(sym));
    if (strtab.sh_offset + sym.st_name >= bytes_.size()) continue;
    const char* name = bytes_.data() + strtab.sh_offset + sym.st_name;
    EXPECT_NE(strncmp(name, "_GLOBAL__sub_I_", 15), 0) << name;
  }
}

// No .init and no .fini (BUILD.bazel links without the C runtime's start files): the loader
// would run _fini, at the end of all of the text, in every process's exit, and crtbeginS.o's
// constructor and destructor besides the library's own.
TEST_F(InterposerLayoutTest, NoStartFiles) {
  Elf64_Shdr section;
  EXPECT_FALSE(FindSection(".fini", &section)) << "a page of text touched only for _fini";
  EXPECT_FALSE(FindSection(".init", &section));
}

// Every traced process runs the start (the constructor, the channel checks, the start message)
// and the exit (X), and calls libc through the PLT, and pays for each page of that code it
// touches (start_text.h): those functions must lie together, right after the PLT, in a few
// pages, not spread over the text or behind the cold code (BUILD.bazel's section order).
TEST_F(InterposerLayoutTest, StartAndExitCodeLiesTogether) {
  // Mangled: the library's own symbols are local, found in .symtab only.
  static constexpr const char* kStartPath[] = {
      "_ZN7filemon16preload_internal12_GLOBAL__N_14InitEv",
      "_ZN7filemon16preload_internal10EnsureInitEv",
      "_ZN7filemon16preload_internal15LoadLocaleCacheERNS0_11LocaleCacheEPKc",
      "_ZN7filemon16preload_internal11IsOurSocketEi",
      "_ZN7filemon16preload_internal9IsOurPipeEi",
      "_ZN7filemon16preload_internal18IsSystemLibraryDirEPKc",
      "_ZN7filemon16preload_internal10RecordExitEi",
      "_exit",  // a shell's way out
      // Data the start reads (FILEMON_START_RODATA), not in .rodata after all of the text.
      "_ZN7filemon16preload_internal12_GLOBAL__N_1L3kFdE",
      "_ZN7filemon16preload_internal12_GLOBAL__N_1L12kLoaderCacheE",
  };
  constexpr uint64_t kMaxSpan = 4 * 4096;
  Elf64_Shdr symtab, strtab;
  if (!FindSection(".symtab", &symtab) || !FindSection(".strtab", &strtab)) {
    GTEST_SKIP() << "the library is stripped";
  }
  ASSERT_LE(symtab.sh_offset + symtab.sh_size, bytes_.size());
  uint64_t low = UINT64_MAX, high = 0;
  for (const char* wanted : kStartPath) {
    bool found = false;
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= symtab.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      memcpy(&sym, bytes_.data() + symtab.sh_offset + off, sizeof(sym));
      const unsigned type = ELF64_ST_TYPE(sym.st_info);
      if ((type != STT_FUNC && type != STT_OBJECT) ||
          strtab.sh_offset + sym.st_name >= bytes_.size()) {
        continue;
      }
      if (strcmp(bytes_.data() + strtab.sh_offset + sym.st_name, wanted) != 0) continue;
      low = std::min<uint64_t>(low, sym.st_value);
      high = std::max<uint64_t>(high, sym.st_value + sym.st_size);
      found = true;
      break;
    }
    EXPECT_TRUE(found) << wanted << " is not in the library (renamed? update kStartPath)";
  }
  ASSERT_LT(low, high);
  EXPECT_LE(high - low, kMaxSpan) << "the start and exit code spans " << high - low
                                  << " bytes: mark what they run FILEMON_START_TEXT";
#ifndef FILEMON_GOLD_LAYOUT
  GTEST_SKIP() << "built without gold's section order (--define=filemon_gold_layout=on): "
                  "the start code need not follow the PLT";
#endif
  Elf64_Shdr plt;
  ASSERT_TRUE(FindSection(".plt", &plt));
  const uint64_t plt_end = plt.sh_addr + plt.sh_size;
  ASSERT_GE(low, plt_end);
  EXPECT_LT(low - plt_end, 4096u) << low - plt_end
                                  << " bytes of other code lie between the PLT and the start "
                                     "code (see interposer_order.txt)";
}

}  // namespace
