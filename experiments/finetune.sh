#!/usr/bin/env bash
# TMRL vs DSRL (vs RLPD) fine-tuning on a task, several seeds; curves, table and the timestep plot go to
# docs/results/finetune-<task>/. Needs the pre-trained checkpoints of experiments/csp_coverage.sh.
#
#   experiments/finetune.sh [pointmaze|cube|pointmaze-indist|cube-indist] [STEPS] [SEEDS] [METHODS]
# The -indist tasks are the held-out tasks' in-distribution twins (same layouts, starts and goals the
# data covers): a sanity check that fine-tuning improves a policy where the pre-trained one already succeeds
# sometimes. They use the same checkpoints (PRE defaults to runs/csp-<pointmaze|cube>).
# Defaults are small (minutes per run on 2 cores); the paper runs 2M vector steps and 5 seeds.
# Environment: PRE (folder with csp/, bc/, ... checkpoints; default runs/csp-<task>), TAG (results go to
# docs/results/finetune-<task>-<TAG>), RLPD_STEPS (rlpd executes one action per vector step; default STEPS),
# PLOT=0 (skip the plot, e.g. when several invocations share one results folder), THREADS, WARMUP (transitions of
# random steering, schedule.warmup_transitions; default 4 envs x STEPS / 8), EVAL_EVERY (vector steps between evaluations and checkpoints; default STEPS / 4),
# SEED_LIST (the seeds to run, e.g. "2"; overrides SEEDS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
task="${1:-pointmaze}"; steps="${2:-600}"; seeds="${3:-2}"; methods="${4:-tmrl dsrl}"
case "$task" in
  pointmaze) name=pointmaze-large-to-giant ;;
  cube) name=cube-single-heldout ;;
  pointmaze-indist) name=pointmaze-large ;;
  cube-indist) name=cube-single-indist ;;
  *) echo "unknown task $task" >&2; exit 2 ;;
esac
suffix="${TAG:+-$TAG}"
pre="${PRE:-runs/csp-${task%-indist}}"; runs="runs/finetune-$task$suffix"; out="docs/results/finetune-$task$suffix"
mkdir -p "$out"
declare -A ckpt=([tmrl]="$pre/csp/checkpoint.pt" [dsrl]="$pre/bc/checkpoint.pt" [postbc]="$pre/postbc/checkpoint.pt"
                 [cfg]="$pre/cfg/checkpoint.pt" [rlpd]="")
dirs=()
for method in $methods; do
  n="$steps"; [ "$method" = rlpd ] && n="${RLPD_STEPS:-$steps}"
  for seed in ${SEED_LIST:-$(seq 0 $((seeds - 1)))}; do
    args=(--method "$method" --task "$name" --seed "$seed" --steps "$n" --out "$runs/$method-s$seed"
          --set threads="${THREADS:-0}" --set eval_every="${EVAL_EVERY:-$((n / 4))}" --set checkpoint_every="${EVAL_EVERY:-$((n / 4))}"
          --set schedule.warmup_transitions="${WARMUP:-$((4 * n / 8))}" --set agent.compile=true)
    [ -n "${ckpt[$method]}" ] && args+=(--checkpoint "${ckpt[$method]}")
    scripts/run.sh tmrl finetune "${args[@]}"
    dirs+=("$runs/$method-s$seed")
  done
done
[ "${PLOT:-1}" = 0 ] && exit 0
scripts/run.sh tmrl plot "${dirs[@]}" --out "$out"
echo "PRE=$pre TAG=${TAG:-} RLPD_STEPS=${RLPD_STEPS:-$steps} experiments/finetune.sh $task $steps $seeds \"$methods\"" \
  >> "$out/COMMAND"
