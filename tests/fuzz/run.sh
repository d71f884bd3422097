#!/usr/bin/env bash
# The SQL fuzzer's run in the test suite: a throw-away cluster on 127.0.0.1,
# an unprivileged role, and tests/fuzz/sql_fuzz.py for FUZZ_SECONDS (default
# 60) from seed FUZZ_SEED (default 4; statement timeouts make a replay diverge
# after the first cancelled build). The statement log is kept on failure.
# Long runs: FUZZ_SECONDS=1800 bash tests/fuzz/run.sh
# FUZZ_PRELOAD=1: the library in shared_preload_libraries (the shared vector
# cache, the index registry and the DROP hook in play).
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$REPO_ROOT"
seconds=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-4}
port=${FUZZ_PORT:-25470}
work=$(mktemp -d /tmp/ruvector-fuzz.XXXXXX)
chown postgres:postgres "$work"
trap 'stop_cluster "$work/data"' EXIT
start_cluster "$work/data" "$port"
P=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
preload=""
if [ "${FUZZ_PRELOAD:-0}" = 1 ]; then
    "${P[@]}" -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'ruvector_pg'" >/dev/null
    stop_cluster "$work/data"
    start_cluster "$work/data" "$port"
    preload=" FUZZ_PRELOAD=1"
fi
"${P[@]}" -d postgres -c "CREATE ROLE fuzzer LOGIN" -c "CREATE DATABASE fuzz OWNER fuzzer"
"${P[@]}" -d fuzz -c "CREATE EXTENSION ruvector_pg"
echo "fuzz: seed $seed for ${seconds}s$preload (replay:$preload FUZZ_SEED=$seed FUZZ_SECONDS=$seconds bash tests/fuzz/run.sh)"
set +e
python3 tests/fuzz/sql_fuzz.py --dsn "host=127.0.0.1 port=$port user=fuzzer dbname=fuzz" \
    --seed "$seed" --seconds "$seconds" --server-log "$work/data/server.log" --log "$work/statements.sql" ${FUZZ_ARGS:-}
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    echo "fuzz: statements and outcomes kept in $work/statements.sql"
else
    rm -f "$work/statements.sql"
fi
exit "$rc"
