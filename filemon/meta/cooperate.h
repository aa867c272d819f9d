// File: filemon/meta/cooperate.h (internal to //filemon/meta)
//
// A large filemon section read by several threads with the one-thread decision
// (`Checker::CheckFileWith`). The section is cut into chunks of whole lines. This thread reads
// the chunks in order, as `FilemonWalk::Lines` does; helpers take chunks from the end backwards
// and classify them: each absolute R path is looked up (resolved, ignored or not, stat'ed: once
// per distinct path, shared through `PathFacts`), and the lines that can change anything are
// listed. A chunk goes to whoever claims it first: this thread reads a chunk it claimed line by
// line, and of a classified one only the listed lines (waiting for a helper still at it). A
// machine too busy to run the helpers costs only their start.

#ifndef FILEMON_META_COOPERATE_H_
#define FILEMON_META_COOPERATE_H_

#include <cstddef>

#include "filemon/meta/filemon_walk.h"
#include "filemon/meta/line_reader.h"
#include "filemon/meta/path_facts.h"
#include "filemon/meta/verdict.h"

namespace filemon {
namespace meta {
namespace internal {

// Walks the filemon section from `reader`'s position to the end of its data with `threads`
// threads (this one included), in chunks of about `chunk_bytes`. The walk's facts are
// `own_facts` unless it has some already. REQUIRES: the data holds no NUL.
void WalkCooperatively(LineReader* reader, int threads, size_t chunk_bytes, PathFacts* own_facts,
                       FilemonWalk* walk, Verdict* verdict);

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_COOPERATE_H_
