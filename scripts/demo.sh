#!/usr/bin/env bash
# make demo: runs the whole platform end to end on embedded defaults (a local folder as
# the object store, SQLite as the metadata database) and leaves the server running with
# the lab console populated. Steps: generate a region's enterprise universe, materialize
# the PD, violation and limit feature sets, build point-in-time samples, train three
# models on them, register them, promote each to champion under four-eyes approval, screen
# the region for violation risk, record a company's consent, and assess it over HTTP.
set -euo pipefail
xinyi=$1
dir=$2
companies=${DEMO_COMPANIES:-10000}
http=${DEMO_HTTP:-127.0.0.1:8080}
grpc=${DEMO_GRPC:-127.0.0.1:9090}
shared=$(cd "$(dirname "$0")/.." && pwd)/../shared/data
say() { printf '\n== %s\n' "$*"; }

# A previous demo's server and data are replaced; a folder that is not a demo's is left alone.
if [ -f "$dir/.xinyi/serve.pid" ]; then
  kill "$(cat "$dir/.xinyi/serve.pid")" 2>/dev/null || true
  sleep 1
fi
if [ -e "$dir" ]; then
  if [ ! -f "$dir/.xinyi/demo" ]; then
    echo "demo: $dir exists and is not a demo folder; set DEMO_DIR to another folder" >&2
    exit 1
  fi
  rm -rf "$dir"
fi
mkdir -p "$dir/.xinyi"
touch "$dir/.xinyi/demo"

say "1. a region of $companies companies, 36 months of department data (2023-01 .. 2025-12)"
"$xinyi" generate --companies "$companies" --months 36 --seed 7 --out "$dir"

say "2. point-in-time feature snapshots at quarter ends"
dates=2023-06-30,2023-09-30,2023-12-31,2024-03-31,2024-06-30,2024-09-30,2024-12-31,2025-03-31,2025-06-30,2025-09-30,2025-12-31
for set in pd violation limit; do
  "$xinyi" features materialize --store "$dir" --set "$set" --asof "$dates"
done

say "3. samples: outcomes over the 12 months after each snapshot, known by 2025-12-31"
for set in pd violation limit; do
  "$xinyi" features sample --store "$dir" --set "$set" --name "$set-demo" \
    --from 2023-06-30 --to 2024-12-31 --build-at 2025-12-31
done

say "4. people: a platform operator, a bank's data scientist, approver and loan system, a regulator"
key() { "$xinyi" access user --store "$dir" --institution "$1" --kind "$2" --user "$3" --roles "$4" 2>/dev/null; }
bank="上虞农商银行 demo bank"
ops=$(key "Xinyi platform" platform ops admin)
scientist=$(key "$bank" bank scientist data_scientist)
approver=$(key "$bank" bank approver approver)
loans=$(key "$bank" bank loans bank)
regulator=$(key "上虞区市场监督管理局 demo regulator" regulator inspector regulator)

say "5. train three models on the samples and register them with the samples as lineage"
for set in pd violation limit; do
  "$xinyi" train --store "$dir" --sample "$set-demo" --out "$dir/.xinyi/$set.txt" \
    --register "$set" --key "$scientist"
done

say "6. four-eyes promotion: the scientist asks, a different person approves"
for m in pd violation limit; do
  req=$("$xinyi" model alias --store "$dir" --key "$scientist" --name "$m" --alias champion --version 1 --note "demo")
  echo "$req"
  id=$(sed -n 's/^promotion request \([0-9][0-9]*\):.*/\1/p' <<<"$req")
  "$xinyi" model approve --store "$dir" --key "$approver" --id "$id" --note "reviewed the model card"
done
"$xinyi" model list --store "$dir" --key "$scientist"

say "7. the regulator screens the region for violation risk"
"$xinyi" screen --store "$dir" --model violation@champion --service-key "$ops" --top 5 | tee "$dir/.xinyi/screen.txt"
company=$(awk '$1 == 1 {print $2}' "$dir/.xinyi/screen.txt")

say "8. the company $company authorizes the bank; the platform starts serving"
"$xinyi" access consent --store "$dir" --company "$company" --bank "$bank"
log="$dir/.xinyi/serve.log"
samples=()
[ -d "$shared" ] && samples=(--samples "$shared") # the public data sets, offered for training in the console
nohup "$xinyi" serve --store "$dir" --service-key "$ops" --http "$http" --grpc "$grpc" \
  "${samples[@]}" --demo-logins > "$log" 2>&1 &
echo $! > "$dir/.xinyi/serve.pid"
for _ in $(seq 1 100); do
  curl -fsS "http://$http/v2/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://$http/v2/health/ready" >/dev/null || { echo "demo: the server did not become ready; see $log" >&2; exit 1; }

say "9. the bank's loan system asks for a decision (consent on file)"
curl -sS -H "Authorization: Bearer $loans" -H 'Content-Type: application/json' \
  -d "{\"company_code\":\"$company\",\"products\":[\"working_capital\"],\"explain\":true}" \
  "http://$http/v1/assessments" > "$dir/.xinyi/assessment.json"
if command -v python3 >/dev/null 2>&1; then
  python3 - "$dir/.xinyi/assessment.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
if "error" in a:
    sys.exit("demo: assessment refused: %s" % a["error"])
print("  company %s as of %s: PD %.2f%%, score %.0f, rating %s, colour %s, limit %.0f yuan, violation probability %.1f%% (%s tier)" % (
    a["company_code"], a["as_of"][:10], 100 * a["pd"], a["score"], a["rating"], a["colour"], a["limit"],
    100 * a["violation_probability"], a["inspection_tier"]))
for r in a["reasons"][:6]:
    print("   ", r["code"], r["text_en"])
PY
else
  cat "$dir/.xinyi/assessment.json"; echo
fi
echo "  (whole answer with every TreeSHAP contribution: $dir/.xinyi/assessment.json)"

say "Xinyi is running (pid $(cat "$dir/.xinyi/serve.pid"); stop it with: make demo-stop)"
cat <<MSG
  lab console      http://$http/lab/        (sign in with a key below)
  assessments      POST http://$http/v1/assessments   (Authorization: Bearer <key>)
  OIP v2           http://$http/v2/models   and gRPC on $grpc
  registry API     http://$http/v1/registry/models
  data             $dir (raw/, features/, samples/, models/, screenings/)
  server log       $log
MSG
sed -n '/^demo logins/,/^  demo-viewer/p' "$log"
cat <<MSG
  CLI keys (bank "$bank"):
    data scientist  $scientist
    approver        $approver
    loan system     $loans
    regulator       $regulator
    platform ops    $ops
MSG
