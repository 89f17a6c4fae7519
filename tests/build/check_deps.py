#!/usr/bin/python3
"""check_deps.py: checks that `make run` on a fresh Debian 12 installs everything its build
needs. `make test` runs it early (and `make check-deps` alone); about a clean build's time.

Issue 15: protoc, which every web build runs, was only among deps.sh's test packages, so
`make run` on a fresh machine stopped at the web build, and CI, which installs the test
packages first, never noticed. So the list to check against is not kept by hand (it would pass
by construction): it is derived from the build itself, here and now.

1. What the build needs. A copy of the tree (no build output, no web/node_modules) runs
   `make -j2 run` under `strace -f -e trace=execve`, with two stubs: scripts/deps.sh (checked
   in step 2) and scripts/run-local.sh (it would start the server). That is exactly what
   `make run` builds: `make web-deps` (npm ci) and `make all`, with the web client. From the
   trace, each successfully executed program outside the copy (plus the interpreter named
   by a script's #! line) is mapped to its Debian package with `dpkg -S`, following its
   symlinks (the first path a package owns counts: /usr/bin/pkg-config is pkgconf's, the
   /usr/bin/cc alternative gcc's) and usr-merge (dpkg knows /bin/sh, not /usr/bin/sh).
   Programs inside the copy (what the build made, what npm ci installed) need no package.
   Any other program that no package owns fails the check, except node and npm, which
   deps.sh looks up by command, not by package (a NodeSource or nvm node is as good as
   Debian's): those, when no package owns them, stand for Debian's nodejs and npm.
   Also from the trace: every module the build asks pkg-config for (mapped through its .pc
   file), and every library the Makefile links by -l itself, not via pkg-config (-ljansson,
   -lm), mapped through the file the compiler finds for it.
2. What `make run` installs. Its set-up line (the first recipe line of `run:` in the Makefile,
   ./scripts/deps.sh) runs with PATH shims: a dpkg-query that finds nothing installed, an
   apt-get that records what it is asked and succeeds, `id -u` = 0, and PATH without the
   commands deps.sh looks up with `command -v` (node, npm), so that it asks for everything.
3. Each package of step 1 must be among those of step 2, except: packages every Debian system
   has (Essential: yes or Priority: required: dash, coreutils, findutils, ...), and, when
   build-essential is asked for, the packages it brings (its Depends closure among installed
   packages, from `apt-cache depends --recurse --installed`: gcc-12, binutils, make,
   libc6-dev, ...): build-essential exists to bring the toolchain, and naming gcc-12 in deps.sh
   would pin a compiler version. A package that some other requested package merely happens
   to pull in does not count: deps.sh must name what the build runs.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Left out of the copy: build output and what the build itself fetches (as a fresh clone).
SKIP_DIRS = {"build", "data", ".git", os.path.join("web", "node_modules"),
             os.path.join("web", "dist"), os.path.join("web", "src", "gen")}
NODE_NAMES = {"node": "nodejs", "nodejs": "nodejs", "npm": "npm", "npx": "npm"}
CC_RE = re.compile(r"^(?:[\w.-]+-)?(?:cc|gcc|clang)(?:-[\d.]+)?$")
PKGCONFIG_RE = re.compile(r"^(?:[\w.-]+-)?(?:pkg-config|pkgconf)$")


def die(msg):
    print("check_deps: FAILED: " + msg)
    sys.exit(1)


def copy_tree(dst):
    """Copies the source tree to dst without build output; git's file list when there is one
    (tracked and untracked-but-not-ignored files), else a walk."""
    try:
        r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "-co", "--exclude-standard"],
                           capture_output=True)
    except FileNotFoundError:  # no git: a tarball on a machine without it
        r = None
    if r and r.returncode == 0:
        files = [f for f in r.stdout.decode().split("\0") if f]
    else:
        files = []
        for dirpath, dirnames, filenames in os.walk(ROOT):
            rel = os.path.relpath(dirpath, ROOT)
            dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel, d)) not in SKIP_DIRS
                           and not (rel == "." and d.startswith("build"))]
            files += [os.path.normpath(os.path.join(rel, f)) for f in filenames]
    for f in files:
        top = f.split("/")[0]
        if top == "build" or top.startswith("build-") or any(f == d or f.startswith(d + "/") for d in SKIP_DIRS):
            continue
        src = os.path.join(ROOT, f)
        if not os.path.lexists(src):  # deleted in the work tree but not yet in git
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, f), follow_symlinks=False)


def stub(path, why):
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\n# check_deps.py stub: {why}\nexit 0\n")
    os.chmod(path, 0o755)


def clean_env():
    """The caller's environment minus the outer make's: the traced make is a make of its own."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"):
        env.pop(k, None)
    return env


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "\\": "\\", '"': '"'}


