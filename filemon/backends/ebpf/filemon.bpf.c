/* File: filemon/backends/ebpf/filemon.bpf.c
 *
 * The kernel half of the ebpf backend: records the file operations of one process tree into a
 * ring buffer (event.h), in the kernel's order. The tree is the `traced` map of thread-group
 * ids: the loader puts the command's pid in, sched_process_fork adds every child (and writes
 * `F` there, in the parent's fork, before the child can run), and sched_process_exit removes a
 * process when its last thread ends (after writing `X`). Any other process costs a bit test
 * (`traced_bits`) per system call exit.
 *
 * One loaded program serves every run and session of a process (loader.h): each is a slot,
 * with a ring buffer of its own in `rings` and a `lost_records` counter. A traced process's
 * value in `traced` is its tree's slot, inherited at fork.
 *
 * System calls are read at their exit, only when they succeeded (or, with `probes`, failed
 * because a path was absent: an `N` record): the arguments are still in the saved registers,
 * and the kernel has just copied the path strings itself, so their pages are present and a
 * read does not fail for want of a page fault, as it can at the entry. Which
 * calls are traced, and where their paths are, is the loader's `plans` map (per ABI and system
 * call number). Nothing is dropped silently: a full ring buffer counts `lost_records`, an
 * unreadable path is sent as an event with FE_UNREADABLE.
 *
 * No CO-RE relocations and no BTF-typed attach points (raw tracepoints): libbpf then loads the
 * program without reading the kernel's BTF, which took most of the start-up. Kernel structs
 * are read with bpf_probe_read_kernel at `field_offset[]`, which the loader finds by name in
 * the kernel's BTF (kernel_btf.h); pt_regs is x86-64's fixed layout (the ptrace ABI).
 */
// clang-format off: the kernel types come first, libbpf's headers use them.
#include "filemon/backends/ebpf/kernel_types.h"
// clang-format on

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
const volatile __u32 field_offset[FE_FIELDS] = {};

/* One bit per thread-group id below the kernel's pid_max when the program was loaded (the
 * loader sizes it), set for every process in `traced` (by on_fork, and by the loader before it
 * adds one) and cleared when it leaves. Every system call on the machine exits through
 * on_sys_exit while the program is attached: this array lets the untraced ones out with a load
 * and a bit test, where `traced` costs a hash. A pid beyond it (pid_max raised since) costs
 * that lookup, never a record: `traced` stays the tree's one authority (a failed insertion
 * clears the bit it set). A map of its own, mapped by the loader,
 * rather than global data, which libbpf would fill from an image at load. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1 << 16); /* the loader sets it (loader.cc: TracedWords) */
  __type(key, __u32);
  __type(value, __u64);
} traced_bits SEC(".maps");
/* Per slot, read by the loader at the end of a run; reset when the slot is given out. */
__u64 lost_records[FE_SLOTS] = {};
/* Per slot, the processes of its tree in `traced` (the loader counts the ones it adds, before
 * it adds them); reset when the slot is given out. */
__s64 live[FE_SLOTS] = {};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* allocating every entry up front costs the start */
  __uint(max_entries, 1 << 16);         /* the loader sets it (loader.cc: kTracedProcesses) */
  __type(key, __u32);
  __type(value, __u32); /* the tree's slot */
} traced SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, FE_ABIS* FE_SYSCALL_MAX);
  __type(key, __u32);
  __type(value, struct fe_plan);
} plans SEC(".maps");

/* Each slot's ring buffer, put in by the loader (every one of the size it chose). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, FE_SLOTS);
  __type(key, __u32);
  __array(
      values, struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 1 << 24);
      });
} rings SEC(".maps");

/* Where an event is built before it is copied into the ring buffer (one per CPU: the programs
 * run with preemption disabled). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct fe_event);
} scratch SEC(".maps");

/* One walk from a dentry up to the root (append_path), one component per bpf_loop step. Kept
 * in a map value rather than on the stack: the verifier then knows nothing of `pos` between
 * steps, and checks the step once instead of once per possible length of the name so far. */
struct walk {
  __u64 d;  /* struct dentry* */
  __u64 m;  /* struct mount* */
  long pos; /* the name so far starts at bytes[pos] and ends at FE_PATH_MAX */
  long complete;
  char bytes[FE_PATH_MAX + NAME_MASK + 1];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct walk);
} walk_scratch SEC(".maps");

/* Whether plans[key] records a call (an array lookup: the verifier inlines it). */
static __always_inline bool plan_op(__u32 key) {
  struct fe_plan* plan = bpf_map_lookup_elem(&plans, &key);
  return plan && plan->op != 0;
}

/* The word of `traced_bits` that holds process `tgid`'s bit, or null beyond the array (an
 * array lookup: the verifier inlines it). */
