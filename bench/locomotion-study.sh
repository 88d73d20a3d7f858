#!/usr/bin/env bash
# The learning check of the locomotion task, with the CLI a user has:
# for each seed, a shared init trained on the usual cheetah reward (v − 0.1‖a‖²), then two experts
# fine-tuned from it on the paper's pair, risky (v) and cautious (v − ‖a‖²); every policy evaluated
# on both rewards over 30 deterministic episodes with 95% intervals. Two seeds run at a time.
# Usage: bench/locomotion-study.sh [OUT_DIR] [INIT_STEPS] [EXPERT_STEPS] [SEEDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bench-out/locomotion-study}"
init_steps="${2:-300000}"
expert_steps="${3:-300000}"
seeds="${4:-1 2 3}"
soup="$root/soup"
mkdir -p "$out"
"$soup" --help >/dev/null   # build once before running in parallel

one_seed() {
  local s="$1"
  "$soup" train --task cheetah --reward "forward_velocity=1,control_cost=-0.1" --steps "$init_steps" --seed "$s" -o "$out/seed$s/init" >/dev/null 2>"$out/seed$s.init.err" || { cat "$out/seed$s.init.err" >&2; return 1; }
  for r in risky cautious; do
    "$soup" train --task cheetah --reward "$r" --init "$out/seed$s/init/policy.safetensors" --steps "$expert_steps" --seed "$s" -o "$out/seed$s/$r" >/dev/null 2>"$out/seed$s.$r.err" || { cat "$out/seed$s.$r.err" >&2; return 1; }
  done
  for p in init risky cautious; do
    "$soup" eval "$out/seed$s/$p/policy.safetensors" --episodes 30 --json > "$out/seed$s/$p/eval.json"
  done
}
export -f one_seed
export out init_steps expert_steps soup
mkdir -p $(for s in $seeds; do echo "$out/seed$s"; done)
printf '%s\n' $seeds | xargs -P 2 -I{} bash -c 'one_seed {}'

python3 - "$out" $seeds <<'PY'
import json, sys
out, seeds = sys.argv[1], sys.argv[2:]
print("| seed | policy | risky (mean [95% CI]) | cautious (mean [95% CI]) |")
print("|---|---|---|---|")
wins = {"risky": 0, "cautious": 0}
for s in seeds:
    ev = {p: {r["name"]: r for r in json.load(open(f"{out}/seed{s}/{p}/eval.json"))["rewards"]} for p in ("init", "risky", "cautious")}
    for p in ("init", "risky", "cautious"):
        cells = [f'{ev[p][r]["mean"]:.0f} [{ev[p][r]["low"]:.0f}, {ev[p][r]["high"]:.0f}]' for r in ("risky", "cautious")]
        print(f"| {s} | {p} | {cells[0]} | {cells[1]} |")
    for r in ("risky", "cautious"):
        if ev[r][r]["low"] > ev["init"][r]["high"]:
            wins[r] += 1
print()
print(f"experts beating the init on their own reward with disjoint 95% intervals: risky {wins['risky']}/{len(seeds)}, cautious {wins['cautious']}/{len(seeds)}")
PY
