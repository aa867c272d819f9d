#include "filemon/backends/ebpf/kernel_btf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btf.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "filemon/backends/ebpf/field_cache.h"
#include "filemon/core/descriptor_error.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace ebpf_internal {
namespace {

constexpr uint16_t kBtfMagic = 0xeB9F;
constexpr int kKindEnum64 = 19;  // newer than some linux/btf.h
constexpr int kMaxModifiers = 32;
constexpr int kMaxNesting = 16;  // anonymous structs within anonymous structs

// What the program reads of each field: its struct, the member path, the member's size (0: an
// embedded struct, of which only the offset is used).
struct FieldSpec {
  fe_field field;
  const char* type;
  const char* member;
  uint32_t size;
};

constexpr FieldSpec kFields[] = {
    {FE_TASK_STATUS, "task_struct", "thread_info.status", 4},
    {FE_TASK_EXIT_CODE, "task_struct", "exit_code", 4},
    {FE_TASK_PID, "task_struct", "pid", 4},
    {FE_TASK_TGID, "task_struct", "tgid", 4},
    {FE_TASK_FS, "task_struct", "fs", 8},
    {FE_TASK_FILES, "task_struct", "files", 8},
    {FE_TASK_SIGNAL, "task_struct", "signal", 8},
    {FE_FS_PWD, "fs_struct", "pwd", 0},
    {FE_FILES_FDT, "files_struct", "fdt", 8},
    {FE_FDT_MAX_FDS, "fdtable", "max_fds", 4},
    {FE_FDT_FD, "fdtable", "fd", 8},
    {FE_FILE_PATH, "file", "f_path", 0},
    {FE_PATH_MNT, "path", "mnt", 8},
    {FE_PATH_DENTRY, "path", "dentry", 8},
    {FE_DENTRY_PARENT, "dentry", "d_parent", 8},
    {FE_DENTRY_NAME_LEN, "dentry", "d_name.len", 4},
    {FE_DENTRY_NAME, "dentry", "d_name.name", 8},
    {FE_MOUNT_PARENT, "mount", "mnt_parent", 8},
    {FE_MOUNT_MOUNTPOINT, "mount", "mnt_mountpoint", 8},
    {FE_MOUNT_MNT, "mount", "mnt", 0},
    {FE_VFSMOUNT_ROOT, "vfsmount", "mnt_root", 8},
    {FE_SIGNAL_FLAGS, "signal_struct", "flags", 4},
    {FE_SIGNAL_EXIT_CODE, "signal_struct", "group_exit_code", 4},
    {FE_BPRM_FILE, "linux_binprm", "file", 8},
    {FE_BPRM_FILENAME, "linux_binprm", "filename", 8},
};
static_assert(sizeof(kFields) / sizeof(kFields[0]) == FE_FIELDS, "one spec per fe_field");

// The types and strings of one BTF blob, every access bounds-checked. The types are read in
// order and only as far as needed: the kernel's wanted structs come early in its 120,000-odd
// types, and reading the rest cost most of the search. Where every 64th type read so far starts
// is kept (not every type's: writing an index of every type cost more than reading them); a
// type is found by walking from the one before it. A malformed type is an error once reached,
// and sticky; types past what the search needed are never read, nor checked.
class Btf {
 public:
  // Checks `data`'s header and that its sections lie inside it.
  absl::Status Init(absl::string_view data);
  // Reads types until, for each i, the first struct with members named `names[i]` is found
  // (its id, or 0 if there is none, into `ids[i]`).
  absl::Status FindStructs(const absl::string_view* names, uint32_t* ids, size_t count);
  // The first malformed type met so far, or OK.
  const absl::Status& error() const { return error_; }

