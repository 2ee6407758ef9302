# Sourced by demo.sh, bench-load.sh and cluster-demo.sh: the steps that turn an empty
# store into a served region. Both functions take the xinyi binary and the store (a
# folder or s3://bucket); extra arguments (e.g. --db postgres://...) go to every command
# that opens the metadata database. Trained model files go to $REGION_WORK (default
# <store>/.xinyi, which needs a folder store).

# region_data generates a region of $3 companies, 36 months of department data
# (2023-01 .. 2025-12), materializes the PD, violation and limit feature sets at
# quarter ends and builds point-in-time samples on them.
region_data() {
  local xinyi=$1 dir=$2 companies=$3
  say "1. a region of $companies companies, 36 months of department data (2023-01 .. 2025-12)"
  "$xinyi" generate --companies "$companies" --months 36 --seed 7 --out "$dir"

  say "2. point-in-time feature snapshots at quarter ends (the three models' sets, and every indicator for the warnings)"
  local dates=2023-06-30,2023-09-30,2023-12-31,2024-03-31,2024-06-30,2024-09-30,2024-12-31,2025-03-31,2025-06-30,2025-09-30,2025-12-31
  local set
  for set in pd violation limit full; do
    # shellcheck disable=SC2086 # REGION_MATERIALIZE holds extra flags, word-split on purpose
    "$xinyi" features materialize --store "$dir" --set "$set" --asof "$dates" ${REGION_MATERIALIZE:-}
  done

  say "3. samples: outcomes over the 12 months after each snapshot, known by 2025-12-31"
  for set in pd violation limit; do
    "$xinyi" features sample --store "$dir" --set "$set" --name "$set-demo" \
      --from 2023-06-30 --to 2024-12-31 --build-at 2025-12-31
  done
}

# region_models creates the people (their API keys land in the variables bank, ops,
# scientist, approver, loans and regulator), trains the three models on the samples,
# registers them and promotes each to champion under four-eyes approval.
region_models() {
  local xinyi=$1 dir=$2
  shift 2
  local db=("$@")
  say "4. people: a platform operator, a bank's data scientist, approver and loan system, a regulator"
  key() { "$xinyi" access user --store "$dir" "${db[@]}" --institution "$1" --kind "$2" --user "$3" --roles "$4" 2>/dev/null; }
  bank="上虞农商银行 demo bank"
  ops=$(key "Xinyi platform" platform ops admin)
  scientist=$(key "$bank" bank scientist data_scientist)
  approver=$(key "$bank" bank approver approver)
  loans=$(key "$bank" bank loans bank)
  regulator=$(key "上虞区市场监督管理局 demo regulator" regulator inspector regulator)

  say "5. train three models on the samples and register them with the samples as lineage (violation shared with regulators)"
  local set m req id share
  for set in pd violation limit; do
    # The bank shares its violation model: regulators screen the region with it.
    share=()
    [ "$set" = violation ] && share=(--shared)
    "$xinyi" train --store "$dir" "${db[@]}" --sample "$set-demo" --out "${REGION_WORK:-$dir/.xinyi}/$set.txt" \
      --register "$set" "${share[@]}" --key "$scientist"
  done

  say "6. four-eyes promotion: the scientist asks, a different person approves"
  for m in pd violation limit; do
    req=$("$xinyi" model alias --store "$dir" "${db[@]}" --key "$scientist" --name "$m" --alias champion --version 1 --note "demo")
    echo "$req"
    id=$(sed -n 's/^promotion request \([0-9][0-9]*\):.*/\1/p' <<<"$req")
    "$xinyi" model approve --store "$dir" "${db[@]}" --key "$approver" --id "$id" --note "reviewed the model card"
  done
  "$xinyi" model list --store "$dir" "${db[@]}" --key "$scientist"
}
