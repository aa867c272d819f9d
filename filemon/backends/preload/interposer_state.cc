#include "filemon/backends/preload/interposer_state.h"

#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {

std::atomic<int> g_fd{-1};
std::atomic<int> g_pipe{-1};
std::atomic<int> g_pid{0};
std::atomic<bool> g_pid_shared{false};
std::atomic<int> g_exit_recorded{0};
bool g_absolute = false;
bool g_auto = false;
bool g_probes = false;
namespace {
FILEMON_START_RODATA constexpr char kNoPath[] = "";
}  // namespace
const char* g_lib_path = kNoPath;
char g_socket_name[108];
char g_options[64];
char g_helper[512];

__thread int t_pid = 0;
__thread bool t_forking = false;

std::atomic<uint32_t> g_creations{0};
std::atomic<int> g_creations_in_flight{0};
__thread uint32_t t_fork_token = 0;

std::atomic<int> g_init_state{0};

#if defined(__x86_64__)
// Starts the writable segment on a page boundary (interposer_layout_test). gold starts it
// mid-page, right after the text's last byte, whenever that spans no more pages of memory;
// from there .bss can reach past the page the loader writes anyway (FILEMON_COLD_BSS). A
// page-aligned object raises the segment's alignment to a page; in .lbss, it moves only .lbss,
// and nothing ever touches it. Kept (`retain`) though nothing refers to it.
FILEMON_COLD_BSS
__attribute__((used, retain)) alignas(4096) char g_writable_segment_aligner[1] = {};
#endif

}  // namespace preload_internal
}  // namespace filemon
