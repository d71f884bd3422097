#!/usr/bin/env bash
# Damaged index pages: no statement may crash the server. One index per
# kind of damage (tests/recovery/corrupt_pages.py: a list chain that loops or
# leads to the meta page, a header or special space that is not ours, a
# short row, a heap TID past the table, garbage in a row, in an hnsw page or
# in an element's vector, an element's filter key changed,
# a copy pointer to another row's copy, a zeroed list page, an entry point
# past the end; and 64 random bytes anywhere in the data pages, eight
# times), written with the server stopped, so PostgreSQL reads each
# page from disk (no data checksums, as initdb makes a cluster by default).
# Then, on each damaged index's own table: a kNN query through the index,
# an INSERT, ruvector_index_check, a DELETE and VACUUM (the check first:
# VACUUM may remove a damaged row). Each may
# answer or raise an ERROR; the server must not restart, no backend may die,
# and the check must report every targeted damage (index_corrupted, XX002):
# one that breaks a structure, and garbage in a stored vector, which the
# check finds by comparing each index row with its table row.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

scratch_cluster 25476
"${P[@]}" >/dev/null <<'SQL'
CREATE EXTENSION ruvector_pg;
SELECT setseed(0.3);
CREATE TABLE t0 (id int PRIMARY KEY, v ruvector(300), s ruvector(64));
INSERT INTO t0 (id, v, s) SELECT i,
    (SELECT array_agg(x) FROM (SELECT random() - 0.5 + (i % 9) * 0.02 AS x FROM generate_series(1, 300)) e)::ruvector,
    (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE i > 0)::ruvector
FROM generate_series(1, 3000) i;
SQL
# one table per damage, each with one index: ivfflat (format 2; format 3,
# with copies, for ivf_copy) or hnsw
ivf_cases="ivf_loop ivf_meta_link ivf_special ivf_lower ivf_row_len ivf_heap_tid ivf_garbage ivf_copy ivf_zero"
hnsw_cases="hnsw_garbage hnsw_vector hnsw_key hnsw_special hnsw_entry"
# random damage anywhere in the data pages: only "no crash" is asserted
random_cases="ivf_random_1 ivf_random_2 ivf_random_3 ivf_random_4 hnsw_random_1 hnsw_random_2 hnsw_random_3 hnsw_random_4"
for c in $ivf_cases $hnsw_cases $random_cases; do
    case $c in
        ivf_copy) index="USING ivfflat (v vector_cosine_ops) WITH (lists = 4, exact_copies = true)" ;;
        ivf_*) index="USING ivfflat (v vector_cosine_ops) WITH (lists = 4)" ;;
        hnsw_key) index="USING hnsw (s vector_l2_ops, id)" ;;
        *) index="USING hnsw (s vector_l2_ops)" ;;
    esac
    "${P[@]}" -c "CREATE TABLE t_$c AS SELECT * FROM t0" -c "CREATE INDEX $c ON t_$c $index"
done
paths=$("${P[@]}" -Atc "SELECT relname || ' ' || pg_relation_filepath(oid) FROM pg_class WHERE relkind = 'i' AND (relname LIKE 'ivf\_%' OR relname LIKE 'hnsw\_%')")
stop_cluster "$DATA"
while read -r name path; do
    block=$(python3 "$here/corrupt_pages.py" "$DATA/$path" "$name")
    echo "corrupt: $name: damaged block $block"
done <<< "$paths"
start_cluster "$DATA" "$PORT"
started=$("${P[@]}" -Atc "SELECT pg_postmaster_start_time()")

# Every statement on the damaged index's table, each in its own session;
# prints each outcome (ok, or the ERROR's SQLSTATE).
run_case() {
    local name=$1 col=v op='<=>' setting="SET ivfflat.probes = 4"
    if [[ $name == hnsw_* ]]; then col=s op='<->' setting="SET hnsw.ef_search = 100"; fi
    local stmt out
    for stmt in \
        "SET enable_seqscan = off; $setting; SELECT count(*) FROM (SELECT id FROM t_$name ORDER BY $col $op (SELECT $col FROM t0 WHERE id = 7) LIMIT 10) q" \
        "INSERT INTO t_$name (id, v, s) SELECT id + 10000, v, s FROM t0 WHERE id <= 5" \
        "SELECT ruvector_index_check('$name')" \
        "DELETE FROM t_$name WHERE id % 50 = 1" \
        "VACUUM t_$name"; do
        out=$(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
            -v VERBOSITY=verbose -c "$stmt" 2>&1 >/dev/null | grep -o 'ERROR:  [0-9A-Z]\{5\}' | head -1 || true)
        out=${out#ERROR:  }
        printf '%s ' "${out:-ok}"
    done
    echo
}

failed=0
for c in $ivf_cases $hnsw_cases $random_cases; do
    outcome=$(run_case "$c")
    check=$(awk '{print $3}' <<< "$outcome")
    echo "corrupt: $c: query, insert, check, delete, vacuum -> $outcome"
    # every targeted damage must be reported by the check
    if [[ $c != *_random_* ]] && [ "$check" != XX002 ]; then
        echo "corrupt: $c: ruvector_index_check did not report the damage"
        failed=1
    fi
done

# what the errors said (each message once)
grep -o "ERROR:.*" "$DATA/server.log" | sed 's/[0-9]\+/N/g' | sort | uniq -c | sort -rn | sed 's/^/corrupt: /'
now=$("${P[@]}" -Atc "SELECT pg_postmaster_start_time()")
crashes=$(grep -c -E "terminated by signal|PANIC|server process .* exited with exit code [^0]" "$DATA/server.log" || true)
echo "corrupt: server started $started, now $now; backend crashes or PANICs in the log: $crashes"
if [ "$started" != "$now" ] || [ "$crashes" != 0 ]; then
    grep -E -B5 "terminated by signal|PANIC|exited with exit code" "$DATA/server.log" | tail -40
    failed=1
fi
exit "$failed"