  // The type with `id` (1-based), read as far as it if need be; null if there is none.
  const btf_type* Type(uint32_t id);
  // The NUL-terminated string at `offset`; empty if out of bounds or unterminated.
  absl::string_view Name(uint32_t offset) const {
    if (offset >= strings_.size()) return {};
    const void* end = memchr(strings_.data() + offset, '\0', strings_.size() - offset);
    if (end == nullptr) return {};
    return absl::string_view(strings_.data() + offset,
                             static_cast<const char*>(end) - (strings_.data() + offset));
  }
  // `id` with typedefs and qualifiers skipped (0 when the chain is broken or too long).
  uint32_t Resolve(uint32_t id);
  // The size in bytes of type `id`; 0 when it has none.
  uint32_t Size(uint32_t id);
  // Finds `name` among the members of struct or union `id` (and of its anonymous members):
  // its byte offset in `id` and its type.
  absl::Status Member(uint32_t id, absl::string_view name, uint32_t* offset, uint32_t* type,
                      int depth = 0);

 private:
  static constexpr uint32_t kStride = 64;
  // Whether the string at `offset` is `name` (reading nothing past the strings).
  bool NameIs(uint32_t offset, absl::string_view name) const {
    return offset < strings_.size() && strings_.size() - offset > name.size() && !name.empty() &&
           strings_[offset] == name[0] &&
           memcmp(strings_.data() + offset, name.data(), name.size()) == 0 &&
           strings_[offset + name.size()] == '\0';
  }
  // Checks and counts the next type (count_ + 1) into `*t`; false at the end or on an error.
  bool ReadNext(btf_type* t);

  absl::string_view types_, strings_;
  absl::Status error_;
  size_t next_ = 0;                     // where type count_ + 1 starts in types_
  uint32_t count_ = 0;                  // types read and checked so far
  std::vector<uint32_t> every_stride_;  // where types 1, 1 + kStride, ... start in types_
};

// The bytes that follow a btf_type of `kind` with `vlen` entries; -1 for an unknown kind.
int64_t TrailerSize(int kind, uint32_t vlen) {
  switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
      return 4;
    case BTF_KIND_ARRAY:
      return sizeof(btf_array);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      return int64_t{vlen} * sizeof(btf_member);
    case BTF_KIND_ENUM:
      return int64_t{vlen} * sizeof(btf_enum);
    case BTF_KIND_FUNC_PROTO:
      return int64_t{vlen} * sizeof(btf_param);
    case BTF_KIND_DATASEC:
      return int64_t{vlen} * sizeof(btf_var_secinfo);
    case kKindEnum64:
      return int64_t{vlen} * 12;
    case BTF_KIND_PTR:
    case BTF_KIND_FWD:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPE_TAG:
      return 0;
    default:
      return -1;
  }
}

// The size of type record `t` (its header and what follows it); -1 for an unknown kind.
int64_t RecordSize(const btf_type& t) {
  int64_t trailer = TrailerSize(BTF_INFO_KIND(t.info), BTF_INFO_VLEN(t.info));
  return trailer < 0 ? -1 : static_cast<int64_t>(sizeof(t)) + trailer;
}

absl::Status Btf::Init(absl::string_view data) {
  btf_header h;
  if (data.size() < sizeof(h)) return absl::InvalidArgumentError("BTF: shorter than its header");
  memcpy(&h, data.data(), sizeof(h));
  if (h.magic != kBtfMagic) return absl::InvalidArgumentError("BTF: bad magic number");
  if (h.version != 1) return absl::InvalidArgumentError(absl::StrCat("BTF: version ", h.version));
  const uint64_t body = data.size() - std::min<uint64_t>(data.size(), h.hdr_len);
  if (h.hdr_len < sizeof(h) || h.hdr_len > data.size() ||
      uint64_t{h.type_off} + h.type_len > body || uint64_t{h.str_off} + h.str_len > body ||
      h.type_off % 4 != 0) {
    return absl::InvalidArgumentError("BTF: its sections lie outside the data");
  }
  types_ = data.substr(h.hdr_len + h.type_off, h.type_len);
  strings_ = data.substr(h.hdr_len + h.str_off, h.str_len);
  error_ = absl::OkStatus();
  next_ = 0;
  count_ = 0;
  every_stride_.clear();
  return absl::OkStatus();
}

