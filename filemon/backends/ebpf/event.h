/* File: filemon/backends/ebpf/event.h
 *
 * What filemon.bpf.c and the loader (ebpf_backend.cc) share: the layout of a ring-buffer event
 * and of the per-syscall capture plan. C, fixed-width types only (__u32...: <linux/types.h> in
 * user space, kernel_types.h in the BPF program).
 *
 * An event is a header followed by its strings, packed without NULs in the order path1, dir1,
 * path2, dir2, each `len[i]` bytes long (0: absent). `path` is what the process passed; `dir`
 * is the directory the kernel resolved it against: a dirfd's directory for a relative path, the
 * working directory with `absolute` set (or for fchdir, where it is the whole answer).
 */
#ifndef FILEMON_BACKENDS_EBPF_EVENT_H_
#define FILEMON_BACKENDS_EBPF_EVENT_H_

#define FE_PATH_MAX 4096    /* PATH_MAX: longer paths fail in the kernel */
#define FE_STRINGS 4        /* path1, dir1, path2, dir2 */
#define FE_SYSCALL_MAX 1024 /* system call numbers per ABI in the plan map */
#define FE_ABIS 2           /* 0: the native ABI, 1: the 32-bit compat ABI */
#define FE_NONE 0xff        /* no argument */
#define FE_SLOTS 256        /* runs and sessions traced at once by one process */

enum fe_type {
  FE_FORK = 1, /* pid forked ret (the child's pid) */
  FE_EXIT = 2, /* pid exited: arg = status, ret = signal */
  FE_EXEC = 3, /* pid exec'd path1 (dir1: the cwd or the image for /dev/fd/N names) */
  FE_CALL = 4, /* pid made the call `op`: successfully (ret >= 0), or a probe (ret -ENOENT or
                * -ENOTDIR, with `probes` only, for a plan with FE_PLAN_PROBE) */
};

/* fe_header.flags */
enum fe_flag {
  FE_UNREADABLE = 1,  /* a path argument could not be read: the record is lost */
  FE_DIR1_FD = 2,     /* dir1 is a dirfd's directory (not the cwd) */
  FE_DIR2_FD = 4,     /* dir2 likewise */
  FE_DIR_UNNAMED = 8, /* a directory could not be named (too deep, or no file there) */
  FE_UNTRACED = 16,   /* FE_FORK: the child is not traced (the map of traced processes was
                       * full): nothing of it, or of its descendants, follows */
};

struct fe_header {
  __u32 type;
  __u32 pid;   /* the process (thread group) id */
  __u32 op;    /* FE_CALL: the plan's `op` */
  __u32 flags; /* enum fe_flag */
  __s64 ret;   /* FE_CALL: the result; FE_FORK: the child */
  __u64 arg;   /* FE_CALL: the plan's `flags_arg` (openat2: how.flags); FE_EXIT: status */
  __u16 len[FE_STRINGS];
};

/* Where the strings are written: room for every string at any offset below the mask. */
#define FE_DATA_MASK (FE_STRINGS * FE_PATH_MAX - 1)
struct fe_event {
  struct fe_header h;
  char data[FE_STRINGS * FE_PATH_MAX + FE_PATH_MAX];
};

/* How to capture one system call: argument indexes (FE_NONE: none). */
enum fe_plan_flag {
  FE_PLAN_CWD = 1,         /* dir1 = the working directory after the call (chdir, fchdir) */
  FE_PLAN_HOW = 2,         /* flags_arg points to a struct open_how: read its first u64 */
  FE_PLAN_CONTENTS = 4,    /* path1 is a symlink's contents: never resolved */
  FE_PLAN_PROBE = 8,       /* with `probes`: a failure with ENOENT or ENOTDIR is sent too */
  FE_PLAN_PROBE_ONLY = 16, /* only such failures are sent (the stat family; exec, whose
                            * success is the exec event) */
};

struct fe_plan {
  __u8 op; /* 0: not traced */
  __u8 path1, dir1, path2, dir2, flags_arg;
  __u8 plan_flags;
  __u8 unused;
};

/* The kernel struct fields the program reads. Their offsets differ between kernels: the loader
 * finds them by name in the running kernel's BTF (kernel_btf.h) and sets `field_offset[]`
 * before the program is loaded. */
enum fe_field {
  FE_TASK_STATUS,      /* task_struct.thread_info.status (u32: TS_COMPAT) */
  FE_TASK_EXIT_CODE,   /* task_struct.exit_code (int) */
  FE_TASK_PID,         /* task_struct.pid (pid_t) */
  FE_TASK_TGID,        /* task_struct.tgid (pid_t) */
  FE_TASK_FS,          /* task_struct.fs (struct fs_struct*) */
  FE_TASK_FILES,       /* task_struct.files (struct files_struct*) */
  FE_TASK_SIGNAL,      /* task_struct.signal (struct signal_struct*) */
  FE_FS_PWD,           /* fs_struct.pwd (struct path) */
  FE_FILES_FDT,        /* files_struct.fdt (struct fdtable*) */
  FE_FDT_MAX_FDS,      /* fdtable.max_fds (unsigned int) */
  FE_FDT_FD,           /* fdtable.fd (struct file**) */
  FE_FILE_PATH,        /* file.f_path (struct path) */
  FE_PATH_MNT,         /* path.mnt (struct vfsmount*) */
  FE_PATH_DENTRY,      /* path.dentry (struct dentry*) */
  FE_DENTRY_PARENT,    /* dentry.d_parent (struct dentry*) */
  FE_DENTRY_NAME_LEN,  /* dentry.d_name.len (u32) */
  FE_DENTRY_NAME,      /* dentry.d_name.name (const unsigned char*) */
  FE_MOUNT_PARENT,     /* mount.mnt_parent (struct mount*) */
  FE_MOUNT_MOUNTPOINT, /* mount.mnt_mountpoint (struct dentry*) */
  FE_MOUNT_MNT,        /* mount.mnt (struct vfsmount, embedded) */
  FE_VFSMOUNT_ROOT,    /* vfsmount.mnt_root (struct dentry*) */
  FE_SIGNAL_FLAGS,     /* signal_struct.flags (unsigned int) */
  FE_SIGNAL_EXIT_CODE, /* signal_struct.group_exit_code (int) */
  FE_BPRM_FILE,        /* linux_binprm.file (struct file*) */
  FE_BPRM_FILENAME,    /* linux_binprm.filename (const char*) */
  FE_FIELDS
};

#endif /* FILEMON_BACKENDS_EBPF_EVENT_H_ */
