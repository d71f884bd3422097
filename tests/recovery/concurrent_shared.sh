#!/usr/bin/env bash
# concurrent.sh with ruvector_pg preloaded: the same workload and checks,
# with searches on the shared vector cache and the index registry.
RUVECTOR_PRELOAD=1 exec bash "$(dirname "$0")/concurrent.sh"
