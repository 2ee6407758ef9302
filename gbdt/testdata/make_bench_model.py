#!/usr/bin/python3
"""Make the benchmark model of package gbdt and time XGBoost's own predictor on it.

Run from the module root (takes a minute; the outputs are not checked in):

    /usr/bin/python3 gbdt/testdata/make_bench_model.py ../shared/data/gmsc/cs-training.csv

It trains XGBoost 1.7.4 (Debian's python3-xgboost) on the Give Me Some Credit file
(80% of the rows, hist, depth 6, 300 rounds, learning rate 0.1) and writes into
gbdt/testdata/bench/:

  gmsc.ubj          the model
  gmsc.rows.f32     10,000 held-out rows, float32 little-endian, row-major (NaN = missing)
  gmsc.margin.f64   XGBoost's output_margin for those rows, float64 little-endian
  gmsc.meta.json    shape, and XGBoost's single-thread prediction time per row
                    (process CPU time, steady on a shared machine where wall time
                    is not; best of 7 runs, DMatrix predict and inplace_predict)

BenchmarkPredictGMSC in bench_test.go reads them (and skips when they are absent).
"""
import csv
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb

assert xgb.__version__ == "1.7.4", xgb.__version__
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench")


def main():
    with open(sys.argv[1], newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = [[float("nan") if v in ("NA", "") else float(v) for v in rec] for rec in r]
    a = np.array(rows, dtype=np.float64)
    y, x = a[:, 1], a[:, 2:].astype(np.float32)
    names = [h.replace("-", "_") for h in header[2:]]
    rng = np.random.default_rng(42)
    idx = rng.permutation(len(y))
    cut = int(0.8 * len(y))
    tr, te = idx[:cut], idx[cut:cut + 10000]
    params = dict(objective="binary:logistic", tree_method="hist", max_depth=6, eta=0.1,
                  max_bin=255, nthread=2, seed=1)
    bst = xgb.train(params, xgb.DMatrix(x[tr], label=y[tr], feature_names=names), 300)
    os.makedirs(OUT, exist_ok=True)
    base = os.path.join(OUT, "gmsc")
    bst.save_model(base + ".ubj")
    xt = np.ascontiguousarray(x[te])
    xt.astype("<f4").tofile(base + ".rows.f32")
    bst.set_param({"nthread": 1})
    dt = xgb.DMatrix(xt, feature_names=names, nthread=1)
    margin = bst.predict(dt, output_margin=True)
    margin.astype("<f8").tofile(base + ".margin.f64")

    def best(fn, reps=7):
        # A fresh DMatrix per run: XGBoost caches the predictions of a DMatrix
        # it has seen, which would time a copy instead of a prediction.
        t = []
        for _ in range(reps):
            d = xgb.DMatrix(xt, feature_names=names, nthread=1)
            s = time.process_time()
            fn(d)
            t.append(time.process_time() - s)
        return min(t) / len(xt) * 1e9

    meta = {
        "rows": int(xt.shape[0]),
        "features": int(xt.shape[1]),
        "trees": 300,
        "xgboost_version": xgb.__version__,
        "xgboost_predict_ns_per_row": best(lambda d: bst.predict(d, output_margin=True)),
        "xgboost_inplace_predict_ns_per_row": best(lambda d: bst.inplace_predict(xt, predict_type="margin")),
    }
    with open(base + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
