#!/usr/bin/python3
"""Make the permuted-order models of serving/httpapi's column-order tests with
Debian's python3-xgboost 1.7.4.

Run from the module root:

    /usr/bin/python3 serving/httpapi/testdata/make_permuted_models.py

It reads the indicators of the catalog's feature set pd/v1 from
features/catalog/sets.yaml, draws synthetic companies, and trains models whose own
column order is NOT the set's:

  pd_permuted.json     binary:logistic over all indicators of pd/v1 in a shuffled order
  limit_permuted.json  reg:squarederror over the same shuffled order
  pd_subset.json       binary:logistic over 12 of the indicators, shuffled
  pd_subset.binf.model the same booster in XGBoost's legacy binary format (no names)
  permuted.golden.json for each model: its columns in order, and test rows in that
                       order (float32 values, null for missing) with XGBoost's own
                       margins and predictions
"""
import json
import os

import numpy as np
import xgboost as xgb

assert xgb.__version__ == "1.7.4", xgb.__version__

OUT = os.path.dirname(os.path.abspath(__file__))


def pd_indicators(path="features/catalog/sets.yaml"):
    ids, inside, in_list = [], False, False
    for line in open(path, encoding="utf-8"):
        s = line.strip()
        if s.startswith("- name:"):
            inside = s == "- name: pd"
            in_list = False
            continue
        if inside and s.startswith("version:"):
            assert s == "version: 1", s
        if inside and s == "indicators:":
            in_list = True
            continue
        if inside and in_list:
            if s.startswith("- "):
                ids.append(s[2:].strip())
            elif s:
                in_list = False
    assert len(ids) > 20, ids
    return ids


def data(rng, n, nf):
    scale = rng.choice([1.0, 100.0, 1e6], size=nf)
    x = rng.lognormal(0.0, 1.0, size=(n, nf)) * scale
    x[rng.random((n, nf)) < 0.08] = np.nan
    return x.astype(np.float32)


def main():
    rng = np.random.default_rng(20261206)
    ids = pd_indicators()
    order = list(rng.permutation(len(ids)))
    cols = [ids[i] for i in order]
    n = 3000
    x = data(rng, n, len(cols))
    z = np.nan_to_num(np.log1p(x[:, :8]), nan=0.0)
    w = rng.normal(0, 1, size=8)
    logit = (z - z.mean(0)) / (z.std(0) + 1e-9) @ w
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    limit = np.maximum(0.0, 1e6 + 3e5 * logit + rng.normal(0, 5e4, n)).astype(np.float32)
    train, test = slice(0, n - 40), slice(n - 40, n)

    models = {}
    d = xgb.DMatrix(x[train], label=y[train], feature_names=cols, missing=np.nan)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.2, "tree_method": "hist", "seed": 1, "nthread": 1}
    models["pd_permuted"] = (xgb.train(params, d, num_boost_round=60), cols)
    dl = xgb.DMatrix(x[train], label=limit[train], feature_names=cols, missing=np.nan)
    models["limit_permuted"] = (xgb.train(dict(params, objective="reg:squarederror"), dl, num_boost_round=60), cols)
    sub = list(rng.permutation(len(cols))[:12])
    sub_cols = [cols[i] for i in sub]
    ds = xgb.DMatrix(x[train][:, sub], label=y[train], feature_names=sub_cols, missing=np.nan)
    models["pd_subset"] = (xgb.train(params, ds, num_boost_round=40), sub_cols)

    golden = {}
    for name, (bst, mcols) in models.items():
        bst.save_model(os.path.join(OUT, name + ".json"))
        idx = [cols.index(c) for c in mcols]
        rows = x[test][:, idx]
        dt = xgb.DMatrix(rows, feature_names=mcols, missing=np.nan)
        margin = bst.predict(dt, output_margin=True)
        pred = bst.predict(dt)
        golden[name] = {
            "columns": mcols,
            "rows": [[None if np.isnan(v) else float(v) for v in r] for r in rows],
            "margin": [float(v) for v in margin],
            "prediction": [float(v) for v in pred],
        }
    bst, mcols = models["pd_subset"]
    bst.feature_names = None
    bst.save_model(os.path.join(OUT, "pd_subset.binf.model"))
    back = xgb.Booster(model_file=os.path.join(OUT, "pd_subset.binf.model"))
    assert back.feature_names is None
    with open(os.path.join(OUT, "permuted.golden.json"), "w") as f:
        json.dump(golden, f, indent=None)
        f.write("\n")


if __name__ == "__main__":
    main()
