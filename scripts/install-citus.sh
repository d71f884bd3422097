#!/usr/bin/env bash
# Builds and installs Citus into the system PostgreSQL 15 for the Citus test
# (tests/citus), from the source kept beside the project: CITUS_SRC, else
# ../shared/citus (citus-v13.2.2.tar.gz and a one-line build fix for
# Debian's PostgreSQL 15 headers). Exits 0 after installing (or finding it
# installed), 2 when the source is not there. About 80 s on 2 cores.
set -euo pipefail
source "$(dirname "$0")/common.sh"
if [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    exit 0
fi
src=${CITUS_SRC:-$REPO_ROOT/../shared/citus}
tarball=$(ls "$src"/citus-v*.tar.gz 2>/dev/null | head -1 || true)
if [ -z "$tarball" ]; then
    echo "install-citus: no Citus source in $src (set CITUS_SRC)"
    exit 2
fi
missing=()
for p in liblz4-dev libzstd-dev libkrb5-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
build=$(mktemp -d /tmp/citus-build.XXXXXX)
tar -xzf "$tarball" -C "$build"
# (a git archive: the tree at the top, or in one directory)
top=$build
[ -f "$top/configure" ] || top=$(dirname "$(find "$build" -maxdepth 2 -name configure | head -1)")
for fix in "$src"/*.patch; do
    [ -f "$fix" ] && (cd "$top" && patch -p1 -s < "$fix")
done
log "Building Citus from $tarball"
(cd "$top" && ./configure -q PG_CONFIG="$PG_CONFIG" --without-libcurl >/dev/null && make -s -j2 >/dev/null && make -s install >/dev/null)
rm -rf "$build"
