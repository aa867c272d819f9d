/* File: filemon/backends/ebpf/kernel_types.h
 *
 * The few kernel types filemon.bpf.c reads, written by hand instead of a vmlinux.h dumped from
 * the build machine's kernel: with `preserve_access_index` clang records each field access as a
 * CO-RE relocation, and libbpf moves it to the running kernel's offset (read from its BTF) at
 * load time. Only the fields used are declared; their order and the padding here do not matter.
 * So the build needs no kernel, no BTF and no BPF rights, and one object runs on every kernel
 * whose BTF has these field names (Linux 5.8 and later).
 */
#ifndef FILEMON_BACKENDS_EBPF_KERNEL_TYPES_H_
#define FILEMON_BACKENDS_EBPF_KERNEL_TYPES_H_

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef _Bool bool;
#define true 1
#define false 0

/* The UAPI constants used (linux/bpf.h; fixed by the kernel's ABI). */
enum {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
  BPF_MAP_TYPE_RINGBUF = 27,
  BPF_ANY = 0,
  BPF_F_NO_PREALLOC = 1,
  BPF_RB_NO_WAKEUP = 1,
  BPF_RB_FORCE_WAKEUP = 2,
  BPF_RB_AVAIL_DATA = 0,
  BPF_RB_RING_SIZE = 1,
};

/* bpf_helper_defs.h names these in prototypes only. */
struct bpf_map;
struct pt_regs;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* x86-64's saved user registers: the system call number and arguments of both ABIs. */
struct pt_regs {
  unsigned long bx, cx, dx, si, di, bp, r10, r8, r9;
  unsigned long orig_ax;
};

struct thread_info {
  __u32 status; /* TS_COMPAT: the current system call is a 32-bit one */
};

struct qstr {
  __u32 len;
  const unsigned char* name;
};

struct dentry {
  struct dentry* d_parent;
  struct qstr d_name;
};

struct vfsmount {
  struct dentry* mnt_root;
};

struct mount {
  struct mount* mnt_parent;
  struct dentry* mnt_mountpoint;
  struct vfsmount mnt;
};

struct path {
  struct vfsmount* mnt;
  struct dentry* dentry;
};

struct file {
  struct path f_path;
};

struct fdtable {
  unsigned int max_fds;
  struct file** fd;
};

struct files_struct {
  struct fdtable* fdt;
};

struct fs_struct {
  struct path pwd;
};

struct signal_struct {
  int group_exit_code;
  unsigned int flags;
};

struct task_struct {
  struct thread_info thread_info;
  int exit_code;
  pid_t pid;
  pid_t tgid;
  struct fs_struct* fs;
  struct files_struct* files;
  struct signal_struct* signal;
};

struct linux_binprm {
  struct file* file;
  const char* filename;
};

#pragma clang attribute pop

#endif /* FILEMON_BACKENDS_EBPF_KERNEL_TYPES_H_ */
