#!/usr/bin/env bash
# replica.sh with ruvector_pg preloaded on the primary and the standby: the
# same workload and checks, with searches on the shared vector cache.
RUVECTOR_PRELOAD=1 exec bash "$(dirname "$0")/replica.sh"
