#!/usr/bin/env bash
# Experiment 2 of the reproduction (issue 15): TMRL over CSP vs DSRL over BC on the cube held-out tasks,
# from checkpoints of experiment 1 (goals where the cube rests; CSP with z-scored contexts, which covers
# held-out goals at t = 50; BC with raw contexts), the same environment-step budget for both, SEEDS
# fine-tuning seeds each, JOBS runs at a time with one thread each. Curves, pooled success with 95%
# intervals, the table and the timestep analysis go to docs/results/finetune-cube-<TAG>/.
#
#   experiments/finetune_heldout.sh CSP_CHECKPOINT BC_CHECKPOINT [VECTOR_STEPS]
# Env: TAG (heldout), SEEDS (3), JOBS (3), EVAL_EVERY (1000 vector steps; 25 evaluation episodes each),
# THREADS (1), METHODS ("tmrl dsrl"; also cfg, which steers the checkpoint CFG=PATH, and rlpd, which runs 5x the
# vector steps: it executes one action per step, not a chunk of 5, so every method gets the same environment
# steps, evaluations and random warm-up), WITH (a pooled.json of methods run before, joined to the table).
# One vector step is 4 envs x 5 actions = 20 environment steps. Rerunning resumes each run from its last
# checkpoint (experiments/finetune.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
csp="$1"; bc="$2"; steps="${3:-8000}"; tag="${TAG:-heldout}"; seeds="${SEEDS:-3}"; jobs="${JOBS:-3}"
pre="runs/finetune-cube-$tag-pre"; runs="runs/finetune-cube-$tag"; out="docs/results/finetune-cube-$tag"
methods="${METHODS:-tmrl dsrl}"; every="${EVAL_EVERY:-1000}"
mkdir -p "$pre/csp" "$pre/bc" "$pre/cfg" "$runs" "$out"
ln -sfn "$(realpath "$csp")" "$pre/csp/checkpoint.pt"
ln -sfn "$(realpath "$bc")" "$pre/bc/checkpoint.pt"
[ -z "${CFG:-}" ] || ln -sfn "$(realpath "$CFG")" "$pre/cfg/checkpoint.pt"
for seed in $(seq 0 $((seeds - 1))); do
  for m in $methods; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    scale=1; [ "$m" = rlpd ] && scale=5
    PRE="$pre" TAG="$tag" PLOT=0 THREADS="${THREADS:-1}" EVAL_EVERY=$((every * scale)) SEED_LIST="$seed" \
      RLPD_STEPS=$((steps * scale)) experiments/finetune.sh cube "$steps" 1 "$m" > "$runs/$m-s$seed.log" 2>&1 &
  done
done
wait
dirs=(); for m in $methods; do dirs+=("$runs/$m"-s*/); done  # folders only: the logs sit beside them
plots="$out"; [ -z "${WITH:-}" ] || plots="$out/${methods// /-}"  # keep the earlier methods' own curves
scripts/run.sh tmrl plot "${dirs[@]}" --out "$plots"
scripts/run.sh python experiments/pool_finetune.py "${dirs[@]}" --out "$out" ${WITH:+--with "$WITH"}
[[ " $methods " != *" tmrl "* ]] || \
  scripts/run.sh python experiments/timestep_analysis.py "$runs/tmrl-s0" --episodes 50 --out "$out"
echo "SEEDS=$seeds JOBS=$jobs EVAL_EVERY=$every TAG=$tag METHODS=\"$methods\" CFG=${CFG:-} WITH=${WITH:-}" \
  "experiments/finetune_heldout.sh $csp $bc $steps" >> "$out/COMMAND"
