#!/usr/bin/env bash
# Runs every test: the core's Rust unit and property tests, the in-server
# `cargo pgrx test` suite, and the SQL regression suite in tests/regress.
# Installs missing dependencies first (scripts/install-deps.sh). Safe to run again.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
# A one-shot run gains nothing from incremental compilation, whose caches
# only take disk (a CI run once ran out of it).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

bash scripts/install-deps.sh

log "Static checks: every C entry point under #[pg_guard] (tests/static), rustfmt, clippy with warnings denied"
python3 tests/static/check_guards.py
cargo fmt --all --check
cargo clippy --release --all-targets -p ruvector_core -- -D warnings
cargo clippy --release -p ruvector_pg -- -D warnings

log "Rust unit and property tests (pgrx-free core)"
cargo test -p ruvector_core --release

log "In-server tests (cargo pgrx test)"
pgrx_data=$(mktemp -d /tmp/ruvector-pgrx-test.XXXXXX)
chown postgres:postgres "$pgrx_data"
unlink_installed_library
CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA="$pgrx_data" \
    cargo pgrx test pg15
rm -rf "$pgrx_data"

log "SQL regression suite (pg_regress)"
install_extension
regress_data=$(mktemp -d /tmp/ruvector-regress.XXXXXX)
port=25429
trap 'stop_cluster "$regress_data"; rm -rf "$regress_data"' EXIT
start_cluster "$regress_data" "$port"
psql_admin=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql_admin[@]}" -d postgres -c "DROP DATABASE IF EXISTS ruvector_regress" -c "CREATE DATABASE ruvector_regress"
"${psql_admin[@]}" -d ruvector_regress -c "CREATE EXTENSION ruvector_pg" -f tests/regress/harness.sql
results=$(mktemp -d /tmp/ruvector-regress-out.XXXXXX)
tests=$(cd tests/regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
set +e
"$($PG_CONFIG --pkglibdir)/pgxs/src/test/regress/pg_regress" \
    --use-existing --host=127.0.0.1 --port="$port" --user=postgres \
    --inputdir=tests/regress --outputdir="$results" --dbname=ruvector_regress \
    $tests > "$results/summary.txt" 2>&1
rc=$?
set -e
cat "$results/summary.txt"
[ "$rc" -eq 0 ] || head -300 "$results/regression.diffs" 2>/dev/null || true
failed=$(grep -c '^not ok\|FAILED\|failed (ignored)' "$results/summary.txt" || true)
[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
passed=$(( $(echo "$tests" | wc -w) - failed ))
echo "regress: $passed passed, $failed failed"
rm -rf "$results"
[ "$failed" -eq 0 ]

log "pgvector's own regression SQL, replayed (tests/pgvector_compat; skipped without pgvector's source)"
bash tests/pgvector_compat/run.sh

log "SQL fuzzer (tests/fuzz): seeded random statements, the server must survive every one"
bash tests/fuzz/run.sh
FUZZ_PRELOAD=1 FUZZ_SEED=5 FUZZ_SECONDS=45 bash tests/fuzz/run.sh

log "The documentation's SQL examples, run; the SQL reference names everything the extension installs (tests/docs)"
bash tests/docs/run.sh

log "Recovery and server-level tests: streaming replica, crash restart, concurrency, shared memory (tests/recovery)"
recovery_failed=0
for t in tests/recovery/*.sh; do
    bash "$t" || recovery_failed=$((recovery_failed + 1))
done
count=$(ls tests/recovery/*.sh | wc -l)
echo "recovery: $((count - recovery_failed)) passed, $recovery_failed failed"
[ "$recovery_failed" -eq 0 ]

log "Benchmark command, quick mode (scripts/benchmark.sh --quick): every measurement present and sane, plots written; no timing checked"
bash scripts/benchmark.sh --quick --out "$(mktemp -d /tmp/ruvector-bench-out.XXXXXX)" | tail -3

log "Citus: a coordinator and two workers (tests/citus; skipped without Citus's source in ../shared/citus)"
bash tests/citus/run.sh

log "Disk used by the build: $(du -sh target 2>/dev/null | cut -f1) in target/"
