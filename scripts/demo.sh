#!/usr/bin/env bash
# make demo: runs the platform end to end on embedded defaults (a local folder as the
# object store) and tells the user where to look.
set -euo pipefail
xinyi=$1
dir=$2
mkdir -p "$dir"
echo "== generating a small enterprise universe into $dir"
"$xinyi" generate --companies 2000 --months 24 --seed 7 --out "$dir"
echo
echo "Done. Look in $dir/raw for the department tables (Parquet) and $dir/labels for the labels."
