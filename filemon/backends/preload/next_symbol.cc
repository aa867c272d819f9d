#include "filemon/backends/preload/next_symbol.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {
namespace {

// The tables of one object, from its dynamic section.
struct Tables {
  const uint32_t* gnu_hash = nullptr;
  const ElfW(Sym) * symbols = nullptr;
  const char* strings = nullptr;
  const ElfW(Half) * versions = nullptr;  // may be absent
};

// glibc relocates these entries of a writable dynamic section in place; an object whose
// section it could not write (the vDSO) keeps them relative to its base.
FILEMON_FIRST_CALL_TEXT uintptr_t Address(const struct link_map* object, ElfW(Addr) value) {
  return value < object->l_addr ? object->l_addr + value : value;
}

FILEMON_FIRST_CALL_TEXT Tables TablesOf(const struct link_map* object) {
  Tables t;
  for (const ElfW(Dyn)* d = object->l_ld; d != nullptr && d->d_tag != DT_NULL; ++d) {
    const uintptr_t address = Address(object, d->d_un.d_ptr);
    switch (d->d_tag) {
      case DT_GNU_HASH:
        t.gnu_hash = reinterpret_cast<const uint32_t*>(address);
        break;
      case DT_SYMTAB:
        t.symbols = reinterpret_cast<const ElfW(Sym)*>(address);
        break;
      case DT_STRTAB:
        t.strings = reinterpret_cast<const char*>(address);
        break;
      case DT_VERSYM:
        t.versions = reinterpret_cast<const ElfW(Half)*>(address);
        break;
      default:
        break;
    }
  }
  return t;
}

FILEMON_FIRST_CALL_TEXT uint32_t GnuHash(const char* name) {
  uint32_t h = 5381;
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(name); *p != '\0'; ++p) {
    h = h * 33 + *p;
  }
  return h;
}

enum class Lookup { kNotHere, kFound, kAskDlsym };

// Looks `name` (hash `hash`) up in `object`; on kFound, `*found` is the function's address.
FILEMON_FIRST_CALL_TEXT Lookup LookUpIn(const struct link_map* object, const char* name,
                                        uint32_t hash, void** found) {
  const Tables t = TablesOf(object);
  if (t.gnu_hash == nullptr || t.symbols == nullptr || t.strings == nullptr) {
    return Lookup::kAskDlsym;
  }
  const uint32_t buckets = t.gnu_hash[0], first_symbol = t.gnu_hash[1];
  const uint32_t bloom_words = t.gnu_hash[2], bloom_shift = t.gnu_hash[3];
  if (buckets == 0 || bloom_words == 0) return Lookup::kNotHere;
  const auto* bloom = reinterpret_cast<const ElfW(Addr)*>(t.gnu_hash + 4);
  constexpr uint32_t kBits = sizeof(ElfW(Addr)) * 8;
  const ElfW(Addr) word = bloom[(hash / kBits) % bloom_words];
  const ElfW(Addr) mask =
      (ElfW(Addr){1} << (hash % kBits)) | (ElfW(Addr){1} << ((hash >> bloom_shift) % kBits));
  if ((word & mask) != mask) return Lookup::kNotHere;
  const auto* bucket = reinterpret_cast<const uint32_t*>(bloom + bloom_words);
  const uint32_t* chain = bucket + buckets;
  uint32_t index = bucket[hash % buckets];
  if (index < first_symbol) return Lookup::kNotHere;
  for (;; ++index) {
    const uint32_t entry = chain[index - first_symbol];
    const ElfW(Sym)& symbol = t.symbols[index];
    // The default version only (a hidden one is an older version: versym bit 15), as dlsym.
    const bool hidden = t.versions != nullptr && (t.versions[index] & 0x8000) != 0;
    if ((entry | 1) == (hash | 1) && !hidden && symbol.st_shndx != SHN_UNDEF &&
        SameString(name, t.strings + symbol.st_name)) {
      const unsigned type = ELF64_ST_TYPE(symbol.st_info);
      const unsigned bind = ELF64_ST_BIND(symbol.st_info);
      // An IFUNC, data or a local symbol: dlsym's to answer.
      if (type != STT_FUNC || (bind != STB_GLOBAL && bind != STB_WEAK)) return Lookup::kAskDlsym;
      *found = reinterpret_cast<void*>(object->l_addr + symbol.st_value);
      return Lookup::kFound;
    }
    if ((entry & 1) != 0) return Lookup::kNotHere;
  }
}

}  // namespace

FILEMON_FIRST_CALL_TEXT void* FindNextFunction(const struct link_map* first,
                                               const void* self_dynamic, const char* name) {
  const struct link_map* object = first;
  while (object != nullptr && object->l_ld != self_dynamic) object = object->l_next;
  if (object == nullptr) return nullptr;
  const uint32_t hash = GnuHash(name);
  for (object = object->l_next; object != nullptr; object = object->l_next) {
    void* found = nullptr;
    switch (LookUpIn(object, name, hash, &found)) {
      case Lookup::kFound:
        return found;
      case Lookup::kAskDlsym:
        return nullptr;
      case Lookup::kNotHere:
        break;
    }
  }
  return nullptr;
}

FILEMON_FIRST_CALL_TEXT void* ResolveNext(const char* name) {
  void* fn = nullptr;
  if (_r_debug.r_state == r_debug::RT_CONSISTENT)
    fn = FindNextFunction(_r_debug.r_map, _DYNAMIC, name);
  return fn != nullptr ? fn : dlsym(RTLD_NEXT, name);
}

}  // namespace preload_internal
}  // namespace filemon
