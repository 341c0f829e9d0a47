#!/usr/bin/env bash
# Experiment 1 of the reproduction (issue 15): which context representation lets CSP cover the cube
# held-out goals while keeping in-distribution precision. CSP with raw contexts (the authors) vs
# z-scored contexts (tmrl before), and BC, all with goals where the cube rests; then success@K on
# 50 held-out starts (reset seeds 42..91), K = 1..20, t in {0, .25, .5, .75, 1} x T, 95% bootstrap
# intervals over starts, and success@K at t = 0 on the in-distribution twin. Resumable: finished
# pre-training and finished coverage folders are kept.
#
#   experiments/context_representation.sh [EPISODES] [STEPS] [SEED]
# Env: THREADS (1), STARTS (50), K (20), INDIST (20), OUT (docs/results/context-representation), RUNS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
episodes="${1:-300}"; steps="${2:-8000}"; seed="${3:-0}"
threads="${THREADS:-1}"; starts="${STARTS:-50}"; k="${K:-20}"; indist="${INDIST:-20}"
out="${OUT:-docs/results/context-representation}/s$seed"; runs="${RUNS:-runs/context-representation}/s$seed"
mkdir -p "$out"
common=(--config config/cube.yaml --steps "$steps" --set threads="$threads" --set eval_every=0
        --set dataset_episodes="$episodes" --set goal_relabel=rest --set seed="$seed")
run() {  # name method normalization
  [ -f "$out/$1/coverage.json" ] && return  # measured already (its checkpoint may be gone)
  scripts/run.sh tmrl pretrain "${common[@]}" --method "$2" --set policy.context_normalization="$3" \
    --out "$runs/$1"
  scripts/run.sh tmrl coverage "$runs/$1/checkpoint.pt" --starts "$starts" \
    --k "$k" --indist-starts "$indist" --out "$out/$1"
}
run csp-raw csp none
run csp-zscore csp zscore
run bc-raw bc none
scripts/run.sh python -m tmrl_learning.csp.coverage merge "$out" "$out"/csp-raw "$out"/csp-zscore "$out"/bc-raw
echo "experiments/context_representation.sh $episodes $steps $seed  # THREADS=$threads STARTS=$starts K=$k INDIST=$indist" \
  > "$out/COMMAND"
