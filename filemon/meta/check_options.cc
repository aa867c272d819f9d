#include "filemon/meta/check_options.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "filemon/meta/json_internal.h"

namespace filemon {
namespace meta {

absl::string_view CompatName(Compat compat) {
  return compat == Compat::k20200710 ? "20200710" : "20260313";
}

bool ParseCompat(absl::string_view text, Compat* compat) {
  if (text == "20200710") {
    *compat = Compat::k20200710;
  } else if (text == "20260313") {
    *compat = Compat::k20260313;
  } else {
    return false;
  }
  return true;
}

absl::string_view ReasonCode(Reason reason) {
  switch (reason) {
    case Reason::kUpToDate:
      return "up-to-date";
    case Reason::kNewer:
      return "newer";
    case Reason::kCmdChanged:
      return "cmd_changed";
    case Reason::kCmdMoreInMeta:
      return "cmd_more_in_meta";
    case Reason::kCmdExtraNow:
      return "cmd_extra_now";
    case Reason::kCwdChanged:
      return "cwd_changed";
    case Reason::kMissingFiles:
      return "missing_files";
    case Reason::kMissingFilemon:
      return "missing_filemon";
    case Reason::kMissingMeta:
      return "missing_meta";
    case Reason::kMalformed:
      return "malformed";
    case Reason::kTruncated:
      return "truncated";
    case Reason::kAppeared:
      return "appeared";
    case Reason::kTargetMissing:
      return "target_missing";
  }
  return "unknown";
}

std::string DecisionJson(const Decision& d) {
  std::string out = "{\"meta\":";
  internal::AppendJsonString(d.meta_path, &out);
  absl::StrAppend(&out, ",\"out_of_date\":", d.out_of_date ? "true" : "false", ",\"reason\":\"",
                  ReasonCode(d.reason), "\",\"line\":", d.line, ",\"path\":");
  internal::AppendJsonString(d.path, &out);
  out.append(",\"old_command\":");
  internal::AppendJsonString(d.old_command, &out);
  out.append(",\"new_command\":");
  internal::AppendJsonString(d.new_command, &out);
  out.append(",\"messages\":[");
  for (size_t i = 0; i < d.messages.size(); ++i) {
    if (i > 0) out.push_back(',');
    internal::AppendJsonString(d.messages[i], &out);
  }
  out.append("]}");
  return out;
}

}  // namespace meta
}  // namespace filemon
