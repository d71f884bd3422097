#!/usr/bin/env bash
# The documentation's SQL, run: every ```sql block of README.md and docs/*.md
# (except one preceded by a `<!-- not run: why -->` line) runs, in order, in a
# fresh database per page, and must finish without an error. Then the SQL
# reference must name everything the extension installs that a user calls:
# each function that is not a type's I/O, an operator's, an operator class's
# or an aggregate's support function; each operator; each operator class;
# each setting (hnsw.*, ivfflat.*, ruvector.*).
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$REPO_ROOT"
scratch_cluster 25437
failed=0 pages=0 blocks=0

for page in README.md docs/*.md; do
    sql=$WORK/page.sql
    n=$(python3 - "$page" "$sql" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
out, n, i = [], 0, 0
while i < len(lines):
    if lines[i].strip() == "```sql" and not (i > 0 and lines[i - 1].startswith("<!-- not run")):
        j = i + 1
        while lines[j].strip() != "```":
            j += 1
        out += [f"-- {sys.argv[1]}, line {i + 2}"] + lines[i + 1 : j]
        n += 1
        i = j
    i += 1
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print(n)
PY
)
    [ "$n" -gt 0 ] || continue
    db=docs_$(basename "$page" .md | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' _)
    "${P[@]}" -c "CREATE DATABASE $db"
    if psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "$db" -f "$sql" >"$WORK/out.txt" 2>&1; then
        pages=$((pages + 1)) blocks=$((blocks + n))
    else
        echo "FAILED: $page"; tail -15 "$WORK/out.txt"; failed=$((failed + 1))
    fi
done

"${P[@]}" -c "CREATE DATABASE docs_surface"
names=$(psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d docs_surface <<'SQL'
CREATE EXTENSION ruvector_pg;
LOAD 'ruvector_pg';
WITH ext AS (SELECT classid, objid FROM pg_depend
             WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
               AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ruvector_pg')),
support AS (
    SELECT oprcode AS f FROM pg_operator UNION SELECT amproc FROM pg_amproc
    UNION SELECT typinput FROM pg_type UNION SELECT typoutput FROM pg_type UNION SELECT typreceive FROM pg_type
    UNION SELECT typsend FROM pg_type UNION SELECT typmodin FROM pg_type UNION SELECT typmodout FROM pg_type
    UNION SELECT aggtransfn FROM pg_aggregate UNION SELECT aggfinalfn FROM pg_aggregate
    UNION SELECT aggcombinefn FROM pg_aggregate UNION SELECT oprrest FROM pg_operator UNION SELECT oprjoin FROM pg_operator)
SELECT DISTINCT 'function ' || p.proname FROM ext JOIN pg_proc p ON ext.classid = 'pg_proc'::regclass AND p.oid = ext.objid
WHERE p.oid NOT IN (SELECT f FROM support) AND p.prorettype <> 'index_am_handler'::regtype
UNION SELECT DISTINCT 'operator ' || o.oprname FROM ext JOIN pg_operator o ON ext.classid = 'pg_operator'::regclass AND o.oid = ext.objid
UNION SELECT DISTINCT 'opclass ' || c.opcname FROM ext JOIN pg_opclass c ON ext.classid = 'pg_opclass'::regclass AND c.oid = ext.objid
UNION SELECT 'setting ' || name FROM pg_settings WHERE name ~ '^(hnsw|ivfflat|ruvector)\.'
ORDER BY 1;
SQL
)
missing=0 named=0
while read -r kind name; do
    escaped=$(printf '%s' "$name" | sed 's/|/\\|/g')
    # named in code style: `name`, `name(…`, or (operators) `name` with markdown's \| escapes
    if grep -qF -e "\`$name\`" -e "\`$name(" -e "\`$escaped\`" docs/sql-reference.md; then
        named=$((named + 1))
    else
        echo "docs/sql-reference.md does not name $kind $name"; missing=$((missing + 1))
    fi
done <<<"$names"
[ "$named" -gt 60 ] || { echo "only $named names found: the catalogue query is wrong"; missing=$((missing + 1)); }

echo "docs: $blocks SQL blocks on $pages pages ran, $failed pages failed; the SQL reference names $named of $((named + missing)) functions, operators, opclasses and settings"
[ "$failed" -eq 0 ] && [ "$missing" -eq 0 ]
