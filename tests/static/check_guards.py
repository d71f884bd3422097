#!/usr/bin/env python3
"""Fails when a function with a C ABI in src/ is not under #[pg_guard].

Every `extern "C"` / `extern "C-unwind"` function the extension defines is one
PostgreSQL may call (AM callbacks, heap-scan callbacks, hooks, exit callbacks):
a panic or a PostgreSQL ERROR inside it must be caught by pgrx's guard and
raised again as an ERROR, never unwound or longjmp'd through C frames.
Functions declared in `extern "C-unwind" { ... }` blocks (imports) are not
definitions and are skipped. The rare definition that must stay unguarded is
listed in tests/static/unguarded.txt as `path function  # reason`.

Usage: check_guards.py [REPO_ROOT]. Prints each offender and exits 1.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
allow = set()
for line in (root / "tests/static/unguarded.txt").read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line:
        path, func = line.split()
        allow.add((path, func))

definition = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?extern\s+"C(?:-unwind)?"\s+fn\s+(\w+)')
attribute = re.compile(r"^\s*(#\[|///|//)")
offenders, seen_allowed = [], set()
for path in sorted((root / "src").rglob("*.rs")):
    rel = path.relative_to(root).as_posix()
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = definition.match(line)
        if not m:
            continue
        # the attributes and doc comments directly above the definition
        j, guarded = i - 1, False
        while j >= 0 and attribute.match(lines[j]):
            guarded |= lines[j].strip().startswith("#[") and "pg_guard" in lines[j]
            j -= 1
        if guarded:
            continue
        if (rel, m.group(1)) in allow:
            seen_allowed.add((rel, m.group(1)))
            continue
        offenders.append(f"{rel}:{i + 1}: {m.group(1)} is extern \"C\" without #[pg_guard]")
for stale in sorted(allow - seen_allowed):
    offenders.append(f"tests/static/unguarded.txt: {stale[0]} {stale[1]} is listed but not an unguarded definition")
for o in offenders:
    print(o)
print(f"guards: {len(offenders)} unguarded entry points" + ("" if offenders else " (all guarded or listed)"))
sys.exit(1 if offenders else 0)
