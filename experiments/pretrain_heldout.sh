#!/usr/bin/env bash
# The pre-trained checkpoints experiment 2 (experiments/finetune_heldout.sh) fine-tunes: CSP with z-scored
# contexts and BC with raw contexts, goals where the cube rests -- the recipe of experiment 1
# (experiments/context_representation.sh). Every (method, seed) runs side by side, one thread each; the dataset
# is generated once first (all read the same cached file). Resumable.
#
#   experiments/pretrain_heldout.sh [SEEDS] [OUT]      (defaults: "1", runs/exp2/pre)
# Environment: VARIANTS (the "method normalization" pairs, default "csp zscore,bc none"; CFG-RL's checkpoint:
# VARIANTS="cfg none"), EPISODES (300), STEPS (6000), DEVICE (auto: a GPU when torch sees one), TIME_LIMIT (seconds per
# run, 0 = none; a run stopped by it keeps its last checkpoint, every 2000 steps), TMRL (the command, default
# scripts/run.sh tmrl), SET (space-separated config overrides for every run, e.g. SET="policy.model.horizon=32").
# FREEZE=DIR also writes the policies without their optimizer state to DIR
# (COMMIT=1: checkpoints/, what make demo and later sessions start from).
#   The 2026-12-04 GPU run: EPISODES=1000 STEPS=200000 TIME_LIMIT=... experiments/pretrain_heldout.sh "0 1 2"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seeds="${1:-1}"; out="${2:-runs/exp2/pre}"
episodes="${EPISODES:-300}"; steps="${STEPS:-6000}"; device="${DEVICE:-auto}"; limit="${TIME_LIMIT:-0}"
[ "$limit" != 0 ] || limit=infinity
read -r -a tmrl <<< "${TMRL:-scripts/run.sh tmrl}"
extra=(); for s in ${SET:-}; do extra+=(--set "$s"); done
freeze="${FREEZE:-}"; [ "${COMMIT:-0}" = 1 ] && freeze=checkpoints
mkdir -p "$out"
"${tmrl[@]}" data generate cube-single-play --episodes "$episodes" --quiet
runs=()
for seed in $seeds; do
  common=(--config config/cube.yaml --steps "$steps" --set threads=1 --set eval_every=0 --set device="$device"
          --set checkpoint_every=2000 --set dataset_episodes="$episodes" --set goal_relabel=rest --set seed="$seed"
          "${extra[@]}")
  IFS=, read -r -a variants <<< "${VARIANTS:-csp zscore,bc none}"
  for variant in "${variants[@]}"; do
    read -r method norm <<< "$variant"
    name="$method-${norm/none/raw}-s$seed"; runs+=("$name")
    timeout "$limit" "${tmrl[@]}" pretrain "${common[@]}" --method "$method" \
      --set policy.context_normalization="$norm" --out "$out/$name" > "$out/$name.log" 2>&1 &
  done
done
wait || true  # a run stopped by TIME_LIMIT keeps its last checkpoint
for name in "${runs[@]}"; do
  tail -c 300 "$out/$name.log" | tr '\r' '\n' | tail -n 2
  [ -z "$freeze" ] || "${tmrl[@]}" freeze "$out/$name/checkpoint.pt" "$freeze/cube-$name.pt"
done
