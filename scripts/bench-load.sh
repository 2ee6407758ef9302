#!/usr/bin/env bash
# make bench-load: serving tail latency as a lending system sees it. Generates a region
# (once; kept in $BENCH_DIR), trains and promotes the three models as make demo does,
# grants the bank consent for $CONSENTED companies, starts `xinyi serve` (rate limit
# off, explanations prewarmed) and runs vegeta open loop against POST /v1/assessments
# with companies drawn at random, at each rate of $RATES, $RUNS times for $DURATION,
# with SQLite and with PostgreSQL as the metadata database. It prints, per database and
# rate, the worst run's p50/p99/p99.9 and errors, the server's CPU time per answered
# request (utime+stime of the server process over the run), and how long its threads
# waited, runnable, for a CPU per second of the run (schedstat: on a machine busy
# with other work this wait, not the server's own, is where the tail goes). vegeta
# runs on the same machine, so the generator shares the cores with the server.
#
#   make bench-load                                  # 60 s × 3 runs × 4 rates × 2 databases
#   DURATION=10s RUNS=1 RATES=1000 DBS=sqlite make bench-load
#
# Environment: DURATION (60s), RUNS (3), RATES (500,1000,2000,3000), DBS
# (sqlite,postgres), COMPANIES in the region (5000), CONSENTED (1000), BENCH_DIR
# (/tmp/xinyi-bench-load), PG (postgres://postgres@127.0.0.1:5432: the server whose
# database xinyi_bench_load is dropped and created afresh), HTTP (127.0.0.1:18080),
# EXPLAIN (0; 1 asks for every contribution vector in each answer), SERVE_ARGS (extra
# flags for xinyi serve), SERVE_ENV (environment for it, e.g. GODEBUG=gctrace=1), XINYI
# (the binary; default ./bin/xinyi).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
xinyi=${XINYI:-$root/bin/xinyi}
vegeta=$root/bin/vegeta
duration=${DURATION:-60s}
runs=${RUNS:-3}
rates=${RATES:-500,1000,2000,3000}
dbs=${DBS:-sqlite,postgres}
companies=${COMPANIES:-5000}
consented=${CONSENTED:-1000}
dir=${BENCH_DIR:-/tmp/xinyi-bench-load}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
http=${HTTP:-127.0.0.1:18080}
explain=${EXPLAIN:-0}
say() { printf '\n== %s\n' "$*"; }
. "$root/scripts/region.sh"

for tool in "$xinyi" "$vegeta"; do
  [ -x "$tool" ] || { echo "bench-load: $tool is missing (make bench-load builds it)" >&2; exit 1; }
done
if [ "$consented" -gt "$companies" ]; then
  echo "bench-load: CONSENTED=$consented is more than COMPANIES=$companies" >&2
  exit 1
fi

# The region's data is kept between runs: regenerated only when missing or of another size.
mkdir -p "$dir/.xinyi"
if [ "$(cat "$dir/.xinyi/region" 2>/dev/null)" != "$companies" ]; then
  rm -rf "$dir"
  mkdir -p "$dir/.xinyi"
  region_data "$xinyi" "$dir" "$companies" >"$dir/.xinyi/region.log"
  echo "$companies" >"$dir/.xinyi/region"
fi

server=""
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap stop_server EXIT

# cpu_ticks prints utime+stime of a process in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# runq_ns prints how long the threads of a process have waited, runnable, for a
# CPU (the second field of schedstat), summed, in nanoseconds.
runq_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{w += $2} END {printf "%.0f\n", w}'; }
hz=$(getconf CLK_TCK)

# percentiles reads vegeta results (CSV) and prints "requests errors p50 p99 p99.9 max" in ms.
percentiles() {
  "$vegeta" encode --to csv "$1" | awk -F, '{ n++; if ($2 != 200) e++; print $3 > "/dev/stderr" } END { print n, e + 0 }' 2>"$1.lat" >"$1.count"
  read -r n e <"$1.count"
  sort -n "$1.lat" | awk -v n="$n" -v e="$e" '
    BEGIN { i50 = int(n * 0.50 + 0.5); i99 = int(n * 0.99 + 0.5); i999 = int(n * 0.999 + 0.5) }
    { v[NR] = $1 }
    END {
      if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1; if (i999 < 1) i999 = 1
      printf "%d %d %.2f %.2f %.2f %.2f\n", n, e, v[i50] / 1e6, v[i99] / 1e6, v[i999] / 1e6, v[NR] / 1e6
    }'
  rm -f "$1.lat" "$1.count"
}

