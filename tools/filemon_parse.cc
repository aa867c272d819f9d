// `filemon parse [--format=filemon|json] [--strict|--lenient] FILE|-`: parses a filemon(4) log
// of any known variant and prints it again, as a canonical FreeBSD v5 log (byte for byte the
// same for a canonical input) or as one JSON object (filemon/core/filemon.proto's Log).

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/core/filemon.pb.h"
#include "filemon/core/log_reader.h"
#include "filemon/core/parser.h"
#include "filemon/core/proto_convert.h"
#include "filemon/core/proto_sink.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/tree_order.h"
#include "filemon/core/writer.h"
#include "tools/filemon_commands.h"
#include "tools/flags.h"

namespace filemon_tool {
namespace {

// Every input error: unreadable, malformed (strict).
constexpr int kExitBadInput = 2;
// Strict mode: the log has no footer (its writer did not finish it), which is not malformed.
constexpr int kExitIncomplete = 3;

constexpr char kUsage[] =
    "usage: filemon parse [--format=filemon|json] [--strict|--lenient] FILE|-\n"
    "\n"
    "Parses a filemon(4) log (FreeBSD v5, FreeBSD 9.x/10.x, NetBSD, bmake's ktrace filemon,\n"
    "the Juniper Linux 'buildmon' port) and prints it again on standard output.\n"
    "\n"
    "  --format=filemon  a canonical FreeBSD v5 log (the default); a canonical input is\n"
    "                    reproduced byte for byte\n"
    "  --format=json     one JSON object: header fields, records, footer, variant\n"
    "                    (the Log message of filemon/core/filemon.proto)\n"
    "  --strict          stop at the first line outside the grammar, or out of the\n"
    "                    kernel's order (the default): an F after its parent's X or\n"
    "                    after a record of its child, a record of a pid after its X\n"
    "                    (FreeBSD 10 and later keep this order; FreeBSD 9.x, NetBSD,\n"
    "                    ktrace and buildmon logs do not, and are not held to it)\n"
    "  --lenient         skip bad lines, count them, warn on standard error; warn once\n"
    "                    about the order\n"
    "  FILE|-            the log; '-' reads standard input\n"
    "\n"
    "An incomplete log (no footer '# Bye bye': an empty file, a log cut at a line\n"
    "boundary or in the middle of a line) is printed as far as it goes; a cut last line (a\n"
    "crash tail) is never read as a record: it is printed as it was, and in JSON it is\n"
    "\"tail\" with \"incomplete\": true and \"truncated\": true.\n"
    "\n"
    "The input (a file, a pipe, a FIFO) is read in pieces as it comes, so memory stays\n"
    "bounded whatever its size, and a strict error is reported at its line; a line may be\n"
    "at most 1048576 bytes (1 MiB), a longer one is bad input. --format=json holds the\n"
    "whole log until it is printed.\n"
    "\n"
    "Exit status: 0 on success; 2 on bad input: the log cannot be read (missing, a\n"
    "directory, no permission) or, in strict mode, is malformed (FILE:LINE:COL: message on\n"
    "standard error; FILE:LINE: message for the order); 3 in strict mode when the log is\n"
    "incomplete (FILE: incomplete log: ..., after the output; --lenient: a warning and 0);\n"
    "125 on bad options; 127 if the output cannot be written.\n";

int Usage(const char* problem) {
  std::fprintf(stderr, "filemon parse: %s\n%s", problem, kUsage);
  return kExitUsage;
}

void Warn(absl::string_view name, const filemon::Parser& parser) {
  if (parser.skipped_lines() > 0) {
    std::fprintf(stderr, "filemon parse: warning: %.*s: skipped %zu malformed line(s), first: %s\n",
                 static_cast<int>(name.size()), name.data(), parser.skipped_lines(),
                 std::string(parser.first_skipped_error().message()).c_str());
  }
  if (parser.truncated() && parser.complete()) {
    std::fprintf(stderr,
                 "filemon parse: warning: %.*s: the last line has no newline (truncated log)\n",
                 static_cast<int>(name.size()), name.data());
  }
}

// Reports a log its writer did not finish (no "# Bye bye"): an error in strict mode, where it
// returns true, else a warning. Not a malformed log: every line read was in the grammar.
bool ReportIncomplete(absl::string_view name, const filemon::Parser& parser, bool strict) {
  if (parser.complete()) return false;
  std::fprintf(stderr, "%s%.*s: incomplete log: %s\n",
               strict ? "" : "filemon parse: warning: ", static_cast<int>(name.size()), name.data(),
               parser.truncated() ? "no footer, and the last line is cut (a crash tail, kept "
                                    "as it is, not read as a record)"
                                  : "no footer (# Bye bye): its writer did not finish it");
  return strict;
}

// The kernel's order of the records (filemon/core/tree_order.h), checked as they are read.
class OrderCheck {
 public:
  OrderCheck(absl::string_view name, bool strict)
      : checker_({filemon::TreeRoots::kAny, name}), strict_(strict) {}
  // False when the output must stop before this record (strict mode, a violation). A log whose
  // producer does not keep the order (filemon::KeepsTreeOrder) is not held to it.
  bool Add(const filemon::Record& record, const filemon::Parser& parser) {
    if (not_applicable_ || checker_.Add(record, parser.line())) return true;
    not_applicable_ = !filemon::KeepsTreeOrder(parser.variant());
    return not_applicable_ || !strict_;
  }
  // Reports a violation on standard error; true when it is fatal (strict mode).
  bool Report() const {
    if (checker_.ok() || not_applicable_) return false;
    const std::string message(checker_.status().message());
    if (strict_) {
      std::fprintf(stderr, "%s\n", message.c_str());
    } else {
      std::fprintf(stderr, "filemon parse: warning: out of the kernel's order: %s\n",
                   message.c_str());
    }
    return strict_;
  }