static __always_inline __u64* traced_word(__u32 tgid) {
  __u32 index = tgid >> 6;
  return bpf_map_lookup_elem(&traced_bits, &index);
}

/* Whether process `tgid` may be traced: false for every process outside `traced`. */
static __always_inline bool maybe_traced(__u32 tgid) {
  __u64* word = traced_word(tgid);
  return !word || (*word & (1ULL << (tgid & 63)));
}

static __always_inline void set_traced_bit(__u32 tgid) {
  __u64* word = traced_word(tgid);
  if (word) __sync_fetch_and_or(word, 1ULL << (tgid & 63));
}

static __always_inline void clear_traced_bit(__u32 tgid) {
  __u64* word = traced_word(tgid);
  if (word) __sync_fetch_and_and(word, ~(1ULL << (tgid & 63)));
}

/* The slot of process `tgid`'s tree, or null when it is not traced. */
static __always_inline __u32* traced_slot(__u32 tgid) {
  if (!maybe_traced(tgid)) return 0;
  return bpf_map_lookup_elem(&traced, &tgid);
}

/* Adds `n` to slot's count of live processes; returns the count before. */
static __always_inline __s64 add_live(__u32 slot, __s64 n) {
  return slot < FE_SLOTS ? __sync_fetch_and_add(&live[slot], n) : 0;
}

static __always_inline void count_lost(__u32 slot) {
  if (slot < FE_SLOTS) __sync_fetch_and_add(&lost_records[slot], 1);
}

/* Kernel memory at `base` + the offset of `field` (enum fe_field); 0 when it cannot be read
 * (a null `base` included: the helper refuses addresses below the kernel's, and a branch here
 * would double the verifier's work at every read). */
static __always_inline __u64 read_ptr(__u64 base, int field) {
  __u64 v = 0;
  bpf_probe_read_kernel(&v, sizeof(v), (const void*)(base + field_offset[field]));
  return v;
}

static __always_inline __u32 read_u32(__u64 base, int field) {
  __u32 v = 0;
  bpf_probe_read_kernel(&v, sizeof(v), (const void*)(base + field_offset[field]));
  return v;
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

/* Wakes the reader only when the buffer is half full: a wakeup costs the kernel an interrupt
 * (tens of microseconds in a virtual machine) and the reader a context switch. The reader drains
 * on its own tick; the tree's last exit wakes it (wake_reader). */
static __always_inline void send(struct fe_event* e, __u32 data_size, __u32 slot) {
  __u64 size = sizeof(e->h) + data_size;
  if (size > sizeof(*e)) size = sizeof(*e);
  void* ring = bpf_map_lookup_elem(&rings, &slot);
  if (!ring) {
    count_lost(slot);
    return;
  }
  __u64 flags = BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) > bpf_ringbuf_query(ring, BPF_RB_RING_SIZE) / 2) {
    flags = BPF_RB_FORCE_WAKEUP;
  }
  if (bpf_ringbuf_output(ring, e, size, flags) != 0) count_lost(slot);
}

/* Wakes slot's reader without an event: a discarded record, which the consumer skips. */
static __always_inline void wake_reader(__u32 slot) {
  void* ring = bpf_map_lookup_elem(&rings, &slot);
  if (!ring) return;
  void* mark = bpf_ringbuf_reserve(ring, 8, 0);
  if (mark) bpf_ringbuf_discard(mark, BPF_RB_FORCE_WAKEUP);
}

/* bpf_loop's context: the walk (a pointer to the stack is what bpf_loop passes). */
struct walk_ctx {
  struct walk* w;
};

static long walk_step(__u32 index, void* data) {
  struct walk* w = ((struct walk_ctx*)data)->w;
  if (!w) return 1;
  __u64 d = w->d;
  __u64 m = w->m;
  if (d == read_ptr(m + field_offset[FE_MOUNT_MNT], FE_VFSMOUNT_ROOT)) {
    __u64 parent = read_ptr(m, FE_MOUNT_PARENT);
    if (parent == m) {
      w->complete = 1;
      return 1;
    }
    w->d = read_ptr(m, FE_MOUNT_MOUNTPOINT);
    w->m = parent;
    return 0;
  }
  __u64 up = read_ptr(d, FE_DENTRY_PARENT);
  if (up == d) {
    w->complete = 1;
    return 1;
  }
  __u32 len = read_u32(d, FE_DENTRY_NAME_LEN) & NAME_MASK;
  __u64 name = read_ptr(d, FE_DENTRY_NAME);
  long pos = w->pos;
  if (pos < (long)len + 1 || pos > FE_PATH_MAX) return 1;
  pos -= len;
  bpf_probe_read_kernel(&w->bytes[pos & (FE_PATH_MAX - 1)], len, (const void*)name);
  pos -= 1;
  w->bytes[pos & (FE_PATH_MAX - 1)] = '/';
  w->pos = pos;
  w->d = up;
  return 0;
}

