#!/usr/bin/env bash
# Installs the peers the benchmarks compare with: Debian's XGBoost 1.7.4 with numpy,
# pandas and scikit-learn (used by bench/*.sh only, never by the product).
set -euo pipefail
if /usr/bin/python3 -c 'import xgboost, numpy, pandas, sklearn' 2>/dev/null; then
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3-xgboost python3-pandas python3-sklearn >/dev/null
echo "bench-tools: installed Debian's python3-xgboost $(/usr/bin/python3 -c 'import xgboost; print(xgboost.__version__)')"