 private:
  filemon::TreeOrderChecker checker_;
  bool strict_;
  bool not_applicable_ = false;
};

// Writes `s` to standard output; false (with a message) on failure.
bool WriteStdout(absl::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "filemon parse: write(stdout): %s\n", std::strerror(errno));
      return false;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads the log in pieces through `parser`, handing each record to `sink`, until the end of
// the input, a strict error (`parser->ok()` false) or a fatal order violation. Returns a
// reading error (read(2), a line over the limit).
absl::Status Pump(filemon::LogReader* reader, filemon::Parser* parser, OrderCheck* order,
                  filemon::RecordSink* sink) {
  filemon::Record r;
  for (;;) {
    absl::StatusOr<absl::string_view> piece = reader->Next();
    if (!piece.ok()) return piece.status();
    if (piece->empty()) return absl::OkStatus();
    parser->Continue(*piece);
    while (parser->Next(&r)) {
      if (!order->Add(r, *parser)) return absl::OkStatus();
      sink->Add(r);
    }
    if (!parser->ok()) return absl::OkStatus();
  }
}

int ReadError(const absl::Status& status) {
  std::fprintf(stderr, "filemon parse: %s\n", std::string(status.message()).c_str());
  return kExitBadInput;
}

}  // namespace

namespace {

// `filemon parse`'s command line.
struct ParseArgs {
  bool json = false;
  bool strict = true;
  const char* file = nullptr;
};

// -1 when `*args` is ready, else the exit status (after --help, or a usage error).
int ParseParseArgs(int argc, char** argv, ParseArgs* args) {
  bool options_done = false;
  std::string value, error;
  for (int i = 0; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (!options_done && (arg == "--help" || arg == "-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done &&
               filemon_tools::FlagValue(argc, argv, &i, "--format", &value, &error)) {
      if (!error.empty()) return Usage((error + ": filemon or json").c_str());
      if (value != "json" && value != "filemon") return Usage("--format must be filemon or json");
      args->json = value == "json";
    } else if (!options_done && arg == "--strict") {
      args->strict = true;
    } else if (!options_done && arg == "--lenient") {
      args->strict = false;
    } else if (!options_done && arg.size() > 1 && arg[0] == '-') {
      return Usage(("unknown option " + std::string(arg)).c_str());
    } else if (args->file != nullptr) {
      return Usage("expected exactly one FILE (or - for standard input)");
    } else {
      args->file = argv[i];
    }
  }
  if (args->file == nullptr) return Usage("expected a FILE (or - for standard input)");
  return -1;
}

int OutOfMemory(const std::string& name, absl::string_view what) {
  std::fprintf(stderr, "filemon parse: %s: %s; --format=filemon streams it\n", name.c_str(),
               std::string(what).c_str());
  return kExitLogError;
}

// ParseToJson's work; a std::bad_alloc goes through to it.
int ParseToJsonHeld(const std::string& name, bool strict, filemon::LogReader* reader,
                    filemon::Parser* parser, OrderCheck* order) {
  filemon::LogProtoSink sink;
  const absl::Status read = Pump(reader, parser, order, &sink);
  if (!read.ok()) return ReadError(read);
  if (!parser->ok()) {
    std::fprintf(stderr, "%s\n", std::string(parser->status().message()).c_str());
    return kExitBadInput;
  }
  if (order->Report()) return kExitBadInput;
  if (absl::IsResourceExhausted(sink.status())) return OutOfMemory(name, sink.status().message());
  if (!sink.status().ok()) return ReadError(sink.status());
  Warn(name, *parser);
  absl::StatusOr<std::string> text = filemon::LogToJson(filemon::TakeParsedLog(*parser, &sink));
  if (absl::IsResourceExhausted(text.status())) return OutOfMemory(name, text.status().message());
  if (!text.ok()) {
    std::fprintf(stderr, "filemon parse: %s\n", std::string(text.status().message()).c_str());
    return kExitLogError;
  }
  text->push_back('\n');
  if (!WriteStdout(*text)) return kExitLogError;
  return ReportIncomplete(name, *parser, strict) ? kExitIncomplete : 0;
}

// The whole log is collected before anything is printed (its memory grows with the records);
// a strict error or order violation prints nothing. A log too large for the memory left is
// reported as output that cannot be written, not an abort.
int ParseToJson(const std::string& name, bool strict, filemon::LogReader* reader,
                filemon::Parser* parser, OrderCheck* order) {
  try {
    return ParseToJsonHeld(name, strict, reader, parser, order);
  } catch (const std::bad_alloc&) {
    return OutOfMemory(name, absl::StrCat("out of memory holding the log for --format=json (",
                                          parser->line(), " lines read)"));
  }
}

// Streamed: records before an error have been printed when it is reported.
int ParseToLog(const std::string& name, bool strict, filemon::LogReader* reader,
               filemon::Parser* parser, OrderCheck* order) {
  filemon::Writer out(STDOUT_FILENO, {});
  const absl::Status read = Pump(reader, parser, order, &out);
  absl::Status written = out.Close();
  if (!read.ok()) return ReadError(read);
  // A crash tail is reproduced as it was, after the records, never as one of them.
  if (written.ok() && !WriteStdout(parser->tail())) written = absl::DataLossError("stdout");
  if (!parser->ok()) {
    std::fprintf(stderr, "%s\n", std::string(parser->status().message()).c_str());
    return kExitBadInput;
  }
  if (order->Report()) return kExitBadInput;
  Warn(name, *parser);
  if (!written.ok()) {
    std::fprintf(stderr, "filemon parse: %s\n", std::string(written.message()).c_str());
    return kExitLogError;
  }
  return ReportIncomplete(name, *parser, strict) ? kExitIncomplete : 0;
}

}  // namespace

int RunParse(int argc, char** argv) {
  // Output into a pipe whose reader went away (`filemon parse LOG | head`) is output that
  // cannot be written: EPIPE, a message and exit 127 as for a full disk, not death by SIGPIPE.
  // parse runs no other program, so ignoring the signal changes nothing else.
  std::signal(SIGPIPE, SIG_IGN);
  ParseArgs args;
  const int usage = ParseParseArgs(argc, argv, &args);
  if (usage >= 0) return usage;
  const std::string name = args.file;
  int fd = STDIN_FILENO;
  if (name != "-") {
    do {
      fd = ::open(args.file, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      std::fprintf(stderr, "filemon parse: open(%s): %s\n", args.file, std::strerror(errno));
      return kExitBadInput;
    }
  }
  filemon::LogReader reader(fd, name);
  filemon::ParserOptions options;
  options.strict = args.strict;
  options.filename = name;
  filemon::Parser parser(absl::string_view(), options);
  OrderCheck order(name, args.strict);
  return args.json ? ParseToJson(name, args.strict, &reader, &parser, &order)
                   : ParseToLog(name, args.strict, &reader, &parser, &order);
}

}  // namespace filemon_tool
