#!/usr/bin/env bash
# Sharded materialization on durable jobs: the wall time of one materialization of
# a feature set (SET, default pd) as of the four quarter ends of 2025 over the
# generated 120,000-company universe, first in one process (xinyi features
# materialize), then in SHARDS (default 6) shards run by 1, 2 and 3 `xinyi worker
# --queues materialize=1` processes on the jobs database JOBS_DB (default the SQLite
# file beside the store; e.g. JOBS_DB=postgres://postgres@127.0.0.1:5432/xinyi_bench_jobs,
# created afresh, for PostgreSQL's insert notifications across processes).
# Prints each run's summary, wall time and the load average before it; the client
# prints each shard's elapsed time and CPU seconds (the worker process's own
# user+system time while it ran the shard).
#
#   bash bench/materialize_shards.sh        # DATA=/tmp/xinyi-gen120k (generated when missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${DATA:-/tmp/xinyi-gen120k}
set=${SET:-pd}
shards=${SHARDS:-6}
dates=2025-03-31,2025-06-30,2025-09-30,2025-12-31
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$root" && go build -o "$tmp/xinyi" ./cmd/xinyi)
x=$tmp/xinyi
jobs=()
if [ -n "${JOBS_DB:-}" ]; then
	case $JOBS_DB in
	postgres://*)
		base=${JOBS_DB%/*}
		name=${JOBS_DB##*/}
		name=${name%%\?*}
		psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
		;;
	esac
	jobs=(--jobs-db "$JOBS_DB")
fi
if [ ! -d "$data/raw/tax" ]; then
	"$x" generate --companies 120000 --months 36 --seed 1 --out "$data"
fi
echo "== $set/v1 in one process; $(uptime)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KB" \
	"$x" features materialize --store "$data" --set "$set" --asof "$dates" --force 2>&1 | tr '\r' '\n' | grep -v '%'
for n in 1 2 3; do
	pids=()
	for i in $(seq 1 "$n"); do
		"$x" worker --store "$data" "${jobs[@]}" --queues materialize=1 >"$tmp/worker-$n-$i.log" 2>&1 &
		pids+=($!)
	done
	sleep 3
	echo "== $set/v1 in $shards shards, $n worker processes; $(uptime)"
	/usr/bin/time -f "wall %e s (client, enqueue to commit)" \
		"$x" features materialize --store "$data" --set "$set" --asof "$dates" --force --shards "$shards" "${jobs[@]}" 2>&1 | tr '\r' '\n' | grep -v '%\|waiting for'
	for p in "${pids[@]}"; do kill -TERM "$p"; done
	for p in "${pids[@]}"; do wait "$p" || true; done
done
pids=()
