#!/usr/bin/env python3
"""Render criterion's results (target/criterion) as the Markdown tables in docs/benchmarks.md."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def ns(group, bench, param=None):
    path = root / group / bench
    if param is not None:
        path = path / str(param)
    f = path / "new" / "estimates.json"
    if not f.exists():
        return None
    return json.loads(f.read_text())["median"]["point_estimate"]


def kernel_table(suffix=""):
    isas = ["scalar-baseline", "portable", "avx2+fma", "avx512f", "neon"]
    print("| kernel | dims | " + " | ".join(isas) + " | best vs baseline |")
    print("|---|---:|" + "---:|" * len(isas) + "---:|")
    for op in ["l2_squared", "dot", "cosine", "l1"]:
        for dims in [128, 384, 768, 1536]:
            cells, times = [], {}
            for isa in isas:
                t = ns(op + suffix, isa, dims)
                cells.append("" if t is None else f"{t:.1f} ns")
                if t is not None:
                    times[isa] = t
            if not times:
                continue
            base = times.get("scalar-baseline")
            best = min(v for k, v in times.items() if k != "scalar-baseline")
            speed = f"{base / best:.1f}x" if base else ""
            print(f"| {op}{suffix} | {dims} | " + " | ".join(cells) + f" | {speed} |")


def pair(group, a, b, label):
    ta, tb = ns(group, a), ns(group, b)
    if ta is None or tb is None:
        return
    print(f"| {label} | {ta / 1000:.2f} µs | {tb / 1000:.2f} µs | {ta / tb:.1f}x |")


if __name__ == "__main__":
    kernel_table()
    print()
    kernel_table("_f16")
    print()
    print("| measurement | baseline | ruvector | speed-up |")
    print("|---|---:|---:|---:|")
    pair("parse_1536", "strtof-per-element (pgvector)", "ruvector_core__dense__text__parse",
         "parse a 1536-dim literal (strtof per element vs ours)")
    pair("access_and_l2_1536", "copy into Vec_f32_", "zero-copy borrow",
         "access two 1536-dim datums + L2 (copy vs borrow)")
    print()
    print("| sparse, 10,000 dims, 500 non-zeros each | time |")
    print("|---|---:|")
    for bench in ["l2_squared merge-join", "dot merge-join", "dot galloping 20 vs 500", "dot with dense vector",
                  "densify both + dense l2 kernel"]:
        t = ns("sparse_10000d_5pct", bench)
        if t is not None:
            print(f"| {bench} | {t:.0f} ns |")
