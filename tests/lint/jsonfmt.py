#!/usr/bin/env python3
"""Checks every json_pack/json_unpack format in the C sources against its
arguments: a format with one pair too few once made an option a silent
no-op. Counts the arguments each conversion takes (jansson's pack and
unpack rules) and compares with the arguments written after the format.
Calls whose format is not a string literal are listed, not judged.
Usage: jsonfmt.py FILE.c ...   exit 1 on any mismatch."""
import re
import sys

CALLS = {  # name: index of the format argument
    "json_pack": 0, "json_pack_ex": 2, "json_unpack": 1, "json_unpack_ex": 3,
}


def split_args(text, start):
    """Arguments of the call whose '(' is at start; (args, end)."""
    depth, i, cur, args = 0, start, [], []
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while text[j] != c:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        if c in "([{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    raise ValueError("unbalanced call")


def literal(arg):
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', arg)
    rest = re.sub(r'"((?:[^"\\]|\\.)*)"', "", arg).strip()
    if not parts or rest:
        return None
    return "".join(parts)


def needed(fmt, unpack):
    n, i = 0, 0
    while i < len(fmt):
        c = fmt[i]
        nxt = fmt[i + 1] if i + 1 < len(fmt) else ""
        if c in " \t\n:,[]{}!*":
            i += 1
            continue
        if c == "s":
            n += 1
            if nxt in "#%":
                n += 1
                i += 1
            elif nxt in "?*" and not unpack:
                i += 1
        elif c in "biIfFoO":
            n += 1
            if nxt in "?*" and not unpack:
                i += 1
        elif c == "n":
            pass
        elif c == "?" and unpack:
            pass
        elif c == "+" and not unpack:
            pass
        else:
            raise ValueError("unknown conversion %r in %r" % (c, fmt))
        i += 1
    return n


checked = 0


def check(path):
    global checked
    text = open(path, encoding="utf-8", errors="replace").read()
    bad = 0
    for m in re.finditer(r"\b(json_(?:un)?pack(?:_ex)?)\s*\(", text):
        name = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        if text[:m.start()].rstrip().endswith(("int", "json_t *", "*")) \
                and re.search(r"^\s*(int|json_t\s*\*)\s*$",
                              text[text.rfind("\n", 0, m.start()) + 1:m.start()]):
            continue    # a declaration, not a call
        try:
            args, _ = split_args(text, m.end() - 1)
        except (ValueError, IndexError):
            continue
        k = CALLS[name]
        if len(args) <= k:
            continue
        fmt = literal(args[k])
        if fmt is None:
            print("%s:%d: %s: format is not a literal, not checked"
                  % (path, line, name))
            continue
        try:
            want = needed(fmt, "unpack" in name)
        except ValueError as e:
            print("%s:%d: %s: %s" % (path, line, name, e))
            bad += 1
            continue
        got = len(args) - k - 1
        checked += 1
        if got != want:
            print("%s:%d: %s \"%s\": %d argument(s) for %d conversion "
                  "argument(s)" % (path, line, name, fmt, got, want))
            bad += 1
    return bad


def main():
    bad = sum(check(p) for p in sys.argv[1:])
    print("jsonfmt: %d json_pack/json_unpack formats checked, %d wrong"
          % (checked, bad))
    sys.exit(1 if bad else 0)


main()
