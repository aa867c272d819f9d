// preload_test_program: what real programs do to an interposer, one subcommand each.
//   threads N M PATH     N threads open PATH M times each (the stress case)
//   close_all PATH       close every descriptor (close() loop and close_range), then open PATH
//   raw_close PATH       close our socket with a raw close_range syscall, then open PATH
//   dlopen LIB           dlopen LIB (the loader's open must be recorded)
//   raw_open PATH        syscall(SYS_openat, ...) instead of the libc wrapper
//   signal_open PATH     open PATH inside a signal handler
//   spawn PROG ARGS...   posix_spawn PROG, wait, exit with its status
//   spawn_actions DIR OUT  posix_spawn /bin/true with file actions: chdir DIR, open OUT for
//                        writing as its standard output
//   vfork PROG ARGS...   vfork + execv PROG, wait, exit with its status
//   fork_no_exec PATH    fork; the child opens PATH and exits 3 without exec
//   daemon PATH          daemon(3) (libc forks internally), then the daemon opens PATH
//   atfork_open PATH     registers an atfork child handler that opens PATH, then forks; the
//                        child exits at once
//   clearenv PROG ARGS   clearenv() then execvp PROG (the interposer must survive)
//   kill_self            raise SIGKILL
//   fork_exit PATH       fork and exit at once; the child (slowed by an atfork child handler
//                        registered before the first fork) opens PATH
//   daemon_slow PATH     daemon(3) with the same slow atfork child handler; the daemon opens PATH
//   spawn_nowait DIR OUT PROG ARGS...  posix_spawn PROG with file actions chdir DIR and open
//                        OUT for writing as standard output, and exit without waiting
//   popen_exit PATH      popen("cat PATH") and exit without pclose
//   long_rename DIR PATH rename a file of DIR to a name so long that the record exceeds
//                        PIPE_BUF, then open PATH for writing, and exit
//   forge_end PATH       send the supervisor's control messages (the command's exit with code
//                        0, the end of the run) through the pipe and the socket as any traced
//                        process could, then open PATH and exit 3
//   bigenv_thread PROG ARGS...  execv PROG with 20,000 more environment entries, from a thread
//                        with a 128 KiB stack
//   small_stack PROG ARGS...  from a thread with a 32 KiB stack: posix_spawnp PROG ARGS and
//                        wait, system("PROG ARGS"), then execvp PROG ARGS
//   clone_vm PATH        clone(CLONE_VM) without CLONE_VFORK: the child opens PATH and exits
//                        while the parent goes on; the parent waits, then exits
//   locale CATS [PROG ARGS...]  setlocale(CAT, "") for each of the comma-separated CATS
//                        (ctype, messages, all, or c: setlocale(LC_ALL, "C")), in order, then
//                        execv PROG (as gcc, cc1 and as start)

#include <dlfcn.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "filemon/backends/preload/wire_format.h"

extern char** environ;

namespace {

int OpenClose(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  close(fd);
  return 0;
}

int WaitFor(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return 100;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char* g_signal_path;
void OnSignal(int) { OpenClose(g_signal_path); }

// An atfork child handler registered before the first fork runs before the interposer's: it
// delays what the child writes at its start.
void SlowChildStart() {
  pthread_atfork(nullptr, nullptr, [] { usleep(50 * 1000); });
}

// Sends a forged control message of `type` (an exit with code 0 for the command) through the
// supervisor's pipe and socket, as named in the environment.
void ForgeControl(filemon::preload_internal::MessageType type) {
  using filemon::preload_internal::MessageHeader;
  using filemon::preload_internal::WireKind;
  using filemon::preload_internal::WireRecord;
  struct {
    MessageHeader header;
    WireRecord record;
  } message;
  memset(&message, 0, sizeof(message));
  message.header.type = type;
  message.header.size = sizeof(message);
  message.header.sender = getpid();
  message.record.kind = WireKind::kExit;
  message.record.pid = getpid();
  for (const char* name : {"FILEMON_PRELOAD_PIPE", "FILEMON_PRELOAD_FD"}) {
    const char* fd = getenv(name);
    if (fd != nullptr && write(atoi(fd), &message, sizeof(message)) < 0) perror(name);
  }
}

// Runs `fn` in a thread with a stack of `stack_size` bytes, and waits for it.
void RunInThread(size_t stack_size, void* (*fn)(void*)) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_size);
  pthread_t thread;
  pthread_create(&thread, &attr, fn, nullptr);
  pthread_join(thread, nullptr);
}

// posix_spawn_file_actions: chdir `dir`, then open `out` for writing as standard output.
void SpawnActions(posix_spawn_file_actions_t* actions, const char* dir, const char* out) {
  posix_spawn_file_actions_init(actions);
  posix_spawn_file_actions_addchdir_np(actions, dir);
  posix_spawn_file_actions_addopen(actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

int RunThreads(int argc, char** argv) {
  int threads = atoi(argv[2]);
  int opens = atoi(argv[3]);
  const char* path = argv[4];
  std::vector<std::thread> workers;
  int failures = 0;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < opens; ++i) failures += OpenClose(path);
    });
  }
  for (auto& w : workers) w.join();
  return failures == 0 ? 0 : 1;
}