def unescape(s):
    """Decodes a string as strace prints it (C escapes, \\xHH, octal)."""
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif s[i + 1] in ESCAPES:
            out += ESCAPES[s[i + 1]].encode()
            i += 2
        elif s[i + 1] == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(int(m.group(0), 8))
            i += 1 + len(m.group(0))
    return out.decode("utf-8", "replace")


STR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def read_execs(trace_dir):
    """Returns (path, argv) for every execve that succeeded, from strace -ff files."""
    execs = []
    for name in sorted(os.listdir(trace_dir)):
        pending = None
        with open(os.path.join(trace_dir, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("execve("):
                    if line.rstrip().endswith("<unfinished ...>"):
                        pending = line
                        continue
                    call, result = line, line
                elif line.startswith("<... execve resumed>") and pending:
                    call, result, pending = pending, line, None
                else:
                    continue
                if not re.search(r"\) = 0$", result.rstrip()):
                    continue
                strs = [unescape(s) for s in STR_RE.findall(call)]
                execs.append((strs[0], strs[1:]))
    return execs


def interpreter(path):
    """The program a script's #! line names, or None."""
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    return words[0] if words else None


def usrmerge_alias(p):
    """/usr/bin/x <-> /bin/x and the like: dpkg knows only the name the package shipped."""
    for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if p.startswith(f"/usr/{d}/"):
            return p[4:]
        if p.startswith(f"/{d}/"):
            return "/usr" + p
    return None


def candidates(path):
    """The paths to ask dpkg about, in order: the path, each step of its symlink chain, its
    real path, each also under its usr-merge alias."""
    chain, p = [], os.path.normpath(path)
    while p not in chain and len(chain) < 40:
        chain.append(p)
        if not os.path.islink(p):
            break
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
    chain.append(os.path.realpath(path))
    out = []
    for c in chain:
        for a in (c, usrmerge_alias(c)):
            if a and a not in out:
                out.append(a)
    return out


def dpkg_owners(paths):
    """{path: package} for those of paths that an installed package owns (one dpkg-query)."""
    if not paths:
        return {}
    r = subprocess.run(["dpkg-query", "-S"] + sorted(paths), capture_output=True, text=True)
    owners = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion by"):
            continue
        pkgs, sep, p = line.partition(": ")
        if sep and p in paths:
            owners[p] = pkgs.split(",")[0].strip().split(":")[0]
    return owners


def set_up_line():
    """The first recipe line of `run:` in the Makefile: what `make run` runs before building."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        lines = f.read().splitlines()
    for i, l in enumerate(lines):
        if re.match(r"^run\s*:", l):
            for r in lines[i + 1:]:
                if not r.startswith("\t"):
                    break
                cmd = r.strip().lstrip("@-+").strip()
                if cmd:
                    return cmd
    die("no recipe for `run:` in the Makefile")


def run_set_up(tmp):
    """Runs make run's set-up step on a machine where, as far as it can tell, nothing is
    installed; returns the packages it asked apt-get to install."""
    shims, mirror = os.path.join(tmp, "shims"), os.path.join(tmp, "path")
    os.makedirs(shims)
    os.makedirs(mirror)
    log = os.path.join(tmp, "apt-get.log")
    with open(os.path.join(shims, "dpkg-query"), "w") as f:
        f.write('#!/bin/sh\n# check_deps.py: nothing is installed.\n'
                'echo "dpkg-query: no packages found matching $*" >&2\nexit 1\n')
    with open(os.path.join(shims, "apt-get"), "w") as f:
        f.write(f'#!/bin/sh\n# check_deps.py: records what it is asked, installs nothing.\n'
                f'echo "$*" >> "{log}"\nexit 0\n')
    real_id = shutil.which("id")
    with open(os.path.join(shims, "id"), "w") as f:
        f.write(f'#!/bin/sh\n# check_deps.py: root, as `make run` on a fresh machine.\n'
                f'[ "$*" = "-u" ] && {{ echo 0; exit 0; }}\nexec {real_id} "$@"\n')
    for s in ("dpkg-query", "apt-get", "id"):
        os.chmod(os.path.join(shims, s), 0o755)
    cmd = set_up_line()
    script = os.path.join(ROOT, cmd.split()[0])
    if "$" in cmd or not os.path.isfile(script):
        die(f"make run's set-up line is `{cmd}`: this check runs a script of the tree, without make variables")
    with open(script) as f:
        hidden = set(re.findall(r"command -v ([\w.+-]+)", f.read()))
    # PATH as the caller has it, less the commands looked up by `command -v`, so that they
    # look missing too. Links, one directory: the first of each name on PATH wins, as there.
    for d in os.environ.get("PATH", "").split(":"):
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            p = os.path.join(d, n)
            if n in hidden or os.path.lexists(os.path.join(mirror, n)) or os.path.exists(os.path.join(shims, n)):
                continue
            if os.path.isfile(p) and os.access(p, os.X_OK):
                os.symlink(p, os.path.join(mirror, n))
    env = clean_env()
    env["PATH"] = f"{shims}:{mirror}"
    # deps.sh puts a policy-rc.d in place while it installs (no daemon starts); not in /usr/sbin here.
    env["PARLEY_POLICY_RC_D"] = os.path.join(tmp, "policy-rc.d")
    r = subprocess.run(["/bin/sh", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"`{cmd}` with nothing installed exited {r.returncode}:\n{r.stdout}{r.stderr}")
    if os.path.exists(env["PARLEY_POLICY_RC_D"]):
        die(f"`{cmd}` left its policy-rc.d behind")
    asked = set()
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                words = line.split()
                if "install" in words:
                    asked |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    if not asked:
        die(f"`{cmd}` with nothing installed asked apt-get to install nothing")
    return cmd, sorted(hidden), asked


def trace_build(tmp):
    """Runs `make -j2 run` in a copy of the tree under strace; returns the successful execs."""
    tree, traces = os.path.join(tmp, "tree"), os.path.join(tmp, "trace")
    os.makedirs(traces)
    copy_tree(tree)
    stub(os.path.join(tree, "scripts", "deps.sh"), "the installer is checked on its own")
    stub(os.path.join(tree, "scripts", "run-local.sh"), "would start the server")
    env = clean_env()
    env["npm_config_prefer_offline"] = "true"  # the npm cache when it has the packages
    strace = shutil.which("strace")
    if not strace:
        die("strace not found (a test package: ./scripts/deps.sh test installs it)")
    with open(os.path.join(tmp, "build.log"), "w") as out:
        r = subprocess.run([strace, "-f", "--seccomp-bpf", "-qq", "-ff", "-s", "65535",
                            "-e", "trace=execve", "-o", os.path.join(traces, "t"),
                            "make", "-j2", "run"], cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        with open(os.path.join(tmp, "build.log")) as f:
            tail = f.read()[-4000:]
        die(f"the traced `make -j2 run` failed ({r.returncode}):\n{tail}")
    execs = read_execs(traces)
    if not any(os.path.basename(p) == "make" for p, _ in execs):
        die("the trace shows no make: strace traced nothing")
    return tree, env, execs


def needed_packages(tree, env, execs):
    """{package: [why, ...]} from the trace; exits on anything it cannot map."""
    inside = os.path.realpath(tree) + "/"
    programs = {}  # path -> how it was run
    for path, argv in execs:
        if not os.path.isabs(path):
            continue  # ./scripts/deps.sh and the like: every process of the build runs in the copy
        programs.setdefault(path, "run")
        interp = interpreter(path)
        if interp:
            programs.setdefault(interp, f"#! of {os.path.basename(path)}")
    # pkg-config modules and their -l flags.
    modules, pc_libs = set(), set()
    for path, argv in execs:
        if not PKGCONFIG_RE.match(os.path.basename(path)):
            continue
        args, skip = argv[1:], False
        for a in args:
            if skip:
                skip = False
            elif a in ("<", "<=", "=", ">=", ">", "!="):
                skip = True  # the version after it
            elif not a.startswith("-"):
                modules.add(a)
        if "--libs" in args:
            r = subprocess.run([path] + args, cwd=tree, env=env, capture_output=True, text=True)
            pc_libs |= {w[2:] for w in r.stdout.split() if w.startswith("-l")}
    if not modules:
        die("the trace shows no pkg-config module: the build changed, or the trace is wrong")
    # -l flags the Makefile gives the compiler itself (those a module's --libs also gives are
    # that module's package's).
    own_libs, all_libs = {}, set()
    for path, argv in execs:
        if not CC_RE.match(os.path.basename(path)):
            continue
        for i, a in enumerate(argv[1:], 1):
            name = a[2:] if a.startswith("-l") and len(a) > 2 else (argv[i + 1] if a == "-l" and i + 1 < len(argv) else None)
            if name:
                all_libs.add(name)
            if name and name not in pc_libs:
                own_libs.setdefault(name, path)

    items = []  # (what, path or None)
    for p, how in sorted(programs.items()):
        if (os.path.realpath(p) + "/").startswith(inside) or os.path.normpath(p).startswith(inside):
            continue  # built by make or installed by npm ci
        items.append((f"program {p} ({how})" if how != "run" else f"program {p}", p))
    for m in sorted(modules):
        r = subprocess.run(["pkg-config", "--path", m], cwd=tree, env=env, capture_output=True, text=True)
        pc = r.stdout.strip()
        if r.returncode != 0 or not pc:
            die(f"the build asks pkg-config for {m}, which no installed .pc file provides: "
                "install its -dev package and add it to BUILD in scripts/deps.sh")
        items.append((f"pkg-config module {m} ({pc})", pc))
    for name, cc in sorted(own_libs.items()):
        found = None
        for suffix in (".so", ".a"):
            r = subprocess.run([cc, f"-print-file-name=lib{name}{suffix}"], env=env, capture_output=True, text=True)
            f = os.path.normpath(r.stdout.strip())
            if os.path.isabs(f) and os.path.exists(f):
                found = f
                break
        if not found:
            die(f"the Makefile links -l{name}, which {cc} does not find")
        items.append((f"library -l{name} ({found})", found))

    cands = {what: candidates(p) for what, p in items}
    owners = dpkg_owners({c for cs in cands.values() for c in cs})
    need, unowned = {}, []
    for what, p in items:
        pkg = next((owners[c] for c in cands[what] if c in owners), None)
        if pkg is None and what.startswith("program") and os.path.basename(p) in NODE_NAMES:
            pkg = NODE_NAMES[os.path.basename(p)]  # by name, as deps.sh looks it up
            what += " (no package: by name)"
        if pkg is None:
            unowned.append(what)
        else:
            need.setdefault(pkg, []).append(what)
    libs = " ".join("-l" + n for n in sorted(own_libs)) or "none"
    print(f"check_deps: the build asks pkg-config for {len(modules)} modules and links {len(all_libs)} "
          f"libraries by -l; of those, not from a module's --libs: {libs}")
    if unowned:
        die("the build runs or reads these outside the tree, and no Debian package owns them:\n  "
            + "\n  ".join(unowned))
    return need


def always_there(pkgs):
    """Those of pkgs that every Debian system has (Essential: yes or Priority: required)."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\n"] + sorted(pkgs),
                       capture_output=True, text=True)
    out = set()
    for line in r.stdout.splitlines():
        w = line.split()
        if len(w) >= 2 and ("yes" in w[1:] or "required" in w[1:]):
            out.add(w[0])
    return out


