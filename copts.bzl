"""Compiler options every C++ target of filemon carries itself.

They are on the targets, not in .bazelrc, so that a workspace that depends on filemon builds it
with no .bazelrc lines of its own (Bazel 4's default toolchain compiles with -std=c++0x).
C targets and genrules do not use them.
"""

FILEMON_COPTS = ["-std=c++17", "-Wpedantic"]
