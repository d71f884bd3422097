#!/usr/bin/env bash
# Installs what building and testing ruvector_pg needs on Debian 12, as root:
# PostgreSQL 15 with its server headers, clang/libclang (for pgrx's bindgen),
# sudo (cargo pgrx test runs the test server as `postgres` through it),
# cargo-pgrx 0.18.1, and `cargo pgrx init` against the Debian pg_config.
# Each step is skipped when already done, so a second run takes seconds.
set -euo pipefail
source "$(dirname "$0")/common.sh"

packages=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libclang-dev clang sudo)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "Installing Debian packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if [ "$(cargo pgrx --version 2>/dev/null || true)" != "cargo-pgrx $PGRX_VERSION" ]; then
    log "Installing cargo-pgrx $PGRX_VERSION (about 13 minutes on a new machine)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

if ! grep -qs "^pg$PG_MAJOR = \"$PG_CONFIG\"" "$HOME/.pgrx/config.toml"; then
    log "cargo pgrx init --pg$PG_MAJOR $PG_CONFIG"
    cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
fi

# The SQL fuzzer (tests/fuzz) talks to the server with psycopg.
python3 -c "import psycopg" 2>/dev/null || pip install --quiet "psycopg[binary]"
