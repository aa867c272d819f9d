// ProbeExecutable() on real programs and on synthetic ELF files and scripts: the kind the
// interposer acts on, and the file judged.

#include "filemon/backends/preload/exec_probe.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

std::string Dir() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/exec_probe";
  mkdir(dir.c_str(), 0755);
  return dir;
}

void WriteFile(const std::string& path, const std::string& bytes, mode_t mode = 0755) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  chmod(path.c_str(), mode);
}

// A minimal 64-bit ELF file: a header, `phdrs` at `phoff`, and `extra` bytes at their offsets.
struct Synthetic {
  unsigned char elf_class = ELFCLASS64;
  uint64_t phoff = sizeof(Elf64_Ehdr);
  std::vector<Elf64_Phdr> phdrs;
  std::vector<std::pair<uint64_t, std::string>> extra;

  std::string Bytes() const {
    std::string out(8192, '\0');
    Elf64_Ehdr h{};
    std::memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = elf_class;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_ident[EI_VERSION] = EV_CURRENT;
    h.e_type = ET_DYN;
    h.e_machine = EM_X86_64;
    h.e_version = EV_CURRENT;
    h.e_phoff = phoff;
    h.e_ehsize = sizeof(Elf64_Ehdr);
    h.e_phentsize = sizeof(Elf64_Phdr);
    h.e_phnum = static_cast<uint16_t>(phdrs.size());
    std::memcpy(&out[0], &h, sizeof(h));
    for (size_t i = 0; i < phdrs.size(); ++i) {
      std::memcpy(&out[phoff + i * sizeof(Elf64_Phdr)], &phdrs[i], sizeof(Elf64_Phdr));
    }
    for (const auto& [offset, bytes] : extra) out.replace(offset, bytes.size(), bytes);
    return out;
  }
};

Elf64_Phdr Phdr(uint32_t type, uint64_t offset = 0, uint64_t size = 0) {
  Elf64_Phdr p{};
  p.p_type = type;
  p.p_offset = offset;
  p.p_filesz = size;
  return p;
}

// An ELF note: name "Go" (or `name`), 4-byte descriptor.
std::string Note(const char* name) {
  Elf64_Nhdr n{};
  n.n_namesz = static_cast<Elf64_Word>(std::strlen(name) + 1);
  n.n_descsz = 4;
  n.n_type = 4;
  std::string out(reinterpret_cast<const char*>(&n), sizeof(n));
  std::string padded_name(name, n.n_namesz);
  padded_name.resize((n.n_namesz + 3) & ~3u, '\0');
  return out + padded_name + "abcd";
}

TEST(ProbeExecutable, RealPrograms) {
  ExecProbe p = ProbeExecutable("/bin/true");
  EXPECT_EQ(p.kind, ExecKind::kPreloadable);
  EXPECT_STREQ(p.judged, "/bin/true");
  EXPECT_EQ(ProbeExecutable("/nonexistent/program").kind, ExecKind::kUnknown);
  EXPECT_EQ(ProbeExecutable("/").kind, ExecKind::kUnknown);  // a directory
}

TEST(ProbeExecutable, SyntheticElfFiles) {
  const std::string note_go = Note("Go");
  const std::string note_gnu = Note("GNU");
  struct Case {
    const char* name;
    Synthetic elf;
    ExecKind want;
  } cases[] = {
      {"dynamic", {ELFCLASS64, 64, {Phdr(PT_LOAD), Phdr(PT_INTERP)}, {}}, ExecKind::kPreloadable},
      {"static",
       {ELFCLASS64, 64, {Phdr(PT_LOAD), Phdr(PT_NOTE, 1024, 20)}, {{1024, note_gnu}}},
       ExecKind::kStatic},
      {"go",
       {ELFCLASS64, 64, {Phdr(PT_INTERP), Phdr(PT_NOTE, 1024, 16)}, {{1024, note_go}}},
       ExecKind::kRawSyscalls},
      {"gnu_note",
       {ELFCLASS64, 64, {Phdr(PT_INTERP), Phdr(PT_NOTE, 1024, 20)}, {{1024, note_gnu}}},
       ExecKind::kPreloadable},
      // Beyond the first read: program headers at 4 KiB, a note at 6 KiB.
      {"far_phdrs",
       {ELFCLASS64, 4096, {Phdr(PT_LOAD), Phdr(PT_INTERP)}, {}},
       ExecKind::kPreloadable},
      {"far_phdrs_static", {ELFCLASS64, 4096, {Phdr(PT_LOAD)}, {}}, ExecKind::kStatic},
      {"far_go_note",
       {ELFCLASS64, 64, {Phdr(PT_INTERP), Phdr(PT_NOTE, 6000, 16)}, {{6000, note_go}}},
       ExecKind::kRawSyscalls},
      // A note that straddles the first read's end.
      {"straddling_go_note",
       {ELFCLASS64, 64, {Phdr(PT_INTERP), Phdr(PT_NOTE, 2040, 16)}, {{2040, note_go}}},
       ExecKind::kRawSyscalls},
      {"32_bit", {ELFCLASS32, 64, {Phdr(PT_INTERP)}, {}}, ExecKind::kForeign},
  };
  for (const Case& c : cases) {
    const std::string path = Dir() + "/" + c.name;
    WriteFile(path, c.elf.Bytes());
    ExecProbe p = ProbeExecutable(path.c_str());
    EXPECT_EQ(p.kind, c.want) << c.name;
    EXPECT_EQ(std::string(p.judged), path) << c.name;
  }
}

