/* File: filemon/backends/ebpf/kernel_types.h
 *
 * The few kernel types filemon.bpf.c needs, written by hand instead of a vmlinux.h dumped from
 * the build machine's kernel, so the build needs no kernel, no BTF and no BPF rights. Only
 * fixed layouts are here (the UAPI constants, x86-64's pt_regs, which is the ptrace ABI): the
 * fields of the kernel's own structs, whose offsets change between kernels and configurations,
 * are read at the offsets the loader finds in the running kernel's BTF (kernel_btf.h).
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
  BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
  BPF_MAP_TYPE_RINGBUF = 27,
  BPF_ANY = 0,
  BPF_F_NO_PREALLOC = 1,
  BPF_F_MMAPABLE = 1024,
  BPF_RB_NO_WAKEUP = 1,
  BPF_RB_FORCE_WAKEUP = 2,
  BPF_RB_AVAIL_DATA = 0,
  BPF_RB_RING_SIZE = 1,
};

/* bpf_helper_defs.h names these in prototypes only. */
struct bpf_map;
struct pt_regs;
struct task_struct;

/* x86-64's saved user registers up to the system call number (arch/x86/include/asm/ptrace.h,
 * the order of the ptrace ABI's user_regs_struct): the arguments of both ABIs. */
struct pt_regs {
  unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax;
};

#endif /* FILEMON_BACKENDS_EBPF_KERNEL_TYPES_H_ */