int RunCloseAll(int argc, char** argv) {
  for (int fd = 3; fd < 4096; ++fd) close(fd);
  close_range(3, ~0U, 0);
  return OpenClose(argv[2]);
}

int RunRawClose(int argc, char** argv) {
  syscall(SYS_close_range, 3, ~0U, 0);  // the interposer sees this one too
  long r = 0;
#if defined(__x86_64__)
  // An inline close_range that no wrapper can see.
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(SYS_close_range), "D"(3), "S"(~0U), "d"(0)
                   : "rcx", "r11", "memory");
#endif
  (void)r;
  return OpenClose(argv[2]);
}

int RunDlopen(int argc, char** argv) { return dlopen(argv[2], RTLD_NOW) != nullptr ? 0 : 1; }

int RunRawOpen(int argc, char** argv) {
  long fd = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY);
  if (fd < 0) return 1;
  close(static_cast<int>(fd));
  return 0;
}

int RunSignalOpen(int argc, char** argv) {
  g_signal_path = argv[2];
  signal(SIGUSR1, OnSignal);
  raise(SIGUSR1);
  return 0;
}

int RunSpawn(int argc, char** argv) {
  pid_t pid;
  if (posix_spawn(&pid, argv[2], nullptr, nullptr, argv + 2, environ) != 0) return 101;
  return WaitFor(pid);
}