TEST(ProbeExecutable, ScriptsAreJudgedByTheirInterpreter) {
  const std::string dir = Dir();
  WriteFile(dir + "/sh_script", "#! /bin/sh -e\necho hi\n");
  ExecProbe p = ProbeExecutable((dir + "/sh_script").c_str());
  EXPECT_EQ(p.kind, ExecKind::kPreloadable);
  EXPECT_STREQ(p.judged, "/bin/sh");
  WriteFile(dir + "/static_elf", Synthetic{ELFCLASS64, 64, {Phdr(PT_LOAD)}, {}}.Bytes());
  WriteFile(dir + "/on_static", "#!" + dir + "/static_elf\n");
  p = ProbeExecutable((dir + "/on_static").c_str());
  EXPECT_EQ(p.kind, ExecKind::kStatic);
  EXPECT_EQ(std::string(p.judged), dir + "/static_elf");
  // Four scripts, each the interpreter of the one before, end at a program; five do not.
  std::string next = "/bin/true";
  for (int i = 1; i <= 5; ++i) {
    const std::string script = dir + "/chain" + std::to_string(i);
    WriteFile(script, "#!" + next + "\n");
    next = script;
    p = ProbeExecutable(script.c_str());
    if (i <= 4) {
      EXPECT_EQ(p.kind, ExecKind::kPreloadable) << i;
      EXPECT_STREQ(p.judged, "/bin/true") << i;
    } else {
      EXPECT_EQ(p.kind, ExecKind::kUnknown) << i;
    }
  }
  // The "#!" line is read as the kernel reads it (core/shebang.h, whose test has the cases):
  // a short file needs no newline.
  WriteFile(dir + "/no_newline", "#!/bin/true");
  p = ProbeExecutable((dir + "/no_newline").c_str());
  EXPECT_EQ(p.kind, ExecKind::kPreloadable);
  EXPECT_STREQ(p.judged, "/bin/true");
  WriteFile(dir + "/no_interpreter", "#!\n");
  EXPECT_EQ(ProbeExecutable((dir + "/no_interpreter").c_str()).kind, ExecKind::kUnknown);
}

// An exec fails with ENOENT when the file, or the interpreter of its `#!` line, is absent.
TEST(ProbeExecutable, AbsentFileOrInterpreter) {
  const std::string dir = Dir();
  EXPECT_FALSE(ProbeExecutable("/bin/true").absent);
  EXPECT_FALSE(ProbeExecutable("/").absent);  // exists: the exec fails otherwise
  EXPECT_TRUE(ProbeExecutable((dir + "/absent_program").c_str()).absent);
  EXPECT_TRUE(ProbeExecutable("/bin/true/x").absent);  // ENOTDIR
  WriteFile(dir + "/absent_interpreter", "#!" + dir + "/absent_program\n");
  ExecProbe p = ProbeExecutable((dir + "/absent_interpreter").c_str());
  EXPECT_TRUE(p.absent);
  EXPECT_EQ(std::string(p.judged), dir + "/absent_program");
  WriteFile(dir + "/on_absent_script", "#!" + dir + "/absent_interpreter\n");
  EXPECT_TRUE(ProbeExecutable((dir + "/on_absent_script").c_str()).absent);
  WriteFile(dir + "/unreadable", "#!/bin/sh\n", 0111);
  if (geteuid() != 0) EXPECT_FALSE(ProbeExecutable((dir + "/unreadable").c_str()).absent);
}

TEST(ProbeExecutable, SetUserIdOfTheCallerIsNotSecure) {
  // The bits alone do not make a program secure: the loader keeps LD_PRELOAD when the file's
  // owner and group are the caller's effective ones.
  const std::string path = Dir() + "/setuid_own";
  WriteFile(path, Synthetic{ELFCLASS64, 64, {Phdr(PT_INTERP)}, {}}.Bytes(), 06755);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  ASSERT_NE(st.st_mode & S_ISUID, 0u);
  if (st.st_uid != geteuid() || st.st_gid != getegid()) {
    GTEST_SKIP() << "the new file is not owned by the caller's effective user and group";
  }
  EXPECT_EQ(ProbeExecutable(path.c_str()).kind, ExecKind::kPreloadable);
}

TEST(ProbeExecutable, SetUserIdOfAnotherUserIsSecure) {
  const std::string path = Dir() + "/setuid";
  WriteFile(path, Synthetic{ELFCLASS64, 64, {Phdr(PT_INTERP)}, {}}.Bytes());
  if (chown(path.c_str(), 65534, 65534) != 0) {
    GTEST_SKIP() << "cannot chown a file to another user here (not root, or a sandbox user "
                    "namespace)";
  }
  ASSERT_EQ(chmod(path.c_str(), 04755), 0);
  EXPECT_EQ(ProbeExecutable(path.c_str()).kind, ExecKind::kSecure);
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);  // the same file without the bit
  EXPECT_EQ(ProbeExecutable(path.c_str()).kind, ExecKind::kPreloadable);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