/* The helpers below are global functions: the verifier checks each once, on its own, instead
 * of once per call site and caller state (which made loading take a second). They return the
 * new end of the event's strings, or -1 when a user string could not be read. */

/* Appends the absolute name of the kernel's `struct path` at `path` (as /proc/PID/cwd would
 * give it) as string `slot`. On failure the slot stays empty and FE_DIR_UNNAMED is set. */
__noinline long append_path(struct fe_event* e, long off, int slot, __u64 path) {
  __u32 zero = 0;
  if (!e) return off;
  struct walk* w = bpf_map_lookup_elem(&walk_scratch, &zero);
  if (!w) return off;
  struct walk_ctx ctx = {w};
  __u64 vfs = read_ptr(path, FE_PATH_MNT);
  w->d = read_ptr(path, FE_PATH_DENTRY);
  w->m = vfs - field_offset[FE_MOUNT_MNT];
  w->pos = FE_PATH_MAX;
  w->complete = 0;
  if (w->d && vfs) bpf_loop(MAX_DEPTH, walk_step, &ctx, 0);
  long pos = w->pos;
  if (!w->complete || pos < 0 || pos > FE_PATH_MAX) {
    e->h.flags |= FE_DIR_UNNAMED;
    return off;
  }
  if (pos == FE_PATH_MAX) w->bytes[--pos & (FE_PATH_MAX - 1)] = '/';
  __u32 size = (FE_PATH_MAX - pos) & (FE_PATH_MAX - 1);
  if (size == 0) return off;
  bpf_probe_read_kernel(&e->data[off & FE_DATA_MASK], size, &w->bytes[pos & (FE_PATH_MAX - 1)]);
  e->h.len[slot & 3] = (__u16)size;
  return off + size;
}

/* Appends the current task's directory `fd` (AT_FDCWD: its working directory). */
__noinline long append_dir(struct fe_event* e, long off, int slot, int fd) {
  __u64 task = bpf_get_current_task();
  __u64 path = 0;
  if (!e) return off;
  if (fd == AT_FDCWD) {
    __u64 fs = read_ptr(task, FE_TASK_FS);
    if (fs) path = fs + field_offset[FE_FS_PWD];
  } else {
    __u64 fdt = read_ptr(read_ptr(task, FE_TASK_FILES), FE_FILES_FDT);
    __u64 f = 0;
    if (fdt && fd >= 0 && (unsigned int)fd < read_u32(fdt, FE_FDT_MAX_FDS)) {
      __u64 fds = read_ptr(fdt, FE_FDT_FD);
      if (fds) bpf_probe_read_kernel(&f, sizeof(f), (const void*)(fds + (__u64)fd * sizeof(f)));
    }
    if (f) path = f + field_offset[FE_FILE_PATH];
  }
  if (!path) {
    e->h.flags |= FE_DIR_UNNAMED;
    return off;
  }
  return append_path(e, off, slot, path);
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

SEC("raw_tp/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs* regs_ptr, long ret) {
  /* The result first: it is in the context, and most failed calls end here, with no call. */
  bool probe = ret < 0;
  if (probe && !(probes && (ret == -ENOENT || ret == -ENOTDIR))) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!maybe_traced(tgid)) return 0;
  /* The number before the tree's map: most calls of a traced process are not recorded under
   * either ABI, and need neither the hash lookup nor the task's ABI. */
  __u64 nr = 0;
  if (bpf_probe_read_kernel(&nr, sizeof(nr), &regs_ptr->orig_ax) != 0) return 0;
  if (nr >= FE_SYSCALL_MAX || !plan_op(nr) && !plan_op(FE_SYSCALL_MAX + nr)) return 0;
  __u32* in_tree = bpf_map_lookup_elem(&traced, &tgid);
  if (!in_tree) return 0;
  __u32 slot = *in_tree;
  __u32 abi = (read_u32(bpf_get_current_task(), FE_TASK_STATUS) & TS_COMPAT) ? 1 : 0;
  __u32 key = abi * FE_SYSCALL_MAX + (__u32)nr;
  struct fe_plan* plan = bpf_map_lookup_elem(&plans, &key);
  if (!plan || plan->op == 0) return 0;
  struct fe_plan p = *plan;
  if (probe ? !(p.plan_flags & FE_PLAN_PROBE) : (p.plan_flags & FE_PLAN_PROBE_ONLY)) return 0;
  struct pt_regs regs;
  if (bpf_probe_read_kernel(&regs, sizeof(regs), regs_ptr) != 0) return 0;

  __u64 args[6];
  if (abi == 0) {
    args[0] = regs.di;
    args[1] = regs.si;
    args[2] = regs.dx;
    args[3] = regs.r10;
    args[4] = regs.r8;
    args[5] = regs.r9;
  } else { /* i386: ebx, ecx, edx, esi, edi, ebp; pointers and ints are 32 bits */
    args[0] = (__u32)regs.bx;
    args[1] = (__u32)regs.cx;
    args[2] = (__u32)regs.dx;
    args[3] = (__u32)regs.si;
    args[4] = (__u32)regs.di;
    args[5] = (__u32)regs.bp;
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
    __builtin_memset(e->h.len, 0, sizeof(e->h.len));
    off = 0;
  }
  send(e, (__u32)off, slot);
  return 0;
}

