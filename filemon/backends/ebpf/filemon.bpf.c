/* File: filemon/backends/ebpf/filemon.bpf.c
 *
 * The kernel half of the ebpf backend: records the file operations of one process tree into a
 * ring buffer (event.h), in the kernel's order. The tree is the `traced` map of thread-group
 * ids: the loader puts the command's pid in, sched_process_fork adds every child (and writes
 * `F` there, in the parent's fork, before the child can run), and sched_process_exit removes a
 * process when its last thread ends (after writing `X`). Any other process costs one map
 * lookup per system call exit.
 *
 * System calls are read at their exit, only when they succeeded (or, with `probes`, failed
 * because a path was absent: an `N` record): the arguments are still in the saved registers,
 * and the kernel has just copied the path strings itself, so their pages are present and a
 * read does not fail for want of a page fault, as it can at the entry. Which
 * calls are traced, and where their paths are, is the loader's `plans` map (per ABI and system
 * call number). Nothing is dropped silently: a full ring buffer counts `lost_records`, an
 * unreadable path is sent as an event with FE_UNREADABLE (and counted).
 */
// clang-format off: the kernel types come first, libbpf's headers use them.
#include "filemon/backends/ebpf/kernel_types.h"
// clang-format on

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "filemon/backends/ebpf/event.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define ENOENT 2
#define ENOTDIR 20
#define TS_COMPAT 0x0002         /* arch/x86/include/asm/thread_info.h */
#define SIGNAL_GROUP_EXIT 0x0004 /* include/linux/sched/signal.h */
#define MAX_DEPTH 64             /* path components named per directory */
#define NAME_MASK 255            /* a component is at most NAME_MAX bytes */

/* Set by the loader before loading. */
const volatile bool absolute_paths = false;
/* TraceOptions::probes: a failed lookup of an absent path is sent too (FE_PLAN_PROBE). Without
 * it, the verifier drops the test below and a failed call costs what it did. */
const volatile bool probes = false;

/* Read by the loader at the end of a run. */
__u64 lost_records = 0;
__u64 unreadable_paths = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* allocating 65536 entries up front costs the start */
  __uint(max_entries, 1 << 16);
  __type(key, __u32);
  __type(value, __u8);
} traced SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, FE_ABIS* FE_SYSCALL_MAX);
  __type(key, __u32);
  __type(value, struct fe_plan);
} plans SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 24);
} events SEC(".maps");

/* Where an event is built before it is copied into the ring buffer (one per CPU: the programs
 * run with preemption disabled). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct fe_event);
} scratch SEC(".maps");

/* A directory's name, built backwards from its last component. */
struct dir_buffer {
  char bytes[FE_PATH_MAX + NAME_MASK + 1];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct dir_buffer);
} dir_scratch SEC(".maps");

static __always_inline bool is_traced(__u32 tgid) {
  return bpf_map_lookup_elem(&traced, &tgid) != 0;
}

static __always_inline struct fe_event* new_event(__u32 type, __u32 pid) {
  __u32 zero = 0;
  struct fe_event* e = bpf_map_lookup_elem(&scratch, &zero);
  if (!e) return 0;
  __builtin_memset(&e->h, 0, sizeof(e->h));
  e->h.type = type;
  e->h.pid = pid;
  return e;
}

/* Wakes the reader only for an exit (the tree's last X ends a run) or a buffer half full: a
 * wakeup per event would cost a context switch each. The reader drains on its own tick too. */
static __always_inline void send(struct fe_event* e, __u32 data_size) {
  __u64 size = sizeof(e->h) + data_size;
  if (size > sizeof(*e)) size = sizeof(*e);
  __u64 flags = BPF_RB_NO_WAKEUP;
  if (e->h.type == FE_EXIT || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
                                  bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 2) {
    flags = BPF_RB_FORCE_WAKEUP;
  }
  if (bpf_ringbuf_output(&events, e, size, flags) != 0) __sync_fetch_and_add(&lost_records, 1);
}

