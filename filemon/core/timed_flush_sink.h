// File: filemon/core/timed_flush_sink.h
//
// Bounds how long a record stays in a buffering sink (a `Writer`): a thread flushes the inner
// sink every `interval` when records came in since the last flush, so that a tracer killed
// with SIGKILL loses at most that much of its log, as FreeBSD's device, which writes each
// record as it happens, loses nothing. Producers keep writing into the buffer, one write(2)
// per flush rather than per record.
//
// Example:
//   filemon::Writer writer(fd, {});
//   filemon::TimedFlushSink sink(&writer, {});
//   filemon::AddHeader(getpid(), absl::Now(), &sink);
//   sink.Flush();                             // the header goes out at once
//   backend->Run(command, options, &sink);
//   filemon::AddFooter(absl::Now(), &sink);
//   sink.Stop();                              // then writer.Close()

#ifndef FILEMON_CORE_TIMED_FLUSH_SINK_H_
#define FILEMON_CORE_TIMED_FLUSH_SINK_H_

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"

namespace filemon {

struct TimedFlushOptions {
  // The longest a record waits in the inner sink's buffer.
  absl::Duration interval = absl::Milliseconds(100);
};

// Thread-safe: `Add`, `Flush` and the timer are serialised by a mutex, so producers on any
// thread may use it. The timer thread blocks every signal (signals stay with the tracer's own
// threads). It starts with the first `Add`, not before: a process that forks between making
// the sink and its first record (a backend starting its helpers) forks with one thread, which
// copies less.
class TimedFlushSink : public RecordSink {
 public:
  // `inner` must outlive this sink (or its `Stop()`).
  TimedFlushSink(RecordSink* inner, TimedFlushOptions options);
  TimedFlushSink(const TimedFlushSink&) = delete;  // owns a thread
  TimedFlushSink& operator=(const TimedFlushSink&) = delete;
  ~TimedFlushSink() override;  // Stop()s

  void Add(const Record& record) override;
  absl::Status Flush() override;
  absl::Status status() const override;

  // Stops the timer and flushes what is pending. Idempotent; later records still reach the
  // inner sink, unflushed.
  void Stop();

 private:
  void Run();

  RecordSink* const inner_;
  const TimedFlushOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool pending_ = false;  // records added since the last flush
  bool stop_ = false;
  std::thread timer_;
};

}  // namespace filemon

#endif  // FILEMON_CORE_TIMED_FLUSH_SINK_H_
