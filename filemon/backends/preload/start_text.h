// File: filemon/backends/preload/start_text.h
//
// FILEMON_START_TEXT puts a function of libfilemon_preload.so among the code that every traced
// process runs at its start and at its exit (the constructor, the checks of the channel, the
// start message, the loader's objects, X), whatever unit defines it.
//
// Why: each page of the library that a process touches costs it a fill of its page table
// entry (on a virtual machine that shadows page tables, a VM exit even when the kernel mapped
// the page already), and each 64 KiB window of the text a fault, in which the kernel maps the
// window's pages (fault-around). Left where each unit's code falls, those functions spread
// over a dozen pages of the text. The linker places every `.text.startup.filemon` input
// section together at the head of `.text` (gold by interposer_order.txt; left to itself it
// would put the cold code first), right after the PLT that the start's calls to libc touch
// anyway, so the start and the exit run in a few pages (interposer_layout_test checks how
// few), within the window of the loader's own first fault in the library.
//
// Only for what nearly every process runs: a function marked here and rarely run costs every
// process that does run the start a little room in those pages.
//
// FILEMON_START_RODATA does the same for a constant that the start reads (the names of its
// environment variables, the loader's paths): in .rodata, which follows all of the text, the
// first read costs each process one more page (two when the constants straddle a page
// boundary). FILEMON_NAME_RODATA places the names of the real functions, which the wrappers
// look up at their first call in a process, right after those, and FILEMON_FIRST_CALL_TEXT
// the code that looks them up after the names. Only named arrays can go
// there (with internal linkage: gcc cannot place `inline` ones); string literals and the
// compiler's constants stay in .rodata (BUILD.bazel compiles the interposer without
// vectorizing, whose constants would go there).

#ifndef FILEMON_BACKENDS_PRELOAD_START_TEXT_H_
#define FILEMON_BACKENDS_PRELOAD_START_TEXT_H_

#define FILEMON_START_TEXT __attribute__((section(".text.startup.filemon")))
#define FILEMON_START_RODATA __attribute__((section(".text.startup.filemon.rodata")))
#define FILEMON_NAME_RODATA __attribute__((section(".text.startup.filemon.names")))
// The code that looks the real functions up (next_symbol.h), after the names.
#define FILEMON_FIRST_CALL_TEXT __attribute__((section(".text.startup.filemon.first_call")))

#endif  // FILEMON_BACKENDS_PRELOAD_START_TEXT_H_
