"""filemon_dependencies(): every repository filemon needs, for filemon's own WORKSPACE and for
any workspace that depends on filemon. A consumer's WORKSPACE is:

    local_repository(name = "filemon", path = "/path/to/filemon")   # any name; or http_archive
    load("@filemon//:deps.bzl", "filemon_dependencies")
    filemon_dependencies()

Nothing is downloaded but Debian's bmake source package, once, for the bmake meta-mode tests
(third_party/bmake_source.bzl; an offline build still succeeds and those tests say they were
skipped). Bazel 4.2.3's default WORKSPACE suffix would download rules_cc,
rules_java, rules_proto and remote_coverage_tools, so they are declared first, pointing at
Debian's rule sets under /usr/share/bazel or at small stand-ins generated from
third_party/stand_ins; the C++ libraries are the system's (third_party/README.md). A repository
the consumer declared before the call is left alone, so a consumer can substitute its own.
Every label here is relative to this file's repository, so the macro works under any name.
"""

load("//third_party:bmake_source.bzl", "bmake_source")
load("//third_party:system_libs.bzl", "system_abseil", "system_libs")

def _stand_in_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    if "BUILD.bazel" not in ctx.attr.files.values():
        ctx.file("BUILD.bazel", "")
    for label, dest in ctx.attr.files.items():
        ctx.symlink(ctx.path(label), dest)

# A repository made of files from this repository (label -> path inside the new repository; a
# file mapped to "BUILD.bazel" replaces the empty top-level one).
_stand_in = repository_rule(
    implementation = _stand_in_impl,
    local = True,
    attrs = {"files": attr.label_keyed_string_dict(allow_files = True)},
)

def _declare(rule, name, **kwargs):
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def filemon_dependencies():
    """Declares rules_cc, rules_java, rules_proto, remote_coverage_tools, the system libraries
    (system_abseil, system_libs, com_google_protobuf), and filemon_bmake_source (Debian's bmake
    source package, fetched only when a bmake test is built), each unless already declared."""
    _declare(
        _stand_in,
        "rules_cc",
        files = {
            Label("//third_party/stand_ins:rules_cc.BUILD"): "cc/BUILD.bazel",
            Label("//third_party/stand_ins:rules_cc_defs.bzl"): "cc/defs.bzl",
        },
    )
    _declare(native.local_repository, "rules_java", path = "/usr/share/bazel/rules/java")
    _declare(native.local_repository, "rules_proto", path = "/usr/share/bazel/rules/proto")
    _declare(
        _stand_in,
        "remote_coverage_tools",
        files = {
            Label("//third_party/stand_ins:remote_coverage_tools.BUILD"): "BUILD.bazel",
            Label("//third_party/stand_ins:coverage_unavailable.sh"): "unavailable.sh",
        },
    )
    _declare(system_abseil, "system_abseil")
    _declare(system_libs, "system_libs")
    _declare(
        native.new_local_repository,
        "com_google_protobuf",
        build_file = str(Label("//third_party:protobuf.BUILD")),
        path = "/usr",
    )
    _declare(bmake_source, "filemon_bmake_source")
