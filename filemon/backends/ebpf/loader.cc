#include "filemon/backends/ebpf/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "filemon/backends/ebpf/filemon.skel.h"
#include "filemon/backends/ebpf/kernel_btf.h"
#include "filemon/backends/ptrace/syscall_table.h"

namespace filemon {
namespace ebpf_internal {
namespace {

using ptrace_internal::Abi;
using ptrace_internal::SyscallEntry;

// libbpf's warnings for the failure being reported, per thread. libbpf_set_print is libbpf's
// one global setting: it is set once, to this, and prints nothing itself.
thread_local std::string* t_libbpf_messages = nullptr;

int KeepLibbpfMessage(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || t_libbpf_messages == nullptr) return 0;
  char line[512];
  vsnprintf(line, sizeof(line), format, args);
  if (t_libbpf_messages->size() < 4096) t_libbpf_messages->append(line);
  return 0;
}

int OnEvent(void* reader, void* data, size_t size) {
  static_cast<EventReader*>(reader)->Add(data, size);
  return 0;
}

absl::Status LoadError(int error, absl::string_view what, const std::string& messages) {
  std::string text = absl::StrCat("ebpf backend: ", what, ": ", strerror(error));
  if (error == EPERM || error == EACCES) {
    absl::StrAppend(&text,
                    " (the kernel refused BPF: it needs root or CAP_BPF + CAP_PERFMON outside "
                    "a container or user namespace, and kernel.unprivileged_bpf_disabled or a "
                    "security module may forbid it)");
  }
  if (!messages.empty()) absl::StrAppend(&text, "; libbpf said: ", messages);
  return error == EPERM || error == EACCES ? absl::UnavailableError(text)
                                           : absl::InternalError(text);
}

}  // namespace

Program::~Program() {
  if (events_ != nullptr) ring_buffer__free(events_);
  if (skel_ != nullptr) filemon_bpf__destroy(skel_);
}

int Program::traced_fd() const { return bpf_map__fd(skel_->maps.traced); }

uint64_t Program::lost_records() const { return skel_->bss->lost_records; }

int Program::events_fd() const { return ring_buffer__epoll_fd(events_); }

void Program::Consume() { ring_buffer__consume(events_); }

absl::Status Program::Add(pid_t pid) {
  uint32_t key = static_cast<uint32_t>(pid);
  uint8_t one = 1;
  if (bpf_map_update_elem(traced_fd(), &key, &one, BPF_ANY) != 0) {
    return absl::ErrnoToStatus(errno, "ebpf backend: cannot add the command to the tree");
  }
  return absl::OkStatus();
}

int Program::AddSelf() const {
  uint32_t key = static_cast<uint32_t>(getpid());
  uint8_t one = 1;
  return bpf_map_update_elem(traced_fd(), &key, &one, BPF_ANY) == 0 ? 0 : errno;
}

absl::Status LoadProgram(const TraceOptions& options, size_t ring_bytes, EventReader* reader,
                         Program* program) {
  static std::once_flag print_once;
  std::call_once(print_once, [] { libbpf_set_print(KeepLibbpfMessage); });
  std::string messages;
  t_libbpf_messages = &messages;
  struct Reset {
    ~Reset() { t_libbpf_messages = nullptr; }
  } reset;

  absl::StatusOr<KernelFields> fields = RunningKernelFields();
  if (!fields.ok()) return fields.status();
  program->skel_ = filemon_bpf__open();
  if (program->skel_ == nullptr) return LoadError(errno, "cannot open the BPF object", messages);
  program->skel_->rodata->absolute_paths = options.absolute_paths;
  static_assert(sizeof(program->skel_->rodata->field_offset) == sizeof(fields->offset));
  memcpy(const_cast<uint32_t*>(program->skel_->rodata->field_offset), fields->offset,
         sizeof(fields->offset));
  program->skel_->rodata->probes = options.probes;
  if (int err = bpf_map__set_max_entries(program->skel_->maps.events, ring_bytes); err != 0) {
    return LoadError(-err, "bad ring buffer size", messages);
  }
  if (int err = filemon_bpf__load(program->skel_); err != 0) {
    return LoadError(-err, "cannot load the BPF program", messages);
  }
  int plans = bpf_map__fd(program->skel_->maps.plans);
  for (const ptrace_internal::AbiTable& abi : ptrace_internal::HostAbis()) {
    // The program knows x86-64's two ABIs (event.h: index 0 native, 1 compat).
    if (abi.abi != Abi::kX86_64 && abi.abi != Abi::kI386) continue;
    uint32_t index = abi.abi == Abi::kI386 ? 1 : 0;
    // The stat family only with probes: without, those calls cost nothing more.
    for (auto entries :
         {abi.entries, options.probes ? abi.probe_entries : absl::Span<const SyscallEntry>()}) {
      for (const SyscallEntry& entry : entries) {
        fe_plan plan = PlanFor(entry.op, options);
        uint32_t key = index * FE_SYSCALL_MAX + entry.nr;
        if (plan.op == 0 || entry.nr >= FE_SYSCALL_MAX) continue;
        if (bpf_map_update_elem(plans, &key, &plan, BPF_ANY) != 0) {
          return LoadError(errno, "cannot fill the system call plans", messages);
        }
      }
    }
  }
  if (int err = filemon_bpf__attach(program->skel_); err != 0) {
    return LoadError(-err, "cannot attach the BPF program", messages);
  }
  program->events_ =
      ring_buffer__new(bpf_map__fd(program->skel_->maps.events), OnEvent, reader, nullptr);
  if (program->events_ == nullptr) return LoadError(errno, "cannot map the ring buffer", messages);
  return absl::OkStatus();
}

absl::Status TrialLoad() {
  // `return 0` as a raw tracepoint program: loading it needs what filemon.bpf.c's tracing
  // programs need (CAP_BPF and CAP_PERFMON in the initial user namespace), and nothing else.
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "filemon_trial", "GPL", insns,
                         sizeof(insns) / sizeof(insns[0]), nullptr);
  if (fd < 0) {
    // Whatever the cause (EINVAL: a kernel built without BPF), the backend cannot run here.
    return absl::UnavailableError(
        LoadError(errno, "the kernel refuses to load a tracing program", "").message());
  }
  close(fd);
  return absl::OkStatus();
}

bool TreeEmpty(const Program& program) {
  int traced_fd = program.traced_fd();
  uint32_t key;
  return bpf_map_get_next_key(traced_fd, nullptr, &key) != 0;
}

// Sends `signals` to every process of the tree still running.
void SignalTree(const Program& program, const TreeSignals& signals) {
  int traced_fd = program.traced_fd();
  std::vector<uint32_t> pids;
  uint32_t key, next;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(traced_fd, prev, &next) == 0) {
    pids.push_back(next);
    key = next;
    prev = &key;
  }
  for (uint32_t pid : pids) signals.SendTo(static_cast<pid_t>(pid));
}

}  // namespace ebpf_internal
}  // namespace filemon
