#!/usr/bin/env bash
# Runs the criterion benchmarks of the pgrx-free core and prints the tables
# that docs/benchmarks.md shows. No server needed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
cargo bench -p ruvector_core
python3 scripts/bench_table.py target/criterion
