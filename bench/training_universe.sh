#!/usr/bin/env bash
# The bank flow at scale, side by side with XGBoost: generate a universe
# (COMPANIES x MONTHS, default 175,000 x 120 from 2023-01), materialize the pd feature
# set at every quarter end whose 12-month label window is mature, build one
# point-in-time sample of about 1,000,000 rows (snapshots before the last two
# quarters train, the second-to-last validates, the last tests), export it to CSV
# with `xinyi train --export-csv`, then train
#   - xinyi train --store --sample (the platform path: reads the sample's Parquet
#     splits, trains, evaluates, writes the model card), without and with the
#     catalog's monotone constraints, and
#   - XGBoost 1.7.4 hist (Debian's /usr/bin/python3) on the exported CSV splits,
#     without and with the same constraints,
# all with 100 rounds, 31 leaves (lossguide), eta 0.1, 255 bins, lambda 1,
# min_child_weight 1, initial score = training label mean, validation AUC computed
# every round, 2 threads. Prints training time (binning + boosting), process wall
# time, peak resident memory (/usr/bin/time) and AUC on the out-of-time test split.
#
#   bash bench/training_universe.sh                       # ~1M rows
#   COMPANIES=20000 MONTHS=120 bash bench/training_universe.sh   # ~116,000 rows
#   KEEP=1 bash bench/training_universe.sh                 # keep the work folder
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${XINYI_PYTHON:-/usr/bin/python3}
companies=${COMPANIES:-175000}
months=${MONTHS:-120}
seed=${SEED:-7}
first_month=2023-01
if ! "$py" -c 'import xgboost, numpy, pandas, sklearn' 2>/dev/null; then
	echo "bench/training_universe.sh: $py lacks xgboost/numpy/pandas/sklearn (apt-get install python3-xgboost python3-pandas python3-sklearn)" >&2
	exit 1
fi
work=${WORK:-$(mktemp -d)}
if [ -z "${KEEP:-}" ]; then
	trap 'rm -rf "$work"' EXIT
else
	echo "work folder: $work"
fi
mkdir -p "$work"
(cd "$root" && go build -o "$work/xinyi" ./cmd/xinyi)
x="$work/xinyi"
store="$work/universe"

# Month ends: the last generated month closes the knowledge date; a snapshot needs
# its 12-month label window inside it. Quarter ends from the sixth month on.
month_end() { date -u -d "${first_month}-01 +$1 month -1 day" +%F; }
build_at=$(month_end "$months")
asof=()
for ((m = 6; m <= months - 12; m++)); do
	if ((m % 3 == 0)); then asof+=("$(month_end "$m")"); fi
