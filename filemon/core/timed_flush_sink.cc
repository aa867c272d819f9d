#include "filemon/core/timed_flush_sink.h"

#include <signal.h>

#include <chrono>

namespace filemon {

TimedFlushSink::TimedFlushSink(RecordSink* inner, TimedFlushOptions options)
    : inner_(inner), options_(options) {}

TimedFlushSink::~TimedFlushSink() { Stop(); }

void TimedFlushSink::Add(const Record& record) {
  std::lock_guard<std::mutex> lock(mu_);
  inner_->Add(record);
  pending_ = true;
  if (!timer_.joinable() && !stop_) {
    // The thread inherits the creating thread's mask: start it with every signal blocked. It
    // waits for `mu_`, held here, before it looks at anything.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    timer_ = std::thread([this] { Run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
}

absl::Status TimedFlushSink::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = false;
  return inner_->Flush();
}

absl::Status TimedFlushSink::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inner_->status();
}

void TimedFlushSink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (timer_.joinable()) timer_.join();
  Flush().IgnoreError();  // the inner sink keeps the error for its owner
}

void TimedFlushSink::Run() {
  const auto interval = absl::ToChronoMicroseconds(options_.interval);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    // A record added right after a flush waits at most one interval.
    wake_.wait_for(lock, interval, [this] { return stop_; });
    if (pending_ && !stop_) {
      pending_ = false;
      inner_->Flush().IgnoreError();  // sticky in the inner sink
    }
  }
}

}  // namespace filemon
