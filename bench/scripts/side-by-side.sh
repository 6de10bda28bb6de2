#!/usr/bin/env bash
# Compares builds of `htmengine detect` by running them side by side: in each round every variant starts at once,
# and each one's user CPU time is divided by the first variant's of the same round. On a shared machine the load
# swings by 2x between minutes, which sequential runs mistake for a difference; variants that run together share
# it. Prints each round, then per variant the mean CPU and the median and mean of its per-round ratio.
#
# Caveat (2026-12-07): on this host the two vCPUs are at times 1.4-1.6x apart in speed, and variants started together
# land on different ones, so a round's ratio then measures the vCPUs (12 rounds of two builds gave a median of 0.938 in
# one order and 1.309 in the other). Check with bench/scripts/vcpu-probe.sh first, or use adjacent-pairs.sh, which
# runs the variants one after the other on one pinned vCPU.
#
# usage: bench/scripts/side-by-side.sh ROUNDS 'TAG|ENV|BINDIR' ['TAG|ENV|BINDIR' ...]
#   TAG     a name for the variant (the first is the reference)
#   ENV     environment assignments for it, e.g. 'DOTNET_TieredPGO=0' (use 'X=1' for none)
#   BINDIR  a directory holding htmengine.dll (e.g. a copy of src/HtmEngine.Server/bin/Release/net10.0)
# environment: FILE (default: machine_temperature_system_failure.csv of ../shared/nab), PARAMS (default: nab)
set -euo pipefail
if [[ $# -lt 2 || "$1" == "--help" || "$1" == "-h" ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
file="${FILE:-$root/../shared/nab/data/realKnownCause/machine_temperature_system_failure.csv}"
params="${PARAMS:-nab}"
rounds="$1"
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for ((r = 1; r <= rounds; r++)); do
  for v in "$@"; do
    IFS='|' read -r tag envs bin <<< "$v"
    # shellcheck disable=SC2086 # ENV is a list of assignments
    ( env $envs /usr/bin/time -f "%U" -o "$work/$tag.cpu" dotnet "$bin/htmengine.dll" detect "$file" \
        --params "$params" --out "$work/$tag.csv" > /dev/null 2>&1 ) &
  done
  wait
  line="round $r load=$(cut -d' ' -f1 /proc/loadavg)"
  for v in "$@"; do
    IFS='|' read -r tag _ _ <<< "$v"
    line="$line $tag=$(cat "$work/$tag.cpu")"
  done
  echo "$line" | tee -a "$work/rounds"
done

awk '
  { for (i = 4; i <= NF; i++) { split($i, kv, "="); if (NR == 1) order[i] = kv[1]; cpu[kv[1], NR] = kv[2] } n = NR; last = NF }
  END {
    ref = order[4]
    for (i = 4; i <= last; i++) {
      t = order[i]; sum = 0; rsum = 0
      for (r = 1; r <= n; r++) { sum += cpu[t, r]; ratio[r] = cpu[t, r] / cpu[ref, r]; rsum += ratio[r] }
      for (a = 2; a <= n; a++) { x = ratio[a]; for (b = a - 1; b >= 1 && ratio[b] > x; b--) ratio[b + 1] = ratio[b]; ratio[b + 1] = x }
      med = (n % 2) ? ratio[(n + 1) / 2] : (ratio[n / 2] + ratio[n / 2 + 1]) / 2
      printf "%s: mean CPU %.3f s, ratio to %s: median %.3f, mean %.3f\n", t, sum / n, ref, med, rsum / n
    }
  }' "$work/rounds"
