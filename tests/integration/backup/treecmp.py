#!/usr/bin/env python3
"""Compares two trees independently of the backup engine: os.lstat,
os.listxattr/getxattr, os.readlink and the file bytes. Usage:
treecmp.py [--content-only] [--ignore NAME]... SRC DST
Prints every difference and exits 1 if there is any. Sockets in SRC are
skipped (tar cannot hold them). Hard links are compared as groups of paths
sharing an inode. Names are bytes throughout."""
import os
import stat
import sys


def walk(root, ignore):
    out = {}
    stack = [b""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        st = os.lstat(full)
        if stat.S_ISSOCK(st.st_mode):
            continue
        out[rel] = (full, st)
        if stat.S_ISDIR(st.st_mode):
            for n in os.listdir(full):
                if n in ignore or any(i.startswith(b"*") and
                                      n.endswith(i[1:]) for i in ignore):
                    continue
                stack.append(os.path.join(rel, n) if rel else n)
    return out


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names}


def content(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    args = sys.argv[1:]
    content_only = False
    ignore = set()
    while args and args[0].startswith("--"):
        if args[0] == "--content-only":
            content_only = True
            args = args[1:]
        elif args[0] == "--ignore":
            ignore.add(os.fsencode(args[1]))
            args = args[2:]
    src, dst = os.fsencode(args[0]), os.fsencode(args[1])
    a, b = walk(src, ignore), walk(dst, ignore)
    bad = []
    for rel in sorted(set(a) | set(b)):
        name = repr(rel)[2:-1] or "."
        if rel not in b:
            bad.append("%s: missing from the restore" % name)
            continue
        if rel not in a:
            bad.append("%s: not in the source" % name)
            continue
        (fa, sa), (fb, sb) = a[rel], b[rel]
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            bad.append("%s: type %o != %o" % (name, stat.S_IFMT(sa.st_mode),
                       stat.S_IFMT(sb.st_mode)))
            continue
        if stat.S_ISREG(sa.st_mode) and content(fa) != content(fb):
            bad.append("%s: content differs" % name)
        if stat.S_ISLNK(sa.st_mode) and os.readlink(fa) != os.readlink(fb):
            bad.append("%s: link target differs" % name)
        if content_only:
            continue
        for attr in ("st_mode", "st_uid", "st_gid", "st_size"):
            if stat.S_ISDIR(sa.st_mode) and attr == "st_size":
                continue
            if getattr(sa, attr) != getattr(sb, attr):
                bad.append("%s: %s %r != %r" % (name, attr, getattr(sa, attr),
                           getattr(sb, attr)))
        if sa.st_mtime_ns != sb.st_mtime_ns:
            bad.append("%s: mtime %d != %d ns" % (name, sa.st_mtime_ns,
                       sb.st_mtime_ns))
        if (stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode)) and \
                sa.st_rdev != sb.st_rdev:
            bad.append("%s: rdev differs" % name)
        xa, xb = xattrs(fa), xattrs(fb)
        if xa != xb:
            bad.append("%s: xattrs %r != %r" % (name, xa, xb))
    if not content_only:
        # Hard links: the same groups of paths share an inode.
        def groups(t):
            g = {}
            for rel, (_, st) in t.items():
                if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                    g.setdefault((st.st_dev, st.st_ino), set()).add(rel)
            return sorted(sorted(v) for v in g.values())
        if groups(a) != groups(b):
            bad.append("hard link groups differ: %r != %r" % (groups(a),
                       groups(b)))
    for line in bad:
        print("treecmp: " + line)
    print("treecmp: %d entries compared, %d differences" % (len(a), len(bad)))
    sys.exit(1 if bad else 0)


main()