# targets METHOD URL KEY FORMAT reads one company code a line and writes a vegeta
# JSON target for each, whose body is FORMAT (printf, %s the code) in base64.
targets() {
  awk -v method="$1" -v url="$2" -v key="$3" -v format="$4" '
    BEGIN {
      b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
      for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i
    }
    function base64(s,   out, i, n, a, b, c) {
      n = length(s); out = ""
      for (i = 1; i <= n; i += 3) {
        a = ord[substr(s, i, 1)]; b = (i + 1 <= n) ? ord[substr(s, i + 1, 1)] : 0; c = (i + 2 <= n) ? ord[substr(s, i + 2, 1)] : 0
        out = out substr(b64, int(a / 4) + 1, 1) substr(b64, (a % 4) * 16 + int(b / 16) + 1, 1)
        out = out ((i + 1 <= n) ? substr(b64, (b % 16) * 4 + int(c / 64) + 1, 1) : "=")
        out = out ((i + 2 <= n) ? substr(b64, c % 64 + 1, 1) : "=")
      }
      return out
    }
    NF {
      printf "{\"method\":\"%s\",\"url\":\"%s\",\"header\":{\"Authorization\":[\"Bearer %s\"],\"Content-Type\":[\"application/json\"]},\"body\":\"%s\"}\n", method, url, key, base64(sprintf(format, $1))
    }'
}