int RunSpawnActions(int argc, char** argv) {
  posix_spawn_file_actions_t actions;
  SpawnActions(&actions, argv[2], argv[3]);
  char true_path[] = "/bin/true";
  char* true_argv[] = {true_path, nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, true_path, &actions, nullptr, true_argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc != 0 ? 101 : WaitFor(pid);
}

int RunVfork(int argc, char** argv) {
  pid_t pid = vfork();
  if (pid == 0) {
    execv(argv[2], argv + 2);
    _exit(127);
  }
  return WaitFor(pid);
}

int RunForkNoExec(int argc, char** argv) {
  pid_t pid = fork();
  if (pid == 0) {
    OpenClose(argv[2]);
    exit(3);
  }
  return WaitFor(pid) == 3 ? 0 : 1;
}

int RunDaemon(int argc, char** argv) {
  if (daemon(1, 1) != 0) return 1;
  return OpenClose(argv[2]);
}

int RunAtforkOpen(int argc, char** argv) {
  g_signal_path = argv[2];
  pthread_atfork(nullptr, nullptr, [] { OpenClose(g_signal_path); });
  pid_t child = fork();
  if (child == 0) _exit(0);
  return WaitFor(child);
}

int RunForkExit(int argc, char** argv) {
  SlowChildStart();
  if (fork() == 0) _exit(OpenClose(argv[2]));
  return 0;
}

int RunDaemonSlow(int argc, char** argv) {
  SlowChildStart();
  if (daemon(1, 1) != 0) return 1;
  return OpenClose(argv[2]);
}

int RunSpawnNowait(int argc, char** argv) {
  posix_spawn_file_actions_t actions;
  SpawnActions(&actions, argv[2], argv[3]);
  pid_t pid;
  return posix_spawn(&pid, argv[4], &actions, nullptr, argv + 4, environ) != 0 ? 101 : 0;
}

int RunPopenExit(int argc, char** argv) {
  std::string command = std::string("exec cat ") + argv[2] + " >/dev/null";
  return popen(command.c_str(), "r") != nullptr ? 0 : 1;
}

int RunLongRename(int argc, char** argv) {
  std::string dir = argv[2];
  while (dir.size() < 2200) dir += "/.";
  const std::string from = dir + "/" + std::string(200, 'a');
  const std::string to = dir + "/" + std::string(200, 'b');
  int fd = open(from.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return 1;
  close(fd);
  if (rename(from.c_str(), to.c_str()) != 0) return 1;
  unlink(to.c_str());
  fd = open(argv[3], O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return 1;
  close(fd);
  return 0;
}

int RunForgeEnd(int argc, char** argv) {
  using filemon::preload_internal::MessageType;
  ForgeControl(MessageType::kRootExit);
  ForgeControl(MessageType::kDone);
  usleep(200 * 1000);  // a drain of the supervisor in between
  OpenClose(argv[2]);
  return 3;
}

int RunSmallStack(int argc, char** argv) {
  static char** run_argv = argv + 2;
  static std::string command;
  for (char** a = run_argv; *a != nullptr; ++a) command += std::string(*a) + " ";
  RunInThread(32 * 1024, [](void*) -> void* {
    pid_t pid;
    if (posix_spawnp(&pid, run_argv[0], nullptr, nullptr, run_argv, environ) != 0 ||
        WaitFor(pid) != 0 || system(command.c_str()) != 0) {
      _exit(4);
    }
    execvp(run_argv[0], run_argv);
    _exit(127);
  });
  return 127;
}

int RunBigenvThread(int argc, char** argv) {
  static std::vector<std::string> storage;
  static std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (int i = 0; i < 20000; ++i) storage.push_back("FILL" + std::to_string(i) + "=x");
  for (std::string& entry : storage) env.push_back(&entry[0]);
  env.push_back(nullptr);
  static char** exec_argv = argv + 2;
  RunInThread(128 * 1024, [](void*) -> void* {
    execve(exec_argv[0], exec_argv, env.data());
    return nullptr;
  });
  return 127;
}

int RunCloneVm(int argc, char** argv) {
  static char stack[256 * 1024];
  g_signal_path = argv[2];
  const int child = clone([](void*) -> int { return OpenClose(g_signal_path); },
                          stack + sizeof(stack), CLONE_VM | SIGCHLD, nullptr);
  if (child < 0) return 1;
  return WaitFor(child);
}

int RunClearenv(int argc, char** argv) {
  clearenv();
  setenv("PATH", "/bin:/usr/bin", 1);
  execvp(argv[2], argv + 2);
  return 127;
}

int RunExecl300(int argc, char** argv) {
  // execl with more arguments than the interposer keeps on its stack: cat reads FILE 300 times.
  const char* f = argv[2];
#define FILEMON_TEN(x) x, x, x, x, x, x, x, x, x, x
#define FILEMON_HUNDRED(x) FILEMON_TEN(FILEMON_TEN(x))
  execl("/bin/cat", "cat", FILEMON_HUNDRED(f), FILEMON_HUNDRED(f), FILEMON_HUNDRED(f),
        static_cast<char*>(nullptr));
  return 127;
}

int RunKillSelf(int argc, char** argv) {
  raise(SIGKILL);
  return 0;
}

int RunLocale(int argc, char** argv) {
  for (char* cat = strtok(argv[2], ","); cat != nullptr; cat = strtok(nullptr, ",")) {
    if (strcmp(cat, "ctype") == 0) {
      setlocale(LC_CTYPE, "");
    } else if (strcmp(cat, "messages") == 0) {
      setlocale(LC_MESSAGES, "");
    } else if (strcmp(cat, "all") == 0) {
      setlocale(LC_ALL, "");
    } else if (strcmp(cat, "c") == 0) {
      setlocale(LC_ALL, "C");
    } else {
      return 2;
    }
  }
  if (argc > 3) {
    execv(argv[3], argv + 3);
    return 127;
  }
  return 0;
}

// A subcommand: its name, how many entries of main's argv it takes (the program and its name
// included), and what it does.
struct Subcommand {
  enum class Args { kExactly, kAtLeast, kAny };
  const char* name;
  Args args;
  int argc;
  int (*run)(int argc, char** argv);
};

using Args = Subcommand::Args;

const Subcommand kSubcommands[] = {
    {"threads", Args::kExactly, 5, RunThreads},
    {"close_all", Args::kExactly, 3, RunCloseAll},
    {"raw_close", Args::kExactly, 3, RunRawClose},
    {"dlopen", Args::kExactly, 3, RunDlopen},
    {"raw_open", Args::kExactly, 3, RunRawOpen},
    {"signal_open", Args::kExactly, 3, RunSignalOpen},
    {"spawn", Args::kAtLeast, 3, RunSpawn},
    {"spawn_actions", Args::kExactly, 4, RunSpawnActions},
    {"vfork", Args::kAtLeast, 3, RunVfork},
    {"fork_no_exec", Args::kExactly, 3, RunForkNoExec},
    {"daemon", Args::kExactly, 3, RunDaemon},
    {"atfork_open", Args::kExactly, 3, RunAtforkOpen},
    {"fork_exit", Args::kExactly, 3, RunForkExit},
    {"daemon_slow", Args::kExactly, 3, RunDaemonSlow},
    {"spawn_nowait", Args::kAtLeast, 5, RunSpawnNowait},
    {"popen_exit", Args::kExactly, 3, RunPopenExit},
    {"long_rename", Args::kExactly, 4, RunLongRename},
    {"forge_end", Args::kExactly, 3, RunForgeEnd},
    {"small_stack", Args::kAtLeast, 3, RunSmallStack},
    {"bigenv_thread", Args::kAtLeast, 3, RunBigenvThread},
    {"clone_vm", Args::kExactly, 3, RunCloneVm},
    {"clearenv", Args::kAtLeast, 3, RunClearenv},
    {"execl_300", Args::kExactly, 3, RunExecl300},
    {"kill_self", Args::kAny, 0, RunKillSelf},
    {"locale", Args::kAtLeast, 3, RunLocale},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  for (const Subcommand& sub : kSubcommands) {
    if (strcmp(argv[1], sub.name) != 0) continue;
    const bool fits = sub.args == Args::kAny ||
                      (sub.args == Args::kExactly ? argc == sub.argc : argc >= sub.argc);
    return fits ? sub.run(argc, argv) : 2;
  }
  return 2;
}