def closure(pkg):
    """The installed packages that pkg brings by Depends/Pre-Depends, recursively."""
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
                        "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                        "--no-enhances", pkg], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"apt-cache depends {pkg}: {r.stderr.strip()}")
    return {l.strip() for l in r.stdout.splitlines() if l and not l[0].isspace() and not l.startswith("<")}


def main():
    with tempfile.TemporaryDirectory(prefix="parley-check-deps-") as tmp:
        cmd, hidden, asked = run_set_up(tmp)
        print(f"check_deps: `{cmd}` on a machine with nothing installed (and no {', '.join(hidden)}) "
              f"asks apt-get for {len(asked)} packages: {' '.join(sorted(asked))}")
        tree, env, execs = trace_build(tmp)
        need = needed_packages(tree, env, execs)
    essential = always_there(need)
    toolchain = closure("build-essential") if "build-essential" in asked else set()
    print(f"check_deps: a traced `make -j2 run` ({len(execs)} programs run) needs {len(need)} packages:")
    missing = []
    for pkg in sorted(need):
        if pkg in asked:
            how = "asked for"
        elif pkg in essential:
            how = "on every Debian system (essential/required)"
        elif pkg in toolchain:
            how = "brought by build-essential"
        else:
            how = "NOT INSTALLED by make run"
            missing.append(pkg)
        whys = need[pkg]
        shown = "; ".join(whys[:3]) + (f"; and {len(whys) - 3} more" if len(whys) > 3 else "")
        print(f"  {pkg}: {how}: {shown}")
    if missing:
        die(f"`make run` would not install {' '.join(missing)}, which its build needs: "
            "add them to BUILD in scripts/deps.sh")
    print("check_deps: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
