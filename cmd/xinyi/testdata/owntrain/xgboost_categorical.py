#!/usr/bin/python3
"""Compare xinyi's training on a file of one's own with XGBoost 1.7.4's native
categorical support on the same split (Debian python3-xgboost; not a product
dependency).

Writes the Taiwan credit file with SEX, EDUCATION and MARRIAGE as words and a
"fold" column (0 train, 1 test: 6,000 rows drawn with seed 42), trains XGBoost
with enable_categorical on the train fold and prints its test AUC. xinyi is
trained on the same file with the fold as --time, so its test split is the
same 6,000 rows:

  /usr/bin/python3 xgboost_categorical.py ../../../../../shared/data/taiwan/UCI_Credit_Card.csv /tmp/tw.csv
  xinyi train --data /tmp/tw.csv --target default.payment.next.month --id ID \
      --time fold --test-fraction 0.2 --valid-fraction 0 --out /tmp/m.txt
"""
import csv
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


src, out = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(src)))
head, rows = rows[0], rows[1:]
words = {
    "SEX": {"1": "male", "2": "female"},
    "EDUCATION": {"0": "unknown0", "1": "graduate school", "2": "university", "3": "high school", "4": "others", "5": "unknown5", "6": "unknown6"},
    "MARRIAGE": {"0": "unknown", "1": "married", "2": "single", "3": "others"},
}
rng = np.random.default_rng(42)
fold = np.zeros(len(rows), dtype=int)
fold[rng.choice(len(rows), 6000, replace=False)] = 1
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(head + ["fold"])
    for r, k in zip(rows, fold):
        w.writerow([words[h][v] if h in words else v for h, v in zip(head, r)] + [k])

target = head.index("default.payment.next.month")
feat = [j for j, h in enumerate(head) if h not in ("ID", "default.payment.next.month")]
num = np.array([[float(r[j]) for j in feat] for r in rows])
y = np.array([float(r[target]) for r in rows])
# Categorical: each word's code (any code; XGBoost's partition splits ignore order).
cat = num.copy()
types = []
for k, j in enumerate(feat):
    h = head[j]
    if h in words:
        codes = {v: c for c, v in enumerate(sorted(words[h].values()))}
        cat[:, k] = [codes[words[h][r[j]]] for r in rows]
        types.append("c")
    else:
        types.append("q")
tr, te = fold == 0, fold == 1
params = {"objective": "binary:logistic", "eta": 0.1, "max_leaves": 31, "grow_policy": "lossguide", "max_depth": 0,
          "tree_method": "hist", "max_bin": 255, "max_cat_to_onehot": 1, "min_child_weight": 1e-3, "seed": 42}
dc = xgb.DMatrix(cat[tr], label=y[tr], feature_types=types, enable_categorical=True)
mc = xgb.train(params, dc, 100)
pc = mc.predict(xgb.DMatrix(cat[te], feature_types=types, enable_categorical=True))
print("xgboost %s native categorical: test auc %.4f" % (xgb.__version__, auc(y[te], pc)))
mn = xgb.train(params, xgb.DMatrix(num[tr], label=y[tr]), 100)
print("xgboost %s numeric coding: test auc %.4f" % (xgb.__version__, auc(y[te], mn.predict(xgb.DMatrix(num[te])))))
