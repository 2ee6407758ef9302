#!/usr/bin/python3
"""Make the XGBoost fixtures of package gbdt with Debian's python3-xgboost 1.7.4.

Run from the module root:

    /usr/bin/python3 gbdt/testdata/make_xgboost_fixtures.py ../shared/data/gmsc/cs-training.csv

It trains small models on the first rows of the Give Me Some Credit file (whose
MonthlyIncome and NumberOfDependents have real missing values; a few more NaNs are
added so every feature has some) and writes, under gbdt/testdata/xgboost/:

  <name>.json        JSON model (save_model with .json)
  <name>.ubj         UBJSON model (save_model with .ubj)
  <name>.binf.model  legacy binary model file (save_model with any other extension)
  <name>.nobinf.model  the same legacy bytes without the "binf" header (older
                     writers' layout; XGBoost 1.7 loads it back, checked here)
  <name>.golden.json rows, XGBoost's margins, transformed predictions and
                     pred_contribs (last column = bias) for the test rows
  rows: the test rows are written as float32 values, the precision XGBoost uses.
"""
import csv
import json
import os
import sys

import numpy as np
import xgboost as xgb

assert xgb.__version__ == "1.7.4", xgb.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xgboost")
N_TRAIN = 3000
N_TEST = 60


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = []
        for i, rec in enumerate(r):
            if i >= N_TRAIN + N_TEST:
                break
            rows.append([float("nan") if v in ("NA", "") else float(v) for v in rec])
    a = np.array(rows, dtype=np.float64)
    y = a[:, 1]
    x = a[:, 2:]
    names = [h.replace("-", "_") for h in header[2:]]
    return x, y, names


def main():
    x, y, names = load(sys.argv[1])
    rng = np.random.default_rng(20261125)
    mask = rng.random(x.shape) < 0.03
    x = x.copy()
    x[mask] = np.nan
    x = x.astype(np.float32)
    xtr, ytr = x[:N_TRAIN], y[:N_TRAIN]
    xte = x[N_TRAIN:]
    # A regression target with some signal: log(1 + debt ratio) from the other columns.
    reg_col = names.index("DebtRatio")
    yreg = np.log1p(np.nan_to_num(x[:, reg_col], nan=0.0).astype(np.float64))
    xreg = np.delete(x, reg_col, axis=1)
    reg_names = [n for n in names if n != "DebtRatio"]
    # A positive, heavy-tailed amount for the gamma objective (log link): 10,000
    # times (1 + debt ratio), which runs from 10,000 into the billions.
    ygamma = 10000.0 * (1.0 + np.nan_to_num(x[:, reg_col], nan=0.0).astype(np.float64))

    specs = [
        ("binary_depthwise", dict(objective="binary:logistic", max_depth=4, eta=0.3,
                                  base_score=0.3, tree_method="hist"), xtr, ytr, xte, names, 12),
        ("binary_lossguide", dict(objective="binary:logistic", grow_policy="lossguide",
                                  max_leaves=12, max_depth=0, eta=0.2, tree_method="hist"),
         xtr, ytr, xte, names, 10),
        ("reg_squarederror", dict(objective="reg:squarederror", max_depth=4, eta=0.3,
                                  base_score=0.25, tree_method="exact"),
         xreg[:N_TRAIN], yreg[:N_TRAIN], xreg[N_TRAIN:], reg_names, 10),
        ("reg_logistic_lossguide", dict(objective="reg:logistic", grow_policy="lossguide",
                                        max_leaves=8, max_depth=0, eta=0.3, tree_method="hist"),
         xtr, ytr, xte, names, 8),
        ("reg_gamma", dict(objective="reg:gamma", max_depth=4, eta=0.3,
                           base_score=20000.0, tree_method="hist"),
         xreg[:N_TRAIN], ygamma[:N_TRAIN], xreg[N_TRAIN:], reg_names, 10),
        ("binary_dart", dict(objective="binary:logistic", booster="dart", rate_drop=0.3,
                             skip_drop=0.0, max_depth=3, eta=0.3, tree_method="hist"),
         xtr, ytr, xte, names, 6),
    ]
    os.makedirs(OUT, exist_ok=True)
    for name, params, xa, ya, xt, fnames, rounds in specs:
        params = dict(params, seed=7, nthread=1)
        d = xgb.DMatrix(xa, label=ya, feature_names=fnames, missing=np.nan)
        bst = xgb.train(params, d, num_boost_round=rounds)
        base = os.path.join(OUT, name)
        bst.save_model(base + ".json")
        bst.save_model(base + ".ubj")
        bst.save_model(base + ".binf.model")
        raw = bytes(bst.save_raw("deprecated"))
        with open(base + ".binf.model", "rb") as f:
            assert f.read() == raw, "save_raw differs from save_model"
        # XGBoost 1.x reads legacy files with or without the 4-byte "binf" header;
        # 1.7 always writes it, so the headerless variant is the same bytes without it,
        # checked below by loading it back into XGBoost.
        assert raw[:4] == b"binf"
        with open(base + ".nobinf.model", "wb") as f:
            f.write(raw[4:])
        dt = xgb.DMatrix(xt, feature_names=fnames, missing=np.nan)
        back = xgb.Booster(model_file=base + ".nobinf.model")
        back.feature_names = fnames
        assert np.array_equal(back.predict(dt, output_margin=True),
                              bst.predict(dt, output_margin=True))
        margin = bst.predict(dt, output_margin=True)
        pred = bst.predict(dt)
        contribs = bst.predict(dt, pred_contribs=True)
        golden = {
            "xgboost_version": xgb.__version__,
            "objective": params["objective"],
            "params": {k: v for k, v in params.items()},
            "rounds": rounds,
            "feature_names": fnames,
            "rows": [[None if np.isnan(v) else float(v) for v in r] for r in xt],
            "margin": [float(v) for v in margin],
            "prediction": [float(v) for v in pred],
            "contribs": [[float(v) for v in r] for r in contribs],
        }
        with open(base + ".golden.json", "w") as f:
            json.dump(golden, f, indent=None, separators=(",", ":"))
            f.write("\n")
        print(name, "ok")


if __name__ == "__main__":
    main()
