#include "tools/bmake_scenarios.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace filemon_meta_test {
namespace {

// A .meta as bmake + filemon write it, with `records` as the filemon section.
std::string Meta(const std::string& records, const std::string& cmds = "CMD echo build > foo\n") {
  return absl::StrCat("# Meta data file @D@/foo.meta\n", cmds,
                      "CWD @D@\nTARGET foo\n-- command output --\n\n"
                      "-- filemon acquired metadata --\n# filemon version 5\n# Target pid 100\n"
                      "# Start 1600000000.000000\nV 5\n",
                      records);
}

// Files read older than the target, in the same second, and newer.
File Older() { return {"d/old.h", 9}; }
File Same() { return {"d/same.h", 10}; }
File Newer() { return {"d/new.h", 11}; }

// Reads: R/E/L-source mtimes and the directories they set.
void AddReadScenarios(std::vector<Scenario>* s) {
  // R/E/L-source mtimes, whole seconds, strict.
  s->push_back(
      {"read_older", "up-to-date", Meta("R 100 @D@/old.h\nX 100 0 0\n# Bye bye\n"), {Older()}});
  s->push_back({"read_same_second", "up-to-date", Meta("R 100 @D@/same.h\n"), {Same()}});
  s->push_back(
      {"read_newer", "newer", Meta("R 100 @D@/old.h\nR 100 @D@/new.h\n"), {Older(), Newer()}});
  s->push_back({"read_newer_relative", "newer", Meta("R 100 new.h\n"), {Newer()}});
  s->push_back({"exec_newer", "newer", Meta("E 100 @D@/new.h\n"), {Newer()}});
  s->push_back({"write_newer_not_checked", "up-to-date", Meta("W 100 @D@/new.h\n"), {Newer()}});
  s->push_back(
      {"stat_and_at_not_checked", "up-to-date", Meta("S 100 @D@/new.h\nA 100 new.h\n"), {Newer()}});
  s->push_back({"link_source_newer", "newer", Meta("L 100 '@D@/new.h' '@D@/lnk'\n"), {Newer()}});
  s->push_back({"move_source_not_checked",
                "up-to-date",
                Meta("M 100 '@D@/new.h' '@D@/moved'\n"),
                {Newer()}});
  s->push_back({"read_dot_skipped", "up-to-date", Meta("R 100 .\n"), {}});
  s->push_back(
      {"directory_never_newer", "up-to-date", Meta("R 100 @D@/sub\n"), {{"d/sub", 20, "", true}}});
  // Directories read set latestdir; relative paths try latestdir, lcwd, cwd.
  s->push_back({"latestdir_first",
                "newer",
                Meta("R 100 @D@/sub\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"latestdir_falls_back_to_cwd",
                "up-to-date",
                Meta("R 100 @D@/sub\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/x.h", 5}}});
  s->push_back({"exec_resets_latestdir",
                "up-to-date",
                Meta("R 100 @D@/sub\nE 100 @D@/old.h\nR 100 x.h\n"),
                {Older(), {"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"exec_dot_keeps_latestdir",
                "newer",
                Meta("R 100 @D@/sub\nE 100 .\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
}

// Per-process directories, and filemon's own N records.
void AddPidScenarios(std::vector<Scenario>* s) {
  // Per-pid cwd: C, F, unknown pids, X.
  s->push_back({"chdir",
                "newer",
                Meta("C 100 @D@/sub\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"fork_inherits_cwd",
                "newer",
                Meta("C 100 @D@/sub\nF 100 101\nR 101 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"unknown_pid_inherits_previous_cwd",
                "newer",
                Meta("C 100 @D@/sub\nR 102 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"pid_switch_restores_cwd",
                "up-to-date",
                Meta("F 100 101\nC 101 @D@/sub\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"exit_keeps_local_cwd",
                "newer",
                Meta("C 100 @D@/sub\nX 100 0 0\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  // atoi() of a pid past LONG_MAX: strtol saturates, the int is -1, no switch; not pid 9.
  s->push_back({"huge_pid_saturates",
                "newer",
                Meta("F 100 9\nC 100 @D@/sub\nR 99999999999999999999 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"relative_chdir",
                "newer",
                Meta("C 100 sub\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  // filemon's N (absent-path probes, beyond bmake): without --probes skipped as bmake skips
  // every letter it does not know, even when the probed file exists now or is outside cwd.
  s->push_back({"probe_of_a_file_that_appeared_is_skipped",
                "up-to-date",
                Meta("N 100 inc1/same.h\nR 100 inc2/same.h\nN 100 @O@/gone.h\n"),
                {{"d/inc1", 5, "", true},
                 {"d/inc2", 5, "", true},
                 {"d/inc1/same.h", 5},
                 {"d/inc2/same.h", 5}}});
  s->push_back({"probe_between_records_changes_nothing",
                "newer",
                Meta("C 100 @D@/sub\nN 101 x.h\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"probe_without_path_is_malformed", "malformed", Meta("N 100\n"), {}});
}

// The missing list.
void AddMissingScenarios(std::vector<Scenario>* s) {
  // Missing files: absolute, outside cwd (raw prefix), ENOENT.
  s->push_back({"missing_outside_cwd", "missing_files", Meta("R 100 @O@/gone.h\n"), {}});
  s->push_back({"missing_relative_not_reported", "up-to-date", Meta("R 100 gone.h\n"), {}});
  s->push_back({"missing_under_cwd_not_reported", "up-to-date", Meta("R 100 @D@/gone.h\n"), {}});
  s->push_back({"missing_sibling_with_cwd_prefix", "up-to-date", Meta("R 100 @D@x/gone.h\n"), {}});
  s->push_back(
      {"missing_enotdir_not_reported", "up-to-date", Meta("R 100 @O@/f/gone.h\n"), {{"o/f", 1}}});
  s->push_back({"delete_clears_earlier_missing",
                "up-to-date",
                Meta("R 100 @O@/gone.h\nD 100 @O@/gone.h\n"),
                {}});
  s->push_back({"delete_before_read_does_not_clear",
                "missing_files",
                Meta("D 100 @O@/gone.h\nR 100 @O@/gone.h\n"),
                {}});
  s->push_back(
      {"delete_dir_clears_below", "up-to-date", Meta("R 100 @O@/d/a.h\nD 100 @O@/d\n"), {}});
  s->push_back({"delete_prefix_is_by_component",
                "missing_files",
                Meta("R 100 @O@/d/a.h\nD 100 @O@/\n"),
                {}});
  s->push_back({"delete_relative_clears_nothing",
                "missing_files",
                Meta("R 100 @O@/gone.h\nD 100 gone.h\n"),
                {}});
  s->push_back({"move_source_clears_missing",
                "up-to-date",
                Meta("R 100 @O@/gone.h\nM 100 '@O@/gone.h' '@O@/other.h'\n"),
                {}});
  s->push_back({"missing_then_newer_two_messages",
                "newer",
                Meta("R 100 @O@/gone.h\nR 100 @D@/new.h\n"),
                {Newer()}});
  s->push_back({"missing_listed_once",
                "missing_files",
                Meta("R 100 @O@/a.h\nR 100 @O@/a.h\nR 100 @O@/b.h\n"),
                {}});
}

// IGNORE_PATHS and IGNORE_PATTERNS.
void AddIgnorePathScenarios(std::vector<Scenario>* s) {
  // IGNORE_PATHS (realpath, string prefix), IGNORE_PATTERNS, IGNORE_FILTER.
  s->push_back({"ignore_path",
                "up-to-date",
                Meta("R 100 @O@/gone.h\nR 100 @O@/n.h\n"),
                {{"o/n.h", 11}},
                {},
                {"--ignore-path", "@O@"},
                ".MAKE.META.IGNORE_PATHS= @O@\n"});
  s->push_back({"ignore_path_no_boundary",
                "up-to-date",
                Meta("R 100 @O@/abc/gone.h\n"),
                {},
                {},
                {"--ignore-path", "@O@/ab"},
                ".MAKE.META.IGNORE_PATHS= @O@/ab\n"});
  s->push_back({"ignore_path_through_symlink",
                "up-to-date",
                Meta("R 100 @O@/lnk/n.h\nR 100 @O@/lnk/gone.h\nR 100 @O@/lnk/no/gone.h\n"),
                {{"o/ign", 5, "", true}, {"o/ign/n.h", 11}, {"o/lnk", 5, "@O@/ign"}},
                {},
                {"--ignore-path", "@O@/ign"},
                ".MAKE.META.IGNORE_PATHS= @O@/ign\n"});
  s->push_back({"ignore_path_is_realpathed",
                "up-to-date",
                Meta("R 100 @O@/ign/n.h\n"),
                {{"o/ign", 5, "", true}, {"o/ign/n.h", 11}, {"o/lnk", 5, "@O@/ign"}},
                {},
                {"--ignore-path", "@O@/lnk"},
                ".MAKE.META.IGNORE_PATHS= @O@/lnk\n"});
  s->push_back({"ignore_path_not_for_relative",
                "newer",
                Meta("R 100 new.h\n"),
                {Newer()},
                {},
                {"--ignore-path", "@D@"},
                ".MAKE.META.IGNORE_PATHS= @D@\n"});
  s->push_back({"ignore_pattern",
                "up-to-date",
                Meta("R 100 @D@/new.h\nR 100 @O@/gone.h\n"),
                {Newer()},
                {},
                {"--ignore-pattern", "*.h"},
                ".MAKE.META.IGNORE_PATTERNS= *.c *.h\n"});
  s->push_back({"ignore_pattern_on_relative",
                "up-to-date",
                Meta("R 100 new.h\n"),
                {Newer()},
                {},
                {"--ignore-pattern", "n[a-f]w.?"},
                ".MAKE.META.IGNORE_PATTERNS= n[a-f]w.?\n"});
  s->push_back({"ignore_pattern_no_match",
                "newer",
                Meta("R 100 @D@/new.h\n"),
                {Newer()},
                {},
                {"--ignore-pattern", "*.c"},
                ".MAKE.META.IGNORE_PATTERNS= *.c\n"});
}

// IGNORE_FILTER.
void AddIgnoreFilterScenarios(std::vector<Scenario>* s) {
  s->push_back({"ignore_filter_N",
                "up-to-date",
                Meta("R 100 @D@/new.h\n"),
                {Newer()},
                {},
                {"--ignore-filter", "N*.h"},
                ".MAKE.META.IGNORE_FILTER= N*.h\n"});
  s->push_back({"ignore_filter_S_keeps",
                "newer",
                Meta("R 100 @D@/new.h\n"),
                {Newer()},
                {},
                {"--ignore-filter", "S,new,old, M*/old.h"},
                ".MAKE.META.IGNORE_FILTER= S,new,old, M*/old.h\n"});
  s->push_back({"ignore_filter_C_empties",
                "up-to-date",
                Meta("R 100 @D@/new.h\n"),
                {Newer()},
                {},
                {"--ignore-filter", "C,.*/n[ew]+\\.h$,,"},
                ".MAKE.META.IGNORE_FILTER= C,.*/n[ew]+\\.h$$,,\n"});
  s->push_back({"ignore_filter_T_N_empties",
                "up-to-date",
                Meta("R 100 @D@/new.h\n"),
                {Newer()},
                {},
                {"--ignore-filter", "T:Nnew.h"},
                ".MAKE.META.IGNORE_FILTER= T:Nnew.h\n"});
  s->push_back({"ignore_filter_tu_H_keeps",
                "newer",
                Meta("R 100 @D@/new.h\n"),
                {Newer()},
                {},
                {"--ignore-filter", "tu:H:[1]"},
                ".MAKE.META.IGNORE_FILTER= tu:H:[1]\n"});
}

// Malformed and truncated lines.
void AddMalformedScenarios(std::vector<Scenario>* s) {
  // Malformed and truncated lines.
  s->push_back({"blank_line_malformed",
                "malformed",
                Meta("R 100 @D@/old.h\n\nR 100 @D@/new.h\n"),
                {Older(), Newer()}});
  s->push_back({"lone_hash_malformed", "malformed", Meta("#\n"), {}});
  s->push_back({"hash_word_malformed", "malformed", Meta("#comment\n"), {}});
  s->push_back({"lone_V_malformed", "malformed", Meta("V\n"), {}});
  s->push_back({"record_without_pid", "malformed", Meta("R\n"), {}});
  s->push_back({"record_without_path", "malformed", Meta("R 100\n"), {}});
  s->push_back({"record_with_empty_path", "malformed", Meta("R 100 \n"), {}});
  s->push_back({"link_one_path", "malformed", Meta("L 100 '@D@/new.h'\n"), {Newer()}});
  s->push_back({"move_one_path", "malformed", Meta("M 100 '@D@/x'\n"), {}});
  s->push_back({"unknown_letter_ignored", "up-to-date", Meta("Z 100 whatever\nQ 1 2 3\n"), {}});
  s->push_back({"unknown_word_without_blank", "malformed", Meta("Zfoo\n"), {}});
  s->push_back({"pid_not_numeric", "newer", Meta("R abc @D@/new.h\n"), {Newer()}});
  s->push_back({"pid_with_extra_blank", "up-to-date", Meta("R  100 @D@/new.h\n"), {Newer()}});
  s->push_back({"truncated_last_line", "truncated", Meta("R 100 @D@/old.h"), {Older()}});
  s->push_back({"stops_at_first_reason", "newer", Meta("R 100 @D@/new.h\n\n#\n"), {Newer()}});
}

// A NUL byte inside a line.
void AddNulScenarios(std::vector<Scenario>* s) {
  // A NUL inside a line: bmake's strlen() stops there and its line reader, seeing no '\n',
  // grows its 64 KiB buffer when the file is larger and reads on, gluing the next line to the
  // text before the NUL; a smaller .meta gives a truncated line.
  const std::string nul_line("out\0put\n", 8);
  std::string filler;
  for (int i = 0; i < 10000; ++i) filler += "filler line of the command output\n";
  const auto with_output = [](const std::string& output, const std::string& records) {
    return absl::StrCat("# Meta data file @D@/foo.meta\nCMD echo build > foo\nCWD @D@\n",
                        "TARGET foo\n-- command output --\n", output,
                        "-- filemon acquired metadata --\n# filemon version 5\nV 5\n", records);
  };
  // A line that does not fit bmake's first 64 KiB buffer grows it too, and so does a last
  // line without its '\n' in a .meta too large for the buffer (bmake tries to read on).
  s->push_back({"long_output_line_grows_buffer",
                "up-to-date",
                with_output(std::string(70000, 'x') + "\n", "R 100 @D@/old.h\n"),
                {Older()}});
  s->push_back({"long_record_grows_buffer",
                "up-to-date",
                with_output("", absl::StrCat("R 100 @D@/", std::string(70000, 'a'), "\n")),
                {}});
  s->push_back({"truncated_last_line_large_meta_grows_buffer",
                "truncated",
                with_output(filler, "R 100 @D@/old.h"),
                {Older()}});
  s->push_back({"nul_in_output_small_meta_truncated",
                "truncated",
                with_output(nul_line, "R 100 @D@/old.h\n"),
                {Older()}});
  s->push_back({"nul_in_output_large_meta_glued",
                "up-to-date",
                with_output(nul_line + filler, "R 100 @D@/old.h\n"),
                {Older()}});
  s->push_back({"nul_in_output_large_meta_then_newer",
                "newer",
                with_output(filler + nul_line + "x\n", "R 100 @D@/old.h\nR 100 @D@/new.h\n"),
                {Older(), Newer()}});
  s->push_back({"nul_in_record_large_meta_swallows_next",
                "up-to-date",
                with_output(filler, std::string("R 100 @D@/ne\0w\nR 100 @D@/new.h\n", 31)),
                {Newer()}});
  // A multi-line command whose first line holds a NUL: its text is the glued line, and the
  // continuation follows it, not the bytes after it in the file.
  s->push_back({"nul_in_multiline_cmd_large_meta",
                "cmd_changed",
                absl::StrCat(std::string("CMD echo x\0junk\ny\n", 18),
                             "CWD @D@\nTARGET foo\n-- command output --\n", filler),
                {},
                {{"echo ${x y:L:ts\\n}", "echo x\ny"}}});
  // A continuation line that starts with a NUL: bmake reads it into its buffer after the '\n'
  // of the line before, so it is complete and empty, and adds nothing (not even that '\n').
  s->push_back({"nul_starts_cmd_continuation_large_meta",
                "cmd_changed",
                absl::StrCat(std::string("CMD echo x\0junk\ny\n\0CWD @D@\n", 27),
                             "TARGET foo\n-- command output --\n", filler),
                {},
                {{"echo ${x y:L:ts\\n}", "echo x\ny"}}});
  s->push_back({"empty_meta", "up-to-date", "", {}});
  s->push_back({"buildmon_marker",
                "newer",
                "# Meta data file @D@/foo.meta\nCMD echo build > foo\nCWD @D@\nTARGET foo\n"
                "-- command output --\n# buildmon version 3\nV 3\nR 100 @D@/new.h\n",
                {Newer()}});
  s->push_back({"records_before_marker_ignored",
                "up-to-date",
                "CMD echo build > foo\nCWD @D@\n-- command output --\nR 100 @D@/new.h\n",
                {Newer()}});
}

// CMD records.
void AddCommandScenarios(std::vector<Scenario>* s) {
  // CMD and CWD.
  s->push_back({"cmd_changed", "cmd_changed", Meta("", "CMD echo built > foo\n"), {}});
  s->push_back({"cmd_prefix_is_compared",
                "cmd_changed",
                Meta(""),
                {},
                {{"@echo build > ${.TARGET}", "@echo build > foo"}}});
  s->push_back(
      {"cmd_trailing_blank_is_compared", "cmd_changed", Meta("", "CMD echo build > foo \n"), {}});
  s->push_back({"cmd_more_in_meta",
                "cmd_more_in_meta",
                Meta("", "CMD echo build > foo\nCMD echo again\n"),
                {}});
  s->push_back(
      {"cmd_extra_now",
       "cmd_extra_now",
       Meta(""),
       {},
       {{"echo build > ${.TARGET}", "echo build > foo"}, {"touch ${.TARGET}", "touch foo"}}});
  s->push_back(
      {"cmd_extra_now_needs_cwd",
       "up-to-date",
       "CMD echo build > foo\n-- command output --\n",
       {},
       {{"echo build > ${.TARGET}", "echo build > foo"}, {"touch ${.TARGET}", "touch foo"}}});
  s->push_back({"cmd_bare_counts", "up-to-date", Meta("", "CMD\n"), {}});
  s->push_back({"cmd_oodate_not_compared",
                "up-to-date",
                Meta("", "CMD echo other\n"),
                {},
                {{"echo ${.OODATE} > ${.TARGET}", "echo  > foo", false}}});
  s->push_back({"cmd_dollar_question_not_compared",
                "up-to-date",
                Meta("", "CMD echo other\n"),
                {},
                {{"echo $? > ${.TARGET}", "echo  > foo", false}}});
  s->push_back({"nometa_cmp",
                "up-to-date",
                Meta("", "CMD echo other\n"),
                {},
                {},
                {"--no-cmd-compare"},
                "",
                "",
                ".NOMETA_CMP"});
  s->push_back({"nometa_cmp_still_counts",
                "cmd_more_in_meta",
                Meta("", "CMD echo build > foo\nCMD echo more\n"),
                {},
                {},
                {"--no-cmd-compare"},
                "",
                "",
                ".NOMETA_CMP"});
  s->push_back({"ignore_cmd",
                "up-to-date",
                Meta("", "CMD echo other\n"),
                {},
                {},
                {"--ignore-cmd"},
                "",
                "ignore-cmd"});
}

// Multi-line commands, and CWD records.
void AddMultilineAndCwdScenarios(std::vector<Scenario>* s) {
  s->push_back({"cmd_multiline",
                "up-to-date",
                Meta("", "CMD echo x\ny\n"),
                {},
                {{"echo ${x y:L:ts\\n}", "echo x\ny"}}});
  s->push_back({"cmd_multiline_changed",
                "cmd_changed",
                Meta("", "CMD echo x\nz\n"),
                {},
                {{"echo ${x y:L:ts\\n}", "echo x\ny"}}});
  s->push_back({"cmd_multiline_truncated",
                "up-to-date",
                "CMD echo x\ny",
                {},
                {{"echo ${x y:L:ts\\n}", "echo x\ny"}}});
  s->push_back({"cmd_in_command_output",
                "cmd_more_in_meta",
                "CMD echo build > foo\nCWD @D@\n-- command output --\nCMD from output\n",
                {}});
  s->push_back({"cwd_changed",
                "cwd_changed",
                "CMD echo build > foo\nCWD /somewhere/else\n-- command output --\n",
                {}});
  s->push_back({"cwd_bare_malformed", "malformed", "CMD echo build > foo\nCWD\n", {}});
  s->push_back({"cwd_in_command_output",
                "cwd_changed",
                "CMD echo build > foo\nCWD @D@\n-- command output --\nCWD /x\n",
                {}});
}

// Without a .meta, a filemon section or the target.
void AddMissingMetaScenarios(std::vector<Scenario>* s) {
  // missing-filemon, missing-meta, missing target.
  s->push_back({"no_filemon_default",
                "up-to-date",
                "CMD echo build > foo\nCWD @D@\n-- command output --\n\n",
                {}});
  s->push_back({"missing_filemon",
                "missing_filemon",
                "CMD echo build > foo\nCWD @D@\n-- command output --\n\n",
                {},
                {},
                {"--missing-filemon"},
                "",
                "missing-filemon=yes"});
  s->push_back({"missing_filemon_empty_section_ok",
                "up-to-date",
                Meta(""),
                {},
                {},
                {"--missing-filemon"},
                "",
                "missing-filemon=yes"});
  s->push_back({"no_meta_default", "up-to-date", "<none>", {}});
  s->push_back({"missing_meta",
                "missing_meta",
                "<none>",
                {},
                {},
                {"--missing-meta"},
                "",
                "missing-meta=yes"});
  s->push_back({"target_missing", "target_missing", Meta(""), {}, {}, {}, "", "", "", true});
}

// The bailiwick.
void AddBailiwickScenarios(std::vector<Scenario>* s) {
  // Bailiwick: W/L-target/M-target files outside .OBJDIR but inside the bailiwick.
  s->push_back({"bailiwick_write_missing",
                "missing_files",
                Meta("W 100 @O@/gen.h\n"),
                {},
                {},
                {"--bailiwick", "@O@"},
                ".MAKE.META.BAILIWICK= @O@\n"});
  s->push_back({"bailiwick_write_present",
                "up-to-date",
                Meta("W 100 @O@/gen.h\n"),
                {{"o/gen.h", 11}},
                {},
                {"--bailiwick", "@O@"},
                ".MAKE.META.BAILIWICK= @O@\n"});
  s->push_back({"bailiwick_write_under_cwd",
                "up-to-date",
                Meta("W 100 @D@/gen.h\n"),
                {},
                {},
                {"--bailiwick", "@D@"},
                ".MAKE.META.BAILIWICK= @D@\n"});
  s->push_back({"bailiwick_move_target_missing",
                "missing_files",
                Meta("M 100 '@O@/a' '@O@/b'\n"),
                {},
                {},
                {"--bailiwick", "@O@"},
                ".MAKE.META.BAILIWICK= @O@\n"});
  s->push_back({"bailiwick_link_target_dangling",
                "up-to-date",
                Meta("L 100 '@D@/old.h' '@O@/l'\n"),
                {Older(), {"o/l", 5, "@O@/nowhere"}},
                {},
                {"--bailiwick", "@O@"},
                ".MAKE.META.BAILIWICK= @O@\n"});
  s->push_back({"no_bailiwick_write_missing_ignored", "up-to-date", Meta("W 100 @O@/gen.h\n"), {}});
  s->push_back({"bailiwick_missing_but_ignored",
                "up-to-date",
                Meta("W 100 @O@/gen.h\n"),
                {},
                {},
                {"--bailiwick", "@O@", "--ignore-pattern", "*.h"},
                ".MAKE.META.BAILIWICK= @O@\n.MAKE.META.IGNORE_PATTERNS= *.h\n"});
}

// More quirks.
void AddQuirkScenarios(std::vector<Scenario>* s) {
  // More quirks.
  s->push_back({"ignored_exec_keeps_latestdir",
                "newer",
                Meta("R 100 @D@/sub\nE 100 /etc/no-such-tool\nR 100 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back({"default_ignore_paths",
                "up-to-date",
                Meta("R 100 /dev/null\nR 100 /proc/self/stat\nR 100 /etc/passwd\n"
                     "R 100 /etc/no/such/file\n"),
                {}});
  s->push_back({"link_source_relative_newer", "newer", Meta("L 100 'new.h' '@D@/l'\n"), {Newer()}});
  s->push_back(
      {"extra_commands_and_cwd_changed",
       "cmd_extra_now",
       "CMD echo build > foo\nCWD /elsewhere\n-- command output --\n",
       {},
       {{"echo build > ${.TARGET}", "echo build > foo"}, {"touch ${.TARGET}", "touch foo"}}});
  s->push_back({"new_pid_after_exit_keeps_stale_dirs",
                "newer",
                Meta("C 100 @D@/sub\nX 100 0 0\nR 101 x.h\n"),
                {{"d/sub", 5, "", true}, {"d/sub/x.h", 11}, {"d/x.h", 5}}});
  s->push_back(
      {"missing_through_missing_directory", "missing_files", Meta("R 100 @O@/nodir/gone.h\n"), {}});
}

}  // namespace

std::vector<Scenario> BmakeScenarios() {
  std::vector<Scenario> s;
  AddReadScenarios(&s);
  AddPidScenarios(&s);
  AddMissingScenarios(&s);
  AddIgnorePathScenarios(&s);
  AddIgnoreFilterScenarios(&s);
  AddMalformedScenarios(&s);
  AddNulScenarios(&s);
  AddCommandScenarios(&s);
  AddMultilineAndCwdScenarios(&s);
  AddMissingMetaScenarios(&s);
  AddBailiwickScenarios(&s);
  AddQuirkScenarios(&s);
  return s;
}

}  // namespace filemon_meta_test
