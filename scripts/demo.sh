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
. "$(dirname "$0")/region.sh"

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

region_data "$xinyi" "$dir" "$companies"
region_models "$xinyi" "$dir"

say "7. the regulator screens the region for violation risk with the bank's shared model"
"$xinyi" screen --store "$dir" --model violation@champion --service-key "$regulator" --top 5 | tee "$dir/.xinyi/screen.txt"
company=$(awk '$1 == 1 {print $2}' "$dir/.xinyi/screen.txt")

say "8. the company $company authorizes the bank; the platform starts serving"
"$xinyi" access consent --store "$dir" --company "$company" --bank "$bank"
log="$dir/.xinyi/serve.log"
samples=()
[ -d "$shared" ] && samples=(--samples "$shared") # the public data sets, offered for training in the console
"$xinyi" report keygen --out "$dir/.xinyi/report.key" # signs credit reports; the demo's own key
nohup "$xinyi" serve --store "$dir" --service-key "$ops" --http "$http" --grpc "$grpc" \
  "${samples[@]}" --demo-logins --sms-outbox "$dir/.xinyi/sms-outbox.txt" \
  --ingest-owner "penalty=上虞区市场监管局执法大队 demo department" --report-key "$dir/.xinyi/report.key" > "$log" 2>&1 &
echo $! > "$dir/.xinyi/serve.pid"
for _ in $(seq 1 100); do
  curl -fsS "http://$http/v2/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://$http/v2/health/ready" >/dev/null || { echo "demo: the server did not become ready; see $log" >&2; exit 1; }

# The company's own account (demo-company) acts for the company once bound: here by
# the operator's verification of its electronic business licence; a company binds
# itself with the code sent to its legal representative (written to sms-outbox.txt).
curl -fsS -H "Authorization: Bearer $ops" -H 'Content-Type: application/json' \
  -d "{\"user\":\"demo-company\",\"company_code\":\"$company\",\"evidence\":\"电子营业执照核验 (demo)\"}" \
  "http://$http/v1/admin/bindings" >/dev/null || { echo "demo: binding demo-company to $company failed; see $log" >&2; exit 1; }

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

# Everything needed to come back to the demo, kept beside its data (keys: owner only);
# make demo-info prints it again.
info="$dir/.xinyi/demo-info.txt"
(
  umask 077
  {
    cat <<MSG
  lab console      http://$http/lab/        (sign in with a key below)
  assessments      POST http://$http/v1/assessments   (Authorization: Bearer <key>)
  OIP v2           http://$http/v2 (server metadata), http://$http/v2/models/pd (model metadata, with a key)
                   and gRPC on $grpc
  registry API     http://$http/v1/registry/models    (with a key)
  company portal   http://$http/v1/portal/companies/$company/profile   (demo-company's key; bound to $company)
                   and in the console: http://$http/lab/portal (demo-company), consent requests at http://$http/lab/consent-requests (demo-banker)
  credit reports   POST http://$http/v1/reports {"company_code":"$company","purpose":"financing"} (a consented bank's key);
                   check a file offline: xinyi report verify --public-key $dir/.xinyi/report.key.pub FILE.pdf
  one-time codes   $dir/.xinyi/sms-outbox.txt         (codes that bind company accounts, as an SMS gateway would send them)
  data             $dir (raw/, features/, samples/, models/, screenings/)
  server log       $log
MSG
    sed -n '/^demo logins/,/^  demo-department/p' "$log"
    cat <<MSG
  CLI keys (bank "$bank"), for --key, --service-key or XINYI_API_KEY:
    data scientist  $scientist
    approver        $approver
    loan system     $loans
    regulator       $regulator
    platform ops    $ops
MSG
  } > "$info"
)
chmod 600 "$info"

say "Xinyi is running (pid $(cat "$dir/.xinyi/serve.pid"); stop it with: make demo-stop)"
cat "$info"
echo "  (saved in $info; make demo-info prints it again)"
