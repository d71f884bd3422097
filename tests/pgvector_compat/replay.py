#!/usr/bin/env python3
"""Replay pgvector's own regression SQL against ruvector_pg, statement by
statement, and count how many statements give pgvector's expected output.

pgvector's files are read where they are (a checkout, or a git directory
with --git-dir), never copied into this project. Each file runs in a new
database with the extension created, through `psql -X -a -q` as pg_regress
runs it, with the type renamed (`vector` -> `ruvector` where it names the
type). Outputs are compared per statement after the same renaming back and
with whitespace and table rules folded (the type's name changes column
widths). Prints one line per file, `file: M of N statements match`, and
writes every differing statement with both outputs to --diffs.

It fails (exit 1) if the server stops answering, a Rust-internal message
appears, or a statement differs in a way tests/pgvector_compat/intentional.txt
does not allow (pgvector refusing with a limit we lift, ours succeeding).
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

TYPE_WORD = re.compile(r"(?<![\w.])vector(?![\w])")
RUST = re.compile(r"panicked|unwrap\(|\.rs:\d|cast_slice|bytemuck|stack backtrace|RUST_BACKTRACE", re.I)


def pgvector_files(args):
    if args.git_dir:
        names = subprocess.run(["git", "--git-dir", args.git_dir, "ls-tree", "--name-only", "HEAD", "test/sql/"],
                               check=True, capture_output=True, text=True).stdout.split()
        for name in sorted(names):
            stem = pathlib.Path(name).stem
            sql = subprocess.run(["git", "--git-dir", args.git_dir, "show", f"HEAD:{name}"],
                                 check=True, capture_output=True, text=True).stdout
            out = subprocess.run(["git", "--git-dir", args.git_dir, "show", f"HEAD:test/expected/{stem}.out"],
                                 capture_output=True, text=True).stdout
            yield stem, sql, out
    else:
        root = pathlib.Path(args.src)
        for p in sorted((root / "test/sql").glob("*.sql")):
            exp = root / "test/expected" / (p.stem + ".out")
            yield p.stem, p.read_text(), exp.read_text() if exp.exists() else ""


def statements(sql):
    """The statements of a file in order: text up to a line ending in ';'."""
    out, cur = [], []
    for line in sql.splitlines():
        if not cur and (not line.strip() or line.strip().startswith("--")):
            continue
        if not cur and line.startswith("\\"):
            out.append(line)  # a psql meta-command is one line
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur))
            cur = []
    return out


def chunks(output, stmts):
    """Split psql -a output into the output of each statement (by its echo)."""
    res, pos = [], 0
    starts = []
    for s in stmts:
        i = output.find(s, pos)
        if i < 0:
            starts.append(None)
            continue
        starts.append((i, i + len(s)))
        pos = i + len(s)
    for k, st in enumerate(starts):
        if st is None:
            res.append(None)
            continue
        nxt = next((x[0] for x in starts[k + 1:] if x is not None), len(output))
        res.append(output[st[1]:nxt])
    return res


def fold(text):
    if text is None:
        return None
    text = text.replace("ruvector", "vector")
    lines = []
    for line in text.splitlines():
        line = re.sub(r"\s+", " ", line.strip())
        line = re.sub(r"-{2,}", "-", line)
        line = re.sub(r"\s*\|\s*", "|", line)
        line = re.sub(r"^(LINE \d+:).*", r"\1", line)  # the echoed statement text differs by the rename
        if line == "^" or not line:
            continue
        lines.append(line)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--src", help="a pgvector checkout")
    src.add_argument("--git-dir", help="a pgvector git directory (bare clone)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", required=True)
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--diffs", default="/tmp/pgvector_replay.diffs")
    ap.add_argument("--allow", default=str(pathlib.Path(__file__).with_name("intentional.txt")))
    args = ap.parse_args()
    psql = ["psql", "-X", "-q", "-h", args.host, "-p", str(args.port), "-U", args.user]
    total_n = total_m = 0
    problems = []
    allowed = [re.compile(line.split("  #")[0].strip()) for line in open(args.allow)
               if line.strip() and not line.startswith("#")]
    intentional = 0
    with open(args.diffs, "w") as diffs:
        for stem, sql, expected in pgvector_files(args):
            db = f"pgvector_replay_{stem}"
            subprocess.run(psql + ["-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {db}", "-c", f"CREATE DATABASE {db}"],
                           check=True, capture_output=True)
            subprocess.run(psql + ["-d", db, "-c", "CREATE EXTENSION ruvector_pg"], check=True, capture_output=True)
            ours_sql = TYPE_WORD.sub("ruvector", sql)
            # one stream, so that each error stands after its statement
            # (pgvector's \\copy tests write into results/, as under pg_regress)
            with tempfile.TemporaryDirectory() as cwd:
                os.mkdir(os.path.join(cwd, "results"))
                run = subprocess.run(psql + ["-a", "-d", db], input=ours_sql, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, cwd=cwd)
            got = run.stdout
            alive = subprocess.run(psql + ["-d", "postgres", "-Atc", "SELECT 1"], capture_output=True, text=True)
            if alive.stdout.strip() != "1":
                problems.append(f"{stem}: the server stopped answering")
            # psql -a echoes our (renamed) statements; expected echoes pgvector's
            exp_stmts, our_stmts = statements(sql), statements(ours_sql)
            exp_chunks = [fold(c) for c in chunks(expected, exp_stmts)]
            our_chunks = [fold(c) for c in chunks(got.replace("psql:<stdin>", ""), our_stmts)]
            n = len(exp_stmts)
            m = 0
            for s, e, o in zip(exp_stmts, exp_chunks, our_chunks):
                if o is not None and RUST.search(o):
                    problems.append(f"{stem}: Rust internals in output of {s!r}")
                # psql prefixes errors with "psql:<stdin>:N:" when reading stdin
                o2 = re.sub(r"(?m)^:\d+: ", "", o) if o is not None else None
                if e is not None and o2 is not None and e == o2:
                    m += 1
                else:
                    diffs.write(f"=== {stem}: {s}\n--- pgvector\n{e}\n--- ruvector_pg\n{o2}\n\n")
                    if e is not None and o2 is not None and "ERROR" not in o2 and any(a.search(e) for a in allowed):
                        intentional += 1
                    else:
                        problems.append(f"{stem}: differs from pgvector: {s[:200]!r}")
            print(f"{stem}: {m} of {n} statements match")
            total_n += n
            total_m += m
            subprocess.run(psql + ["-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {db}"], capture_output=True)
    print(f"pgvector replay: {total_m} of {total_n} statements match pgvector's expected output, "
          f"{intentional} differ as docs/compatibility.md lists (differences in {args.diffs})")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
