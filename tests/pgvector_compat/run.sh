#!/usr/bin/env bash
# Replays pgvector's own regression SQL against ruvector_pg (replay.py) on a
# throw-away cluster. pgvector's files are read where they lie, never copied:
# PGVECTOR_SRC (a checkout) or PGVECTOR_GIT (a git directory), else the copy
# the search tool's fetch leaves in /work/.mirror. Without either it skips,
# saying so.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$REPO_ROOT"
if [ -n "${PGVECTOR_SRC:-}" ]; then
    source_args=(--src "$PGVECTOR_SRC")
else
    git_dir=${PGVECTOR_GIT:-/work/.mirror/pgvector+pgvector/repo}
    if ! git --git-dir "$git_dir" rev-parse -q --verify HEAD:test/sql >/dev/null 2>&1; then
        echo "pgvector replay: skipped (no pgvector source: set PGVECTOR_SRC or PGVECTOR_GIT)"
        exit 0
    fi
    source_args=(--git-dir "$git_dir")
fi
scratch_cluster 25472
python3 tests/pgvector_compat/replay.py "${source_args[@]}" --port "$PORT" --diffs /tmp/pgvector_replay.diffs
