#!/usr/bin/python3
"""XGBoost 1.7.4 (Debian python3-xgboost; not a product dependency) with native
categorical support on the divisions file that TestTrainOwnFileDivisions
generates, with the same split (fold 1 is the test set) and parameters:

  go test -run TestTrainOwnFileDivisions ./cmd/xinyi -args -divisions-out /tmp/divisions.csv
  /usr/bin/python3 testdata/owntrain/xgboost_divisions.py /tmp/divisions.csv > testdata/owntrain/xgboost_divisions.txt

It prints the file's sha256 (the test checks that it trains on the same file)
and the test AUCs with the text columns as categories and as numeric codes.
"""
import csv
import hashlib
import sys

import numpy as np
import xgboost as xgb


def auc(y, p):
    """Rank AUC with ties averaged."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sp = p[order]
    i = 0
    while i < len(sp):
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    npos = y.sum()
    nneg = len(y) - npos
    return (ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg)


path = sys.argv[1]
print("sha256 " + hashlib.sha256(open(path, "rb").read()).hexdigest())
rows = list(csv.reader(open(path, encoding="utf-8")))
head, rows = rows[0], rows[1:]
text = ["district", "industry", "division"]
feat = ["district", "industry", "division", "x1", "x2", "x3", "x4"]
codes = {h: {v: c for c, v in enumerate(sorted({r[head.index(h)] for r in rows}))} for h in text}
X = np.array([[codes[h][r[head.index(h)]] if h in codes else (float(r[head.index(h)]) if r[head.index(h)] != "" else np.nan)
               for h in feat] for r in rows])
y = np.array([float(r[head.index("bad")]) for r in rows])
fold = np.array([int(r[head.index("fold")]) for r in rows])
types = ["c" if h in codes else "q" for h in feat]
tr, te = fold == 0, fold == 1
params = {"objective": "binary:logistic", "eta": 0.1, "max_leaves": 31, "grow_policy": "lossguide", "max_depth": 0,
          "tree_method": "hist", "max_bin": 255, "max_cat_to_onehot": 1, "min_child_weight": 1e-3, "seed": 42}
mc = xgb.train(params, xgb.DMatrix(X[tr], label=y[tr], feature_types=types, enable_categorical=True), 100)
pc = mc.predict(xgb.DMatrix(X[te], feature_types=types, enable_categorical=True))
print("xgboost %s native categorical: test auc %.4f" % (xgb.__version__, auc(y[te], pc)))
mn = xgb.train(params, xgb.DMatrix(X[tr], label=y[tr]), 100)
print("xgboost %s numeric coding: test auc %.4f" % (xgb.__version__, auc(y[te], mn.predict(xgb.DMatrix(X[te])))))
