#!/usr/bin/env python3
"""XGBoost 1.7 `hist` peer for the Xinyi trainer benchmark and reference AUCs.

Trains XGBoost with the parameters of the Xinyi trainer's benchmark on the same
rows (the split is reimplemented exactly: see training.StratifiedSplit) and
prints one JSON object per data set: training time, peak memory and test AUC.

    python3 bench/xgb_peer.py --dataset gmsc --data ../shared/data/gmsc/cs-training.csv
    python3 bench/xgb_peer.py --reference training/testdata/xgb_reference.json

Use Debian's interpreter (/usr/bin/python3) with python3-xgboost 1.7.4.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

MASK = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def splitmix64_array(x):
    """splitmix64 over a numpy uint64 array (arithmetic wraps modulo 2^64)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def stratified_split(labels, test_fraction, seed):
    """training.StratifiedSplit: within each label value, rows ordered by
    splitmix64(seed XOR row) (ties by row); the first round(f*n) go to test
    (round half away from zero, as Go's math.Round)."""
    keys = splitmix64_array(np.uint64(seed) ^ np.arange(len(labels), dtype=np.uint64))
    assert int(keys[0]) == splitmix64(seed), "vectorized splitmix64 disagrees with the scalar one"
    train, test = [], []
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        rows = rows[np.lexsort((rows, keys[rows]))]
        nt = int(math.floor(test_fraction * len(rows) + 0.5))
        test.append(rows[:nt])
        train.append(rows[nt:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load(name, path):
    """Returns (X, y) for a single-file data set, or ((Xtr, ytr), (Xte, yte))."""
    if name == "gmsc":
        df = pd.read_csv(path, index_col=0, na_values=["NA"])
        y = df.pop("SeriousDlqin2yrs").to_numpy(dtype=np.float64)
        return df.to_numpy(dtype=np.float64), y
    if name == "taiwan":
        df = pd.read_csv(path)
        df = df.drop(columns=["ID"])
        y = df.pop("default.payment.next.month").to_numpy(dtype=np.float64)
        return df.to_numpy(dtype=np.float64), y
    if name == "csv":
        # A synthetic file written by --make-synthetic: header, target "y", empty = missing.
        df = pd.read_csv(path)
        y = df.pop("y").to_numpy(dtype=np.float64)
        return df.to_numpy(dtype=np.float64), y
    if name == "lightgbm-binary":
        def read(p):
            a = np.loadtxt(p, delimiter="\t", dtype=np.float64)
            return a[:, 1:], a[:, 0]
        test_path = os.path.join(os.path.dirname(path), "binary.test")
        return read(path), read(test_path)
    raise SystemExit(f"xgb_peer: unknown data set {name!r}")


def make_synthetic(path, rows, features, seed):
    """Writes a credit-like binary data set: skewed and heavy-tailed features,
    missing values in every third feature (5-30%), a few count-like columns,
    a non-linear latent score and a minority (about a third) of positives."""
    rng = np.random.default_rng(seed)
    X = np.empty((rows, features))
    z = np.full(rows, -2.9)
    for j in range(features):
        kind = j % 4
        if kind == 0:
            col = rng.lognormal(0, 1, rows)
            z += 0.35 * np.log1p(col) * (1 if j % 8 == 0 else -1)
        elif kind == 1:
            col = rng.normal(0, 1, rows)
            z += 0.4 * np.sin(2 * col) / (1 + j / 8)
        elif kind == 2:
            col = rng.poisson(0.4 + j / 20, rows).astype(float)
            z += 0.3 * np.minimum(col, 4) / (1 + j / 10)
        else:
            col = rng.uniform(0, 1, rows)
            z += 0.8 * (col > 0.7) / (1 + j / 10)
        if j % 3 == 0:
            miss = rng.uniform(0, 1, rows) < 0.05 + 0.25 * (j % 2)
            z += 0.5 * miss
            col[miss] = np.nan
        X[:, j] = col
    y = (rng.uniform(0, 1, rows) < 1 / (1 + np.exp(-z))).astype(int)
    df = pd.DataFrame(X, columns=["f%d" % j for j in range(features)])
    df["y"] = y
    df.to_csv(path, index=False, float_format="%.6g", na_rep="")


def split(name, path, seed, test_fraction):
    data = load(name, path)
    if name == "lightgbm-binary":
        return data[0], data[1]
    X, y = data
    tr, te = stratified_split(y, test_fraction, seed)
    return (X[tr], y[tr]), (X[te], y[te])


def params(threads, base_score, min_child_weight=1.0, reg_lambda=1.0):
    return {
        # The Xinyi trainer starts from the training label mean (LightGBM's
        # boost_from_average); XGBoost 1.7 starts from 0.5 unless told.
        "base_score": base_score,
        "objective": "binary:logistic",
        "tree_method": "hist",
        "grow_policy": "lossguide",
        "max_leaves": 31,
        "max_depth": 0,
        "eta": 0.1,
        "max_bin": 255,
        "min_child_weight": min_child_weight,
        "lambda": reg_lambda,
        "nthread": threads,
        "eval_metric": "auc",
        "verbosity": 0,
    }


def run(name, path, threads, rounds, seed, test_fraction, min_child_weight, reg_lambda, base_score="mean", repeat=1):
    (Xtr, ytr), (Xte, yte) = split(name, path, seed, test_fraction)
    base = float(ytr.mean()) if base_score == "mean" else float(base_score)
    times, cpu = [], []
    for _ in range(repeat):
        cpu0 = time.process_time()
        # Timed like the Go benchmark: building the binned matrix plus training.
        start = time.perf_counter()
        dtrain = xgb.DMatrix(Xtr, label=ytr, missing=np.nan, nthread=threads)
        booster = xgb.train(params(threads, base, min_child_weight, reg_lambda), dtrain, num_boost_round=rounds)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    elapsed = sum(times) / len(times)
    dtest = xgb.DMatrix(Xte, missing=np.nan, nthread=threads)
    auc = roc_auc_score(yte, booster.predict(dtest))
    return {
        "tool": "xgboost-" + xgb.__version__ + "-hist",
        "dataset": name,
        "train_rows": int(len(ytr)),
        "test_rows": int(len(yte)),
        "features": int(Xtr.shape[1]),
        "threads": threads,
        "rounds": rounds,
        "min_child_weight": min_child_weight,
        "lambda": reg_lambda,
        "base_score": round(base, 6),
        "train_seconds": round(elapsed, 4),
        "train_seconds_min": round(min(times), 4),
        "train_cpu_seconds": round(sum(cpu) / len(cpu), 4),
        "repeat": repeat,
        "test_auc": round(float(auc), 6),
        # ru_maxrss is in KiB on Linux; it covers the whole process (data loading included).
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["gmsc", "taiwan", "lightgbm-binary", "csv"])
    ap.add_argument("--data", help="data file (for lightgbm-binary: binary.train; binary.test beside it)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--min-child-weight", type=float, default=1.0)
    ap.add_argument("--lambda", dest="reg_lambda", type=float, default=1.0)
    ap.add_argument("--base-score", default="mean",
                    help="initial prediction: 'mean' (the training label mean, as the Xinyi trainer) or a probability")
    ap.add_argument("--repeat", type=int, default=1, help="train this many times and report the mean time")
    ap.add_argument("--make-synthetic", metavar="PATH", help="write a synthetic CSV (--rows, --features) and exit")
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--reference", help="write the reference AUCs of all three data sets to this JSON file")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    a = ap.parse_args()
    if a.make_synthetic:
        make_synthetic(a.make_synthetic, a.rows, a.features, a.seed)
        return
    if a.reference:
        files = {
            "taiwan": "taiwan/UCI_Credit_Card.csv",
            "gmsc": "gmsc/cs-training.csv",
            "lightgbm-binary": "lightgbm-binary/binary.train",
        }
        out = {}
        for name, rel in files.items():
            r = run(name, os.path.join(a.shared, rel), a.threads, a.rounds, a.seed, a.test_fraction,
                    a.min_child_weight, a.reg_lambda, a.base_score)
            out[name] = {"test_auc": r["test_auc"], "train_rows": r["train_rows"], "test_rows": r["test_rows"]}
            print(json.dumps(r), file=sys.stderr)
        out["_about"] = ("XGBoost %s hist, lossguide, 31 leaves, eta 0.1, %d rounds, 255 bins, min_child_weight %g, "
                         "lambda %g, base_score %s; Taiwan and GMSC split by training.StratifiedSplit(labels, %g, %d); made by "
                         "bench/xgb_peer.py --reference" % (xgb.__version__, a.rounds, a.min_child_weight,
                                                             a.reg_lambda, a.base_score, a.test_fraction, a.seed))
        with open(a.reference, "w") as f:
            json.dump(out, f, indent=2, sort_keys=True)
            f.write("\n")
        return
    if not a.dataset or not a.data:
        ap.error("--dataset and --data are required without --reference")
    print(json.dumps(run(a.dataset, a.data, a.threads, a.rounds, a.seed, a.test_fraction,
                         a.min_child_weight, a.reg_lambda, a.base_score, a.repeat)))


if __name__ == "__main__":
    main()
