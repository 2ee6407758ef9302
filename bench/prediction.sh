#!/usr/bin/env bash
# Side-by-side single-thread prediction: XGBoost 1.7.4's own predictor, gbdt's compiled
# predictor and leaves on the canonical LightGBM text, all on the same 300-tree GMSC
# model and the same 10,000 held-out rows (gbdt/testdata/make_bench_model.py makes
# them and times XGBoost; BenchmarkPredictGMSC times gbdt and leaves, and checks their
# margins against XGBoost's).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${XINYI_SHARED_DATA:-$root/../shared/data}
py=${XINYI_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import xgboost, numpy' 2>/dev/null; then
	echo "bench/prediction.sh: $py lacks xgboost/numpy (make bench-tools); skipping" >&2
	exit 0
fi
cd "$root"
echo "== prediction: XGBoost 1.7.4 predictor vs gbdt vs leaves (GMSC, 300 trees, depth 6, 1 thread)"
"$py" gbdt/testdata/make_bench_model.py "$data/gmsc/cs-training.csv"
echo "XGBoost: $(grep -h ns_per_row gbdt/testdata/bench/gmsc.meta.json | tr -d " ,\n")"
go test -run '^$' -bench 'PredictGMSC' -benchtime 2s -count 3 -cpu 1 ./gbdt
