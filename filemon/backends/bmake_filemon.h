/* File: filemon/backends/bmake_filemon.h
 *
 * bmake's filemon abstraction (NetBSD/bmake filemon/filemon.h), implemented by this library,
 * so that bmake's meta mode, or any build tool written against those eight functions, records
 * a filemon(4) log of every command it runs: on the kernel device where it exists
 * (FreeBSD, NetBSD: `filemon_path()` is "/dev/filemon"), on the auto backend on Linux
 * (`filemon_path()` is "auto", or the backend $FILEMON_BACKEND names). The log is the FreeBSD
 * v5 text (header, records, footer).
 *
 * C linkage; every function sets errno and returns -1 (or NULL) on failure, as bmake expects.
 *
 * The protocol, in bmake's order (meta.c):
 *   struct filemon *F = filemon_open();          // NULL + errno: no filemon here
 *   filemon_setfd(F, log_fd);                     // F owns log_fd from now on
 *   pid_t pid = fork();
 *   if (pid == 0) {                                // child
 *     if (filemon_setpid_child(F, getpid()) == -1) err(1, "filemon");
 *     execv(...);                                  // traced from here on
 *   }
 *   filemon_setpid_parent(F, pid);
 *   // event loop: poll filemon_readfd(F) (if != -1) for input; when readable call
 *   // filemon_process(F); stop polling once it returns <= 0.
 *   waitpid(pid, ...);
 *   while (filemon_process(F) > 0) continue;       // every record is now in the log
 *   if (filemon_close(F) == -1) ...;               // frees F even then
 *
 * Without the device (Linux), each child is traced by a backend's fork-it-yourself session
 * (filemon/core/backend.h `TraceSession`; the auto backend, or the one named by
 * $FILEMON_BACKEND), which never gives the caller a child of its own, so that the caller's
 * wait(2) loops never see one: auto and preload load their interposer into the child (the
 * session's supervisor is a thread of the caller), ptrace's tracer is a separate process.
 * `filemon_setfd` starts the session; `filemon_setpid_child` prepares the child (preload:
 * its environment; ptrace: names its tracer with prctl(PR_SET_PTRACER) and waits until it is
 * traced); `filemon_process` collects the records, which are all in the
 * log once `filemon_close` has written the footer (bmake reads the log after it). One
 * filemon may trace several children in turn (bmake's compat mode runs every command of a
 * target under one filemon); the log then holds them all. Unlike the device, which stops
 * logging at close, a child is done when its whole tree has exited, orphans included.
 *
 * Nested (a traced command runs another bmake, whose meta mode opens filemons of its own):
 * FreeBSD's device gives each process one filemon, inherited at fork; a child that sets a
 * filemon on itself (filemon_setpid_child) leaves the one it inherited, for itself and all it
 * starts later. The enclosing log keeps the F that created the child and nothing after; the
 * child's exec, records and exit are in the inner log. preload and auto sessions do the same:
 * the enclosing trace's interposer, loaded in the inner bmake, hands the child over at its
 * exec. ptrace cannot (a process has one tracer): under an enclosing ptrace trace (or another
 * tracer that follows forks) filemon_open refuses with EBUSY, bmake builds on without filemon,
 * and the enclosing log records every command; so does an enclosing preload trace when this
 * filemon is ptrace.
 */

#ifndef FILEMON_BACKENDS_BMAKE_FILEMON_H_
#define FILEMON_BACKENDS_BMAKE_FILEMON_H_

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The handle is `struct filemon` in C, as bmake declares it. C++ cannot have a struct and this
 * library's namespace `filemon` in the same scope, so C++ sees another tag for the same opaque
 * type; the functions have C linkage, so the symbols and the ABI are the same. */
#ifdef __cplusplus
#define FILEMON_HANDLE filemon_handle
#else
#define FILEMON_HANDLE filemon
#endif
struct FILEMON_HANDLE;

/* What bmake shows in `.MAKE.PATH_FILEMON`: "/dev/filemon" on the device, the session
 * backend's name elsewhere ("auto", or $FILEMON_BACKEND's: "preload", "ptrace", "ebpf").
 * A static string. Never fails. */
const char *filemon_path(void);

/* A new filemon handle, not yet logging. Returns NULL with errno set when this system cannot
 * trace (device missing: ENOENT/ENXIO; backend unavailable: ENOSYS; the caller's children are
 * already traced by an enclosing tracer that cannot hand them over, see "Nested": EBUSY; the
 * reason on stderr). The process that opens a handle is the one that uses it (as bmake does:
 * only the child's `filemon_setpid_child` runs elsewhere); the log names it ("Target pid"). */
struct FILEMON_HANDLE *filemon_open(void);

/* Ends logging and frees F (also when it fails). Call `filemon_process` until it returns
 * <= 0 first, or records of a traced child still running are lost. Returns 0, or -1 with
 * errno: the first error met while logging (a write error on the log; EFAULT or ENAMETOOLONG
 * for a record the kernel could not copy), or the tracer's failure. */
int filemon_close(struct FILEMON_HANDLE *F);

/* Sets the log: F takes ownership of `fd` (it is closed by this call or by filemon_close, also
 * on failure). Without the device, the header reaches the file with the records, at
 * `filemon_close` (or once 64 KiB have gathered), and a write error is reported there.
 * Returns 0, or -1 with errno (EEXIST: a log is already set; EBADF: not open for writing;
 * EIO/ENOSYS: the session could not start). */
int filemon_setfd(struct FILEMON_HANDLE *F, int fd);

/* Parent side, right after fork: tells F which child it will be tracing, so that
 * `filemon_process` knows what to wait for. Never fails. */
void filemon_setpid_parent(struct FILEMON_HANDLE *F, pid_t pid);

/* Child side, after fork and before exec, with pid == getpid(): starts tracing the calling
 * process and, from then on, every process it starts. Async-signal-safe. Returns 0 once the
 * child is traced, or -1 with errno (ESRCH, EBUSY on the device; E2BIG when the environment
 * exceeds a preload session's room; EPERM when ptrace is
 * forbidden; EPIPE when the tracer is gone). */
int filemon_setpid_child(const struct FILEMON_HANDLE *F, pid_t pid);

/* A descriptor to poll for input, or -1 when there is nothing to poll (the device: the kernel
 * writes the log itself). When it is readable, call `filemon_process`. */
int filemon_readfd(const struct FILEMON_HANDLE *F);

/* Makes progress. Returns > 0 while a child named with `filemon_setpid_parent` is still
 * being traced (more may follow), 0 when every such child has finished and all its records are
 * collected (in the log by `filemon_close`), -1 with errno on failure. Before the caller has reaped the child it does not block
 * (it delivers what is ready: call it when `filemon_readfd` is readable); after, it blocks
 * until the traced tree is done, so that `while (filemon_process(F) > 0)` does not spin. */
int filemon_process(struct FILEMON_HANDLE *F);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FILEMON_BACKENDS_BMAKE_FILEMON_H_ */