bool Btf::ReadNext(btf_type* t) {
  if (!error_.ok() || next_ == types_.size()) return false;
  if (types_.size() - next_ < sizeof(*t)) {
    error_ = absl::InvalidArgumentError("BTF: truncated type");
    return false;
  }
  memcpy(t, types_.data() + next_, sizeof(*t));
  const int64_t size = RecordSize(*t);
  if (size < 0) {
    error_ = absl::InvalidArgumentError(
        absl::StrCat("BTF: unknown kind ", BTF_INFO_KIND(t->info), " of type ", count_ + 1));
    return false;
  }
  if (static_cast<uint64_t>(size) > types_.size() - next_) {
    error_ = absl::InvalidArgumentError("BTF: truncated type");
    return false;
  }
  if (count_ % kStride == 0) every_stride_.push_back(static_cast<uint32_t>(next_));
  ++count_;
  next_ += static_cast<size_t>(size);
  return true;
}

absl::Status Btf::FindStructs(const absl::string_view* names, uint32_t* ids, size_t count) {
  size_t missing = count;
  for (size_t i = 0; i < count; ++i) ids[i] = 0;
  btf_type t;
  while (missing != 0 && ReadNext(&t)) {
    if (BTF_INFO_KIND(t.info) != BTF_KIND_STRUCT || BTF_INFO_VLEN(t.info) == 0) continue;
    for (size_t i = 0; i < count; ++i) {
      if (ids[i] == 0 && NameIs(t.name_off, names[i])) {
        ids[i] = count_;
        --missing;
      }
    }
  }
  return error_;
}

const btf_type* Btf::Type(uint32_t id) {
  btf_type t;
  while (count_ < id && ReadNext(&t)) {
  }
  if (id == 0 || id > count_) return nullptr;
  // ReadNext() checked the extent of every record up to count_: the walk stays inside types_.
  size_t pos = every_stride_[(id - 1) / kStride];
  for (uint32_t at = (id - 1) / kStride * kStride + 1; at < id; ++at) {
    memcpy(&t, types_.data() + pos, sizeof(t));
    pos += static_cast<size_t>(RecordSize(t));
  }
  return reinterpret_cast<const btf_type*>(types_.data() + pos);
}

uint32_t Btf::Resolve(uint32_t id) {
  for (int i = 0; i < kMaxModifiers; ++i) {
    const btf_type* t = Type(id);
    if (t == nullptr) return 0;
    switch (BTF_INFO_KIND(t->info)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
        id = t->type;
        break;
      default:
        return id;
    }
  }
  return 0;
}

uint32_t Btf::Size(uint32_t id) {
  const btf_type* t = Type(Resolve(id));
  if (t == nullptr) return 0;
  switch (BTF_INFO_KIND(t->info)) {
    case BTF_KIND_INT:
    case BTF_KIND_ENUM:
    case kKindEnum64:
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_FLOAT:
      return t->size;
    case BTF_KIND_PTR:
      return sizeof(uint64_t);  // the kernels the program runs on are 64-bit
    default:
      return 0;
  }
}

absl::Status Btf::Member(uint32_t id, absl::string_view name, uint32_t* offset, uint32_t* type,
                         int depth) {
  const btf_type* t = Type(Resolve(id));
  int kind = t == nullptr ? 0 : BTF_INFO_KIND(t->info);
  if (depth > kMaxNesting || (kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION)) {
    return absl::NotFoundError(absl::StrCat("no member ", name));
  }
  const auto* members = reinterpret_cast<const btf_member*>(t + 1);
  for (uint32_t i = 0; i < BTF_INFO_VLEN(t->info); ++i) {
    btf_member m;
    memcpy(&m, &members[i], sizeof(m));
    uint32_t bits = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m.offset) : m.offset;
    bool bitfield = BTF_INFO_KFLAG(t->info) && BTF_MEMBER_BITFIELD_SIZE(m.offset) != 0;
    absl::string_view member_name = Name(m.name_off);
    if (member_name.empty()) {  // an anonymous struct or union: its members are this one's
      uint32_t inner = 0;
      if (bits % 8 == 0 && Member(m.type, name, &inner, type, depth + 1).ok()) {
        *offset = bits / 8 + inner;
        return absl::OkStatus();
      }
      continue;
    }
    if (member_name != name) continue;
    if (bitfield || bits % 8 != 0) {
      return absl::NotFoundError(absl::StrCat(name, " is a bit-field"));
    }
    *offset = bits / 8;
    *type = m.type;
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no member ", name));
}

