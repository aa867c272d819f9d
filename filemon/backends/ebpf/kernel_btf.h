// File: filemon/backends/ebpf/kernel_btf.h
//
// Where the kernel struct fields that filemon.bpf.c reads (event.h's `fe_field`) are in the
// running kernel, found by name in its BTF (/sys/kernel/btf/vmlinux, the raw BTF format of
// linux/btf.h). This is what libbpf's CO-RE relocation does, narrowed to these fields: the
// mapped file's types are read in order until the wanted structs are found (in a kernel's BTF
// they come early), then those structs' members are walked, reading on only as far as the
// types they name. libbpf instead reads the whole file through sysfs a
// page per read(2), builds its index of every type and searches it for each relocated struct:
// most of the time it took to load the program. The program is then compiled without CO-RE
// relocations (and attached to raw tracepoints), so libbpf never needs the kernel's BTF.
//
// A field is found as CO-RE finds it: the first complete struct of that name, members looked
// up by name through anonymous structs and unions, typedefs and qualifiers skipped. A field
// that is missing, a bit-field, or of another size than the program reads is an error naming
// it, never a wrong offset. A malformed type among those read is an error; the types after
// them are not read, so damage there goes unnoticed (and cannot change an answer).
//
// Example:
//   absl::StatusOr<KernelFields> fields = RunningKernelFields();
//   if (!fields.ok()) return fields.status();
//   memcpy(skel->rodata->field_offset, fields->offset, sizeof(fields->offset));

#ifndef FILEMON_BACKENDS_EBPF_KERNEL_BTF_H_
#define FILEMON_BACKENDS_EBPF_KERNEL_BTF_H_

#include <linux/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/ebpf/event.h"

namespace filemon {
namespace ebpf_internal {

struct KernelFields {
  uint32_t offset[FE_FIELDS];  // byte offset of each fe_field in its struct
};

// The offsets of every `fe_field` in BTF data `btf`. InvalidArgument (saying what is wrong)
// when `btf` is not well-formed BTF; NotFound naming the field when a struct or field is
// missing or does not have the size the program reads.
absl::StatusOr<KernelFields> FindKernelFields(absl::string_view btf);

// What the program reads of `field`, as text: its struct, member path and size in bytes
// ("task_struct exit_code 4"). An offset found for one text is not valid for another.
std::string DescribeField(fe_field field);

// The running kernel's offsets, searched: /sys/kernel/btf/vmlinux mapped (read where the kernel
// cannot map it) and searched.
absl::StatusOr<KernelFields> SearchRunningKernel();

// The running kernel's offsets, from root's cache of them (field_cache.h) or searched, once per
// process; the answer, or the error, is kept. Thread-safe.
absl::StatusOr<KernelFields> RunningKernelFields();

}  // namespace ebpf_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_KERNEL_BTF_H_
