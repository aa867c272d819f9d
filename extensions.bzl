"""Bzlmod (Bazel 7+) module extension for MODULE.bazel: the system C++ libraries, declared by the
same repository rules as deps.bzl. UNTESTED here (Bazel 4.2.3 has no Bzlmod); never loaded by
the WORKSPACE build.
"""

load("@bazel_tools//tools/build_defs/repo:local.bzl", "new_local_repository")
load("//third_party:system_libs.bzl", "system_abseil", "system_libs")

def _filemon_system_libraries_impl(module_ctx):
    system_abseil(name = "system_abseil")
    system_libs(name = "system_libs")
    new_local_repository(
        name = "com_google_protobuf",
        build_file = Label("//third_party:protobuf.BUILD"),
        path = "/usr",
    )

filemon_system_libraries = module_extension(implementation = _filemon_system_libraries_impl)
