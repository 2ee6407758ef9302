#!/usr/bin/env bash
# make cluster-demo-stop: stops the processes make cluster-demo started (servers and
# workers first, MinIO last). Its data stays in the folder until the next cluster-demo.
set -uo pipefail
dir=${1:-${CLUSTER_DIR:-$PWD/xinyi-cluster}}
[ -d "$dir/pids" ] || { echo "no cluster demo running in $dir"; exit 0; }
for f in "$dir"/pids/serve-* "$dir"/pids/worker-* "$dir"/pids/minio; do
  [ -f "$f" ] || continue
  kill "$(cat "$f")" 2>/dev/null && echo "stopped $(basename "$f")"
  rm -f "$f"
done
