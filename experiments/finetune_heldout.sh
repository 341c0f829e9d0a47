#!/usr/bin/env bash
# Experiment 2 of the reproduction (issue 15): TMRL over CSP vs DSRL over BC on the cube held-out tasks,
# from checkpoints of experiment 1 (goals where the cube rests; CSP with z-scored contexts, which covers
# held-out goals at t = 50; BC with raw contexts), the same environment-step budget for both, SEEDS
# fine-tuning seeds each, JOBS runs at a time with one thread each. Curves, pooled success with 95%
# intervals, the table and the timestep analysis go to docs/results/finetune-cube-<TAG>/.
#
#   experiments/finetune_heldout.sh CSP_CHECKPOINT BC_CHECKPOINT [VECTOR_STEPS]
# Env: TAG (heldout), SEEDS (3), JOBS (3), EVAL_EVERY (1000 vector steps; 25 evaluation episodes each),
# THREADS (1). One vector step is 4 envs x 5 actions = 20 environment steps. Rerunning resumes each run
# from its last checkpoint (experiments/finetune.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
csp="$1"; bc="$2"; steps="${3:-8000}"; tag="${TAG:-heldout}"; seeds="${SEEDS:-3}"; jobs="${JOBS:-3}"
pre="runs/finetune-cube-$tag-pre"; runs="runs/finetune-cube-$tag"; out="docs/results/finetune-cube-$tag"
mkdir -p "$pre/csp" "$pre/bc" "$runs" "$out"
ln -sfn "$(realpath "$csp")" "$pre/csp/checkpoint.pt"
ln -sfn "$(realpath "$bc")" "$pre/bc/checkpoint.pt"
for seed in $(seq 0 $((seeds - 1))); do
  for m in tmrl dsrl; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    PRE="$pre" TAG="$tag" PLOT=0 THREADS="${THREADS:-1}" EVAL_EVERY="${EVAL_EVERY:-1000}" SEED_LIST="$seed" \
      experiments/finetune.sh cube "$steps" 1 "$m" > "$runs/$m-s$seed.log" 2>&1 &
  done
done
wait
dirs=("$runs"/tmrl-s*/ "$runs"/dsrl-s*/)  # folders only: the logs sit beside them
scripts/run.sh tmrl plot "${dirs[@]}" --out "$out"
scripts/run.sh python experiments/pool_finetune.py "${dirs[@]}" --out "$out"
scripts/run.sh python experiments/timestep_analysis.py "$runs/tmrl-s0" --episodes 50 --out "$out"
echo "SEEDS=$seeds JOBS=$jobs EVAL_EVERY=${EVAL_EVERY:-1000} TAG=$tag experiments/finetune_heldout.sh $csp $bc $steps" \
  >> "$out/COMMAND"
