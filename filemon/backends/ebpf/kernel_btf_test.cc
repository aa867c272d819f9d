// FindKernelFields over BTF built here with libbpf's writer (layouts of several kernel
// versions, damaged data) and over the running kernel's.
#include "filemon/backends/ebpf/kernel_btf.h"

#include <bpf/btf.h>
#include <linux/btf.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace filemon {
namespace ebpf_internal {
namespace {

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};

// How the fake kernel lays out what differs between kernel versions.
struct Layout {
  bool qstr_in_anonymous_union = true;  // 6.x: the length inside `union { struct {...}; }`
  bool const_d_name = false;  // newer: `union { struct qstr __d_name; const struct qstr d_name; }`
  bool exit_code_bitfield = false;  // a damaged layout: exit_code as a bit-field
  bool pid_is_u64 = false;          // a damaged layout: pid of another size
  bool drop_group_exit_code = false;
  bool unknown_kind_last = false;  // a type of a kind newer than the code after every wanted one
};

// A kernel BTF with every struct the program reads, at known offsets (the expected offsets are
// in Expected() below), plus unrelated types around them.
std::string FakeKernel(const Layout& layout) {
  std::unique_ptr<btf, BtfDeleter> b(btf__new_empty());
  btf* t = b.get();
  int u32 = btf__add_int(t, "unsigned int", 4, 0);
  int s32 = btf__add_int(t, "int", 4, BTF_INT_SIGNED);
  int u64 = btf__add_int(t, "long long unsigned int", 8, 0);
  int pid_t_ = btf__add_typedef(t, "pid_t", layout.pid_is_u64 ? u64 : s32);
  int vptr = btf__add_ptr(t, 0);
  btf__add_struct(t, "unrelated", 8);  // a struct that is not looked for
  btf__add_field(t, "x", u64, 0, 0);
  // Types of every size before the wanted ones, so that these are found across the index's
  // strides (of 64 types), as in a kernel's 120,000.
  for (int i = 0; i < 150; ++i) {
    if (i % 3 == 0) btf__add_typedef(t, "padding_t", u32);
    if (i % 3 == 1) btf__add_array(t, u32, u32, 4);
    if (i % 3 == 2) {
      btf__add_func_proto(t, s32);
      btf__add_func_param(t, "a", u64);
    }
  }
  btf__add_fwd(t, "dentry", BTF_FWD_STRUCT);  // a declaration is not the struct

  int thread_info = btf__add_struct(t, "thread_info", 24);
  btf__add_field(t, "flags", u64, 0, 0);
  btf__add_field(t, "syscall_work", u64, 64, 0);
  btf__add_field(t, "status", u32, 128, 0);
  btf__add_field(t, "cpu", u32, 160, 0);
  int task = btf__add_struct(t, "task_struct", 256);
  btf__add_field(t, "thread_info", thread_info, 0, 0);
  btf__add_field(t, "exit_code", s32, 1024, layout.exit_code_bitfield ? 7 : 0);
  btf__add_field(t, "pid", pid_t_, 1056, 0);
  btf__add_field(t, "tgid", pid_t_, 1120, 0);
  btf__add_field(t, "fs", vptr, 1216, 0);
  btf__add_field(t, "files", vptr, 1280, 0);
  btf__add_field(t, "signal", vptr, 1344, 0);
  (void)task;

  int path = btf__add_struct(t, "path", 16);
  btf__add_field(t, "mnt", vptr, 0, 0);
  btf__add_field(t, "dentry", vptr, 64, 0);
  btf__add_struct(t, "fs_struct", 56);
  btf__add_field(t, "users", s32, 0, 0);
  btf__add_field(t, "root", path, 192, 0);
  btf__add_field(t, "pwd", path, 320, 0);
  btf__add_struct(t, "files_struct", 64);
  btf__add_field(t, "count", s32, 0, 0);
  btf__add_field(t, "fdt", vptr, 256, 0);
  btf__add_struct(t, "fdtable", 32);
  btf__add_field(t, "max_fds", u32, 0, 0);
  btf__add_field(t, "fd", vptr, 64, 0);
  btf__add_struct(t, "file", 200);
  btf__add_field(t, "f_count", u64, 0, 0);
  btf__add_field(t, "f_path", path, 512, 0);

  // struct qstr: the length at byte 4.
  int qstr;
  if (layout.qstr_in_anonymous_union) {
    int hash_len = btf__add_struct(t, nullptr, 8);
    btf__add_field(t, "hash", u32, 0, 0);
    btf__add_field(t, "len", u32, 32, 0);
    int u = btf__add_union(t, nullptr, 8);
    btf__add_field(t, nullptr, hash_len, 0, 0);
    btf__add_field(t, "hash_len", u64, 0, 0);
    qstr = btf__add_struct(t, "qstr", 16);
    btf__add_field(t, nullptr, u, 0, 0);
    btf__add_field(t, "name", vptr, 64, 0);
  } else {
    qstr = btf__add_struct(t, "qstr", 16);
    btf__add_field(t, "hash", u32, 0, 0);
    btf__add_field(t, "len", u32, 32, 0);
    btf__add_field(t, "name", vptr, 64, 0);
  }
  int d_name_union = 0;  // libbpf adds fields to the type added last: made before dentry
  if (layout.const_d_name) {
    int const_qstr = btf__add_const(t, qstr);
    d_name_union = btf__add_union(t, nullptr, 16);
    btf__add_field(t, "__d_name", qstr, 0, 0);
    btf__add_field(t, "d_name", const_qstr, 0, 0);
  }
  int dentry = btf__add_struct(t, "dentry", 192);
  btf__add_field(t, "d_flags", u32, 0, 0);
  btf__add_field(t, "d_parent", vptr, 192, 0);
  if (layout.const_d_name) {
    btf__add_field(t, "unused", u32, 224, 0);
    btf__add_field(t, nullptr, d_name_union, 256, 0);
  } else {
    btf__add_field(t, "d_name", qstr, 256, 0);
  }
  (void)dentry;
  int vfsmount = btf__add_struct(t, "vfsmount", 24);
  btf__add_field(t, "mnt_root", vptr, 0, 0);
  btf__add_field(t, "mnt_sb", vptr, 64, 0);
  btf__add_struct(t, "mount", 320);
  btf__add_field(t, "mnt_hash", u64, 0, 0);
  btf__add_field(t, "mnt_parent", vptr, 128, 0);
  btf__add_field(t, "mnt_mountpoint", vptr, 192, 0);
  btf__add_field(t, "mnt", vfsmount, 256, 0);
  btf__add_struct(t, "signal_struct", 64);
  btf__add_field(t, "sigcnt", s32, 0, 0);
  if (!layout.drop_group_exit_code) btf__add_field(t, "group_exit_code", s32, 96, 0);
  btf__add_field(t, "flags", u32, 160, 0);
  btf__add_struct(t, "linux_binprm", 96);
  btf__add_field(t, "vma", vptr, 0, 0);
  btf__add_field(t, "file", vptr, 384, 0);
  btf__add_field(t, "filename", vptr, 448, 0);
  if (layout.unknown_kind_last) btf__add_typedef(t, "newer_t", u32);  // made kind 31 below

  uint32_t size = 0;
  const void* raw = btf__raw_data(t, &size);
  std::string blob(static_cast<const char*>(raw), size);
  if (layout.unknown_kind_last) {
    btf_header h;
    memcpy(&h, blob.data(), sizeof(h));
    btf_type last;  // the typedef, the last record of the types
    const size_t at = h.hdr_len + h.type_off + h.type_len - sizeof(last);
    memcpy(&last, &blob[at], sizeof(last));
    last.info = 31u << 24;
    memcpy(&blob[at], &last, sizeof(last));
  }
  return blob;
}

KernelFields Expected(const Layout& layout) {
  KernelFields f;
  f.offset[FE_TASK_STATUS] = 16;
  f.offset[FE_TASK_EXIT_CODE] = 128;
  f.offset[FE_TASK_PID] = 132;
  f.offset[FE_TASK_TGID] = 140;
  f.offset[FE_TASK_FS] = 152;
  f.offset[FE_TASK_FILES] = 160;
  f.offset[FE_TASK_SIGNAL] = 168;
  f.offset[FE_FS_PWD] = 40;
  f.offset[FE_FILES_FDT] = 32;
  f.offset[FE_FDT_MAX_FDS] = 0;
  f.offset[FE_FDT_FD] = 8;
  f.offset[FE_FILE_PATH] = 64;
  f.offset[FE_PATH_MNT] = 0;
  f.offset[FE_PATH_DENTRY] = 8;
  f.offset[FE_DENTRY_PARENT] = 24;
  f.offset[FE_DENTRY_NAME_LEN] = 32 + 4;
  f.offset[FE_DENTRY_NAME] = 32 + 8;
  f.offset[FE_MOUNT_PARENT] = 16;
  f.offset[FE_MOUNT_MOUNTPOINT] = 24;
  f.offset[FE_MOUNT_MNT] = 32;
  f.offset[FE_VFSMOUNT_ROOT] = 0;
  f.offset[FE_SIGNAL_FLAGS] = 20;
  f.offset[FE_SIGNAL_EXIT_CODE] = 12;
  f.offset[FE_BPRM_FILE] = 48;
  f.offset[FE_BPRM_FILENAME] = 56;
  (void)layout;
  return f;
}

void ExpectOffsets(const Layout& layout) {
  absl::StatusOr<KernelFields> found = FindKernelFields(FakeKernel(layout));
  ASSERT_TRUE(found.ok()) << found.status();
  KernelFields want = Expected(layout);
  for (int i = 0; i < FE_FIELDS; ++i) {
    EXPECT_EQ(found->offset[i], want.offset[i]) << "field " << i;
  }
}

TEST(FindKernelFields, FindsEveryFieldThroughAnonymousUnions) { ExpectOffsets(Layout{}); }

TEST(FindKernelFields, FindsPlainQstr) {
  Layout layout;
  layout.qstr_in_anonymous_union = false;
  ExpectOffsets(layout);
}

TEST(FindKernelFields, FindsConstDNameInAnonymousUnion) {
  Layout layout;
  layout.const_d_name = true;
  ExpectOffsets(layout);
}

// Each damaged layout is refused with the field named, never given a wrong offset.
// The types are read only as far as the wanted structs and the types they name: a type after
// them, even one this code could not read, is never reached.
TEST(FindKernelFields, ReadsNoTypeAfterTheWantedOnes) {
  Layout layout;
  layout.unknown_kind_last = true;
  ExpectOffsets(layout);
}

TEST(FindKernelFields, RefusesMissingBitfieldOrResizedFields) {
  struct Case {
    Layout layout;
    const char* message;
  };
  Case cases[3];
  cases[0].layout.exit_code_bitfield = true;
  cases[0].message = "exit_code is a bit-field";
  cases[1].layout.pid_is_u64 = true;
  cases[1].message = "struct task_struct.pid is 8 bytes in the kernel's BTF, not 4";
  cases[2].layout.drop_group_exit_code = true;
  cases[2].message = "struct signal_struct.group_exit_code is not in the kernel's BTF";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    absl::StatusOr<KernelFields> found = FindKernelFields(FakeKernel(c.layout));
    ASSERT_FALSE(found.ok());
    EXPECT_TRUE(absl::IsNotFound(found.status())) << found.status();
    EXPECT_TRUE(absl::StrContains(found.status().message(), c.message)) << found.status();
  }
}

