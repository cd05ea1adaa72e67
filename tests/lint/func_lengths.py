#!/usr/bin/env python3
"""func_lengths.py: how long our C functions are (libqiflow/, collectd-plugins/,
exporter/), the figures issue 16 asks to compare before and after a change.

Prints the number of functions, the mean and the longest lines of a body
(from the line after the opening brace to the closing one), the count over
--max, and with --list every function over it. Exits 1 when any function is
longer than --max (the lint test runs it with the project's limit, 60).

A definition is a top-level "{ ... }" whose text since the previous top-level
";" or "}" holds "(" and no "=" (that would be an initialiser). Comments,
strings and character literals are skipped, preprocessor lines too.
"""
import argparse
import re
import sys
from pathlib import Path

DIRS = ("libqiflow", "collectd-plugins", "exporter")
NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def strip(text):
    """Replaces comments, strings, char literals and preprocessor lines by
    spaces, keeping the line breaks so line numbers stay true."""
    out, i, n = [], 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            j = i
            while j < n and (text[j] != "\n" or text[j - 1] == "\\"):
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c in " \t":
            out.append(c)
            i += 1
            continue
        at_line_start = c == "\n"
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (j + 1 - i))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """Yields (name, first body line, body length in lines) of path."""
    text = strip(path.read_text(encoding="utf-8"))
    depth, head, start, name = 0, [], 0, None
    line = 1
    for c in text:
        if c == "\n":
            line += 1
        if depth == 0:
            if c == "{":
                h = "".join(head)
                m = NAME.findall(h)
                name = m[-1] if m and "=" not in h and "(" in h else None
                if name and name in ("if", "while", "for", "switch"):
                    name = None
                start = line
                head = []
                depth = 1
            elif c == ";":
                head = []
            else:
                head.append(c)
        else:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    if name:
                        yield name, start, line - start - 1
                    head = []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", nargs="?", default=Path(__file__).resolve().parents[2])
    ap.add_argument("--max", type=int, default=60)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    root = Path(a.root)
    found = []
    for d in DIRS:
        for p in sorted((root / d).rglob("*.[ch]")):
            for name, start, length in functions(p):
                found.append((length, str(p.relative_to(root)), start, name))
    if not found:
        print("func_lengths: no functions found under", root, file=sys.stderr)
        return 2
    lengths = sorted(f[0] for f in found)
    over = [f for f in found if f[0] > a.max]
    print(f"functions {len(found)}  files {len({f[1] for f in found})}  "
          f"mean {sum(lengths) / len(lengths):.1f}  "
          f"median {lengths[len(lengths) // 2]}  p90 {lengths[len(lengths) * 9 // 10]}  "
          f"longest {lengths[-1]}  over {a.max}: {len(over)}")
    for f in sorted(found, reverse=True)[: 10 if a.list else 3]:
        print(f"  {f[0]:4d}  {f[1]}:{f[2]}  {f[3]}")
    for f in over:
        print(f"func_lengths: {f[1]}:{f[2]}: {f[3]} has {f[0]} lines, "
              f"more than {a.max}: split it", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
