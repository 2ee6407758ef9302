#!/usr/bin/python3
"""Make the request-feature model of serving/httpapi's request-feature tests with
Debian's python3-xgboost 1.7.4.

Run from the module root:

    /usr/bin/python3 serving/httpapi/testdata/make_request_model.py

A bank's feature set (bank-a-credit) lists six catalog indicators of pd/v1 and two
request features the lending system sends with each assessment:

  collateral_ratio  numeric, 0 to 3 (collateral value over loan amount)
  loan_purpose      categorical: working_capital, equipment, trade, refinance

A categorical request feature reaches the model as the index of its category in
the set's published category list (working_capital 0, equipment 1, trade 2,
refinance 3): that is how the model is trained here and how serving encodes a
category (features.SetFeature.Value).

The model reads five of the six indicators and both request features in an order
of its own (not the set's). It writes

  request_model.json   binary:logistic, 60 rounds, XGBoost JSON
  request.golden.json  the set's indicators and request features, the model's
                       columns in order, test rows in that order (float32 values,
                       null for missing; loan_purpose as its code) with XGBoost's
                       own margins and predictions
"""
import json
import os

import numpy as np
import xgboost as xgb

assert xgb.__version__ == "1.7.4", xgb.__version__

OUT = os.path.dirname(os.path.abspath(__file__))
PURPOSES = ["working_capital", "equipment", "trade", "refinance"]


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


def main():
    rng = np.random.default_rng(20261207)
    ids = pd_indicators()
    set_inds = [ids[i] for i in sorted(rng.choice(len(ids), 6, replace=False))]
    read = [set_inds[i] for i in rng.permutation(6)[:5]]
    cols = read[:2] + ["loan_purpose"] + read[2:4] + ["collateral_ratio"] + read[4:]
    n = 3000
    x = np.empty((n, len(cols)), dtype=np.float32)
    for j, c in enumerate(cols):
        if c == "loan_purpose":
            x[:, j] = rng.integers(0, len(PURPOSES), n)
        elif c == "collateral_ratio":
            x[:, j] = np.round(rng.uniform(0, 3, n), 3)
        else:
            v = rng.lognormal(0.0, 1.0, n) * rng.choice([1.0, 100.0, 1e4])
            v[rng.random(n) < 0.08] = np.nan
            x[:, j] = v
    ip, ic = cols.index("loan_purpose"), cols.index("collateral_ratio")
    z = np.nan_to_num(np.log1p(x[:, [j for j, c in enumerate(cols) if c in read]]), nan=0.0)
    logit = ((z - z.mean(0)) / (z.std(0) + 1e-9)) @ rng.normal(0, 0.6, z.shape[1])
    logit += np.array([0.0, 0.8, -0.5, 1.2])[x[:, ip].astype(int)] - 1.1 * (x[:, ic] - 1.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    train, test = slice(0, n - 40), slice(n - 40, n)
    d = xgb.DMatrix(x[train], label=y[train], feature_names=cols, missing=np.nan)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.2, "tree_method": "hist", "seed": 1, "nthread": 1}
    bst = xgb.train(params, d, num_boost_round=60)
    bst.save_model(os.path.join(OUT, "request_model.json"))
    rows = x[test]
    dt = xgb.DMatrix(rows, feature_names=cols, missing=np.nan)
    golden = {
        "set_indicators": set_inds,
        "purposes": PURPOSES,
        "collateral_range": [0, 3],
        "columns": cols,
        "rows": [[None if np.isnan(v) else float(v) for v in r] for r in rows],
        "margin": [float(v) for v in bst.predict(dt, output_margin=True)],
        "prediction": [float(v) for v in bst.predict(dt)],
    }
    with open(os.path.join(OUT, "request.golden.json"), "w") as f:
        json.dump(golden, f, indent=None)
        f.write("\n")


if __name__ == "__main__":
    main()
