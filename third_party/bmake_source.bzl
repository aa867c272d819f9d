"""bmake_source: Debian's bmake source package (the .dsc and its tarballs), for the bmake that
//filemon/backends:bmake builds with this library's filemon (scripts/bmake-filemon).

Fetched once per output base from Debian's archive by `scripts/bmake-filemon --fetch-only`, or
copied from $FILEMON_BMAKE_SOURCE (a folder holding bmake_*.dsc and the files it names) on a
machine that cannot reach the archive. When neither works the repository still resolves, with
UNAVAILABLE.txt saying why instead of the package, so that an offline `bazel build //...`
succeeds; the tests that need bmake then report themselves skipped with that reason. After the
archive becomes reachable: `bazel sync --only=<name>` (or set FILEMON_BMAKE_SOURCE).
"""

def _bmake_source_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.file("BUILD.bazel", """package(default_visibility = ["//visibility:public"])

# The source package, or UNAVAILABLE.txt with the reason it could not be had.
filegroup(
    name = "package",
    srcs = glob(["bmake_*", "UNAVAILABLE.txt"]),
)
""")
    local = ctx.os.environ.get("FILEMON_BMAKE_SOURCE", "")
    if local:
        result = ctx.execute(["sh", "-c", 'cp "$1"/bmake_* .', "sh", local])
        what = "copying bmake_* from FILEMON_BMAKE_SOURCE=" + local
    else:
        script = ctx.path(ctx.attr._script)
        result = ctx.execute(["bash", str(script), "--fetch-only", "."], timeout = 900)
        what = "scripts/bmake-filemon --fetch-only (Debian's archive)"
    if result.return_code != 0:
        ctx.execute(["sh", "-c", "rm -f bmake_*"])
        lines = (result.stderr + result.stdout).strip().split("\n")
        ctx.file("UNAVAILABLE.txt", "no bmake source package: %s failed: %s\n" % (
            what,
            " / ".join(lines[-3:]),
        ))

bmake_source = repository_rule(
    implementation = _bmake_source_impl,
    environ = ["FILEMON_BMAKE_SOURCE"],
    attrs = {"_script": attr.label(default = Label("//scripts:bmake-filemon"))},
)