// The offset of `spec`'s member in struct `id`, checking its size.
absl::StatusOr<uint32_t> FindField(Btf* btf, uint32_t id, const FieldSpec& spec) {
  const std::string what = absl::StrCat("struct ", spec.type, ".", spec.member);
  if (id == 0) {
    return absl::NotFoundError(absl::StrCat("the kernel's BTF has no struct ", spec.type));
  }
  uint32_t total = 0;
  for (absl::string_view name : absl::StrSplit(spec.member, '.')) {
    uint32_t offset = 0;
    absl::Status found = btf->Member(id, name, &offset, &id);
    if (!found.ok()) {
      return absl::NotFoundError(
          absl::StrCat(what, " is not in the kernel's BTF (", found.message(), ")"));
    }
    total += offset;
  }
  if (spec.size != 0 && btf->Size(id) != spec.size) {
    return absl::NotFoundError(
        absl::StrCat(what, " is ", btf->Size(id), " bytes in the kernel's BTF, not ", spec.size));
  }
  return total;
}

}  // namespace

// /sys/kernel/btf/vmlinux searched: mapped where the kernel allows it (6.16 and later: the
// kernel maps its own copy, nothing is read or populated), else read (sysfs gives it a page per
// read(2)).
absl::StatusOr<KernelFields> SearchRunningKernel() {
  constexpr const char* kPath = "/sys/kernel/btf/vmlinux";
  OwnedFd fd(open(kPath, O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0) {
    return DescriptorError(errno, absl::StrCat("ebpf backend: cannot read ", kPath));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = size == 0 ? MAP_FAILED : mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  absl::StatusOr<KernelFields> fields;
  if (p != MAP_FAILED) {
    fields = FindKernelFields(absl::string_view(static_cast<const char*>(p), size));
    munmap(p, size);
  } else {
    std::string bytes;
    char buffer[1 << 16];
    ssize_t n;
    while ((n = read(fd.get(), buffer, sizeof(buffer))) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return absl::ErrnoToStatus(errno, absl::StrCat("ebpf backend: cannot read ", kPath));
      bytes.append(buffer, static_cast<size_t>(n));
    }
    fields = FindKernelFields(bytes);
  }
  if (!fields.ok()) {
    return absl::Status(fields.status().code(),
                        absl::StrCat("ebpf backend: ", kPath, ": ", fields.status().message()));
  }
  return fields;
}

absl::StatusOr<KernelFields> FindKernelFields(absl::string_view data) {
  absl::string_view names[FE_FIELDS];
  uint32_t ids[FE_FIELDS];
  for (int i = 0; i < FE_FIELDS; ++i) names[i] = kFields[i].type;
  Btf btf;
  absl::Status parsed = btf.Init(data);
  if (parsed.ok()) parsed = btf.FindStructs(names, ids, FE_FIELDS);
  if (!parsed.ok()) return parsed;
  KernelFields fields;
  for (int i = 0; i < FE_FIELDS; ++i) {
    const FieldSpec& spec = kFields[i];
    absl::StatusOr<uint32_t> offset = FindField(&btf, ids[i], spec);
    // A malformed type met on the way is the answer, not the field it hid.
    if (!btf.error().ok()) return btf.error();
    if (!offset.ok()) return offset.status();
    fields.offset[spec.field] = *offset;
  }
  return fields;
}

std::string DescribeField(fe_field field) {
  for (const FieldSpec& spec : kFields) {
    if (spec.field == field) return absl::StrCat(spec.type, " ", spec.member, " ", spec.size);
  }
  return "";
}

absl::StatusOr<KernelFields> RunningKernelFields() {
  static const absl::StatusOr<KernelFields>* const kFound = [] {
    bool hit = false;
    return new absl::StatusOr<KernelFields>(
        CachedKernelFields(FieldCachePaths{}, SearchRunningKernel, &hit));
  }();
  return *kFound;
}

}  // namespace ebpf_internal
}  // namespace filemon
