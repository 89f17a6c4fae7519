#!/usr/bin/python3
"""check_banned_calls.py: fails, naming file:line, if the project's C code uses a string
function that is not bounded by its destination (strcpy, strcat, sprintf, ...). `make test`
runs it first (and `make check-banned` alone).

Why: such a call is as safe as every caller's idea of the lengths involved, and one wrong
idea is a write past a buffer. sdp.c's strncat was bounded by its source, so a 1023-byte
m-line with an empty port wrote one byte past mline: any group-call member could abort the
SFU. The bounded forms are snprintf (which says how long the whole result would have been)
and memcpy with a length checked against the destination right there.

Banned (the curl project's choice, strncpy included: it is bounded, but does not terminate a
string that fills the destination, and pads needlessly): gets, strcpy, stpcpy, strcat,
strncpy, stpncpy, strncat, sprintf, vsprintf and their wide-character forms. A name counts
wherever it appears as an identifier (a call, a function pointer, a macro), except in
comments, string and character literals, and after `.` or `->` (a struct member may be called
`gets`). Covers every C file of src/ (server, sfu, lib, cli, common), include/, bench/ and
tests/: none of them needs these functions.

Before scanning, a self-test runs the scanner on a planted sample and fails if it misses the
planted calls or flags the ones inside comments and strings, so the check cannot pass by
matching nothing.
"""
import os
import re
import sys

BANNED = ("gets strcpy stpcpy strcat strncpy stpncpy strncat sprintf vsprintf "
          "wcscpy wcpcpy wcscat wcsncpy wcpncpy wcsncat swprintf vswprintf").split()
# swprintf is bounded in C but the glibc and Windows signatures differ; it is not used anyway.
DIRS = ("src", "include", "bench", "tests")
NAME_RE = re.compile(r"(?<![\w.])(?<!->)(?:__builtin_)?(" + "|".join(BANNED) + r")\b")


def strip_c(text):
    """Returns text with comments, string literals and character literals blanked out (their
    newlines kept, so line numbers stay right)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = i + 2
            # A backslash at the end of a // comment continues it onto the next line.
            while j < n and (text[j] != "\n" or text[j - 1] == "\\"):
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def scan(text):
    """Yields (line number, name) for each banned identifier in C source text."""
    code = strip_c(text)
    for m in NAME_RE.finditer(code):
        yield code.count("\n", 0, m.start(1)) + 1, m.group(1)


def self_test():
    sample = (
        '/* strcpy(a, b) in a comment */\n'           # 1
        'static const char *s = "strcat(x)";\n'       # 2
        'void f(char *d, const char *s) {\n'          # 3
        '    strcpy(d, s);\n'                         # 4: planted
        '    x.gets = 1; p->sprintf = 0; // sprintf\n'  # 5: members and a comment
        "    char c = '\"'; sprintf(d, \"%s\", s);\n"  # 6: planted after a quote char
        '    void *fp = strncpy;\n'                    # 7: planted (a pointer to it)
        '    __builtin_strcat(d, s);\n'               # 8: planted
        '    snprintf(d, 4, "%s", s); my_strcpy(d);\n'  # 9: allowed
        '}\n')
    found = sorted(scan(sample))
    want = [(4, "strcpy"), (6, "sprintf"), (7, "strncpy"), (8, "strcat")]
    if found != want:
        print(f"check_banned_calls: self-test failed: found {found}, expected {want}")
        return False
    return True


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not self_test():
        return 1
    bad, files = [], 0
    for d in DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, d)):
            dirnames.sort()
            for f in sorted(filenames):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                files += 1
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for line, name in scan(fh.read()):
                        bad.append(f"{os.path.relpath(path, root)}:{line}: {name}")
    if files == 0:
        print("check_banned_calls: no C files found under " + ", ".join(DIRS))
        return 1
    for b in bad:
        print(b + " (banned: use snprintf, or memcpy with a length checked against the destination)")
    print(f"check_banned_calls: {files} C files, {len(bad)} banned calls"
          f" ({', '.join(BANNED[:9])}, ...)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