TEST(FindKernelFields, RefusesNonBtf) {
  EXPECT_TRUE(absl::IsInvalidArgument(FindKernelFields("").status()));
  std::string elf =
      "\x7f"
      "ELF and then some bytes that are not BTF at all";
  absl::StatusOr<KernelFields> found = FindKernelFields(elf);
  EXPECT_TRUE(absl::IsInvalidArgument(found.status())) << found.status();
  EXPECT_TRUE(absl::StrContains(found.status().message(), "magic")) << found.status();
}

// Every truncation of a valid blob is an error (its header's sections no longer fit), never a
// crash or an out-of-bounds read (run under ASan to see the latter).
TEST(FindKernelFields, TruncationSweep) {
  const std::string full = FakeKernel(Layout{});
  for (size_t size = full.size() - 1; size > 0; --size) {
    absl::StatusOr<KernelFields> found = FindKernelFields(full.substr(0, size));
    ASSERT_FALSE(found.ok()) << size;
  }
}

// A type of a kind newer than this code, or a corrupt member count, is an error.
TEST(FindKernelFields, RefusesUnknownKindAndOverlongTypes) {
  std::string blob = FakeKernel(Layout{});
  btf_header h;
  memcpy(&h, blob.data(), sizeof(h));
  btf_type first;  // type 1, "unsigned int"
  const size_t at = h.hdr_len + h.type_off;
  memcpy(&first, blob.data() + at, sizeof(first));

  std::string unknown = blob;
  btf_type t = first;
  t.info = (31u << 24);
  memcpy(&unknown[at], &t, sizeof(t));
  absl::StatusOr<KernelFields> found = FindKernelFields(unknown);
  EXPECT_TRUE(absl::IsInvalidArgument(found.status())) << found.status();
  EXPECT_TRUE(absl::StrContains(found.status().message(), "unknown kind 31")) << found.status();

  std::string overlong = blob;
  t = first;
  t.info = (BTF_KIND_STRUCT << 24) | 0xffff;  // 65535 members: past the end
  memcpy(&overlong[at], &t, sizeof(t));
  found = FindKernelFields(overlong);
  EXPECT_TRUE(absl::IsInvalidArgument(found.status())) << found.status();
}

