#include "filemon/backends/ebpf/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "filemon/backends/ebpf/filemon.skel.h"
#include "filemon/backends/ebpf/kernel_btf.h"
#include "filemon/backends/ebpf/loader_testing.h"
#include "filemon/backends/ptrace/syscall_table.h"
#include "filemon/core/descriptor_error.h"

namespace filemon {
namespace ebpf_internal {

// Where a ring's consumer delivers: the reader of the slot's run, none while the ring waits
// in the pool (what it still held is dropped).
struct RingRoute {
  EventReader* reader = nullptr;
};

// The program loaded for one set of options, and its slots. Loaded once, never freed: the
// kernel frees it when the process exits.
struct SharedProgram {
  filemon_bpf* skel = nullptr;
  // filemon.bpf.c's `traced_bits`, mapped: set from a child between fork and exec (AddSelf).
  uint64_t* traced_bits = nullptr;
  size_t traced_words = 0;
  std::mutex mu;
  bool used[FE_SLOTS] = {};  // under mu
  // Rings of ended slots, drained and unreachable from the program, for the next slots.
  struct Ring {
    size_t bytes;
    int fd;
    ring_buffer* consumer;
    RingRoute* route;
  };
  std::vector<Ring> free_rings;  // under mu
};

namespace {

using ptrace_internal::Abi;
using ptrace_internal::SyscallEntry;

// The processes of every tree that one filemon process can trace at once (the `traced` map's
// entries: a child forked beyond them runs untraced, and the log says so). Far more than a
// parallel build runs at once; the kernel initialises a bucket per entry when it creates the
// map, and a larger map cost the start measurably. Tests may make it smaller (loader_testing.h).
constexpr uint32_t kTracedProcesses = 8192;
std::atomic<uint32_t> g_traced_processes{kTracedProcesses};

// The words of filemon.bpf.c's `traced_bits`: a bit per pid below the kernel's pid_max now
// (PID_MAX_LIMIT, 1 << 22 on 64-bit, when it cannot be read). Pids above it, if pid_max is raised
// later, are looked up in the map of the tree instead.
uint32_t TracedWords() {
  constexpr uint32_t kPidMaxLimit = 1u << 22;
  uint32_t pid_max = kPidMaxLimit;
  if (FILE* f = fopen("/proc/sys/kernel/pid_max", "re")) {
    if (fscanf(f, "%u", &pid_max) != 1 || pid_max == 0 || pid_max > kPidMaxLimit) {
      pid_max = kPidMaxLimit;
    }
    fclose(f);
  }
  return (pid_max + 63) / 64;
}

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

absl::Status LoadError(int error, absl::string_view what, const std::string& messages) {
  // A descriptor limit too small for the maps reads as what it is (see descriptor_error.h).
  std::string text(DescriptorError(error, absl::StrCat("ebpf backend: ", what)).message());
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

// Loads, fills and attaches the program for `options`; `first_ring` (a ring buffer map) is the
// model of every slot's ring.
absl::Status LoadShared(const TraceOptions& options, int first_ring, SharedProgram* shared,
                        const std::string& messages) {
  absl::StatusOr<KernelFields> fields = RunningKernelFields();
  if (!fields.ok()) return fields.status();
  filemon_bpf* skel = filemon_bpf__open();
  if (skel == nullptr) return LoadError(errno, "cannot open the BPF object", messages);
  struct Destroy {
    filemon_bpf** skel;
    ~Destroy() {
      if (*skel != nullptr) filemon_bpf__destroy(*skel);
    }
  } destroy{&skel};
  skel->rodata->absolute_paths = options.absolute_paths;
  skel->rodata->probes = options.probes;
  static_assert(sizeof(skel->rodata->field_offset) == sizeof(fields->offset));
  memcpy(const_cast<uint32_t*>(skel->rodata->field_offset), fields->offset, sizeof(fields->offset));
  if (int err = bpf_map__set_max_entries(skel->maps.traced,
                                         g_traced_processes.load(std::memory_order_relaxed));
      err != 0) {
    return LoadError(-err, "cannot size the map of traced processes", messages);
  }
  if (int err = bpf_map__set_max_entries(skel->maps.traced_bits, TracedWords()); err != 0) {
    return LoadError(-err, "cannot size the traced pids' bits", messages);
  }
  if (int err = bpf_map__set_inner_map_fd(skel->maps.rings, first_ring); err != 0) {
    return LoadError(-err, "cannot set the ring buffers' model", messages);
  }
  if (int err = filemon_bpf__load(skel); err != 0) {
    return LoadError(-err, "cannot load the BPF program", messages);
  }
  int plans = bpf_map__fd(skel->maps.plans);
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
  const size_t words = bpf_map__max_entries(skel->maps.traced_bits);
  void* bits = mmap(nullptr, words * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
                    bpf_map__fd(skel->maps.traced_bits), 0);
  if (bits == MAP_FAILED) return LoadError(errno, "cannot map the traced pids' bits", messages);
  if (int err = filemon_bpf__attach(skel); err != 0) {
    munmap(bits, words * sizeof(uint64_t));
    return LoadError(-err, "cannot attach the BPF program", messages);
  }
  shared->traced_bits = static_cast<uint64_t*>(bits);
  shared->traced_words = words;
  shared->skel = skel;
  skel = nullptr;
  return absl::OkStatus();
}

// The shared program for `options` into `*shared`, loaded the first time, with a new ring of
// `ring_bytes` (into `*new_ring`, for the caller's slot) as the model of its rings. Not
// loaded: an error, tried again next time.
absl::Status GetShared(const TraceOptions& options, size_t ring_bytes, SharedProgram** shared,
                       int* new_ring, const std::string& messages) {
  static std::mutex mu;
  // One program per combination of the options that LoadShared() bakes into it: every option
  // it reads (its read-only data, the plans) must be part of this index.
  static SharedProgram* programs[4] = {};
  const int variant = (options.absolute_paths ? 1 : 0) | (options.probes ? 2 : 0);
  std::lock_guard<std::mutex> lock(mu);
  SharedProgram*& program = programs[variant];
  if (program == nullptr) {
    *new_ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "filemon_events", 0, 0, ring_bytes, nullptr);
    if (*new_ring < 0) return LoadError(errno, "cannot create the ring buffer", messages);
    auto loaded = std::make_unique<SharedProgram>();
    absl::Status status = LoadShared(options, *new_ring, loaded.get(), messages);
    if (!status.ok()) {
      close(*new_ring);
      *new_ring = -1;
      return status;
    }
    program = loaded.release();
  }
  *shared = program;
  return absl::OkStatus();
}

int OnEvent(void* route, void* data, size_t size) {
  EventReader* reader = static_cast<RingRoute*>(route)->reader;
  if (reader != nullptr) reader->Add(data, size);
  return 0;
}

}  // namespace

Program::~Program() {
  if (shared_ == nullptr) return;
  const bool tree_empty = TreeEmpty(*this);
  std::lock_guard<std::mutex> lock(shared_->mu);
  // The slot leaves the program: an event of a process still in it now counts as lost there.
  uint32_t slot = slot_;
  bpf_map_delete_elem(bpf_map__fd(shared_->skel->maps.rings), &slot);
  route_->reader = nullptr;
  ring_buffer__consume(events_);
  if (tree_empty) {
    shared_->free_rings.push_back({ring_bytes_, ring_fd_, events_, route_});
    shared_->used[slot_] = false;
  } else {
    // A process of the tree may still fork a child into this slot: it is never given out again.
    ring_buffer__free(events_);
    close(ring_fd_);
    delete route_;
  }
}

uint64_t Program::lost_records() const {
  return __atomic_load_n(&shared_->skel->bss->lost_records[slot_], __ATOMIC_RELAXED);
}

int Program::events_fd() const { return ring_buffer__epoll_fd(events_); }

void Program::Consume() { ring_buffer__consume(events_); }

int Program::AddSelf() const {
  // In the map, counted among the slot's live processes.
  const uint32_t pid = static_cast<uint32_t>(getpid());
  // Counted before it is in the map, where its exit can uncount it (filemon.bpf.c's `live`);
  // the count is in the program's mapped memory: async-signal-safe.
  auto* live = &shared_->skel->bss->live[slot_];
  __atomic_fetch_add(live, 1, __ATOMIC_SEQ_CST);
  // Its bit before its entry (filemon.bpf.c's `traced_bits`): the program looks it up only
  // then. A pid beyond the bits is always looked up.
  if (pid / 64 < shared_->traced_words) {
    __atomic_fetch_or(&shared_->traced_bits[pid / 64], uint64_t{1} << (pid % 64), __ATOMIC_SEQ_CST);
  }
  uint32_t slot = slot_;
  if (bpf_map_update_elem(bpf_map__fd(shared_->skel->maps.traced), &pid, &slot, BPF_ANY) != 0) {
    int error = errno;
    __atomic_fetch_sub(live, 1, __ATOMIC_SEQ_CST);
    return error;
  }
  return 0;
}

std::vector<uint32_t> Program::Pids() const {
  int traced_fd = bpf_map__fd(shared_->skel->maps.traced);
  std::vector<uint32_t> pids;
  uint32_t key, next, slot;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(traced_fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(traced_fd, &next, &slot) == 0 && slot == slot_) pids.push_back(next);
    key = next;
    prev = &key;
  }
  return pids;
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

