#!/usr/bin/env python3
"""static_prefixes.py: every C file of libqiflow/, collectd-plugins/ and
exporter/ names its file-local (static) functions with one prefix of its own
(e.g. ghm_ in github_mirror.c), and no two files share one, so a name found
in a backtrace or a grep leads to one file. Exits 1 naming each file with
more than one prefix and each prefix used by more than one file.

The prefix is what comes before the first "_" of a static function's name
(static helpers named with the public qf_/qfx_ prefix count as such).
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

DIRS = ("libqiflow", "collectd-plugins", "exporter")
STATIC_FN = re.compile(r"^static\s[^=;(]*?\b([a-z]+)_[a-z0-9_]*\s*\(", re.M)


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[2]
    owners = defaultdict(set)
    bad = []
    for d in DIRS:
        for path in sorted((root / d).rglob("*.c")):
            rel = path.relative_to(root)
            prefixes = set(STATIC_FN.findall(path.read_text(encoding="utf-8")))
            if len(prefixes) > 1:
                bad.append(f"{rel}: static functions use {len(prefixes)} "
                           f"prefixes ({', '.join(sorted(prefixes))}): "
                           "give them the file's one prefix")
            for p in prefixes:
                owners[p].add(str(rel))
    for p, files in sorted(owners.items()):
        if len(files) > 1:
            bad.append(f"prefix {p}_ is used by {len(files)} files "
                       f"({', '.join(sorted(files))}): give each its own")
    for line in bad:
        print(f"static_prefixes: {line}", file=sys.stderr)
    print(f"static_prefixes: {len(owners)} prefixes, "
          f"{sum(len(f) for f in owners.values())} files with static "
          f"functions, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