done
if ((${#asof[@]} < 3)); then
	echo "bench/training_universe.sh: MONTHS=$months leaves ${#asof[@]} mature quarter ends; need 3 (train, valid, test)" >&2
	exit 1
fi
list=$(IFS=,; echo "${asof[*]}")

timed() { # timed NAME CMD...: runs CMD under /usr/bin/time, keeps its stdout, prints wall and RSS
	local name=$1
	shift
	/usr/bin/time -v "$@" >"$work/$name.out" 2>"$work/$name.time" || { cat "$work/$name.time" >&2; exit 1; }
	"$py" - "$work/$name.time" "$name" <<'PY'
import sys
secs = rss = 0
for l in open(sys.argv[1]):
    if "Elapsed (wall clock)" in l:
        secs = sum(float(p) * 60 ** i for i, p in enumerate(reversed(l.rsplit(" ", 1)[1].strip().split(":"))))
    if "Maximum resident set size" in l:
        rss = int(l.rsplit(":", 1)[1]) / 1024
print("%-12s wall %7.1f s, peak RSS %7.1f MB" % (sys.argv[2], secs, rss))
PY
}

echo "universe: $companies companies x $months months from $first_month (seed $seed); snapshots ${asof[0]}..${asof[-1]} (${#asof[@]} quarter ends); built as of $build_at"
timed generate "$x" generate --companies "$companies" --months "$months" --seed "$seed" --out "$store" --quiet
timed materialize "$x" features materialize --store "$store" --set pd --asof "$list"
timed sample "$x" features sample --store "$store" --set pd --name bench --from "${asof[0]}" --to "${asof[-1]}" --build-at "$build_at"
tail -n 1 "$work/sample.out"
timed export "$x" train --store "$store" --sample bench --export-csv "$work/bench"
tail -n 1 "$work/export.out"

params=(--rounds 100 --leaves 31 --lr 0.1 --bins 255 --l2 1 --min-hessian 1 --early-stopping 0 --threads 2 --seed 42)
timed xinyi-free "$x" train --store "$store" --sample bench --out "$work/free.txt" --monotone none "${params[@]}"
timed xinyi-mono "$x" train --store "$store" --sample bench --out "$work/mono.txt" "${params[@]}"
# The constraints the platform used, for XGBoost: from the model card.
"$py" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(",".join(str(v) for v in c["params"]["Monotone"]))' "$work/mono.card.json" >"$work/monotone.txt"

cat >"$work/peer.py" <<'PY'
import json, resource, sys, time
import numpy as np, pandas as pd, xgboost as xgb
from sklearn.metrics import roc_auc_score
prefix, monotone = sys.argv[1], sys.argv[2]
def load(split):
    df = pd.read_csv(prefix + "." + split + ".csv")
    y = df.pop(df.columns[-1]).to_numpy(dtype=np.float64)
    return df.to_numpy(dtype=np.float64), y
(Xtr, ytr), (Xva, yva), (Xte, yte) = load("train"), load("valid"), load("test")
p = {"objective": "binary:logistic", "tree_method": "hist", "grow_policy": "lossguide", "max_leaves": 31,
     "max_depth": 0, "eta": 0.1, "max_bin": 255, "min_child_weight": 1.0, "lambda": 1.0, "nthread": 2,
     "eval_metric": "auc", "verbosity": 0, "base_score": float(ytr.mean())}
if monotone != "none":
    p["monotone_constraints"] = "(" + monotone + ")"
cpu0, start = time.process_time(), time.perf_counter()
dtrain = xgb.DMatrix(Xtr, label=ytr, missing=np.nan, nthread=2)
dvalid = xgb.DMatrix(Xva, label=yva, missing=np.nan, nthread=2)
booster = xgb.train(p, dtrain, num_boost_round=100, evals=[(dvalid, "valid")], verbose_eval=False)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
auc = roc_auc_score(yte, booster.predict(xgb.DMatrix(Xte, missing=np.nan, nthread=2)))
print(json.dumps({"tool": "xgboost-" + xgb.__version__ + "-hist", "train_rows": len(ytr), "valid_rows": len(yva),
                  "test_rows": len(yte), "train_seconds": round(elapsed, 3), "train_cpu_seconds": round(cpu, 3),
                  "test_auc": round(float(auc), 6)}))
PY
OMP_WAIT_POLICY=${XGB_OMP_WAIT_POLICY:-PASSIVE} timed xgb-free "$py" "$work/peer.py" "$work/bench" none
OMP_WAIT_POLICY=${XGB_OMP_WAIT_POLICY:-PASSIVE} timed xgb-mono "$py" "$work/peer.py" "$work/bench" "$(cat "$work/monotone.txt")"

"$py" - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
def rss(name):
    for l in open(f"{w}/{name}.time"):
        if "Maximum resident set size" in l:
            return int(l.split(":")[1]) / 1024
def wall(name):
    for l in open(f"{w}/{name}.time"):
        if "Elapsed (wall clock)" in l:
            parts = l.rsplit(" ", 1)[1].strip().split(":")
            return sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))
rows = []
for name, label in (("xinyi-free", "xinyi train (Go)"), ("xinyi-mono", "xinyi train (Go) monotone")):
    s = open(f"{w}/{name}.out").read()
    m = re.search(r"on (\d+) rows in ([0-9.]+)s; valid auc ([0-9.]+); test auc ([0-9.]+)", s)
    rows.append((label, int(m.group(1)), float(m.group(2)), wall(name), rss(name), float(m.group(4))))
for name, label in (("xgb-free", "xgboost 1.7.4 hist"), ("xgb-mono", "xgboost 1.7.4 hist monotone")):
    r = json.load(open(f"{w}/{name}.out"))
    rows.append((label, r["train_rows"], r["train_seconds"], wall(name), rss(name), r["test_auc"]))
print()
print("%-30s %10s %10s %10s %12s %10s" % ("trainer", "train rows", "train s", "wall s", "peak RSS MB", "test AUC"))
for r in rows:
    print("%-30s %10d %10.2f %10.1f %12.1f %10.4f" % r)
print("(train s: binning and boosting with validation AUC every round; wall s and peak RSS: the whole process,")
print(" Parquet or CSV loading and, for xinyi, the model card's evaluation included; shared 2-core machine)")
PY