  SharedProgram* shared = nullptr;
  int new_ring = -1;
  absl::Status got = GetShared(options, ring_bytes, &shared, &new_ring, messages);
  if (!got.ok()) return got;
  // The slot, and a ring of this size from the pool if there is one.
  SharedProgram::Ring ring{};
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    uint32_t slot = 0;
    while (slot < FE_SLOTS && shared->used[slot]) ++slot;
    if (slot == FE_SLOTS) {
      if (new_ring >= 0) close(new_ring);
      return absl::ResourceExhaustedError(absl::StrCat(
          "ebpf backend: ", FE_SLOTS, " runs or sessions of this process are traced already"));
    }
    shared->used[slot] = true;
    program->slot_ = slot;
    for (size_t i = 0; new_ring < 0 && i < shared->free_rings.size(); ++i) {
      if (shared->free_rings[i].bytes == ring_bytes) {
        ring = shared->free_rings[i];
        shared->free_rings.erase(shared->free_rings.begin() + i);
        break;
      }
    }
  }
  if (ring.consumer == nullptr && new_ring < 0) {
    new_ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "filemon_events", 0, 0, ring_bytes, nullptr);
    if (new_ring < 0) {
      absl::Status error = LoadError(errno, "cannot create the ring buffer", messages);
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->used[program->slot_] = false;
      return error;
    }
  }
  program->shared_ = shared;
  program->ring_bytes_ = ring_bytes;
  if (ring.consumer != nullptr) {
    program->ring_fd_ = ring.fd;
    program->events_ = ring.consumer;
    program->route_ = ring.route;
  } else {
    program->ring_fd_ = new_ring;
    program->route_ = new RingRoute;
    program->events_ = ring_buffer__new(new_ring, OnEvent, program->route_, nullptr);
    if (program->events_ == nullptr) {
      absl::Status error = LoadError(errno, "cannot map the ring buffer", messages);
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->used[program->slot_] = false;
      close(new_ring);
      delete program->route_;
      program->shared_ = nullptr;
      return error;
    }
  }
  program->route_->reader = reader;
  shared->skel->bss->lost_records[program->slot_] = 0;
  shared->skel->bss->live[program->slot_] = 0;
  uint32_t slot = program->slot_;
  if (bpf_map_update_elem(bpf_map__fd(shared->skel->maps.rings), &slot, &program->ring_fd_,
                          BPF_ANY) != 0) {
    return LoadError(errno, "cannot give the run its ring buffer", messages);
  }
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

// Whether the kernel's map of traced processes holds none of the tree: every process of it has
// exited, and each wrote its X into the ring buffer before it left the map.
bool TreeEmpty(const Program& program) { return program.Pids().empty(); }

// Sends `signals` to every process of the tree still running.
void SignalTree(const Program& program, const TreeSignals& signals) {
  for (uint32_t pid : program.Pids()) signals.SendTo(static_cast<pid_t>(pid));
}

void SetTracedProcessesForTesting(uint32_t entries) {
  g_traced_processes.store(entries, std::memory_order_relaxed);
}

}  // namespace ebpf_internal
}  // namespace filemon
