#!/usr/bin/env bash
# Runs `htmengine detect` on machine_temperature once pinned to each vCPU and prints the user CPU seconds of each.
# On this host one of the two vCPUs is often 1.4-1.6x slower than the other, and which one changes over minutes;
# run this before a timing to pick the vCPU, and after it to see whether the state held.
#
# usage: bench/scripts/vcpu-probe.sh [BINDIR]   (default: src/HtmEngine.Server/bin/Release/net10.0)
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/src/HtmEngine.Server/bin/Release/net10.0}"
file="$root/../shared/nab/data/realKnownCause/machine_temperature_system_failure.csv"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for cpu in $(seq 0 $(($(nproc) - 1))); do
  taskset -c "$cpu" /usr/bin/time -f '%U' -o "$work/cpu" dotnet "$bin/htmengine.dll" detect "$file" --params nab \
    --out "$work/out.csv" > /dev/null 2>&1
  echo "cpu$cpu $(cat "$work/cpu") s user"
done
