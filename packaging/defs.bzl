"""filemon_install_manifest: what `bazel run //:install -- --prefix DIR` copies, and where.

The rule writes a manifest of lines "MODE DEST SOURCE": DEST relative to the prefix, SOURCE the
file's runfiles path (relative to the main repository's runfiles directory, so "../REPO/..."
for a file of another repository: install.sh works under any repository name).
"""

def _runfiles_path(f):
    return f.short_path

def _dest_header(f):
    # "filemon/core/record.h", also for a generated header or one of another repository.
    path = f.short_path
    if path.startswith("../"):
        path = path.split("/", 2)[2]
    return "include/" + path

def _impl(ctx):
    lines = []
    files = []
    for attr, dest_dir, mode in [
        (ctx.attr.bin, "bin", "755"),
        (ctx.attr.lib, "lib", "755"),
        (ctx.attr.private_lib, "lib/filemon", "755"),
    ]:
        for target in attr:
            for f in target[DefaultInfo].files.to_list():
                lines.append("%s %s/%s %s" % (mode, dest_dir, f.basename, _runfiles_path(f)))
                files.append(f)
    for target in ctx.attr.hdrs:
        for f in target[CcInfo].compilation_context.direct_public_headers:
            lines.append("644 %s %s" % (_dest_header(f), _runfiles_path(f)))
            files.append(f)
    manifest = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(manifest, "\n".join(sorted(lines)) + "\n")
    return [DefaultInfo(files = depset([manifest]), runfiles = ctx.runfiles(files = files + [manifest]))]

filemon_install_manifest = rule(
    implementation = _impl,
    attrs = {
        "bin": attr.label_list(doc = "programs for PREFIX/bin"),
        "lib": attr.label_list(doc = "libraries for PREFIX/lib"),
        "private_lib": attr.label_list(doc = "files the programs find beside them: PREFIX/lib/filemon"),
        "hdrs": attr.label_list(providers = [CcInfo], doc = "libraries whose public headers go to PREFIX/include"),
    },
)