TEST(RunningKernelFields, FindsTheRunningKernelsFields) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    GTEST_SKIP() << "this kernel has no /sys/kernel/btf/vmlinux";
  }
  absl::StatusOr<KernelFields> found = SearchRunningKernel();
  ASSERT_TRUE(found.ok()) << found.status();
  absl::StatusOr<KernelFields> kept = RunningKernelFields();  // perhaps root's cache's
  ASSERT_TRUE(kept.ok()) << kept.status();
  // struct path is { mnt, dentry } on every kernel.
  EXPECT_EQ(found->offset[FE_PATH_MNT], 0u);
  EXPECT_EQ(found->offset[FE_PATH_DENTRY], 8u);
  // The same answer as from libbpf's copy of the BTF (read, not mapped).
  std::unique_ptr<btf, BtfDeleter> vmlinux(btf__load_vmlinux_btf());
  ASSERT_NE(vmlinux, nullptr);
  uint32_t size = 0;
  const void* raw = btf__raw_data(vmlinux.get(), &size);
  absl::StatusOr<KernelFields> again =
      FindKernelFields(absl::string_view(static_cast<const char*>(raw), size));
  ASSERT_TRUE(again.ok()) << again.status();
  for (int i = 0; i < FE_FIELDS; ++i) {
    EXPECT_EQ(found->offset[i], again->offset[i]) << i;
    EXPECT_EQ(kept->offset[i], again->offset[i]) << i;
  }
}

}  // namespace
}  // namespace ebpf_internal
}  // namespace filemon