/* current is the parent: kernel_clone() fires the tracepoint. */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork, void* parent, void* child) {
  __u32 parent_tgid = bpf_get_current_pid_tgid() >> 32;
  __u32 child_pid = read_u32((__u64)child, FE_TASK_PID);
  /* A new thread joins its process, which is traced already or not at all. */
  if (child_pid != read_u32((__u64)child, FE_TASK_TGID)) return 0;
  __u32* in_tree = traced_slot(parent_tgid);
  if (!in_tree) return 0;
  __u32 slot = *in_tree;
  add_live(slot, 1); /* before the child can run, and exit */
  set_traced_bit(child_pid);
  __u32 flags = 0;
  if (bpf_map_update_elem(&traced, &child_pid, &slot, BPF_ANY) != 0) {
    /* The map is full: the child runs untraced, and its F says so (FE_UNTRACED). */
    add_live(slot, -1);
    clear_traced_bit(child_pid);
    flags = FE_UNTRACED;
  }
  struct fe_event* e = new_event(FE_FORK, parent_tgid);
  if (!e) {
    if (flags) count_lost(slot); /* not said: at least counted */
    return 0;
  }
  e->h.ret = child_pid;
  e->h.flags = flags;
  send(e, 0, slot);
  return 0;
}

/* current is the exiting task (do_exit()). */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit, void* task_ptr, bool group_dead) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!group_dead) return 0;
  __u32* in_tree = traced_slot(tgid);
  if (!in_tree) return 0;
  __u32 slot = *in_tree;
  __u64 task = (__u64)task_ptr;
  int code = (int)read_u32(task, FE_TASK_EXIT_CODE);
  __u64 signal = read_ptr(task, FE_TASK_SIGNAL);
  if (read_u32(signal, FE_SIGNAL_FLAGS) & SIGNAL_GROUP_EXIT) {
    code = (int)read_u32(signal, FE_SIGNAL_EXIT_CODE);
  }
  struct fe_event* e = new_event(FE_EXIT, tgid);
  if (e) {
    e->h.arg = (code >> 8) & 0xff;
    e->h.ret = code & 0x7f;
    send(e, 0, slot);
  }
  /* After the event: once the map is empty, every event of the tree is in the ring buffer. */
  bpf_map_delete_elem(&traced, &tgid);
  clear_traced_bit(tgid);
  /* After the event too: the last process to leave wakes the reader once every X is in. */
  if (add_live(slot, -1) == 1) wake_reader(slot);
  return 0;
}

/* current is the task that exec'd (exec_binprm()). */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, void* task, pid_t old_pid, void* bprm_ptr) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  __u32* in_tree = traced_slot(tgid);
  if (!in_tree) return 0;
  __u32 slot = *in_tree;
  struct fe_event* e = new_event(FE_EXEC, tgid);
  if (!e) return 0;
  __u64 bprm = (__u64)bprm_ptr;
  __u64 filename = read_ptr(bprm, FE_BPRM_FILENAME);
  long n = bpf_probe_read_kernel_str(&e->data[0], FE_PATH_MAX, (const void*)filename);
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
  /* The one directory walk, named here rather than through append_dir: this program then holds
   * (and the verifier checks, and the JIT compiles) append_path alone. */
  __u64 path = 0;
  if (by_fd) {
    __u64 file = read_ptr(bprm, FE_BPRM_FILE);
    if (file) {
      e->h.len[0] = 0;
      off = 0;
      path = file + field_offset[FE_FILE_PATH];
    }
  } else if (n <= 0 || head[0] != '/') {
    /* A relative name, under the working directory (as append_dir names AT_FDCWD). */
    __u64 fs = read_ptr(bpf_get_current_task(), FE_TASK_FS);
    if (fs) {
      path = fs + field_offset[FE_FS_PWD];
    } else {
      e->h.flags |= FE_DIR_UNNAMED;
    }
  }
  if (path) off = append_path(e, off, 1, path);
  send(e, (__u32)off, slot);
  return 0;
}
