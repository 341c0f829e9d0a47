#!/usr/bin/env bash
# TMRL vs DSRL (vs RLPD) fine-tuning on a task, several seeds; curves, table and the timestep plot go to
# docs/results/finetune-<task>/. Needs the pre-trained checkpoints of experiments/csp_coverage.sh.
#
#   experiments/finetune.sh [pointmaze|cube] [STEPS] [SEEDS] [METHODS]
# Defaults are small (minutes per run on 2 cores); the paper runs 2M vector steps and 5 seeds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
task="${1:-pointmaze}"; steps="${2:-600}"; seeds="${3:-2}"; methods="${4:-tmrl dsrl}"
case "$task" in
  pointmaze) name=pointmaze-large-to-giant ;;
  cube) name=cube-single-heldout ;;
  *) echo "unknown task $task" >&2; exit 2 ;;
esac
pre="runs/csp-$task"; runs="runs/finetune-$task"; out="docs/results/finetune-$task"
mkdir -p "$out"
declare -A ckpt=([tmrl]="$pre/csp/checkpoint.pt" [dsrl]="$pre/bc/checkpoint.pt" [postbc]="$pre/postbc/checkpoint.pt"
                 [cfg]="$pre/cfg/checkpoint.pt" [rlpd]="")
dirs=()
for method in $methods; do
  for seed in $(seq 0 $((seeds - 1))); do
    args=(--method "$method" --task "$name" --seed "$seed" --steps "$steps" --out "$runs/$method-s$seed"
          --set threads="${THREADS:-0}" --set eval_every=$((steps / 3)) --set checkpoint_every=$((steps / 3))
          --set warmup=$((steps / 6)))
    [ -n "${ckpt[$method]}" ] && args+=(--checkpoint "${ckpt[$method]}")
    scripts/run.sh tmrl finetune "${args[@]}"
    dirs+=("$runs/$method-s$seed")
  done
done
scripts/run.sh tmrl plot "${dirs[@]}" --out "$out"
echo "experiments/finetune.sh $task $steps $seeds \"$methods\"" > "$out/COMMAND"
