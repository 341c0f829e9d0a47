#!/usr/bin/env bash
# Experiment 2 of the reproduction (issue 15): TMRL over CSP vs DSRL over BC on the cube held-out tasks,
# from checkpoints of experiment 1 (goals where the cube rests; CSP with z-scored contexts, which covers
# held-out goals at t = 50; BC with raw contexts), the same environment-step budget for both, one thread
# each, side by side. Curves, table and the timestep plot go to docs/results/finetune-cube-<TAG>/.
#
#   experiments/finetune_heldout.sh CSP_CHECKPOINT BC_CHECKPOINT [VECTOR_STEPS]     (fine-tuning seed 0)
# Env: TAG (heldout), EVAL_EVERY (2000 vector steps; 25 evaluation episodes each), THREADS (1).
# One vector step is 4 envs x 5 actions = 20 environment steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
csp="$1"; bc="$2"; steps="${3:-20000}"; tag="${TAG:-heldout}"
pre="runs/finetune-cube-$tag-pre"
mkdir -p "$pre/csp" "$pre/bc"
ln -sfn "$(realpath "$csp")" "$pre/csp/checkpoint.pt"
ln -sfn "$(realpath "$bc")" "$pre/bc/checkpoint.pt"
for m in tmrl dsrl; do  # side by side; experiments/finetune.sh resumes a run from its last checkpoint
  PRE="$pre" TAG="$tag" PLOT=0 THREADS="${THREADS:-1}" EVAL_EVERY="${EVAL_EVERY:-2000}" \
    experiments/finetune.sh cube "$steps" 1 "$m" &
done
wait
runs="runs/finetune-cube-$tag"; out="docs/results/finetune-cube-$tag"
mkdir -p "$out"
scripts/run.sh tmrl plot "$runs/tmrl-s0" "$runs/dsrl-s0" --out "$out"
scripts/run.sh python experiments/timestep_analysis.py "$runs/tmrl-s0" --episodes 50 --out "$out"
echo "experiments/finetune_heldout.sh $csp $bc $steps  # TAG=$tag" >> "$out/COMMAND"
