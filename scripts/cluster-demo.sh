#!/usr/bin/env bash
# make cluster-demo: Xinyi as a small cluster on this machine, every process on
# loopback: MinIO erasure-coded over 4 drives, PostgreSQL (metadata, registry change
# feed and durable jobs), Redis (rate limits shared by the servers), 3 `xinyi worker`
# processes and 2 `xinyi serve` replicas. The region's feature sets are materialized
# as shard jobs the workers share. `make cluster-demo-stop` stops it all.
#
# Environment: CLUSTER_DIR (./xinyi-cluster), CLUSTER_COMPANIES (20000), CLUSTER_SHARDS
# (6), PG (postgres://postgres@127.0.0.1:5432), CLUSTER_PORT (18100: MinIO on it, the
# servers' HTTP on +1 and +2, their admin listeners on +11 and +12).
set -euo pipefail
xinyi=$1
minio_bin=$2
dir=${CLUSTER_DIR:-$PWD/xinyi-cluster}
companies=${CLUSTER_COMPANIES:-20000}
shards=${CLUSTER_SHARDS:-6}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
port=${CLUSTER_PORT:-18100}
say() { printf '\n== %s\n' "$*"; }
. "$(dirname "$0")/region.sh"

bash "$(dirname "$0")/cluster-stop.sh" "$dir" >/dev/null 2>&1 || true
if [ -e "$dir" ]; then
  if [ ! -f "$dir/cluster" ]; then
    echo "cluster-demo: $dir exists and is not a cluster demo folder; set CLUSTER_DIR to another folder" >&2
    exit 1
  fi
  rm -rf "$dir"
fi
mkdir -p "$dir/pids" "$dir/logs" "$dir/models"
touch "$dir/cluster"

say "0. MinIO on 4 drives, a PostgreSQL database, Redis"
export MINIO_ROOT_USER=xinyi-cluster MINIO_ROOT_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export MINIO_CI_CD=1 # drives on the root disk are allowed for a demo (MinIO refuses them otherwise)
mkdir -p "$dir"/minio/d{1,2,3,4}
nohup "$minio_bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$((port + 50))" \
  "$dir/minio/d1" "$dir/minio/d2" "$dir/minio/d3" "$dir/minio/d4" > "$dir/logs/minio.log" 2>&1 &
echo $! > "$dir/pids/minio"
export XINYI_S3_ENDPOINT=127.0.0.1:$port XINYI_S3_ACCESS_KEY=$MINIO_ROOT_USER XINYI_S3_SECRET_KEY=$MINIO_ROOT_PASSWORD
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/minio/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
bash "$(dirname "$0")/services.sh"
command -v psql >/dev/null || { echo "cluster-demo: psql is needed to create the PostgreSQL database" >&2; exit 1; }
psql -q "$pg/postgres" -c 'DROP DATABASE IF EXISTS xinyi_cluster WITH (FORCE)' -c 'CREATE DATABASE xinyi_cluster' >/dev/null
db="$pg/xinyi_cluster?sslmode=disable"
store=s3://xinyi
printf 'export XINYI_S3_ENDPOINT=%s XINYI_S3_ACCESS_KEY=%s XINYI_S3_SECRET_KEY=%s\n' "$XINYI_S3_ENDPOINT" "$XINYI_S3_ACCESS_KEY" "$XINYI_S3_SECRET_KEY" > "$dir/env"

say "1. three workers (screenings and materialization shards)"
ops=$("$xinyi" access user --store "$store" --db "$db" --institution "Xinyi platform" --kind platform --user workers --roles admin)
for i in 1 2 3; do
  nohup "$xinyi" worker --store "$store" --db "$db" --service-key "$ops" --queues screening=1,scoring=1,materialize=1,warnings=1,webhooks=4,lab=1 \
    > "$dir/logs/worker-$i.log" 2>&1 &
  echo $! > "$dir/pids/worker-$i"
done

REGION_MATERIALIZE="--db $db --shards $shards" REGION_WORK="$dir/models" region_data "$xinyi" "$store" "$companies"
REGION_WORK="$dir/models" region_models "$xinyi" "$store" --db "$db"

say "8. two serving replicas on PostgreSQL, MinIO and Redis"
for i in 1 2; do
  nohup "$xinyi" serve --store "$store" --db "$db" --service-key "$ops" --http "127.0.0.1:$((port + i))" --grpc "" \
    --admin "127.0.0.1:$((port + 10 + i))" --job-workers 0 --rate-redis redis://127.0.0.1:6379/0 \
    > "$dir/logs/serve-$i.log" 2>&1 &
  echo $! > "$dir/pids/serve-$i"
done
for i in 1 2; do
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$((port + i))/v2/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$((port + i))/v2/health/ready" >/dev/null || { echo "cluster-demo: server $i did not become ready; see $dir/logs/serve-$i.log" >&2; exit 1; }
done

say "Xinyi runs as a cluster (stop it with: make cluster-demo-stop)"
cat <<MSG
  servers          http://127.0.0.1:$((port + 1))/lab/  and  http://127.0.0.1:$((port + 2))/lab/
  admin            http://127.0.0.1:$((port + 11))/metrics  and  http://127.0.0.1:$((port + 12))/metrics
  jobs             $xinyi jobs --store $store --db '$db'   (after: . $dir/env)
  MinIO            http://127.0.0.1:$port (4 drives under $dir/minio)
  PostgreSQL       $db
  logs             $dir/logs
  API keys         scientist $scientist
                   approver  $approver
                   loans     $loans
                   regulator $regulator
                   ops       $ops
MSG