summary=$dir/.xinyi/summary.txt
: >"$summary"
IFS=, read -r -a rate_list <<<"$rates"
IFS=, read -r -a db_list <<<"$dbs"
for db in "${db_list[@]}"; do
  case $db in
    sqlite)
      dsn=$dir/.xinyi/bench-meta.db
      rm -f "$dsn" "$dsn-wal" "$dsn-shm"
      ;;
    postgres)
      command -v psql >/dev/null || { echo "bench-load: psql is needed to create the PostgreSQL database" >&2; exit 1; }
      psql -q "$pg/postgres" -c 'DROP DATABASE IF EXISTS xinyi_bench_load WITH (FORCE)' -c 'CREATE DATABASE xinyi_bench_load' >/dev/null
      dsn="$pg/xinyi_bench_load?sslmode=disable" # loopback: no TLS, as the tests connect
      ;;
    *)
      echo "bench-load: DBS names $db; want sqlite or postgres" >&2
      exit 1
      ;;
  esac
  say "$db: users, models and $consented consents in a fresh metadata database"
  region_models "$xinyi" "$dir" --db "$dsn" >"$dir/.xinyi/models-$db.log"
  # The screening ranks every company; the first $consented of a random order consent.
  "$xinyi" screen --store "$dir" --db "$dsn" --model violation@champion --service-key "$ops" --top "$companies" >"$dir/.xinyi/screen-$db.txt"
  awk '$1 ~ /^[0-9]+$/ && length($2) == 18 {print $2}' "$dir/.xinyi/screen-$db.txt" | shuf -n "$consented" --random-source=<(yes) >"$dir/.xinyi/consented.txt"
  got=$(wc -l <"$dir/.xinyi/consented.txt")
  [ "$got" -eq "$consented" ] || { echo "bench-load: the screening listed $got companies, want $consented" >&2; exit 1; }

  log=$dir/.xinyi/serve-$db.log
  env ${SERVE_ENV:-} "$xinyi" serve --store "$dir" --db "$dsn" --service-key "$ops" --http "$http" --grpc "" \
    --rate 0 ${SERVE_ARGS:-} >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://$http/v2/health/ready" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { echo "bench-load: xinyi serve exited; see $log" >&2; exit 1; }
    sleep 0.2
  done
  curl -fsS "http://$http/v2/health/ready" >/dev/null || { echo "bench-load: the server did not become ready; see $log" >&2; exit 1; }

  # Consent through the running server's API (the bank's id comes from one CLI grant).
  first=$(head -1 "$dir/.xinyi/consented.txt")
  "$xinyi" access consent --store "$dir" --db "$dsn" --company "$first" --bank "$bank" >/dev/null
  bank_id=$("$xinyi" access consent --store "$dir" --db "$dsn" --company "$first" --list | sed -n 's/.*"bank_id": *\([0-9]*\).*/\1/p' | head -1)
  expires=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
  tail -n +2 "$dir/.xinyi/consented.txt" |
    targets POST "http://$http/v1/consents" "$ops" '{"company_code":"%s","bank_id":'"$bank_id"',"expires_at":"'"$expires"'"}' \
      >"$dir/.xinyi/consents.jsonl"
  n=$(wc -l <"$dir/.xinyi/consents.jsonl")
  if [ "$n" -gt 0 ]; then
    granted=$("$vegeta" attack -format json -targets "$dir/.xinyi/consents.jsonl" -rate 100 -duration "$(((n + 99) / 100))s" -timeout 30s |
      "$vegeta" report -type json | sed -n 's/.*"status_codes":{[^}]*"201":\([0-9]*\).*/\1/p')
    [ "${granted:-0}" -ge "$n" ] || { echo "bench-load: ${granted:-0} of $n consent grants succeeded" >&2; exit 1; }
  fi

  # Assessment targets: 50,000 draws with replacement from the consented companies.
  products='["working_capital"]'
  ex=""
  [ "$explain" = 1 ] && ex=',"explain":true'
  shuf -r -n 50000 --random-source=<(yes 7) "$dir/.xinyi/consented.txt" |
    targets POST "http://$http/v1/assessments" "$loans" '{"company_code":"%s","products":'"$products$ex"'}' >"$dir/.xinyi/targets.jsonl"

  say "$db: waiting for the explanations to be prewarmed"
  for _ in $(seq 1 1500); do
    grep -q '"explanations prewarmed"' "$log" && break
    grep -q 'prewarming explanations failed' "$log" && { echo "bench-load: prewarm failed; see $log" >&2; exit 1; }
    sleep 0.2
  done
  grep '"explanations prewarmed"' "$log" | tail -1
  # A short warm-up: connections, caches, the audit log's first pages.
  "$vegeta" attack -format json -targets "$dir/.xinyi/targets.jsonl" -rate 200 -duration 3s | "$vegeta" report >/dev/null

  for run in $(seq 1 "$runs"); do
    for rate in "${rate_list[@]}"; do
      res=$dir/.xinyi/results-$db-$rate-$run.bin
      before=$(cpu_ticks "$server")
      waited=$(runq_ns "$server")
      start=$(date +%s%N)
      "$vegeta" attack -format json -targets "$dir/.xinyi/targets.jsonl" -rate "$rate" -duration "$duration" -timeout 10s >"$res"
      after=$(cpu_ticks "$server")
      runq=$(awk -v w=$(($(runq_ns "$server") - waited)) -v t=$(($(date +%s%N) - start)) 'BEGIN { printf "%.0f", w / t * 1000 }')
      load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
      read -r n e p50 p99 p999 pmax < <(percentiles "$res")
      ok=$((n - e))
      cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v ok="$ok" 'BEGIN { if (ok > 0) printf "%.3f", t / hz * 1000 / ok; else print "-" }')
      printf '%s rate=%s run=%s requests=%d errors=%d p50=%sms p99=%sms p99.9=%sms max=%sms cpu_ms_per_req=%s runq_ms_per_s=%s load=%s\n' \
        "$db" "$rate" "$run" "$n" "$e" "$p50" "$p99" "$p999" "$pmax" "$cpu" "$runq" "$load" | tee -a "$summary"
      rm -f "$res"
    done
  done
  stop_server
done

say "worst of $runs run(s) of $duration per rate (by p99; the generator shares the machine's $(nproc) cores)"
printf '%-9s %6s %9s %9s %9s %7s %14s %13s %s\n' db rate p50_ms p99_ms p99.9_ms errors cpu_ms_per_req runq_ms_per_s load
for db in "${db_list[@]}"; do
  for rate in "${rate_list[@]}"; do
    awk -v db="$db" -v rate="rate=$rate" '
      $1 == db && $2 == rate {
        for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        p99 = f["p99"] + 0; sub(/ms$/, "", f["p50"]); sub(/ms$/, "", f["p99"]); sub(/ms$/, "", f["p99.9"])
        if (!seen || p99 > worst) { worst = p99; line = sprintf("%-9s %6s %9s %9s %9s %7s %14s %13s %s", db, substr(rate, 6), f["p50"], f["p99"], f["p99.9"], f["errors"], f["cpu_ms_per_req"], f["runq_ms_per_s"], f["load"]) }
        if (f["errors"] + 0 > maxerr) maxerr = f["errors"] + 0
        seen = 1
      }
      END { if (seen) print line (maxerr > 0 ? "  (errors in some run: " maxerr ")" : "") }' "$summary"
  done
done
