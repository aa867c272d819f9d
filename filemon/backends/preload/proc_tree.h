// File: filemon/backends/preload/proc_tree.h
//
// The process tree as /proc shows it, for the preload supervisor: which processes descend
// from a root (the reaper, a child subreaper, so an orphan of the traced tree is reparented
// into it). Used to admit a reconnecting peer and to pass signals to what a command left.
// Answers are a snapshot: a process may exit or be reparented right after.

#ifndef FILEMON_BACKENDS_PRELOAD_PROC_TREE_H_
#define FILEMON_BACKENDS_PRELOAD_PROC_TREE_H_

#include <sys/types.h>

#include <vector>

namespace filemon {
namespace preload_internal {

// The parent pid in the text of /proc/PID/stat ("pid (comm) state ppid ..."; the name may hold
// ')' and spaces). Returns false if `stat` is not of that shape.
bool ParentFromStat(const char* stat, pid_t* parent);

// `pid` followed by its ancestors as far as /proc shows them (`pid` alone once it is gone):
// one walk up the tree, to test against several roots without walking it once per root.
std::vector<pid_t> LineOf(pid_t pid);

// Every process descended from `root`, `root` excluded.
std::vector<pid_t> Descendants(pid_t root);

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PROC_TREE_H_