/* The state of one walk from a dentry up to the root, one component per bpf_loop step. */
struct walk {
  struct dir_buffer* b;
  struct dentry* d;
  struct mount* m;
  long pos; /* the name so far starts at b->bytes[pos] and ends at FE_PATH_MAX */
  bool complete;
};

static long walk_step(__u32 index, void* data) {
  struct walk* w = data;
  /* Plain locals: BPF_CORE_READ relocates every access inside its argument. */
  struct dentry* d = w->d;
  struct mount* m = w->m;
  if (d == BPF_CORE_READ(m, mnt.mnt_root)) {
    struct mount* parent = BPF_CORE_READ(m, mnt_parent);
    if (parent == m) {
      w->complete = true;
      return 1;
    }
    w->d = BPF_CORE_READ(m, mnt_mountpoint);
    w->m = parent;
    return 0;
  }
  struct dentry* up = BPF_CORE_READ(d, d_parent);
  if (up == d) {
    w->complete = true;
    return 1;
  }
  __u32 len = BPF_CORE_READ(d, d_name.len) & NAME_MASK;
  const unsigned char* name = BPF_CORE_READ(d, d_name.name);
  long pos = w->pos;
  if (pos < (long)len + 1 || pos > FE_PATH_MAX) return 1;
  pos -= len;
  bpf_probe_read_kernel(&w->b->bytes[pos & (FE_PATH_MAX - 1)], len, name);
  pos -= 1;
  w->b->bytes[pos & (FE_PATH_MAX - 1)] = '/';
  w->pos = pos;
  w->d = up;
  return 0;
}

/* The helpers below are global functions: the verifier checks each once, on its own, instead
 * of once per call site and caller state (which made loading take a second). They return the
 * new end of the event's strings, or -1 when a user string could not be read. */

/* Appends the absolute name of `p` (as /proc/PID/cwd would give it) as string `slot`. On
 * failure the slot stays empty and FE_DIR_UNNAMED is set. */
__noinline long append_path(struct fe_event* e, long off, int slot, struct path* p) {
  __u32 zero = 0;
  struct walk w = {};
  if (!e || !p) return off;
  w.b = bpf_map_lookup_elem(&dir_scratch, &zero);
  if (!w.b) return off;
  w.d = BPF_CORE_READ(p, dentry);
  struct vfsmount* vfs = BPF_CORE_READ(p, mnt);
  w.m = (struct mount*)((char*)vfs - bpf_core_field_offset(struct mount, mnt));
  w.pos = FE_PATH_MAX;
  bpf_loop(MAX_DEPTH, walk_step, &w, 0);
  if (!w.complete) {
    e->h.flags |= FE_DIR_UNNAMED;
    return off;
  }
  long pos = w.pos;
  if (pos == FE_PATH_MAX) w.b->bytes[--pos & (FE_PATH_MAX - 1)] = '/';
  __u32 size = (FE_PATH_MAX - pos) & (FE_PATH_MAX - 1);
  if (size == 0) return off;
  bpf_probe_read_kernel(&e->data[off & FE_DATA_MASK], size, &w.b->bytes[pos & (FE_PATH_MAX - 1)]);
  e->h.len[slot & 3] = (__u16)size;
  return off + size;
}

/* Appends the current task's directory `fd` (AT_FDCWD: its working directory). */
__noinline long append_dir(struct fe_event* e, long off, int slot, int fd) {
  struct task_struct* task = bpf_get_current_task_btf();
  struct path p;
  if (!e) return off;
  if (fd == AT_FDCWD) {
    if (bpf_core_read(&p, sizeof(p), &task->fs->pwd) != 0) p.dentry = 0;
  } else {
    struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
    struct file* f = 0;
    if (fd >= 0 && (unsigned int)fd < BPF_CORE_READ(fdt, max_fds)) {
      struct file** fds = BPF_CORE_READ(fdt, fd);
      bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
    }
    if (!f || bpf_core_read(&p, sizeof(p), &f->f_path) != 0) p.dentry = 0;
  }
  if (!p.dentry) {
    e->h.flags |= FE_DIR_UNNAMED;
    return off;
  }
  return append_path(e, off, slot, &p);
}

