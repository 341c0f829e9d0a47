#!/usr/bin/env bash
# CSP vs BC vs PostBC: pre-train each on a task's training data, then measure success@K on the
# task's out-of-distribution evaluation starts at fixed context timesteps. Results (JSON, PNG) go to
# docs/results/csp-<task>/.
#
#   experiments/csp_coverage.sh [pointmaze|cube] [STEPS] [STARTS] [K]
# Defaults are small (minutes on 2 cores); the paper's scale is STEPS=200000 STARTS=50 K=20 with
# --set dataset_episodes=null --set policy.model.horizon=32.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
task="${1:-pointmaze}"; steps="${2:-1500}"; starts="${3:-20}"; k="${4:-10}"
out="docs/results/csp-$task"; runs="runs/csp-$task"
mkdir -p "$out"
for method in csp bc postbc; do
  scripts/run.sh tmrl pretrain --config "config/$task.yaml" --method "$method" --steps "$steps" \
    --set threads="${THREADS:-0}" --set eval_every=0 --out "$runs/$method"
done
scripts/run.sh tmrl coverage "$runs/csp/checkpoint.pt" "$runs/bc/checkpoint.pt" "$runs/postbc/checkpoint.pt" \
  --starts "$starts" --k "$k" --out "$out"
scripts/run.sh python -c "
from pathlib import Path
from tmrl_learning.csp.coverage import plot_action_spread
print(plot_action_spread(Path('$runs/csp/checkpoint.pt'), Path('$out/action_spread.png')))"
echo "experiments/csp_coverage.sh $task $steps $starts $k" > "$out/COMMAND"
