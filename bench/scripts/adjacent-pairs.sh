#!/usr/bin/env bash
# Compares two builds by runs made one right after the other on one pinned CPU, A then B (B then A in odd rounds),
# and prints the ratio B/A of each adjacent pair, then their median and geometric mean.
#
# Why not at once: this host's two vCPUs differ in speed by up to 1.6x, and which one is slow changes over minutes
# (bench/scripts/vcpu-probe.sh shows it). Two variants started together land on different vCPUs, so a ratio of
# concurrent runs measures the vCPUs as much as the code. Adjacent runs on one vCPU share its state of the moment.
#
# usage: bench/scripts/adjacent-pairs.sh [--bdn] ROUNDS CPU 'A|ENV|DIR' 'B|ENV|DIR'
#   --bdn   time ModelStepBenchmarks.WholeFile (BenchmarkDotNet median, µs per record; DIR holds
#           HtmEngine.Benchmarks.dll) instead of `htmengine detect` (user CPU seconds; DIR holds htmengine.dll)
#   CPU     the vCPU to pin to (0 or 1)
#   ENV     environment assignments for the variant, e.g. 'DOTNET_TieredPGO=0' (use 'X=1' for none)
# environment: FILE (default: machine_temperature_system_failure.csv of ../shared/nab), PARAMS (default: nab),
#              ITER (BenchmarkDotNet iterations, default 10)
set -euo pipefail
bdn=0
if [[ "${1:-}" == "--bdn" ]]; then
  bdn=1
  shift
fi

if [[ $# -ne 4 || "$1" == "--help" || "$1" == "-h" ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
file="${FILE:-$root/../shared/nab/data/realKnownCause/machine_temperature_system_failure.csv}"
rounds="$1"
cpu="$2"
IFS='|' read -r tag_a env_a dir_a <<< "$3"
IFS='|' read -r tag_b env_b dir_b <<< "$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One measurement of the variant in $2 (environment) / $3 (directory), printed as a number.
measure() {
  if ((bdn)); then
    # shellcheck disable=SC2086 # ENV is a list of assignments
    (cd "$work" && env $1 HTM_BENCH_CSV="$file" taskset -c "$cpu" dotnet "$2/HtmEngine.Benchmarks.dll" \
      --filter '*ModelStepBenchmarks.WholeFile*' --inProcess --warmupCount 2 --iterationCount "${ITER:-10}" \
      --artifacts "$work/bdn" 2>&1 | grep -m1 'Median =' | sed -E 's/.*Median = ([0-9.]+) us.*/\1/')
  else
    # shellcheck disable=SC2086
    env $1 taskset -c "$cpu" /usr/bin/time -f '%U' -o "$work/cpu" dotnet "$2/htmengine.dll" detect "$file" \
      --params "${PARAMS:-nab}" --out "$work/out.csv" > /dev/null 2>&1
    cat "$work/cpu"
  fi
}

for ((r = 0; r < rounds; r++)); do
  if ((r % 2 == 0)); then
    a="$(measure "$env_a" "$dir_a")"
    b="$(measure "$env_b" "$dir_b")"
  else
    b="$(measure "$env_b" "$dir_b")"
    a="$(measure "$env_a" "$dir_a")"
  fi

  if [[ -z "$a" || -z "$b" ]]; then
    echo "round $r: a run gave no figure (see the tool's own output by running it alone)" >&2
    exit 1
  fi

  ratio="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')"
  echo "$ratio" >> "$work/ratios"
  echo "round $r load=$(cut -d' ' -f1 /proc/loadavg) $tag_a=$a $tag_b=$b ratio=$ratio"
done

sort -g "$work/ratios" | awk -v t="$tag_b/$tag_a" -v n="$rounds" '
  { v[NR] = $1; s += log($1) }
  END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s over %d adjacent pairs: median %.4f, geometric mean %.4f\n", t, n, m, exp(s / NR)
  }'