#define CONTENTS 0x100 /* with a slot: the string is a symlink's contents */

/* A path argument (at user address `addr`) as string `slot` and, for a relative one, the
 * directory it was resolved against (dirfd `fd`, or with `absolute_paths` the cwd) as the next
 * string; with CONTENTS in `slot_how` (a symlink's contents) it is never resolved. (BPF
 * functions take at most five arguments.) */
__noinline long append_arg(struct fe_event* e, long off, int slot_how, __u64 addr, int fd) {
  int slot = slot_how & 3;
  if (!e || off < 0) return -1;
  long n = bpf_probe_read_user_str(&e->data[off & FE_DATA_MASK], FE_PATH_MAX, (void*)addr);
  if (n <= 0) return -1;
  char first = e->data[off & FE_DATA_MASK];
  e->h.len[slot & 3] = (__u16)(n - 1);
  off += n - 1;
  if ((slot_how & CONTENTS) || first == '/') return off;
  if (fd != AT_FDCWD) {
    e->h.flags |= slot == 0 ? FE_DIR1_FD : FE_DIR2_FD;
    return append_dir(e, off, slot + 1, fd);
  }
  return absolute_paths ? append_dir(e, off, slot + 1, AT_FDCWD) : off;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs* regs, long ret) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  bool probe = ret < 0;
  if (probe && !(probes && (ret == -ENOENT || ret == -ENOTDIR))) return 0;
  if (!is_traced(tgid)) return 0;
  struct task_struct* task = bpf_get_current_task_btf();
  __u32 abi = (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) ? 1 : 0;
  unsigned long nr = BPF_CORE_READ(regs, orig_ax);
  if (nr >= FE_SYSCALL_MAX) return 0;
  __u32 key = abi * FE_SYSCALL_MAX + (__u32)nr;
  struct fe_plan* plan = bpf_map_lookup_elem(&plans, &key);
  if (!plan || plan->op == 0) return 0;
  struct fe_plan p = *plan;
  if (probe ? !(p.plan_flags & FE_PLAN_PROBE) : (p.plan_flags & FE_PLAN_PROBE_ONLY)) return 0;

  __u64 args[6];
  if (abi == 0) {
    args[0] = BPF_CORE_READ(regs, di);
    args[1] = BPF_CORE_READ(regs, si);
    args[2] = BPF_CORE_READ(regs, dx);
    args[3] = BPF_CORE_READ(regs, r10);
    args[4] = BPF_CORE_READ(regs, r8);
    args[5] = BPF_CORE_READ(regs, r9);
  } else { /* i386: ebx, ecx, edx, esi, edi, ebp; pointers and ints are 32 bits */
    args[0] = (__u32)BPF_CORE_READ(regs, bx);
    args[1] = (__u32)BPF_CORE_READ(regs, cx);
    args[2] = (__u32)BPF_CORE_READ(regs, dx);
    args[3] = (__u32)BPF_CORE_READ(regs, si);
    args[4] = (__u32)BPF_CORE_READ(regs, di);
    args[5] = (__u32)BPF_CORE_READ(regs, bp);
    for (int i = 0; i < 6; i++) args[i] = (unsigned long)(long)(int)args[i];
  }

  struct fe_event* e = new_event(FE_CALL, tgid);
  if (!e) return 0;
  e->h.op = p.op;
  e->h.ret = ret;
  if (p.flags_arg < 6) {
    e->h.arg = args[p.flags_arg];
    if (p.plan_flags & FE_PLAN_HOW) {
      __u64 how_flags = 0;
      if (bpf_probe_read_user(&how_flags, sizeof(how_flags), (void*)args[p.flags_arg]) != 0) {
        e->h.flags |= FE_UNREADABLE;
      }
      e->h.arg = how_flags;
    }
  }
  long off = 0;
  if (p.path1 < 6) {
    int fd = p.dir1 < 6 ? (int)args[p.dir1] : AT_FDCWD;
    off = append_arg(e, off, (p.plan_flags & FE_PLAN_CONTENTS) ? CONTENTS : 0, args[p.path1], fd);
  }
  if (p.path2 < 6) {
    int fd = p.dir2 < 6 ? (int)args[p.dir2] : AT_FDCWD;
    off = append_arg(e, off, 2, args[p.path2], fd);
  }
  if (off >= 0 && (p.plan_flags & FE_PLAN_CWD)) off = append_dir(e, off, 1, AT_FDCWD);
  if (off < 0) {
    e->h.flags |= FE_UNREADABLE;
    __sync_fetch_and_add(&unreadable_paths, 1);
    __builtin_memset(e->h.len, 0, sizeof(e->h.len));
    off = 0;
  }
  send(e, (__u32)off);
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct* parent, struct task_struct* child) {
  __u32 parent_tgid = BPF_CORE_READ(parent, tgid);
  __u32 child_pid = BPF_CORE_READ(child, pid);
  /* A new thread joins its process, which is traced already or not at all. */
  if (child_pid != (__u32)BPF_CORE_READ(child, tgid) || !is_traced(parent_tgid)) return 0;
  __u8 one = 1;
  if (bpf_map_update_elem(&traced, &child_pid, &one, BPF_ANY) != 0) {
    __sync_fetch_and_add(&lost_records, 1);
  }
  struct fe_event* e = new_event(FE_FORK, parent_tgid);
  if (!e) return 0;
  e->h.ret = child_pid;
  send(e, 0);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct* task, bool group_dead) {
  __u32 tgid = BPF_CORE_READ(task, tgid);
  if (!group_dead || !is_traced(tgid)) return 0;
  int code = BPF_CORE_READ(task, exit_code);
  if (BPF_CORE_READ(task, signal, flags) & SIGNAL_GROUP_EXIT) {
    code = BPF_CORE_READ(task, signal, group_exit_code);
  }
  struct fe_event* e = new_event(FE_EXIT, tgid);
  if (e) {
    e->h.arg = (code >> 8) & 0xff;
    e->h.ret = code & 0x7f;
    send(e, 0);
  }
  /* After the event: once the map is empty, every event of the tree is in the ring buffer. */
  bpf_map_delete_elem(&traced, &tgid);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct* task, pid_t old_pid, struct linux_binprm* bprm) {
  __u32 tgid = BPF_CORE_READ(task, tgid);
  if (!is_traced(tgid)) return 0;
  struct fe_event* e = new_event(FE_EXEC, tgid);
  if (!e) return 0;
  const char* filename = BPF_CORE_READ(bprm, filename);
  long n = bpf_probe_read_kernel_str(&e->data[0], FE_PATH_MAX, filename);
  long off = 0;
  if (n > 0) {
    e->h.len[0] = (__u16)(n - 1);
    off = n - 1;
  }
  char head[8] = {};
  bpf_probe_read_kernel(head, sizeof(head), &e->data[0]);
  /* execveat's names: "/dev/fd/N" and "/dev/fd/N/path" name the image by descriptor. */
  bool by_fd = n > 8 && head[0] == '/' && head[1] == 'd' && head[2] == 'e' && head[3] == 'v' &&
               head[4] == '/' && head[5] == 'f' && head[6] == 'd' && head[7] == '/';
  if (by_fd) {
    struct path p;
    if (bpf_core_read(&p, sizeof(p), &bprm->file->f_path) == 0) {
      e->h.len[0] = 0;
      off = append_path(e, 0, 1, &p);
    }
  } else if (n <= 0 || head[0] != '/') {
    off = append_dir(e, off, 1, AT_FDCWD);
  }
  send(e, (__u32)off);
  return 0;
}
