#!/usr/bin/env bash
# The two pre-trained checkpoints experiment 2 (experiments/finetune_heldout.sh) fine-tunes: CSP with z-scored
# contexts and BC with raw contexts, goals where the cube rests, 300 episodes, 6000 steps -- the recipe of
# experiment 1 (experiments/context_representation.sh) at one of its seeds. Both run side by side, one thread
# each; the dataset is generated once first (both read the same cached file). Resumable.
#
#   experiments/pretrain_heldout.sh [SEED] [OUT]      (defaults: 1, runs/exp2/pre)
# COMMIT=1 also writes the policies without their optimizer state to checkpoints/ (what make demo and
# later sessions start from).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seed="${1:-1}"; out="${2:-runs/exp2/pre}"; episodes=300; steps=6000
mkdir -p "$out"
scripts/run.sh tmrl data generate cube-single-play --episodes "$episodes" --quiet
common=(--config config/cube.yaml --steps "$steps" --set threads=1 --set eval_every=0
        --set dataset_episodes="$episodes" --set goal_relabel=rest --set seed="$seed")
scripts/run.sh tmrl pretrain "${common[@]}" --method csp --set policy.context_normalization=zscore \
  --out "$out/csp-zscore-s$seed" > "$out/csp-zscore-s$seed.log" 2>&1 &
scripts/run.sh tmrl pretrain "${common[@]}" --method bc --set policy.context_normalization=none \
  --out "$out/bc-raw-s$seed" > "$out/bc-raw-s$seed.log" 2>&1 &
wait
ls -la "$out"/*/checkpoint.pt
[ "${COMMIT:-0}" = 1 ] || exit 0
for name in "csp-zscore-s$seed" "bc-raw-s$seed"; do
  scripts/run.sh python - "$out/$name/checkpoint.pt" "checkpoints/cube-$name.pt" <<'PY'
import sys
from pathlib import Path

import torch

state = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
state["optimizer"] = None  # a frozen policy to steer: the optimizer would triple the file
Path(sys.argv[2]).parent.mkdir(exist_ok=True)
torch.save(state, sys.argv[2])
print(sys.argv[2], Path(sys.argv[2]).stat().st_size // 1024, "KiB")
PY
done
