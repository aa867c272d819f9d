// File: filemon/backends/kernel/testing.h
//
// Test helpers of the kernel backend's tests.
//
// Example:
//   filemon::kernel_testing::TextSink sink;
//   sink.Add(record);
//   EXPECT_EQ(sink.text, "R 1 /a\n");

#ifndef FILEMON_BACKENDS_KERNEL_TESTING_H_
#define FILEMON_BACKENDS_KERNEL_TESTING_H_

#include <string>

#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/writer.h"

namespace filemon {
namespace kernel_testing {

// Formats every record it gets as its log line, as the writer would.
class TextSink : public RecordSink {
 public:
  void Add(const Record& record) override { AppendRecord(record, &text); }
  std::string text;
};

}  // namespace kernel_testing
}  // namespace filemon

#endif  // FILEMON_BACKENDS_KERNEL_TESTING_H_
