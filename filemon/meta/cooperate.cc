#include "filemon/meta/cooperate.h"

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "filemon/meta/filemon_fields.h"
#include "filemon/meta/path_rules.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

// A chunk of the filemon section: whole lines [begin, end).
struct Chunk {
  enum State { kFree, kMain, kHelper, kClassified };
  // A line the main thread must process; every other line of a classified chunk is an R of an
  // absolute, boring path by the pid of the record before it (bmake's handling: nothing).
  struct Listed {
    size_t offset;
    uint32_t line;  // within the chunk, from 0
    // > 0: the line is a boring R whose only effect is the switch to this pid.
    int switch_to;
  };
  size_t begin = 0, end = 0;
  std::atomic<int> state{kFree};
  // Set by the helper that classified the chunk, before `state` becomes kClassified.
  uint32_t lines = 0;
  std::vector<Listed> listed;
};

// What a helper needs to classify chunks: the same for all of them.
struct Classifier {
  absl::string_view data;
  const CheckState& s;
  const TargetTime& target_time;
  PathFacts* facts;
};

// A helper's reading of a chunk, independent of the per-process state. What is "boring"
// (Interesting() is false) depends on the path alone; a boring R changes nothing but the
// current pid, which the list keeps where it changes.
void ClassifyChunk(const Classifier& c, Chunk* chunk, PathCache* cache, std::string* real) {
  LineReader reader(c.data, LineReader::Nul::kNone);
  reader.Seek(chunk->begin);
  int lastpid = 0;  // as PidDirs sees it after the previous line; 0: not known here
  uint32_t line = 0;
  MetaLine bline;
  Fields f;
  QuickLine q;
  for (; reader.pos() < chunk->end; ++line) {
    const size_t start = reader.pos();
    if (ReadQuick(c.data.data(), start, chunk->end, &q)) {
      reader.Seek(q.next);
      if (q.key == 'R') {
        const PathCache::Entry* e =
            KnownEntry(c.s, q.path, PathHash()(q.path), cache, c.facts, real);
        if (!Interesting('R', q.path, *e, c.s, c.target_time)) {
          if (q.pid > 0 && q.pid != lastpid) {
            chunk->listed.push_back({start, line, q.pid});
            lastpid = q.pid;
          }
          continue;
        }
      }
      chunk->listed.push_back({start, line, 0});
      if (q.pid > 0) lastpid = q.pid;
      continue;
    }
    if (!reader.Next(&bline)) break;  // never: no NUL in the data
    chunk->listed.push_back({start, line, 0});
    FieldsFromLine(bline.text, &f);
    if (f.key != '#' && f.key != 'V' && f.has_after_key && !f.after_key.empty()) {
      if (f.key == 'X') {
        lastpid = 0;  // PidDirs::Exit() forgets the pid: its next record switches again
      } else if (f.pid > 0) {
        lastpid = f.pid;
      }
    }
  }
  chunk->lines = line;
}

// [begin, end of data) cut at the first line boundary after every `chunk_bytes`.
std::vector<size_t> ChunkBounds(absl::string_view data, size_t begin, size_t chunk_bytes) {
  std::vector<size_t> bounds = {begin};
  while (bounds.back() < data.size()) {
    size_t at = bounds.back() + chunk_bytes;
    if (at >= data.size()) {
      at = data.size();
    } else {
      const void* nl = std::memchr(data.data() + at, '\n', data.size() - at);
      at = nl ? static_cast<const char*>(nl) - data.data() + 1 : data.size();
    }
    bounds.push_back(at);
  }
  return bounds;
}

// The listed lines of a classified chunk, read as the walk would read the whole chunk.
void WalkListed(const Chunk& c, LineReader* reader, FilemonWalk* walk, Verdict* verdict) {
  const size_t base = verdict->line();
  MetaLine line;
  for (const Chunk::Listed& l : c.listed) {
    if (verdict->out_of_date()) return;
    verdict->set_line(base + l.line + 1);
    if (l.switch_to > 0) {
      walk->Switch(l.switch_to);
      continue;
    }
    reader->Seek(l.offset);
    reader->Next(&line);  // never false: no NUL in the data, and the line is in the chunk
    verdict->TakeNotes(reader);
    if (verdict->Truncated(line)) return;
    walk->Line(line);
  }
  if (verdict->out_of_date()) return;
  verdict->set_line(base + c.lines);
  reader->Seek(c.end);
}

}  // namespace

void WalkCooperatively(LineReader* reader, int threads, size_t chunk_bytes, PathFacts* own_facts,
                       FilemonWalk* walk, Verdict* verdict) {
  const Classifier classifier{reader->data(), walk->state(), walk->target_time(),
                              walk->UseFacts(own_facts)};
  const std::vector<size_t> bounds = ChunkBounds(reader->data(), reader->pos(), chunk_bytes);
  const size_t n = bounds.size() - 1;
  std::unique_ptr<Chunk[]> chunks(new Chunk[n]);
  for (size_t i = 0; i < n; ++i) {
    chunks[i].begin = bounds[i];
    chunks[i].end = bounds[i + 1];
  }
  std::atomic<ptrdiff_t> back{static_cast<ptrdiff_t>(n)};
  std::atomic<bool> stop{false};
  const auto helper = [&] {
    PathCache cache(classifier.s.cwd_fd.get(), classifier.s.cwd);
    std::string real;
    while (!stop.load(std::memory_order_relaxed)) {
      const ptrdiff_t k = back.fetch_sub(1) - 1;
      if (k < 0) return;
      Chunk& c = chunks[k];
      int expected = Chunk::kFree;
      if (!c.state.compare_exchange_strong(expected, Chunk::kHelper)) return;  // main is here
      ClassifyChunk(classifier, &c, &cache, &real);
      c.state.store(Chunk::kClassified, std::memory_order_release);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads && static_cast<size_t>(t) < n; ++t) pool.emplace_back(helper);
  for (size_t i = 0; i < n && !verdict->out_of_date(); ++i) {
    Chunk& c = chunks[i];
    int expected = Chunk::kFree;
    if (c.state.compare_exchange_strong(expected, Chunk::kMain)) {
      walk->Lines(reader, c.end);
      continue;
    }
    while (c.state.load(std::memory_order_acquire) != Chunk::kClassified) sched_yield();
    WalkListed(c, reader, walk, verdict);
  }
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : pool) t.join();
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
